"""py2ptx: helpers for the course *From Python to PTX*.

One module per concern (each names the notebook that teaches it). Leaves first: a module
imports only modules above it in this table (``tests/test_structure.py`` checks that the
import graph has no cycle).

===================  ==========================================================
``machine``          facts about this machine: CPU, versions, whether there is a
                     GPU and what it is (a leaf; ``doctor`` is the report)
``gpu_errors``       CUDA errors explained for a student (a leaf)
``layers``           the layers of the stack, as data (00)
``timing``           one ``Timing`` type; CPU via timeit, GPU via CuPy events (01)
``checks``           reference inputs, validation, first-mismatch messages (01)
``settings``         environment switches (``PY2PTX_SCALE``, ``PY2PTX_SHARED_GPU``)
``kernels``          the kernel files and their loader (``kernels/c``, ``kernels/cuda``)
``sandbox``          run student code in a child process that can be killed
``cbuild``           C source -> cached shared library -> ctypes function (02)
``cudatools``        CUDA C -> PTX -> cubin -> SASS on the CPU, from pip wheels;
                     the PTX ISA each CUDA release accepts (00)
``gpu``              CUDA C / PTX on a GPU through CuPy, with typed-argument and
                     launch-shape checks; ``numba.cuda`` or its simulator (03, 04)
``cpu_trace``        the CPU runner's trace of every load and store (compiler
                     instrumentation, no libtsan) and the checks read from it
``cuda_prelude``     the C text that gives a kernel threadIdx, barriers, shuffles
``cuda_on_cpu``      CUDA C kernel files run on CPU threads at small n (03, lab 03)
``banks``            shared-memory bank conflicts from the trace, and their picture (03)
``sanitizer``        broken kernels: the CPU checker's verdicts beside
                     compute-sanitizer's (the GPU check)
``nsight``           Nsight Compute counters of named kernels (the GPU check)
``sorts``            every CPU rung behind one ``sort(keys)`` interface (01, 02)
``gpusorts``         every GPU sort: in-place device sorts, their launch schedules
``ladder``           the registry of every version of the sort: the one list
                     every table, plan and mode derives from
``stack``            the real artifact each layer makes of one step; PTX's
                     .version/.target; what C++ says about cache hints (00, 04)
``doctor``           what this machine has; how each rung runs here (00)
``results``          recorded runs with provenance, their loader, ``Measured``
``bench``            validate, then time, every version; the GPU check's plan;
                     the ladder at one n (``python -m py2ptx ladder``)
``readings``         what the GPU numbers say, computed from the run shown: the
                     wavefront law, ceilings, crossovers, launch cost (03)
``speedups``         where the speedup comes from, by kind and by layer (06)
``conclusions``      measured sentences computed from the run shown, with how
                     sure they are (01, 02, 04, 06)
``plots``            the stack diagram, the speedup ladder, time vs n, ... (06)
``reports``          the ladder's tables and figure, two machines side by side (06)
``deepseek_grid``    notebook 05's grid read back: cells, the tuner, findings
``deepseek_probes``  notebook 05's counters, placebo and ablations on a GPU
``deepseek``         notebook 05's experiment on a GPU (05, lab 05)
``deepseek_plots``   notebook 05's set-up diagram
``triton_road``      Triton's road to PTX: every stage of a Triton sort (04)
``widgets``          the notebooks' interactive pieces
``exercises``        the labs' self-checks
===================  ==========================================================

Heavy optional packages (CuPy, matplotlib, numba.cuda) are imported where they are used.
"""

__version__ = "0.1.0"
