"""6_odd_even_numba.py -- odd-even transposition sort with numba.cuda, global memory,
one launch per phase (notebook 03, rung 6).

What changed from the previous version (py2ptx/kernels/bubble_numba.py, the CPU
bubble sort compiled by Numba):
  - the loop over j is gone: thread t does the compare-and-swap of the pair
    (2t + phase, 2t + phase + 1), and thousands of threads do theirs at once;
  - bubble sort's passes depended on each other; odd-even transposition sort
    alternates even pairs (0,1), (2,3), ... and odd pairs (1,2), (3,4), ..., which
    never overlap within a phase, and needs n phases. Each launch is one phase,
    and the end of a launch is the barrier between phases.

Without a GPU, py2ptx.gpu.numba_cuda() turns on Numba's CUDA simulator: the same
kernel runs on CPU threads, correct but thousands of times slower than a GPU.
"""

from __future__ import annotations

from py2ptx.gpu import numba_cuda

cuda = numba_cuda()


@cuda.jit
def odd_even_step(a, phase):
    i = 2 * cuda.grid(1) + phase
    if i + 1 < a.shape[0]:
        left, right = a[i], a[i + 1]
        if left > right:
            a[i] = right
            a[i + 1] = left
