"""The labs' self-checks: one object per exercise, one ``.check(answer)`` call each.

A check either prints a ✓ line or raises with a message that says *which* input
failed and *where* (the first mismatching index). An exercise not yet attempted
raises ``NotImplementedError`` -- nothing else -- so an unsolved lab fails exactly
at its exercises.

Usage in a lab::

    from py2ptx.exercises import lab01
    lab01.early_exit.check(bubble_sort_early_exit)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from .checks import WrongResult, check_sorted, standard_cases


class ExerciseFailed(AssertionError):
    """The answer is wrong; the message says how."""


class _OverBudget(BaseException):
    """Raised by the alarm inside a self-check that ran past its time budget."""


@dataclass(frozen=True)
class Exercise:
    lab: str
    name: str
    task: str  # one line: what the student must do
    checker: Callable  # answer -> summary line; raises ExerciseFailed / WrongResult
    #: Seconds the whole self-check may take; the reference answer needs a small fraction.
    budget_s: float = 30.0

    def check(self, answer) -> None:
        try:
            with _time_budget(self.budget_s):
                summary = self.checker(answer)
        except NotImplementedError:
            raise NotImplementedError(
                f"{self.lab}, exercise {self.name!r} is not solved yet: {self.task} "
                f"(replace `raise NotImplementedError()` with your code)."
            ) from None
        except (WrongResult, ExerciseFailed) as err:
            message = str(err)
            if not message.startswith(f"{self.lab}, "):
                message = f"{self.lab}, {self.name}: {message}"
            raise ExerciseFailed(message) from None
        except _OverBudget:
            raise ExerciseFailed(
                f"{self.lab}, {self.name}: the self-check was stopped after {self.budget_s:g} s. "
                f"Its inputs are small (at most a few hundred keys), and the reference answer "
                f"takes well under a second: look for a loop that never ends (a `while` whose "
                f"condition never changes, an index that never moves) or a loop inside a loop "
                f"too many.") from None
        print(f"✓ {self.lab}, {self.name}: {summary}")


class _time_budget:  # noqa: N801 -- used as a context manager
    """SIGALRM after ``seconds`` interrupts a self-check stuck in Python code.

    Only in the main thread of a process that has SIGALRM (Linux, macOS), which is
    where notebooks run their cells; elsewhere the check runs without a budget. C and
    CUDA C code cannot be interrupted this way: it runs in py2ptx.sandbox instead.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.armed = False

    def __enter__(self):
        import signal
        import threading

        if hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGALRM, self._alarm)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
            self.armed = True
        return self

    @staticmethod
    def _alarm(signum, frame):
        raise _OverBudget()

    def __exit__(self, *exc):
        if self.armed:
            import signal

            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False


def count_inversions(keys) -> int:
    """Pairs i < j with keys[i] > keys[j]: exactly the swaps any bubble sort makes."""
    keys = list(keys)
    if len(keys) < 2:
        return 0
    mid = len(keys) // 2
    left, right = sorted(keys[:mid]), sorted(keys[mid:])
    inv = count_inversions(keys[:mid]) + count_inversions(keys[mid:])
    j = 0
    for x in left:  # for each left key, how many right keys are smaller
        while j < len(right) and right[j] < x:
            j += 1
        inv += j
    return inv


# --------------------------------------------------------------------------- lab 01


def _check_early_exit(sort: Callable[[list], tuple[int, int]]) -> str:
    cases = standard_cases(60)
    for name, keys in cases.items():
        values = keys.tolist()
        result = sort(values)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise ExerciseFailed(f"on input {name!r}: return (passes, swaps), a tuple of two "
                                 f"ints; got {result!r}")
        passes, swaps = result
        if (keys.size >= 2 and values == keys.tolist() and not np.all(keys[:-1] <= keys[1:])
                and _leaves_list_unchanged(sort)):
            raise ExerciseFailed(
                f"on input {name!r} (n={keys.size}) the list you were given is unchanged: "
                f"sort it in place (swap a[j] and a[j + 1] inside the list). Building a new "
                f"list, e.g. `a = sorted(a)`, leaves the caller's list as it was.")
        check_sorted(name, keys, np.asarray(values, dtype=np.int32),
                     what="your bubble sort (the list after sorting in place)")
        n, want_swaps = len(keys), count_inversions(keys)
        if swaps != want_swaps:
            raise ExerciseFailed(f"on input {name!r} (n={n}) you counted {swaps} swaps; "
                                 f"bubble sort makes exactly {want_swaps} here (one per pair "
                                 f"of keys that are out of order)")
        if name == "already sorted" and passes != 1:
            raise ExerciseFailed(f"on input 'already sorted' (n={n}) you made {passes} passes; "
                                 f"with an early exit, one pass without a swap is enough")
        if n >= 2 and not 1 <= passes <= n:
            raise ExerciseFailed(f"on input {name!r} (n={n}) you counted {passes} passes; "
                                 f"bubble sort needs between 1 and n")
    return f"{len(cases)} inputs sorted in place, swaps counted right, early exit works"


def _leaves_list_unchanged(sort) -> bool:
    """Does ``sort`` leave even a long reversed list untouched (it sorted a copy)?"""
    probe = list(range(10, 0, -1))
    sort(probe)
    return probe == list(range(10, 0, -1))


def _check_swaps_reversed(formula: Callable[[int], int]) -> str:
    for n in (0, 1, 2, 3, 10, 1000, 65536):
        want = n * (n - 1) // 2
        got = formula(n)
        if got != want:
            raise ExerciseFailed(f"for n={n} you predict {got} swaps on a reversed input; "
                                 f"bubble sort makes {want}. Try n=3 by hand: [3, 2, 1].")
    return "n(n-1)/2 swaps: every pair is out of order, and each swap fixes exactly one"


lab01 = SimpleNamespace(
    early_exit=Exercise("Lab 01", "early exit and swap counter",
                        "bubble_sort_early_exit(a) sorts the list a in place and returns "
                        "(passes, swaps), stopping after a pass with no swap",
                        _check_early_exit),
    swaps_reversed=Exercise("Lab 01", "swaps on a reversed input",
                            "swaps_reversed(n) returns how many swaps bubble sort makes on "
                            "n keys in reversed order", _check_swaps_reversed),
)


# --------------------------------------------------------------------------- lab 02


def _check_c_source(source_fn: Callable[[], str]) -> str:
    import ctypes

    from .cbuild import INT32_ARRAY, build_c
    from .sandbox import run_in_child

    source = source_fn()
    for flags in (("-O1",), ("-O2",)):
        lib = build_c(source, flags, name="lab02_bubble_sort.c")
        fn = lib.function("bubble_sort", [INT32_ARRAY, ctypes.c_int32])
        for name, keys in standard_cases(50).items():
            out = keys.copy()
            # In a child process: a wrong pointer kills the child, not the notebook.
            run_in_child(lambda views, n=out.size, fn=fn: fn(views[0], np.int32(n)), [out], 10.0,
                         f"your C bubble_sort at {' '.join(flags)} on input {name!r} "
                         f"(n={out.size})", error=ExerciseFailed,
                         hang_hint="Sorting 50 keys takes microseconds: is a loop never "
                                   "ending (a condition that never becomes false)?",
                         crash_hint="Most likely a read or write outside the array: with "
                                    "n keys the last valid index is n - 1, so a[j + 1] needs "
                                    "j < n - 1.")
            check_sorted(name, keys, out, what=f"your C bubble_sort at {' '.join(flags)}")
    return "compiles and sorts every input at -O1 and -O2"


_VECTOR_HINTS = ("%xmm", "%ymm", "%zmm")


def _check_scalar_flags(flags_fn: Callable[[], list]) -> str:
    from .cbuild import asm_for
    from .sorts import c_bubble

    flags = list(flags_fn())
    bad = [f for f in flags if f.startswith("-O")]
    if bad:
        raise ExerciseFailed(f"keep -O2 and switch off just the one optimization that hurts; "
                             f"{' '.join(bad)} changes the whole optimization level")
    all_flags = ("-O2", *flags)
    asm = asm_for("bubble_sort.c", all_flags, function="bubble_sort")
    vector = [ln.strip() for ln in asm.splitlines() if any(h in ln for h in _VECTOR_HINTS)]
    if vector:
        raise ExerciseFailed(f"with {' '.join(all_flags)} the loop still uses vector registers, "
                             f"e.g. `{vector[0]}`: the swap is still vectorized")
    for name, keys in standard_cases(50).items():
        check_sorted(name, keys, c_bubble(keys, all_flags), what=f"bubble_sort.c at "
                     f"{' '.join(all_flags)}")
    return f"{' '.join(all_flags)} gives a scalar loop that still sorts correctly"


WHY_SLOWER = {
    "a": "SSE instructions are slower than ordinary integer instructions on this CPU.",
    "b": "Each iteration's 8-byte load overlaps half of the previous iteration's 8-byte "
         "store, so the CPU cannot forward the stored bytes to the load and must wait "
         "for the store to reach the cache (a store-forwarding stall).",
    "c": "The shuffles (pshufd) make the loop twice as long, so it takes twice the time.",
    "d": "Vectorized code mispredicts more branches.",
}


def _check_why(answer_fn: Callable[[], str]) -> str:
    answer = str(answer_fn()).strip().lower()
    if answer not in WHY_SLOWER:
        raise ExerciseFailed(f"answer with one letter of {', '.join(WHY_SLOWER)}; got {answer!r}")
    if answer != "b":
        hints = {"a": "time -O2 with a sorted input, where no swap happens: is it slow then?",
                 "c": "count the instructions per iteration in both listings: 2x slower "
                      "would not be 5x slower.",
                 "d": "both loops have the same branch on the same data."}
        raise ExerciseFailed(f"not ({answer}). Hint: {hints[answer]}")
    return "store-to-load forwarding: a load must not straddle an earlier, different-sized store"


lab02 = SimpleNamespace(
    c_source=Exercise("Lab 02", "bubble sort in C",
                      "bubble_sort_source() returns C source defining "
                      "void bubble_sort(int32_t *a, int32_t n)", _check_c_source),
    scalar_flags=Exercise("Lab 02", "flags that keep the swap scalar",
                          "scalar_flags() returns the gcc flags that, added to -O2, stop the "
                          "swap from being vectorized", _check_scalar_flags),
    why_slower=Exercise("Lab 02", "why the vectorized loop is slower",
                        "why_slower() returns the letter of the right explanation",
                        _check_why),
)


# --------------------------------------------------------------------------- lab 03


def _check_numba_kernel(kernel) -> str:
    """The student's numba.cuda kernel ``step(a, phase)``, launched n times per sort."""
    from .gpu import numba_cuda, numba_simulated

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


def _compile_both(source: str) -> None:
    """A cubin for the H200 (sm_90) and the T4 (sm_75); raises with NVRTC's log."""
    from .cudatools import cubin_for

    for arch in ("sm_90", "sm_75"):
        cubin_for(source, arch)


def _check_shared_source(source_fn: Callable[[], str]) -> str:
    """CUDA C ``odd_even_shared(int *a, int n)``: compiled for sm_90 and sm_75, then run
    on CPU threads at small n (and on the GPU, where there is one)."""
    from .cuda_on_cpu import run_on_cpu
    from .gpu import kernel_params
    from .gpusorts import odd_even_shared_launch

    source = source_fn()
    params = [str(p) for p in kernel_params(source, "odd_even_shared")]
    if params != ["int *a", "int n"]:
        raise ExerciseFailed(f"the kernel must be `extern \"C\" __global__ void "
                             f"odd_even_shared(int *a, int n)`; yours takes ({', '.join(params)})")
    _compile_both(source)
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
    from .doctor import has_gpu

    if has_gpu():
        import cupy as cp

        from .gpu import load_module

        kernel = load_module(source).kernel("odd_even_shared")
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


# --------------------------------------------------------------------------- lab 04


def _sass_of(source: str, arch: str) -> str:
    from .cudatools import sass_for

    return sass_for(source, arch)


def _check_ptx_step(source_fn: Callable[[], str]) -> str:
    """``odd_even_step(int *a, int n, int phase)`` whose compare-and-swap is inline PTX."""
    import re

    from .cudatools import sass_by_kernel, sass_opcode
    from .gpu import kernel_params
    from .kernels import asm_lines

    source = source_fn()
    if not asm_lines(source):
        raise ExerciseFailed("the compare-and-swap must be written in inline PTX: asm(...)")
    if not re.search(r"m(in|ax)\.s32", source):  # also after "\n\t" inside one string
        raise ExerciseFailed("use the PTX instructions min.s32 and max.s32 in your asm")
    params = [str(p) for p in kernel_params(source, "odd_even_step")]
    if params != ["int *a", "int n", "int phase"]:
        raise ExerciseFailed(f"the kernel must be odd_even_step(int *a, int n, int phase); "
                             f"yours takes ({', '.join(params)})")
    _compile_both(source)  # ptxas inside NVRTC checks every asm line
    ops = [sass_opcode(i) for i in sass_by_kernel(_sass_of(source, "sm_90"))["odd_even_step"]]
    if not any(op.startswith(("IMNMX", "VIMNMX")) for op in ops):
        raise ExerciseFailed("the SASS has no IMNMX/VIMNMX (integer min/max) instruction: is "
                             "the result of your asm used?")
    ran = ""
    from .doctor import has_gpu

    if has_gpu():
        import cupy as cp

        from .gpu import load_module

        step = load_module(source).kernel("odd_even_step")
        keys = np.random.default_rng(5).integers(-10**6, 10**6, 777, dtype=np.int32)
        d = cp.asarray(keys)
        for phase in range(keys.size):
            step((keys.size // 2 + 127) // 128, 128, d, np.int32(keys.size), np.int32(phase & 1))
        check_sorted("random, n = 777", keys, cp.asnumpy(d), what="your kernel on the GPU")
        ran = ", and sorts on the GPU"
    return f"assembles for sm_90 and sm_75; ptxas made min/max instructions of it{ran}"


def _check_whoami(source_fn: Callable[[], str]) -> str:
    """``whoami(unsigned *sm, unsigned *lane)`` reading %smid and %laneid."""
    from .gpu import kernel_params

    source = source_fn()
    params = [str(p) for p in kernel_params(source, "whoami")]
    if params != ["unsigned *sm", "unsigned *lane"]:
        raise ExerciseFailed(f"the kernel must be whoami(unsigned *sm, unsigned *lane); "
                             f"yours takes ({', '.join(params)})")
    _compile_both(source)
    sass = _sass_of(source, "sm_90")
    for register in ("SR_VIRTUALSMID", "SR_LANEID"):
        if register not in sass:
            raise ExerciseFailed(f"the SASS never reads {register}: read %%smid and %%laneid "
                                 f"with mov.u32 in asm volatile(...)")
    ran = ""
    from .doctor import has_gpu, probe

    if has_gpu():
        import cupy as cp

        from .gpu import load_module

        kernel = load_module(source).kernel("whoami")
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
        count = probe().gpu.get("sms", 0)
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


# --------------------------------------------------------------------------- lab 05

#: DeepEP's read, as the SASS of sm_90 writes it; each part and the PTX qualifier it comes
#: from (checked by compiling each qualifier alone: ``.nc`` -> CONSTANT, and so on).
_DEEPEP_LDG = "LDG.E.NA.LTC256B.128.CONSTANT"
_LDG_PARTS = {
    "CONSTANT": (".nc", "the read-only, non-coherent path"),
    "NA": (".L1::no_allocate", "no L1 line for the data"),
    "LTC256B": (".L2::256B", "L2 fetches 256 bytes at once"),
    "128": (".v4.s32", "one 16-byte load per int4"),
}
_DEEPEP_LD = "ld.global.nc.L1::no_allocate.L2::256B.v4.s32"
#: The interference cell's stream: 256 MiB, over 4x an H200's L2, a few ms per launch.
_GPU_STREAM_BYTES = 2**28
_STREAM_SIGNATURE = ("const int4 *src, int4 *dst, long long n_vec, int chunk_vec, "
                     "unsigned int *chunks_done")
_STREAM_PARAMS = ["int4 *src", "int4 *dst", "long long n_vec", "int chunk_vec",
                  "unsigned int *chunks_done"]  # as kernel_params reads them: no const


def _ldg_problem(ops: list[str], source: str) -> str | None:
    """What is wrong with stream_hinted's global loads in SASS (None: DeepEP's exactly)."""
    wrong = [op for op in ops if op != _DEEPEP_LDG]
    if not wrong:
        return None
    op = wrong[0]
    parts = op.split(".")
    say = f"stream_hinted loads with `{op}` in SASS; DeepEP's read is `{_DEEPEP_LDG}`."
    other = [p for p in parts[2:] if p not in _LDG_PARTS]
    for p in other:
        if p.startswith("LTC"):
            say += (f" {p} comes from .L2::{p[3:]}: DeepEP asks L2 for 256 bytes at a time "
                    f"(.L2::256B).")
    missing = [f"{p}, which {q} gives ({why})" for p, (q, why) in _LDG_PARTS.items()
               if p not in parts]
    if missing:
        say += " Missing: " + "; ".join(missing) + "."
    elif other:
        say += f" It has {', '.join(other)} besides: use exactly {_DEEPEP_LD}."
    if len(ops) > 1:
        say += f" (The kernel has {len(ops)} kinds of load: {', '.join(ops)}.)"
    if _DEEPEP_LD in source or "L1::no_allocate.L2::256B" in source:
        say += (" Your source does contain DeepEP's ld: does stream_hinted call the helper "
                "that has it, for every load?")
    return say


def _copy_problem(ptx: str) -> str | None:
    """Does each vector the inline ``ld`` returns reach a ``st.global`` whole, in order?

    Read in stream_hinted's PTX, where NVRTC names every value once: the four registers
    an inline load writes are the four a correct copy stores, in the same order. This
    catches words swapped or duplicated on the CPU; where they are stored (the address)
    only the GPU run checks.
    """
    import re

    vector = re.compile(r"\{([^}]*)\}")
    loads, stores, scalar_stored, inline = [], [], set(), False
    for line in ptx.splitlines():
        text = line.strip()
        if "begin inline asm" in text:
            inline = True
        elif "end inline asm" in text:
            inline = False
        elif inline and text.startswith("ld.global") and ".v4." in text:
            loads.append(tuple(r.strip() for r in vector.search(text).group(1).split(",")))
        elif text.startswith("st.global"):
            found = vector.search(text)
            if found:
                stores.append(tuple(r.strip() for r in found.group(1).split(",")))
            else:
                scalar_stored.add(text.rstrip(";").split(",")[-1].strip())
    stored = {r for s in stores for r in s} | scalar_stored
    for loaded in loads:
        if loaded in stores:
            continue
        twisted = next((s for s in stores if set(s) & set(loaded)), None)
        if twisted is not None:
            return (f"in stream_hinted's PTX your load returns the words {{{', '.join(loaded)}}} "
                    f"(x, y, z, w) and the store writes {{{', '.join(twisted)}}}: the copy "
                    f"swaps, drops or repeats words. Check the order of the \"=r\"(v.x), "
                    f"\"=r\"(v.y), ... outputs of your asm against {{%0, %1, %2, %3}}, and "
                    f"that the store writes v unchanged.")
        if not set(loaded) <= stored:
            return (f"in stream_hinted's PTX the words your load returns ({', '.join(loaded)}) "
                    f"never reach a st.global unchanged: the store must write exactly the "
                    f"int4 the load returned.")
    return None


def _check_streaming_source(source_fn: Callable[[], str]) -> str:
    """``stream_hinted`` whose load is DeepEP's ``ld.global.nc.L1::no_allocate.L2::256B``,
    in inline PTX: compiled for sm_90, its SASS and PTX read; on a GPU also run."""
    from .cudatools import cubin_for, ptx_for, sass_by_kernel, sass_for
    from .deepseek import distinct_ops
    from .gpu import kernel_params
    from .kernels import asm_lines

    source = source_fn()
    params = [str(p) for p in kernel_params(source, "stream_hinted")]
    if params != _STREAM_PARAMS:
        raise ExerciseFailed(f"the kernel must be `extern \"C\" __global__ void stream_hinted("
                             f"{_STREAM_SIGNATURE})` (the launch passes exactly these); "
                             f"yours takes ({', '.join(params)})")
    if not asm_lines(source):
        raise ExerciseFailed("write the load in inline PTX, asm(\"ld.global.nc....\" : ...): "
                             "CUDA C has no way to say .L1::no_allocate or .L2::256B")
    cubin = cubin_for(source, "sm_90")  # ptxas inside NVRTC checks every asm line
    ins = sass_by_kernel(sass_for(cubin))["stream_hinted"]
    loads = [op.split()[0] for op in distinct_ops(i for i in ins if "LDG" in i)]
    stores = [op.split()[0] for op in distinct_ops(i for i in ins if "STG" in i)]
    if not stores:
        raise ExerciseFailed(
            "stream_hinted's SASS has no STG (global store)"
            + (" and no LDG (global load) either" if not loads else "")
            + ": the copy never writes dst. Is the store left out, or never called? A load whose "
              "value is never stored is dead code: the compiler removes it, and your asm with "
              "it (an asm with outputs and without `volatile` goes when its outputs are unused).")
    if not loads:
        raise ExerciseFailed("stream_hinted's SASS has no LDG (global load): does the kernel "
                             "call your load helper, and is its result stored?")
    problem = _ldg_problem(loads, source)
    if problem:
        raise ExerciseFailed(problem)
    problem = _copy_problem(ptx_for(source, "sm_90"))
    if problem:
        raise ExerciseFailed(problem)
    done = (f"compiles for sm_90; its SASS loads with {_DEEPEP_LDG} and stores with "
            f"{', '.join(stores)}; in its PTX every loaded vector is stored whole and in order")
    from .doctor import has_gpu

    if not has_gpu():
        return (done + ". No GPU here: compiled and read only, not run (the copy itself, "
                "and the victim's slowdown, are checked on a GPU)")
    return done + _run_streaming_on_gpu(source)


def _run_streaming_on_gpu(source: str) -> str:
    """Validate the student's copy exactly, then one interference cell beside the plain one."""
    import cupy as cp

    from . import deepseek
    from .gpu import compute_capability, explained, load_module

    cc = compute_capability()
    if cc < (8, 0):
        return (f". This GPU is sm_{cc[0]}{cc[1]}: .L2::256B needs sm_80 or newer, so it was "
                f"compiled for sm_90 but not run here")
    kernel = load_module(source).kernel("stream_hinted")
    n_vec = 3 * 2**14 + 7  # not a whole number of chunks: the last one is partial
    src = cp.asarray(np.random.default_rng(5).integers(-2**31, 2**31 - 1, 4 * n_vec,
                                                      dtype=np.int32))
    for chunk in (deepseek.CHUNKS[0], deepseek.SIZE_CHUNK):
        chunk_vec = chunk // 16
        dst = cp.full(4 * n_vec, -1, dtype=cp.int32)  # poisoned: a word never written stays -1
        done = cp.zeros(1, dtype=cp.uint32)
        with explained(f"your stream_hinted at chunk {chunk} bytes"):
            kernel((4,), (256,), src, dst, np.int64(n_vec), np.int32(chunk_vec), done)
            cp.cuda.Device().synchronize()
        got, want = cp.asnumpy(dst), cp.asnumpy(src)
        if not np.array_equal(got, want):
            bad = int(np.flatnonzero(got != want)[0])
            unwritten = " (never written: dst was filled with -1)" if got[bad] == -1 else ""
            raise ExerciseFailed(
                f"on the GPU at chunk {chunk} bytes ({n_vec} int4, the last chunk partial) "
                f"dst[{bad}] (int4 {bad // 4}, word {'xyzw'[bad % 4]}) is {got[bad]}"
                f"{unwritten}, expected {want[bad]}")
        chunks = -(-n_vec // chunk_vec)
        if int(done.get()[0]) != chunks:
            raise ExerciseFailed(f"on the GPU at chunk {chunk} bytes chunks_done is "
                                 f"{int(done.get()[0])}, expected {chunks}: one signal per chunk")
    done = "; on the GPU it copies exactly (poisoned output, a partial last chunk)"
    from .settings import shared_gpu

    if shared_gpu():
        print("PY2PTX_SHARED_GPU is set: on a GPU shared with other users the interference "
              "cell would measure their kernels too, and disturb them, so the victim's "
              "slowdown is not measured here (notebook 05 shows the recorded run).")
        return done
    ex = deepseek.Experiment(stream_bytes=_GPU_STREAM_BYTES)
    ex.kernels["hinted"] = kernel
    buf = ex.victim_buffer(0.75)
    timings = []
    for key in ("plain", "hinted"):
        timings += ex.interference(key, deepseek.SIZE_CHUNK, buf, repeats=5)
    plain, mine = (deepseek.cells(timings, k)[deepseek.SIZE_CHUNK] for k in ("plain", "hinted"))
    print(f"On this GPU, a victim re-reading {buf.nbytes / 2**20:,.1f} MiB (3/4 of L2) ran "
          f"x{mine['slowdown']:.2f} slower beside your stream_hinted "
          f"({mine['bandwidth_with'] / 1e9:,.0f} GB/s) and x{plain['slowdown']:.2f} beside "
          f"stream_plain ({plain['bandwidth_with'] / 1e9:,.0f} GB/s); chunk 1 MiB, median of "
          f"5, spread of the ratios {mine['spread']:.2f} and {plain['spread']:.2f}.")
    return done


def _cell(slowdown: float, bandwidth_with: float, bandwidth_alone: float | None = None) -> dict:
    """A synthetic cell of the shape :func:`py2ptx.deepseek.cells` returns (GB/s given)."""
    return {"slowdown": slowdown, "spread": 0.05, "bandwidth_with": bandwidth_with * 1e9,
            "bandwidth_alone": (bandwidth_alone or bandwidth_with * 1.05) * 1e9}


#: Chunk sets that tell the typical wrong rules from the right one: (name, what a wrong rule
#: does here, cells). Chunk sizes in bytes, bandwidths in GB/s.
_TUNER_CASES = (
    ("the fastest chunk hurts the victim most",
     "picking the best bandwidth alone takes the 4 MiB chunk",
     {2**16: _cell(1.90, 1500), 2**18: _cell(1.35, 1650), 2**20: _cell(1.60, 1700),
      2**22: _cell(2.10, 1800)}),
    ("the gentlest chunk is far too slow",
     "picking the least slowdown alone takes the 1 KiB chunk, whose stream runs at a "
     "fiftieth of the best",
     {2**10: _cell(0.90, 40), 2**14: _cell(1.10, 560), 2**18: _cell(1.50, 1700),
      2**20: _cell(1.40, 1600)}),
    ("a chunk at 90.5% of the best bandwidth",
     "'within 10%' is 10% of the best: a stream at 905 GB/s beside a best of 1000 qualifies "
     "(bandwidth >= 0.9 x best); measured on the wrong side (best <= 1.1 x bandwidth) it does "
     "not",
     {2**16: _cell(1.20, 905), 2**18: _cell(1.60, 1000), 2**20: _cell(1.80, 980)}),
    ("two chunks slow the victim equally",
     "on a tie in slowdown the faster stream wins, not the smaller (or first) chunk",
     {2**16: _cell(1.30, 1550), 2**18: _cell(1.30, 1600), 2**20: _cell(1.70, 1650)}),
    ("bandwidth beside the victim, not alone",
     "the rule reads the stream's bandwidth beside the victim (bandwidth_with): alone, the "
     "4 MiB chunk looks fast enough, but beside the victim it is not",
     {2**18: _cell(1.60, 1700, 1750), 2**20: _cell(1.45, 1600, 1720),
      2**22: _cell(1.20, 1300, 1700)}),
    ("one chunk measured", "with one chunk there is nothing to choose",
     {2**20: _cell(2.00, 1500)}),
)


def _tuner_verdict(best_chunk: Callable, by_chunk: dict, case: str, hint: str) -> None:
    import copy

    from .deepseek import pick_chunk

    given = copy.deepcopy(by_chunk)
    got = best_chunk(given)
    want, why = pick_chunk(by_chunk)
    if isinstance(got, tuple):
        raise ExerciseFailed(f"case {case!r}: return the chunk size alone (a key of cells, in "
                             f"bytes), not a tuple; you returned {got!r}")
    if given != by_chunk:
        raise ExerciseFailed(f"case {case!r}: best_chunk changed the cells it was given; "
                             f"read them, do not modify them")
    if got != want:
        shown = f"{got:,} bytes" if isinstance(got, int) else repr(got)
        raise ExerciseFailed(f"case {case!r}: you picked {shown}, the rule picks {want:,} "
                             f"bytes ({why}). Here, {hint}.")


def _check_best_chunk(best_chunk: Callable[[dict], int]) -> str:
    """``best_chunk(cells)`` against :func:`py2ptx.deepseek.pick_chunk`, synthetic and recorded."""
    from . import deepseek

    for case, hint, by_chunk in _TUNER_CASES:
        _tuner_verdict(best_chunk, by_chunk, case, hint)
    run = deepseek.recorded()
    if run is None:
        return (f"agrees with the rule on {len(_TUNER_CASES)} synthetic chunk sets; no "
                f"recorded run of the experiment in results/, so none on measured data")
    sweep = run.provenance.get("extra", {}).get("sweep_victim_bytes")
    checked = []
    for v in deepseek.VARIANTS:
        by_chunk = deepseek.cells(run.timings, v.key, sweep)
        if by_chunk:
            _tuner_verdict(best_chunk, by_chunk, f"recorded run on {run.device}, {v.key}",
                           "these are the chunk sweep's measured cells; print them and "
                           "apply the rule by hand")
            checked.append(v.key)
    return (f"agrees with the rule on {len(_TUNER_CASES)} synthetic chunk sets and on the "
            f"recorded {run.device} run ({', '.join(checked)})")


WHY_STALE = {
    "a": "A .nc load is slower than a plain load, so it reads the data before the "
         "producer's write has arrived.",
    "b": "The PTX ISA allows ld.global.nc only on memory that stays read-only for the whole "
         "kernel, so the memory model says nothing about what it returns while another SM "
         "writes that memory: no acquire makes it see the write. In practice an old value "
         "waits in the reading SM's own L1, which other SMs' writes do not update; "
         ".L1::no_allocate keeps the data out of L1, so each read goes to L2, where every "
         "SM's writes meet.",
    "c": "The .L2::256B prefetch fetches 256 bytes early, and those early bytes are the stale "
         "ones; .L1::no_allocate switches the prefetch off.",
    "d": ".nc loads skip L2 and read DRAM, which still holds the old value; "
         ".L1::no_allocate sends them through L2.",
}


def _stale_line() -> str:
    """The recorded run's stale reads after a relaxed poll, in one clause ('' without one)."""
    from .deepseek import recorded

    run = recorded()
    rows = [r for r in (run.provenance.get("extra", {}).get("stale_reads", []) if run else [])
            if r.get("poll") == "ld.relaxed.gpu" and "stale" in r
            and r.get("load", "").startswith("ld.global.nc")]
    if not rows:
        return ""
    return ("; recorded on " + run.device + " after a relaxed poll: " + ", ".join(
        f"{r['load']} stale {r['stale']:,} of {r['checked']:,}" for r in rows))


def _check_why_stale(answer_fn: Callable[[], str]) -> str:
    answer = str(answer_fn()).strip().lower()
    if answer not in WHY_STALE:
        raise ExerciseFailed(f"answer with one letter of {', '.join(WHY_STALE)}; got {answer!r}")
    if answer != "b":
        hints = {"a": "a slower load would see more fresh data, not less; and "
                      "ld.global.nc.L1::no_allocate -- a .nc load just the same -- was never "
                      "stale in notebook 05.",
                 "c": "ld.global.nc.L1::no_allocate has no .L2::256B, and it was never stale "
                      "either. What does ld.global.nc (stale) do that it does not?",
                 "d": "every global load on an NVIDIA GPU passes through L2, the cache all "
                      "SMs share. Which cache belongs to one SM alone?"}
        raise ExerciseFailed(f"not ({answer}). Hint: {hints[answer]}")
    return ("outside the memory model nothing is promised; what you measured is the SM's own "
            "L1 keeping an old copy" + _stale_line())


lab05 = SimpleNamespace(
    streaming_source=Exercise("Lab 05", "a cache-hinted load in inline PTX",
                              "streaming_source() returns CUDA C whose stream_hinted(...) "
                              "loads with ld.global.nc.L1::no_allocate.L2::256B.v4.s32 in asm",
                              _check_streaming_source, budget_s=180.0),
    best_chunk=Exercise("Lab 05", "the chunk auto-tuner",
                        "best_chunk(cells) returns the chunk size (bytes) that "
                        "deepseek.PICK_RULE picks", _check_best_chunk),
    why_stale=Exercise("Lab 05", "why .nc reads can be stale",
                       "why_stale() returns the letter of the right explanation",
                       _check_why_stale),
)
