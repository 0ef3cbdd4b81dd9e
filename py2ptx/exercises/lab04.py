"""Lab 04's self-checks: a compare-and-swap in inline PTX, and two special registers --
compiled to cubins and read as SASS here, and also run where there is a GPU."""

from __future__ import annotations

import re
from collections.abc import Callable
from types import SimpleNamespace

import numpy as np

from .. import doctor
from ..checks import check_sorted
from ..cudatools import sass_by_kernel, sass_for, sass_opcode
from ..kernels import asm_lines
from .core import Exercise, ExerciseFailed, compile_for_both, gpu_kernel, require_params


def _check_ptx_step(source_fn: Callable[[], str]) -> str:
    """``odd_even_step(int *a, int n, int phase)`` whose compare-and-swap is inline PTX."""
    source = source_fn()
    if not asm_lines(source):
        raise ExerciseFailed("the compare-and-swap must be written in inline PTX: asm(...)")
    if not re.search(r"m(in|ax)\.s32", source):  # also after "\n\t" inside one string
        raise ExerciseFailed("use the PTX instructions min.s32 and max.s32 in your asm")
    require_params(source, "odd_even_step", ["int *a", "int n", "int phase"],
                   "odd_even_step(int *a, int n, int phase)")
    compile_for_both(source)  # ptxas inside NVRTC checks every asm line
    ops = [sass_opcode(i) for i in sass_by_kernel(sass_for(source, "sm_90"))["odd_even_step"]]
    if not any(op.startswith(("IMNMX", "VIMNMX")) for op in ops):
        raise ExerciseFailed("the SASS has no IMNMX/VIMNMX (integer min/max) instruction: is "
                             "the result of your asm used?")
    ran = ""
    loaded = gpu_kernel(source, "odd_even_step")
    if loaded is not None:
        cp, step = loaded
        keys = np.random.default_rng(5).integers(-10**6, 10**6, 777, dtype=np.int32)
        d = cp.asarray(keys)
        for phase in range(keys.size):
            step((keys.size // 2 + 127) // 128, 128, d, np.int32(keys.size), np.int32(phase & 1))
        check_sorted("random, n = 777", keys, cp.asnumpy(d), what="your kernel on the GPU")
        ran = ", and sorts on the GPU"
    return f"assembles for sm_90 and sm_75; ptxas made min/max instructions of it{ran}"


def _check_whoami(source_fn: Callable[[], str]) -> str:
    """``whoami(unsigned *sm, unsigned *lane)`` reading %smid and %laneid."""
    source = source_fn()
    require_params(source, "whoami", ["unsigned *sm", "unsigned *lane"],
                   "whoami(unsigned *sm, unsigned *lane)")
    compile_for_both(source)
    sass = sass_for(source, "sm_90")
    for register in ("SR_VIRTUALSMID", "SR_LANEID"):
        if register not in sass:
            raise ExerciseFailed(f"the SASS never reads {register}: read %%smid and %%laneid "
                                 f"with mov.u32 in asm volatile(...)")
    ran = ""
    loaded = gpu_kernel(source, "whoami")
    if loaded is not None:
        cp, kernel = loaded
        blocks, threads = 64, 96
        sm = cp.zeros(blocks * threads, dtype=cp.uint32)
        lane = cp.zeros(blocks * threads, dtype=cp.uint32)
        kernel(blocks, threads, sm, lane)
        lanes = cp.asnumpy(lane)
        expected = np.tile(np.arange(threads) % 32, blocks)
        if not np.array_equal(lanes, expected):
            i = int(np.flatnonzero(lanes != expected)[0])
            raise ExerciseFailed(f"lane of thread {i} is {lanes[i]}, expected {expected[i]} "
                                 f"(threadIdx.x % 32)")
        sms = cp.asnumpy(sm)
        count = doctor.probe().gpu.get("sms", 0)
        if count and sms.max() >= count:
            raise ExerciseFailed(f"an SM id of {sms.max()} on a GPU with {count} SMs")
        ran = f"; on the GPU, {len(set(sms.tolist()))} different SMs ran its {blocks} blocks"
    return f"compiles for sm_90 and sm_75 and reads both special registers{ran}"


lab04 = SimpleNamespace(
    ptx_step=Exercise("Lab 04", "compare-and-swap in inline PTX",
                      "ptx_step_source() returns CUDA C whose odd_even_step(int *a, int n, "
                      "int phase) swaps with min.s32/max.s32 in asm", _check_ptx_step),
    whoami=Exercise("Lab 04", "special registers",
                    "whoami_source() returns CUDA C whose whoami(unsigned *sm, unsigned *lane) "
                    "stores %smid and %laneid for every thread", _check_whoami),
)
