"""Lab 03's self-checks: one odd-even phase in numba.cuda, and the whole sort in one block's
shared memory in CUDA C -- on the simulator and CPU threads here, and on a GPU where there is one."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import numpy as np

from ..checks import WrongResult, check_sorted, standard_cases
from ..cuda_on_cpu import run_on_cpu
from ..gpu import numba_cuda, numba_simulated
from ..gpusorts import odd_even_shared_launch
from .core import Exercise, ExerciseFailed, compile_for_both, gpu_kernel, require_params


def _check_numba_kernel(kernel) -> str:
    """The student's numba.cuda kernel ``step(a, phase)``, launched n times per sort."""
    cuda = numba_cuda()
    if not hasattr(kernel, "__getitem__"):
        raise ExerciseFailed("odd_even_step must be a @cuda.jit kernel (decorate it with "
                             "@cuda.jit), so that it can be launched as kernel[blocks, threads]")
    # The simulator raises the stub's NotImplementedError; a GPU kernel cannot raise, so
    # read the stub from the kernel's code instead of launching it.
    if "NotImplementedError" in getattr(getattr(kernel, "py_func", None), "__code__",
                                         compile("", "", "exec")).co_names:
        raise NotImplementedError()
    cases = standard_cases(24)
    cases["random, n = 70 (not a multiple of the block)"] = np.random.default_rng(3).integers(
        -99, 99, 70, dtype=np.int32)
    threads = 16

    def run(keys: np.ndarray) -> np.ndarray:
        d = cuda.to_device(keys.copy())
        blocks = max(1, (keys.size // 2 + threads - 1) // threads)
        try:
            for phase in range(keys.size):
                kernel[blocks, threads](d, phase & 1)
        except IndexError as err:  # the simulator checks every index; a GPU would not
            raise WrongResult(
                f"your kernel indexed past the end of the array (n={keys.size}, {blocks} "
                f"blocks x {threads} threads: {blocks * threads} threads for "
                f"{keys.size // 2} pairs). Threads without a pair must do nothing: "
                f"`if i + 1 < a.shape[0]`. ({err})") from None
        return d.copy_to_host()

    for name, keys in cases.items():
        _check_with_size_hint(run, name, keys, threads,
                              what=f"n launches of your kernel (blocks of {threads} threads)")
    where = "in Numba's CUDA simulator (no GPU here)" if numba_simulated() else "on the GPU"
    return f"sorts every input {where}"


def _check_with_size_hint(run: Callable[[np.ndarray], np.ndarray], name: str,
                          keys: np.ndarray, threads: int, what: str) -> None:
    """check_sorted, and if it fails, say whether sizes that fill whole blocks pass.

    The classic GPU bug -- the last, partly filled block handled wrong -- gives right
    answers exactly when n fills whole blocks; saying so points at the bug directly.
    """
    try:
        check_sorted(name, keys, run(keys), what=what)
    except WrongResult as err:
        whole = [2 * threads * m for m in (1, 2, 3)]
        try:
            for n in whole:
                sample = np.random.default_rng(n).integers(-999, 999, n, dtype=np.int32)
                check_sorted(f"random, n = {n}", sample, run(sample), what=what)
        except WrongResult:
            raise err from None
        if keys.size in whole:
            raise
        raise WrongResult(
            f"{err}\nIt sorts correctly for n = {', '.join(map(str, whole))} (whole blocks: "
            f"2 keys per thread x {threads} threads) but not for n = {keys.size}. Look at "
            f"the last, partly filled block: a loop bound like n / blockDim.x (integer "
            f"division drops the remainder), or a missing `if (i + 1 < n)`.") from None


def _check_shared_source(source_fn: Callable[[], str]) -> str:
    """CUDA C ``odd_even_shared(int *a, int n)``: compiled for sm_90 and sm_75, then run
    on CPU threads at small n (and on the GPU, where there is one)."""
    source = source_fn()
    require_params(source, "odd_even_shared", ["int *a", "int n"],
                   '`extern "C" __global__ void odd_even_shared(int *a, int n)`')
    compile_for_both(source)
    cases = standard_cases(40)
    for threads in (32, 8):  # 8 threads own several pairs each: the loop over p matters

        def run(keys: np.ndarray, threads=threads) -> np.ndarray:
            out = keys.copy()
            if out.size >= 2:
                launch = odd_even_shared_launch(out.size, threads)
                run_on_cpu(source, "odd_even_shared", 1, min(threads, launch.block), out,
                           np.int32(out.size), shared_mem=launch.shared_mem)
            return out

        for name, keys in cases.items():
            _check_with_size_hint(run, name, keys, threads,
                                  what=f"your kernel on CPU threads (1 block of {threads} "
                                       f"threads)")
    ran = "on CPU threads"
    loaded = gpu_kernel(source, "odd_even_shared")
    if loaded is not None:
        cp, kernel = loaded
        keys = np.random.default_rng(4).integers(-10**6, 10**6, 5000, dtype=np.int32)
        d = cp.asarray(keys)
        kernel(1, 1024, d, np.int32(keys.size), shared_mem=4 * keys.size)
        check_sorted("random, n = 5000", keys, cp.asnumpy(d), what="your kernel on the GPU")
        ran += " and on the GPU (n = 5000)"
    return f"compiles for sm_90 and sm_75 and sorts {ran}"


lab03 = SimpleNamespace(
    numba_kernel=Exercise("Lab 03", "odd-even step in numba.cuda",
                          "write the @cuda.jit kernel odd_even_step(a, phase)",
                          _check_numba_kernel),
    shared_source=Exercise("Lab 03", "odd-even sort in shared memory, CUDA C",
                           "shared_source() returns CUDA C defining extern \"C\" __global__ "
                           "void odd_even_shared(int *a, int n)", _check_shared_source),
)
