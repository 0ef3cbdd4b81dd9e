"""The ladder: the one registry of every version of the sort the course measures.

Every table, plot, plan and test that talks about rungs derives from :data:`VERSIONS`:
the GPU check's plan (``bench.GPU_PLAN``), the in-place device sorts
(:data:`DEVICE_SORTS`), the CPU-thread schedules (:data:`SCHEDULES`), how each rung runs
on a machine without a GPU (the doctor's modes), the course map and the README's tables.
``tests/test_registry.py`` fails when a version lacks what its kind of rung needs.

**One number per version.** A rung's number is the same in its kernel file's name
(``7_odd_even_global.cu`` is rung 7), here, in the notebooks and in the plots. A
*variant* is measured beside a rung but is not on the ladder; it carries the rung's
number and a letter (``8b_merge_split_shared.cu`` is variant 8b of rung 8). Files
without a number (notebook 00's and 05's kernels) are not versions of the sort.

**What "same algorithm" means in this course.** A version is ``same-algorithm``
(low-level optimization) when it sorts with compare-and-swaps of *neighbouring*
positions only, n(n-1)/2 of them, O(n^2) work: bubble sort, and odd-even transposition
sort -- a different sorting network built from the same operation, and the same number
of it (for n = 8 bubble sort compares the pair (0,1) seven times and (6,7) once;
odd-even transposition compares every pair four times: 28 either way). How the
compare-and-swaps are mapped to threads, memory and instructions is then the
low-level part -- including repeating some of them: so the GPU variants 8c (16 keys a
thread in registers) and 7c (tiles with halos, H phases a launch) are same-algorithm
too. 7c runs the same n phases of the same network and computes each halo a second
time in the neighbouring block (the redundant copies are thrown away, so more
compare-and-swaps are issued than the network has -- its file says how many -- and
none of its result depends on them): the same network with redundant work, not a
different one. Anything else is ``algorithm-change`` (co-optimization): a different
network or operation (merge-split of runs, bitonic's compare-exchange at distance j,
radix sort's digit passes, the library's sort), a different precision or model.
Rung 1 is the ``baseline`` every speedup is measured against.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import gpusorts, sorts, triton_road
from .checks import as_int32_keys
from .cuda_on_cpu import run_schedule_on_cpu
from .kernels import KERNELS
from .layers import LAYERS

KINDS = ("baseline", "same-algorithm", "algorithm-change")


class WithoutGPU(enum.Enum):
    """How a version runs on a machine without a GPU (the doctor turns it into a mode)."""

    CPU = "runs on the CPU anyway"
    SIMULATOR = "numba.cuda's simulator at small n"
    CPU_THREADS = "compiled to PTX and SASS; its kernel file runs on CPU threads at small n"
    COMPILE_ONLY = "compiled to PTX and SASS; not run"
    RECORDED = "only a recorded run shows it"


#: What a version may need on the machine (``Rung.needs``), and how the doctor says it.
NEEDS = {"c-compiler": "C compiler", "cuda-tools": "CUDA compiler wheels (NVRTC, ptxas)",
         "triton": "Triton (the optional extra: make triton)"}
#: Needs that are optional extras: a version needing one is left out where it is missing
#: (bench.run_plan says so) instead of failing the measurement.
OPTIONAL_NEEDS = frozenset({"triton"})


@dataclass(frozen=True)
class Plan:
    """How the GPU check measures a version: at these n, this many timed repeats each."""

    sizes: tuple[int, ...]
    repeats: int


@dataclass(frozen=True)
class Rung:
    """One version of the sort, at one layer of the stack.

    ``implementation`` is ``sort(keys) -> sorted copy`` (what is validated);
    ``device_sort(d_keys)`` sorts a CuPy array in place on the GPU (what is timed, so
    host<->device copies never hide in a GPU time); ``schedule(n, threads)`` is the
    list of launches of its ``kernel`` file that the CPU threads replay without a GPU.
    """

    number: int
    key: str
    title: str
    layer: str  # a key of py2ptx.layers.LAYERS
    tool: str  # what turns it into machine code, for people
    device: str  # "cpu" or "gpu"
    kind: str  # one of KINDS
    notebook: str  # notebook stem that teaches it
    implementation: Callable[[np.ndarray], np.ndarray]
    without_gpu: WithoutGPU
    plan: Plan
    complexity: str = "O(n^2)"
    variant: str = ""  # "" on the ladder; a letter for a variant measured beside rung `number`
    kernel: str | None = None  # its file, relative to py2ptx/kernels/
    device_sort: Callable | None = None
    schedule: Callable[[int, int | None], gpusorts.Schedule] | None = None
    needs: tuple[str, ...] = ()  # keys of NEEDS

    @property
    def label(self) -> str:
        """``"7"`` for a rung, ``"8b"`` for a variant: the number in its file name."""
        return f"{self.number}{self.variant}"

    @property
    def on_ladder(self) -> bool:
        return not self.variant

    def load(self) -> Callable[[np.ndarray], np.ndarray]:
        """The version's ``sort(keys) -> sorted copy``."""
        return self.implementation

    def on_cpu_threads(self, keys: np.ndarray, threads: int | None = None) -> np.ndarray:
        """Run this version's own CUDA C kernel file on CPU threads
        (:mod:`py2ptx.cuda_on_cpu`): the same launches, in the same order, as on a GPU --
        for checking the kernels' logic at small n without one. Never timed: it is not
        a GPU."""
        if self.schedule is None:
            raise KeyError(f"{self.label}. {self.key} has no CUDA C schedule to run on CPU "
                           f"threads; these do: {', '.join(SCHEDULES)}")
        keys = as_int32_keys(keys)
        n = keys.size
        if n < 2:
            return keys.copy()
        size, launches = self.schedule(n, threads)
        work = np.full(size, gpusorts.INT32_MAX, dtype=np.int32)  # INT_MAX pads to size
        work[:n] = keys
        run_schedule_on_cpu(KERNELS / self.kernel, launches, work)  # one child, every launch
        return work[:n].copy()


_CPU_PLAN = Plan((2**10, 2**12), 3)
_SORT_PLAN = Plan((2**10, 2**12, 2**14, 2**16, 2**18, 2**20), 20)
# The launch-per-phase rungs pay n launches per sort, so they stop at 2^14; one block's
# shared memory holds at most ~2^14 keys (rungs 8, 8b, 11, 11b).
_SHARED_PLAN = Plan((2**10, 2**12, 2**14), 10)
# 8c: one block of at most 1,024 threads x 16 register keys, so n <= 2^14 (a design
# estimate of ~2 ms each there); 7c beside it (n / 256 launches). 9b: one launch up to
# 2^14, a few more at 2^16 (estimated at tens of us each). Estimates only: no recorded
# run in results/ has 7c, 8c, 8d, 9b or 9t (tests/test_recorded_runs.py).
_REGISTER_PLAN = Plan((2**10, 2**12, 2**14), 10)
_BLOCK_SORT_PLAN = Plan((2**10, 2**12, 2**14, 2**16), 20)

VERSIONS: tuple[Rung, ...] = (
    Rung(1, "python_bubble", "Bubble sort in Python", "application", "CPython", "cpu",
         "baseline", "01-python-bubble-sort", sorts.bubble_python, WithoutGPU.CPU, _CPU_PLAN,
         kernel="bubble_python.py"),
    Rung(2, "c_bubble_vectorized", "Bubble sort in C, gcc -O2 (swap vectorized)", "compilers",
         "gcc", "cpu", "same-algorithm", "02-c-and-numba", sorts.c_bubble_vectorized,
         WithoutGPU.CPU, _CPU_PLAN, kernel="c/bubble_sort.c", needs=("c-compiler",)),
    Rung(3, "c_bubble_scalar", "Bubble sort in C, gcc -O2 -fno-tree-slp-vectorize",
         "compilers", "gcc", "cpu", "same-algorithm", "02-c-and-numba",
         sorts.c_bubble_scalar, WithoutGPU.CPU, Plan((2**10, 2**12, 2**14), 3),
         kernel="c/bubble_sort.c", needs=("c-compiler",)),
    Rung(4, "numba_bubble", "Bubble sort with Numba @njit", "compilers", "LLVM (Numba)", "cpu",
         "same-algorithm", "02-c-and-numba", sorts.numba_bubble, WithoutGPU.CPU, _CPU_PLAN,
         kernel="bubble_numba.py"),
    Rung(5, "numpy_sort", "np.sort (the library's O(n log n) sort)", "compilers",
         "C library (NumPy)", "cpu", "algorithm-change", "02-c-and-numba", sorts.numpy_sort,
         WithoutGPU.CPU, Plan(_SORT_PLAN.sizes, 5), complexity="O(n log n)"),
    Rung(6, "odd_even_numba", "Odd-even sort, numba.cuda, a launch per phase",
         "compilers", "LLVM (Numba) -> PTX", "gpu", "same-algorithm", "03-cuda-parallel-sort",
         gpusorts.odd_even_numba, WithoutGPU.SIMULATOR, Plan((2**10, 2**12), 3),
         kernel="cuda/6_odd_even_numba.py", device_sort=gpusorts.odd_even_numba_device),
    Rung(7, "odd_even_global", "Odd-even sort, CUDA C, a launch per phase",
         "compilers", "NVRTC", "gpu", "same-algorithm", "03-cuda-parallel-sort",
         gpusorts.odd_even_global, WithoutGPU.CPU_THREADS, Plan((2**10, 2**12, 2**14), 5),
         kernel="cuda/7_odd_even_global.cu", device_sort=gpusorts.odd_even_global_device,
         schedule=gpusorts.odd_even_global_schedule, needs=("cuda-tools",)),
    Rung(7, "odd_even_handwritten_ptx", "Odd-even sort, hand-written PTX, a launch per phase",
         "ptx", "ptxas (the driver's JIT)", "gpu", "same-algorithm", "04-ptx",
         gpusorts.odd_even_handwritten_ptx, WithoutGPU.COMPILE_ONLY,
         Plan((2**10, 2**12, 2**14), 5), variant="b", kernel="cuda/7b_odd_even_step.ptx",
         device_sort=gpusorts.odd_even_handwritten_ptx_device, needs=("cuda-tools",)),
    Rung(7, "odd_even_temporal", "Odd-even sort, CUDA C, temporal blocking: a launch per "
         "256 phases on many SMs", "compilers", "NVRTC", "gpu", "same-algorithm",
         "03-cuda-parallel-sort", gpusorts.odd_even_temporal, WithoutGPU.CPU_THREADS,
         _REGISTER_PLAN, variant="c", kernel="cuda/7c_odd_even_temporal.cu",
         device_sort=gpusorts.odd_even_temporal_device,
         schedule=gpusorts.odd_even_temporal_schedule, needs=("cuda-tools",)),
    Rung(8, "odd_even_shared", "Odd-even sort, CUDA C, one block, shared memory", "compilers",
         "NVRTC", "gpu", "same-algorithm", "03-cuda-parallel-sort", gpusorts.odd_even_shared,
         WithoutGPU.CPU_THREADS, _SHARED_PLAN, kernel="cuda/8_odd_even_shared.cu",
         device_sort=gpusorts.odd_even_shared_device,
         schedule=gpusorts.odd_even_shared_schedule, needs=("cuda-tools",)),
    Rung(8, "merge_split", "Odd-even merge-split, CUDA C, one block, runs of keys",
         "compilers", "NVRTC", "gpu", "algorithm-change", "03-cuda-parallel-sort",
         gpusorts.merge_split, WithoutGPU.CPU_THREADS, _SHARED_PLAN, variant="b",
         kernel="cuda/8b_merge_split_shared.cu", device_sort=gpusorts.merge_split_device,
         schedule=gpusorts.merge_split_schedule, needs=("cuda-tools",)),
    Rung(8, "odd_even_registers", "Odd-even sort, CUDA C, one block, 16 keys a thread in "
         "registers", "compilers", "NVRTC", "gpu", "same-algorithm", "03-cuda-parallel-sort",
         gpusorts.odd_even_registers, WithoutGPU.CPU_THREADS, _REGISTER_PLAN, variant="c",
         kernel="cuda/8c_odd_even_registers.cu", device_sort=gpusorts.odd_even_registers_device,
         schedule=gpusorts.odd_even_registers_schedule, needs=("cuda-tools",)),
    Rung(8, "merge_split_interleaved", "Odd-even merge-split, CUDA C, one block, interleaved "
         "runs (8b's bank conflicts fixed)", "compilers", "NVRTC", "gpu", "algorithm-change",
         "03-cuda-parallel-sort", gpusorts.merge_split_interleaved, WithoutGPU.CPU_THREADS,
         _SHARED_PLAN, variant="d", kernel="cuda/8d_merge_split_interleaved.cu",
         device_sort=gpusorts.merge_split_interleaved_device,
         schedule=gpusorts.merge_split_interleaved_schedule, needs=("cuda-tools",)),
    Rung(9, "bitonic", "Bitonic sort, CUDA C, shared tiles + global merges",
         "compilers", "NVRTC", "gpu", "algorithm-change", "03-cuda-parallel-sort",
         gpusorts.bitonic, WithoutGPU.CPU_THREADS, _SORT_PLAN, complexity="O(n log^2 n)",
         kernel="cuda/9_bitonic.cu", device_sort=gpusorts.bitonic_device,
         schedule=gpusorts.bitonic_schedule, needs=("cuda-tools",)),
    Rung(9, "bitonic_registers", "Bitonic sort, CUDA C, keys in registers, a tile of 16,384 "
         "in one launch", "compilers", "NVRTC", "gpu", "algorithm-change",
         "03-cuda-parallel-sort", gpusorts.bitonic_registers, WithoutGPU.CPU_THREADS,
         _BLOCK_SORT_PLAN, complexity="O(n log^2 n)", variant="b",
         kernel="cuda/9b_bitonic_registers.cu", device_sort=gpusorts.bitonic_registers_device,
         schedule=gpusorts.bitonic_registers_schedule, needs=("cuda-tools",)),
    # Variant 9t: rung 9's plan in Triton (kernels/triton/sort_tile.py, py2ptx.triton_road).
    Rung(9, "triton_bitonic", "Bitonic sort, Triton: tl.sort tiles + inline-PTX merge steps",
         "compilers", "Triton -> PTX -> ptxas", "gpu", "algorithm-change", "04-ptx",
         triton_road.triton_sort, WithoutGPU.COMPILE_ONLY, _SORT_PLAN, variant="t",
         complexity="O(n log^2 n)", kernel=triton_road.KERNEL_FILE,
         device_sort=triton_road.triton_sort_device, needs=("triton",)),
    Rung(10, "cupy_sort", "cupy.sort (CUB radix sort, the library ceiling)", "compilers",
         "CUDA library (CUB)", "gpu", "algorithm-change", "03-cuda-parallel-sort",
         gpusorts.cupy_sort, WithoutGPU.RECORDED, _SORT_PLAN,
         complexity="O(n) per pass, a fixed 32/r passes for r-bit digits of 32-bit keys",
         device_sort=gpusorts.cupy_sort_device),
    Rung(11, "odd_even_inline_ptx", "Odd-even sort, shared memory, inline-PTX min/max", "ptx",
         "NVRTC (ptxas inside)", "gpu", "same-algorithm", "04-ptx", gpusorts.odd_even_inline_ptx,
         WithoutGPU.COMPILE_ONLY, _SHARED_PLAN, kernel="cuda/11_odd_even_inline_ptx.cu",
         device_sort=gpusorts.odd_even_inline_ptx_device, needs=("cuda-tools",)),
    Rung(11, "odd_even_minmax", "Odd-even sort, shared memory, C min/max (rung 11's twin)",
         "compilers", "NVRTC", "gpu", "same-algorithm", "04-ptx", gpusorts.odd_even_minmax,
         WithoutGPU.COMPILE_ONLY, _SHARED_PLAN, variant="b",
         kernel="cuda/11_odd_even_inline_ptx.cu", device_sort=gpusorts.odd_even_minmax_device,
         needs=("cuda-tools",)),
)

#: The ladder itself: every version that is a rung (no variants), in order.
RUNGS: tuple[Rung, ...] = tuple(v for v in VERSIONS if v.on_ladder)
#: Key -> the in-place device sort of every GPU version (what the timings measure).
DEVICE_SORTS: dict[str, Callable] = {v.key: v.device_sort for v in VERSIONS
                                     if v.device_sort is not None}
#: Key -> (kernel file, schedule) of every version that runs on CPU threads.
SCHEDULES: dict[str, tuple[str, Callable]] = {v.key: (v.kernel, v.schedule) for v in VERSIONS
                                              if v.schedule is not None}


def version(key_or_label: str | int) -> Rung:
    """Any version by key (``"merge_split"``) or label (``"8b"``, ``7``)."""
    for v in VERSIONS:
        if key_or_label in (v.key, v.label) or (v.on_ladder and key_or_label == v.number):
            return v
    raise KeyError(f"no version {key_or_label!r}; the versions are: "
                   + ", ".join(f"{v.label} {v.key}" for v in VERSIONS))


def rung(key_or_number: str | int) -> Rung:
    """Look a rung of the ladder up by key (``"c_bubble_scalar"``) or number (``3``)."""
    for r in RUNGS:
        if key_or_number in (r.key, r.number):
            return r
    raise KeyError(f"no rung {key_or_number!r}; the rungs are: "
                   + ", ".join(f"{r.number} {r.key}" for r in RUNGS))


def rungs(device: str | None = None, notebook: str | None = None) -> list[Rung]:
    """The rungs, optionally only those on one device or taught in one notebook."""
    return [r for r in RUNGS
            if (device is None or r.device == device)
            and (notebook is None or r.notebook == notebook)]


def emulate_on_cpu(key: str, keys: np.ndarray, threads: int | None = None) -> np.ndarray:
    """Run version ``key``'s CUDA C kernel file on CPU threads (:meth:`Rung.on_cpu_threads`)."""
    if key not in SCHEDULES:
        raise KeyError(f"{key!r} has no CUDA C schedule to emulate; choose from "
                       f"{', '.join(SCHEDULES)}")
    return version(key).on_cpu_threads(keys, threads)


def kernel_path(v: Rung):
    """The version's kernel file as a path (None for a library call such as cupy.sort)."""
    return None if v.kernel is None else KERNELS / v.kernel


def markdown_table(selected: list[Rung] | None = None) -> str:
    """The ladder as a Markdown table (README and notebooks)."""
    head = ("| # | rung | layer | compiled by | device | kind | notebook |\n"
            "|---|---|---|---|---|---|---|\n")
    rows = [f"| {r.label} | {r.title} | {LAYERS[r.layer].title} | {r.tool} | "
            f"{r.device.upper()} | {r.kind} | {r.notebook} |"
            for r in (RUNGS if selected is None else selected)]
    return head + "\n".join(rows)
