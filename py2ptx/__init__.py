"""py2ptx: helpers for the course *From Python to PTX*.

One module per concern (each names the notebook that teaches it):

==============  =============================================================
``doctor``      what this machine has; how each rung runs here (00)
``stack``       the layers of the stack and the real artifact at each (00)
``ladder``      the registry of rungs, the one list every table derives from
``sorts``       every CPU rung behind one ``sort(keys)`` interface (01, 02)
``checks``      reference inputs, validation, first-mismatch messages (01)
``timing``      one ``Timing`` type; CPU via timeit, GPU via CuPy events (01)
``cbuild``      C source -> cached shared library -> ctypes function (02)
``cudatools``   CUDA C -> PTX -> cubin -> SASS on the CPU, from pip wheels (00)
``gpu``         CUDA C / PTX on a GPU through CuPy, with typed-argument and
                launch-shape checks; ``numba.cuda`` or its simulator (03, 04)
``gpusorts``    every GPU rung: in-place device sorts and their launches (03, 04)
``cuda_on_cpu`` CUDA C kernel files run on CPU threads at small n (03, lab 03)
``bench``       validate, then time, every rung; the GPU check's plan (03);
                the ladder at one n (``python -m py2ptx ladder``), its speedup
                split by kind and by layer, beside a recorded run (06)
``results``     recorded runs with provenance, and their loader
``plots``       the stack diagram, the speedup ladder, time vs n, the
                speedup by layer (06)
``widgets``     the notebooks' interactive pieces
``exercises``   the labs' self-checks
==============  =============================================================

Importing the package is cheap; each module imports its heavy dependencies itself.
"""

__version__ = "0.1.0"
