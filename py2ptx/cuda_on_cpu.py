"""CUDA C on CPU threads: run a kernel file's logic without a GPU, at small n.

Taught in notebook 03 and used by lab 03's self-check. Numba has a CUDA simulator
for Python kernels; this is the same idea for CUDA C. The kernel source is compiled
by the system C compiler with a small prelude that gives it ``threadIdx``,
``blockIdx``, ``blockDim``, ``gridDim``, ``__syncthreads()``, shared memory (static and
``extern __shared__``, sized at launch) and warp-level CUDA (``__shfl_sync``,
``__shfl_up/down/xor_sync`` with a width, ``__ballot_sync``, ``__any/all_sync``,
``__activemask``, ``__syncwarp``); each block then runs as one POSIX thread per CUDA
thread, blocks one after another, a warp being 32 consecutive threads of the block
that meet at a warp barrier for each shuffle or vote.

What it is for: checking that a kernel's indexing, bounds and barriers give the
right answer on a laptop. With ``check=True`` (the default) every load and store of the
kernel goes through :mod:`py2ptx.cpu_trace`, which stops it at the first index just
outside an array or shared memory (:class:`OutOfBounds`), finds two threads racing on
one address with no barrier between them (:class:`DataRace`) and threads of a block
meeting at different barriers (:class:`DivergentBarrier`), each message naming the
threads, the element (``a[64]``) and the student's own line; the same trace gives the
shared-memory bank conflicts of :mod:`py2ptx.banks`. Checked runs cost several times an
unchecked one (``check=False``). What it is not: a GPU. Its times mean nothing and
are never shown; inline PTX (``asm``) cannot run here (compile it to a cubin with
:func:`py2ptx.cudatools.cubin_for` to check it); kernels are read as C, so C++-only
features (references, templates) are refused with a message. The C half (prelude,
warps, thread pool) is :mod:`py2ptx.cuda_prelude`.

The kernel runs in a forked child process (:mod:`py2ptx.sandbox`): a hang is
stopped after ``timeout`` seconds and a crash (a wild pointer) is reported, without
taking down the notebook's kernel. A sort made of many launches (one per phase) runs
them all in one child (:func:`run_schedule_on_cpu`). Dynamic shared memory starts
filled with garbage, as on a GPU, so reading a key before writing it gives a wrong
answer instead of a lucky 0. Arrays must be contiguous (a strided view is refused
with the fix), as the GPU sees raw memory too.
"""

from __future__ import annotations

import ctypes
import re
import time
import warnings

import numpy as np

from .cbuild import CCompileError, build_c
from .cpu_trace import (
    ATOMIC,
    CAPACITY,
    ERR_BARRIER,
    ERR_BOUNDS,
    EVENT,
    HEADER,
    HEADER_BYTES,
    KIND_ARG,
    KIND_DYNAMIC_SHARED,
    KIND_STATIC_SHARED,
    TRACE_HOOKS,
    WRITE,
    DataRace,
    DivergentBarrier,
    EmulationError,
    OutOfBounds,
    Region,
    Trace,
    attach_scratch,
    c_size,
    check_flags,
    checks_available,
    find_race,
    lines_of,
    static_shared_symbols,
    static_shared_types,
    who,
)
from .cuda_prelude import PLAIN_HOOKS, PRELUDE, RUNNER
from .gpu import Param, check_args, check_launch, kernel_params
from .kernels import asm_lines, read_source, strip_comments
from .sandbox import run_in_child

__all__ = ["DataRace", "DivergentBarrier", "EmulationError", "OutOfBounds", "run_on_cpu",
           "run_schedule_on_cpu", "trace_on_cpu"]

_EXTERN_SHARED = re.compile(
    r"extern\s+__shared__\s+(?:__align__\(\d+\)\s*)?([\w ]+?)\s*(\w+)\s*\[\s*\]\s*;")


def _translate(text: str) -> str:
    """CUDA C -> C the prelude understands, keeping every line where it was."""
    asm = asm_lines(text)
    if asm:
        raise EmulationError(
            f"line {asm[0] + 1} has inline PTX (asm), which only a GPU can run. Check it by "
            f"compiling to a cubin: py2ptx.cudatools.cubin_for(source, 'sm_90').")
    text = strip_comments(text).replace('extern "C"', "")
    text = _EXTERN_SHARED.sub(lambda m: f"{m.group(1)} *{m.group(2)} = py2ptx_shared;", text)
    return re.sub(r"\b__shared__\b", "PY2PTX_SHARED", text)


def _launcher(name: str, params: list[Param]) -> str:
    call = ", ".join(
        f"*({p.ctype} **)args[{i}]" if p.pointer else f"*({p.ctype} *)args[{i}]"
        for i, p in enumerate(params))
    return (f"PY2PTX_NOSAN static void py2ptx_body_{name}(void **args) {{ {name}({call}); }}\n"
            f"PY2PTX_NOSAN int py2ptx_launch_{name}(dim3 g, dim3 b, size_t shared, void **args)\n"
            f"{{ return py2ptx_launch(g, b, shared, py2ptx_body_{name}, args); }}\n")


class _Dim3(ctypes.Structure):
    _fields_ = [("x", ctypes.c_uint), ("y", ctypes.c_uint), ("z", ctypes.c_uint)]


_CTYPES = {np.dtype(t): c for t, c in (
    (np.int8, ctypes.c_int8), (np.uint8, ctypes.c_uint8), (np.int16, ctypes.c_int16),
    (np.uint16, ctypes.c_uint16), (np.int32, ctypes.c_int32), (np.uint32, ctypes.c_uint32),
    (np.int64, ctypes.c_int64), (np.uint64, ctypes.c_uint64), (np.float32, ctypes.c_float),
    (np.float64, ctypes.c_double), (np.bool_, ctypes.c_bool))}


class _HostArray:
    """A NumPy array standing in for a GPU array, so check_args accepts it here."""

    def __init__(self, array: np.ndarray):
        self.array, self.dtype = array, array.dtype
        self.__cuda_array_interface__ = {}


def run_on_cpu(source, kernel: str, grid, block, *args, shared_mem: int = 0,
               timeout: float = 30.0, check: bool = True) -> None:
    """Launch ``kernel`` from CUDA C ``source`` on CPU threads, like a GPU launch.

    Pointer parameters take NumPy arrays, updated in place as ``cupy`` arrays
    would be; scalars take NumPy scalars (``np.int32(n)``), exactly as on a GPU.
    Keep it small: one OS thread per CUDA thread, blocks one after another.
    With ``check`` (the default), every load and store is checked
    (:mod:`py2ptx.cpu_trace`): an index just outside an array or shared memory raises
    :class:`OutOfBounds`, two threads racing on one address :class:`DataRace`, a
    barrier that not every thread reaches alike :class:`DivergentBarrier` -- each
    naming the threads and the student's lines. The one-launch case of
    :func:`run_schedule_on_cpu`.
    """
    run_schedule_on_cpu(source, [(kernel, grid, block, (), shared_mem)], *args,
                        timeout=timeout, check=check)


def run_schedule_on_cpu(source, launches, *args, timeout: float = 30.0,
                        check: bool = True) -> None:
    """Run ``launches`` of kernels from CUDA C ``source`` in order, in one child process.

    Each launch is ``(kernel, grid, block, scalars, shared_mem)`` -- a
    :class:`py2ptx.gpusorts.Launch`, or a tuple that may leave shared_mem out -- and
    takes ``*args`` then its own ``scalars``, as :func:`py2ptx.gpusorts.run_launches`
    passes them on a GPU (``kernel(grid, block, d, *scalars)``). Every launch is
    checked (shape, argument types) before any runs, the kernels are compiled once
    into one library, and one child process runs the launches one after another, as
    a GPU runs the launches of one stream: a sort of n phases costs one fork, not n.
    The arrays are copied back once, after the last launch; after a hang, a crash or
    a failed check they are left as they were, and the message names the launch.
    ``timeout`` is for the whole schedule. ``check`` as for :func:`run_on_cpu`
    (``check=False`` for big runs: checking costs several times the run).
    """
    _run(source, launches, args, timeout, check)


def trace_on_cpu(source, launches, *args, timeout: float = 30.0) -> Trace:
    """Run ``launches`` as :func:`run_schedule_on_cpu` does, checked, and return the
    trace of memory accesses (for :mod:`py2ptx.banks`)."""
    trace = _run(source, launches, args, timeout, True, want_trace=True)
    assert trace is not None
    return trace


_warned: set[str] = set()


def _run(source, launches, args, timeout, check, want_trace=False) -> Trace | None:
    text, name = read_source(source, ".cu")
    launches = [tuple(launch) for launch in launches]
    if not launches:
        return None
    kernels = list(dict.fromkeys(launch[0] for launch in launches))
    params = {kernel: kernel_params(text, kernel) for kernel in kernels}
    arrays: list[np.ndarray] = []  # each array once, however many launches take it
    index: dict[int, int] = {}
    regions: list[Region] = []  # the arrays', as their first kernel names them
    plan = []  # per launch: kernel, grid, block, shared_mem, its arguments for C
    for kernel, grid, block, scalars, *rest in launches:
        shared_mem = rest[0] if rest else 0
        grid, block = check_launch(grid, block, shared_mem)
        if grid[0] * grid[1] * grid[2] > 4096:
            raise ValueError(f"grid {grid} is too many blocks for the CPU emulator "
                             f"(4096 at most); use a smaller n here and a GPU for large n.")
        full = (*args, *scalars)
        ps = params[kernel]
        wrapped = [_HostArray(a) if p.pointer and isinstance(a, np.ndarray) else a
                   for p, a in zip(ps, full, strict=False)]
        check_args(kernel, ps, tuple(wrapped))
        c_args = []  # an int: the index of an array (its address is the child's); else a C value
        for position, (p, a) in enumerate(zip(ps, full, strict=True), 1):
            if p.pointer:
                if not a.flags.c_contiguous:
                    raise ValueError(
                        f"argument {position} of {kernel} ({p}) is a strided view of an "
                        f"array (not contiguous): a kernel sees raw memory, not NumPy's "
                        f"strides, so it would read the wrong elements (on a GPU too: "
                        f"CuPy passes the data pointer). Pass np.ascontiguousarray(...) "
                        f"of it, and copy the result back into the view afterwards.")
                c_args.append(index.setdefault(id(a), len(arrays)))
                if c_args[-1] == len(arrays):
                    arrays.append(a)
                    regions.append(Region(KIND_ARG, p.name, a.itemsize, p.ctype,
                                          position, a.size))
            else:
                c_args.append(_CTYPES[np.dtype(type(a))](a.item()))
        plan.append((kernel, grid, block, shared_mem, c_args))

    if check:
        ok, why = checks_available()
        if not ok:
            if want_trace:
                raise EmulationError(f"no trace of memory accesses on this machine: {why}.")
            if why not in _warned:
                _warned.add(why)
                warnings.warn(f"py2ptx: the CPU runner's memory, race and barrier checks "
                              f"are off: {why}. Kernels still run, unchecked.",
                              RuntimeWarning, stacklevel=3)
            check = False
    translated = _translate(text)
    c_text = ("#define _GNU_SOURCE\n#define PY2PTX_CHECKS 1\n" if check else "") + PRELUDE \
        + (TRACE_HOOKS if check else PLAIN_HOOKS) + RUNNER + f'#line 1 "{name}"\n' \
        + translated + "\n" + '#line 1 "py2ptx-launcher"\n' \
        + "".join(_launcher(k, params[k]) for k in kernels)
    flags = ("-x", "c", "-O1", "-pthread", "-w") + (check_flags() if check else ())
    try:
        lib = build_c(c_text, flags, name=name)
    except CCompileError as err:
        # The C++ advice only where the error is about C++ (a template, a reference, a
        # class, a namespace): under a missing ';' it would send a student the wrong way.
        said = " ".join(f"{e.message} {e.quote}" for e in err.errors) or str(err)
        cpp = re.search(r"\btemplate\b|\bclass\b|\bnamespace\b|\busing\b|\w&\s|&\s*\w+\s*[,)]"
                        r"|::|\bnew\b|\bdelete\b|operator|'[<&]' token", said)
        hint = ("\nC++-only features (references, templates, classes) cannot run here; compile "
                "with py2ptx.cudatools.cubin_for to check them, and run on a GPU.") if cpp else ""
        raise CCompileError(
            f"The CPU emulator compiles CUDA C as plain C, and {name} did not compile:\n"
            f"{err}{hint}", err.log, err.errors) from None
    launch_fns = {k: lib.function(f"py2ptx_launch_{k}",
                                  [_Dim3, _Dim3, ctypes.c_size_t, ctypes.c_void_p], ctypes.c_int)
                  for k in kernels}
    progress = np.zeros(1, np.int32)  # the launch the child is at, read after a hang or crash
    n_arrays = len(arrays)
    pad = 64
    statics: list[tuple[Region, int, int]] = []  # region, address, bytes
    if check:
        pad = max([4096] + [-(-a.nbytes // 64) * 64 for a in arrays])  # red zones
        base = lib.function("py2ptx_trace_base", [], ctypes.c_size_t)()
        types = static_shared_types(text)
        for sym, offset, size in static_shared_symbols(lib.path):
            ctype = types.get(sym, "int")
            elem = c_size(ctype)
            statics.append((Region(KIND_STATIC_SHARED, sym, elem, ctype, 0, size // elem),
                            base + offset, size))
        dyn = _EXTERN_SHARED.search(strip_comments(text))
        dyn_type = dyn.group(1).strip() if dyn else "int"
        regions += [r for r, _, _ in statics]
        regions.append(Region(KIND_DYNAMIC_SHARED, dyn.group(2) if dyn else "shared",
                              c_size(dyn_type), dyn_type))

    def in_child(views: list[np.ndarray]) -> int:
        pointers = [ctypes.c_void_p(v.ctypes.data) for v in views[:n_arrays]]
        header = None
        if check:
            header = views[-1][:HEADER.itemsize].view(HEADER)
            header["capacity"] = CAPACITY
            table = header["regions"][0]
            for i, v in enumerate(views[:n_arrays]):
                start = v.ctypes.data
                table[i] = (start, start + v.nbytes, start - pad, start + v.nbytes + pad,
                            KIND_ARG, v.itemsize)
            for j, (r, start, size) in enumerate(statics, n_arrays):
                table[j] = (start, start + size, start - 2048, start + size + 4096,
                            KIND_STATIC_SHARED, r.elem)
            header["nfixed"] = header["nregions"] = n_arrays + len(statics)
            attach_scratch(lib, views[-1])
        for i, (kernel, grid, block, shared_mem, c_args) in enumerate(plan):
            views[n_arrays][0] = i
            if header is not None:
                header["launch"] = i
            keep = [pointers[a] if isinstance(a, int) else a for a in c_args]
            slots = [ctypes.cast(ctypes.pointer(v), ctypes.c_void_p) for v in keep]
            argv = (ctypes.c_void_p * max(1, len(slots)))(*slots)
            code = launch_fns[kernel](_Dim3(*grid), _Dim3(*block), shared_mem, argv)
            if code:
                return code
        return 0

    def launch_name(views: list[np.ndarray]) -> str:
        i = int(views[n_arrays][0])
        return plan[i][0] if len(plan) == 1 else f"{plan[i][0]} (launch {i + 1} of {len(plan)})"

    kept: list[Trace] = []

    def inspect(views: list[np.ndarray], how: str) -> Exception | None:
        if not check:
            return None
        header = views[-1][:HEADER.itemsize].view(HEADER)[0]
        source_lines = text.splitlines()
        starts = np.array([int(r["start"]) for r in header["regions"][:len(regions)]],
                          dtype=np.uint64)
        if header["error"] == ERR_BOUNDS:
            e = header["err"]
            starts[n_arrays + len(statics)] = header["regions"][n_arrays + len(statics)]["start"]
            trace = Trace(np.zeros(0, EVENT), regions, starts,
                          lines_of(lib.path, [e["pc"]], name), source_lines, 0)
            return OutOfBounds(_bounds_message(trace, e, int(header["shared_bytes"]),
                                               launch_name(views), plan, int(views[n_arrays][0])))
        if header["error"] == ERR_BARRIER:
            e, e2 = header["err"], header["err2"]
            lines = lines_of(lib.path, [e["pc"], e2["pc"]], name)
            return DivergentBarrier(_barrier_message(
                Trace(np.zeros(0, EVENT), regions, starts, lines, source_lines, 0),
                e, int(header["err_cnt"]), e2, int(header["err2_cnt"]), launch_name(views)))
        if how != "exit":
            return None
        count = int(header["count"])
        kept_n = min(count, CAPACITY)
        events = views[-1][HEADER_BYTES:HEADER_BYTES + kept_n * EVENT.itemsize].view(EVENT).copy()
        trace = Trace(events, regions, starts, lines_of(lib.path, np.unique(events["pc"]), name),
                      source_lines, plan[0][2][0] * plan[0][2][1] * plan[0][2][2],
                      dropped=count - kept_n)
        message = find_race(trace)
        if message:
            return DataRace(f"{launch_name(views)}: {message}" if len(plan) > 1 else message)
        kept.append(trace)
        return None

    def hang_hint(views: list[np.ndarray]) -> str:
        if not check:
            return _HANG_HINT
        header = views[-1][:HEADER.itemsize].view(HEADER)[0]
        pcs = [int(header["bar_pc"]), int(header["last_pc"])]
        lines = lines_of(lib.path, [p for p in pcs if p], name)
        trace = Trace(np.zeros(0, EVENT), regions, np.zeros(len(regions), np.uint64), lines,
                      text.splitlines(), 0)
        return _hang_message(trace, header, time.monotonic_ns())

    code = run_in_child(
        in_child, [*arrays, progress], timeout, launch_name, error=EmulationError,
        pad=pad, scratch=HEADER_BYTES + CAPACITY * EVENT.itemsize if check else 0,
        inspect=inspect,
        hang_hint=hang_hint,
        crash_hint="Most likely a read or write outside an array -- check every index "
                   "against n (for example `if (i + 1 < n)`). On a GPU the same bug is an "
                   "illegal memory access, or silent corruption.")
    if code != 0:
        raise EmulationError(f"the CPU emulator could not start "
                             f"{launch_name([*arrays, progress])}'s threads (code {code}); "
                             f"try a smaller block.")
    return kept[0] if kept else None


_HANG_HINT = ("A common cause: a __syncthreads() that not every thread of the block reaches "
              "(inside an if, or a loop some threads leave early), so the others wait for ever "
              "-- on a GPU that is undefined behaviour: a hang or wrong keys. Or a loop that "
              "never ends: a condition that never changes, an index that never moves.")
#: A barrier that has not changed for this long, when the launch is stopped, is stuck.
_STUCK_NS = 1_000_000_000


def _hang_message(trace: Trace, header, now_ns: int) -> str:
    """What the threads were doing when a launch ran out of time, from the barrier's last
    change and the latest memory access the trace saw (both written by the child)."""
    gen, waiting, live = int(header["bar_gen"]), int(header["bar_waiting"]), int(header["bar_live"])
    barrier = (trace.line(int(header["bar_pc"])) or None) if header["bar_pc"] else None
    last = (trace.line(int(header["last_pc"])) or None) if header["last_pc"] else None
    quiet = header["bar_ns"] == 0 or now_ns - int(header["bar_ns"]) > _STUCK_NS
    # Stuck: threads wait and the barrier has not moved for a while, or never completed.
    if barrier is not None and (quiet or gen == 0) and 0 < waiting < live:
        head = (f"{waiting} of the block's {live} running threads were waiting at the "
                f"__syncthreads() of line {barrier}, and the others never arrived there: a "
                f"barrier that not every thread reaches (inside an if, or a loop some threads "
                f"leave early) -- on a GPU a hang, or barriers that pair up wrongly.")
        quote = trace.quote(barrier)
        fix = ("Take the barrier out of the if: let every thread reach it, and guard only the "
               "work.")
        return "\n".join(q for q in (head, quote, fix) if q)
    if barrier is not None and not quiet and gen:
        head = (f"The block was still passing the __syncthreads() of line {barrier} when it "
                f"was stopped ({gen:,} times so far): a loop around it that never ends -- a "
                f"condition that never changes, a counter never incremented.")
        return "\n".join(q for q in (head, trace.quote(barrier)) if q)
    if last is not None:
        head = (f"No thread passed a barrier in its last second; the latest memory access "
                f"was at line {last}: most likely a loop there that never ends -- a condition "
                f"that never changes, an index that never moves.")
        return "\n".join(q for q in (head, trace.quote(last)) if q)
    return _HANG_HINT


def _bounds_message(trace: Trace, e, shared_bytes: int, launch: str, plan, at: int) -> str:
    r = trace.regions[int(e["region"])]
    index = (int(e["addr"]) - int(trace.starts[int(e["region"])])) // r.elem
    verb = "wrote" if e["sizeflags"] & WRITE else "read"
    if e["sizeflags"] & ATOMIC:
        verb = "atomically updated"
    side = "before the start of" if index < 0 else "past the end of"
    line = trace.line(e["pc"])
    at_line = f"at line {line}" if line else "(line unknown)"
    head = (f"{who(e['block'], e['thread'])} {verb} {r.name}[{index}], {side} "
            f"{r.describe(shared_bytes)}, {at_line} of {launch}.")
    if r.kind == KIND_DYNAMIC_SHARED:
        elements = shared_bytes // max(1, r.elem)
        scalars = [v.value for v in plan[at][4] if not isinstance(v, int)]
        if shared_bytes in scalars and 0 <= index < shared_bytes and r.elem > 1:
            # shared_mem equals an argument (n, say): keys given where bytes are due
            fix = (f"shared_mem is counted in bytes, not {r.ctype}s: shared_mem = "
                   f"{shared_bytes} is room for {elements} {r.ctype}s. For {shared_bytes} "
                   f"{r.ctype}s pass shared_mem = {shared_bytes} * {r.elem} = "
                   f"{shared_bytes * r.elem} (n * np.dtype(np.int32).itemsize).")
        else:
            fix = (f"Guard the index (for example `if (i + 1 < n)`), or give the launch "
                   f"enough shared memory: shared_mem = (largest index + 1) * {r.elem} "
                   f"bytes.")
    elif r.kind == KIND_STATIC_SHARED:
        fix = (f"Declare it larger (__shared__ {r.ctype} {r.name}[{max(index + 1, 1)}] at "
               f"least) or guard the index against its size.")
    else:
        fix = ("Guard the index for every thread (for example `if (i < n)` or "
               "`if (i + 1 < n)`): the grid may have more threads than elements. On a GPU "
               "this is an illegal memory access, or silent corruption of other data.")
    return "\n".join(x for x in (head, trace.quote(line), fix) if x)


def _ordinal(k: int) -> str:
    return f"{k}{'th' if 10 <= k % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"


def _barrier_message(trace: Trace, e0, n0: int, e1, n1: int, launch: str) -> str:
    l0, l1 = trace.line(e0["pc"]), trace.line(e1["pc"])
    t0, t1, b = int(e0["thread"]), int(e1["thread"]), int(e0["block"])
    if l0 != l1 or e0["pc"] != e1["pc"]:
        head = (f"threads of block {b} met at different __syncthreads(): {who(b, t0)} waits "
                f"at the one of line {l0} while {who(b, t1)} reached the one of line {l1} "
                f"({launch}).")
    else:
        head = (f"threads of block {b} reached the __syncthreads() of line {l0} a different "
                f"number of times: {who(b, t0)} waits there for the {_ordinal(n0)} time while "
                f"{who(b, t1)} arrives for the {_ordinal(n1)} time ({launch}) -- some threads "
                f"skipped it, in an if or a loop that depends on the thread.")
    quotes = [trace.quote(l0)] + ([trace.quote(l1)] if l1 != l0 else [])
    tail = ("On a GPU this is a hang (the block waits for ever and the launch never "
            "ends) or, on recent GPUs, barriers that pair up wrongly and wrong results: "
            "every thread of a block must reach the same __syncthreads() the same number "
            "of times. Take the barrier out of the if: let every thread reach it, and "
            "guard only the work.")
    return "\n".join([head, *[q for q in quotes if q], tail])
