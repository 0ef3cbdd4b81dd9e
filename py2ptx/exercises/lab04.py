"""Lab 04's self-checks: a compare-and-swap in inline PTX, and two special registers --
compiled to cubins and read as SASS here, and also run where there is a GPU."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from types import SimpleNamespace

import numpy as np

from .. import doctor
from ..cbuild import CCompileError
from ..checks import WrongResult, check_sorted
from ..cpu_trace import OutOfBounds, checks_available
from ..cuda_on_cpu import run_schedule_on_cpu
from ..cudatools import sass_by_kernel, sass_for, sass_opcode
from ..kernels import asm_lines
from .core import (
    Exercise,
    ExerciseFailed,
    compile_for_both,
    gpu_kernel,
    gpu_name,
    require_exported,
    require_params,
    source_text,
    where_run,
)
from .ptx_twin import NoTwin, c_twin

#: The CPU run of the inline-PTX step: n not a whole number of blocks' pairs, one block
#: more than the pairs need, and canary keys past the end that a guarded kernel never touches.
_GUARD_N, _GUARD_THREADS, _CANARY = 77, 32, np.iinfo(np.int32).min


def _run_guard_on_cpu(source: str, descending: bool = False) -> str:
    """The student's step on CPU threads, its asm replaced by the exact C twin: n phases
    on an array with canaries after its n keys. Returns what was run, or why not."""
    try:
        twin = c_twin(source)
    except NoTwin as why:
        return (f"not run on CPU threads: {why} has no exact C twin here (min.s32, max.s32 "
                f"and mov have), so the bounds guard was not checked")
    n, threads = _GUARD_N, _GUARD_THREADS
    blocks = -(-n // 2 // threads) + 1
    keys = np.random.default_rng(6).integers(-999, 999, n, dtype=np.int32)
    # With the CPU runner's bounds checks the array is exactly n keys and a stray access
    # stops the run; without them (a compiler that cannot instrument), canaries past the
    # end show a stray write afterwards.
    checked = checks_available()[0]
    buffer = keys.copy() if checked else np.concatenate(
        [keys, np.full(2 * threads, _CANARY, np.int32)])
    launches = [("odd_even_step", blocks, threads, (np.int32(n), np.int32(phase & 1)))
                for phase in range(n)]
    shape = f"n = {n}; {blocks} blocks x {threads} threads for {n // 2} pairs"
    fix = "A thread whose pair is not inside the array must do nothing: `if (i + 1 < n)`."
    try:
        run_schedule_on_cpu(twin, launches, buffer)
    except CCompileError:
        return ("not run on CPU threads: the CPU runner compiles CUDA C as C and could not "
                "compile yours, so the bounds guard was not checked")
    except OutOfBounds as err:
        said = str(err)
        access = re.search(r"\b(read|wrote) a\[(-?\d+)\]", said)
        line = re.search(r"at line (\d+)", said)
        if not access:
            raise
        where = ""
        if line and 0 < int(line.group(1)) <= len(source.splitlines()):
            number = int(line.group(1))
            where = f" at line {number}:\n    {number} | {source.splitlines()[number - 1].strip()}\n"
        raise ExerciseFailed(
            f"on CPU threads (your asm replaced by its exact C twin), your kernel "
            f"{access.group(1)} a[{access.group(2)}], past the end of the array ({shape})"
            f"{where or '. '}{fix}") from None
    past = np.flatnonzero(buffer[n:] != _CANARY)
    if past.size:
        raise ExerciseFailed(
            f"on CPU threads (your asm replaced by its exact C twin), your kernel wrote "
            f"a[{n + int(past[0])}], past the end of the array ({shape}). {fix}")
    try:
        check_sorted(f"random, n = {n}", keys, buffer[:n], descending=descending,
                     what=f"{n} launches of your step on CPU threads (asm replaced by its exact "
                          f"C twin)")
    except WrongResult as err:
        if re.search(r"m(in|ax)\.u32", source):
            raise WrongResult(f"{err}\nmin.u32/max.u32 compare the bits as unsigned, so a "
                              f"negative key counts as larger than every positive one: keys "
                              f"are int, use min.s32 and max.s32.") from None
        raise
    return (f"its bounds guard and sort ran on CPU threads with your asm replaced by its exact "
            f"C twin (n = {n}, {blocks} blocks x {threads} threads, {n} launches; nothing "
            f"written past a[{n - 1}])")


def _check_ptx_step(source_fn: Callable[[], str], descending: bool = False) -> str:
    """``odd_even_step(int *a, int n, int phase)`` whose compare-and-swap is inline PTX."""
    source = source_text(source_fn)
    if not asm_lines(source):
        raise ExerciseFailed("the compare-and-swap must be written in inline PTX: asm(...)")
    if not re.search(r"m(in|ax)\.s32", source):  # also after "\n\t" inside one string
        unsigned = (": .u32 compares the bits as unsigned, so a negative key would count as "
                    "larger than every positive one" if re.search(r"m(in|ax)\.u32", source) else "")
        raise ExerciseFailed(f"use the PTX instructions min.s32 and max.s32 in your asm{unsigned}")
    require_params(source, "odd_even_step", ["int *a", "int n", "int phase"],
                   "odd_even_step(int *a, int n, int phase)")
    compiled = compile_for_both(source)  # ptxas inside NVRTC checks every asm line
    require_exported(source, "odd_even_step")
    ops = [sass_opcode(i) for i in sass_by_kernel(sass_for(source, "sm_90"))["odd_even_step"]]
    if not any(op.startswith(("IMNMX", "VIMNMX")) for op in ops):
        raise ExerciseFailed("the SASS has no IMNMX/VIMNMX (integer min/max) instruction: is "
                             "the result of your asm used?")
    cpu = _run_guard_on_cpu(source, descending)
    gpu = None
    loaded = gpu_kernel(source, "odd_even_step")
    if loaded is not None:
        cp, step = loaded
        keys = np.random.default_rng(5).integers(-10**6, 10**6, 777, dtype=np.int32)
        d = cp.asarray(keys)
        for phase in range(keys.size):
            step((keys.size // 2 + 127) // 128, 128, d, np.int32(keys.size), np.int32(phase & 1))
        check_sorted("random, n = 777", keys, cp.asnumpy(d), what="your kernel on the GPU",
                     descending=descending)
        gpu = f"sorted n = 777 on the GPU ({gpu_name()})"
    return (f"{compiled} (ptxas assembled your PTX and made min/max instructions of it); "
            f"{where_run(cpu, gpu)}")


def _check_whoami(source_fn: Callable[[], str]) -> str:
    """``whoami(unsigned *sm, unsigned *lane)`` reading %smid and %laneid."""
    source = source_text(source_fn)
    require_params(source, "whoami", ["unsigned *sm", "unsigned *lane"],
                   "whoami(unsigned *sm, unsigned *lane)")
    compiled = compile_for_both(source)
    require_exported(source, "whoami")
    sass = sass_for(source, "sm_90")
    for register in ("SR_VIRTUALSMID", "SR_LANEID"):
        if register not in sass:
            raise ExerciseFailed(f"the SASS never reads {register}: read %%smid and %%laneid "
                                 f"with mov.u32 in asm volatile(...)")
    ran = None
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
        ran = (f"ran on the GPU ({gpu_name()}): "
               f"{len(set(sms.tolist()))} different SMs ran its {blocks} blocks")
    return (f"{compiled}; its SASS reads both special registers (S2R SR_VIRTUALSMID, "
            f"SR_LANEID); " + where_run("not run on CPU threads (a CPU has no %smid)", ran))


lab04 = SimpleNamespace(
    ptx_step=Exercise("Lab 04", "compare-and-swap in inline PTX",
                      "ptx_step_source() returns CUDA C whose odd_even_step(int *a, int n, "
                      "int phase) swaps with min.s32/max.s32 in asm", _check_ptx_step),
    # The graded variant (docs/instructors.md): kernels/cuda/11_odd_even_inline_ptx.cu has
    # the ascending compare-and-swap in inline PTX.
    ptx_step_descending=Exercise(
        "Lab 04", "compare-and-swap in inline PTX, descending",
        "ptx_step_source() returns CUDA C whose odd_even_step(int *a, int n, int phase) puts "
        "the larger key first, with min.s32/max.s32 in asm",
        partial(_check_ptx_step, descending=True)),
    whoami=Exercise("Lab 04", "special registers",
                    "whoami_source() returns CUDA C whose whoami(unsigned *sm, unsigned *lane) "
                    "stores %smid and %laneid for every thread", _check_whoami),
)
