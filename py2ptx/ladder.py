"""The ladder: the one place that lists the rungs of the course.

Every table, plot and test that talks about rungs derives from :data:`RUNGS`.
A rung is one implementation of the sort, at one layer of the stack. Its ``kind``
says which of the two kinds of optimization it is, measured from bubble sort:

* ``same-algorithm`` (low-level optimization): the same neighbour compare-and-swaps,
  better use of the machine (a lower layer, a better compiler, better memory use,
  thousands of threads). Odd-even transposition sort counts here: it is bubble
  sort's compare-and-swap of neighbours, reordered so that n/2 of them run at once;
* ``algorithm-change`` (co-optimization): a different algorithm (bitonic sort, radix
  sort, the library's sort), precision or model.

Rung 1 is the ``baseline`` every speedup is measured against.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from .stack import LAYERS

KINDS = ("baseline", "same-algorithm", "algorithm-change")


@dataclass(frozen=True)
class Rung:
    number: int
    key: str
    title: str
    layer: str  # a key of py2ptx.stack.LAYERS
    tool: str  # what turns it into machine code
    device: str  # "cpu" or "gpu"
    kind: str  # one of KINDS
    notebook: str  # notebook stem that teaches it
    implementation: str  # "module:function", a sort(keys) -> sorted copy
    complexity: str = "O(n^2)"

    def load(self):
        """The rung's sort function (imports, but does not compile, its code)."""
        module, _, name = self.implementation.partition(":")
        return getattr(importlib.import_module(module), name)


RUNGS: tuple[Rung, ...] = (
    Rung(1, "python_bubble", "Bubble sort in Python", "application", "CPython", "cpu",
         "baseline", "01-python-bubble-sort", "py2ptx.sorts:bubble_python"),
    Rung(2, "c_bubble_vectorized", "Bubble sort in C, gcc -O2 (swap vectorized)", "compilers",
         "gcc", "cpu", "same-algorithm", "02-c-and-numba", "py2ptx.sorts:c_bubble_vectorized"),
    Rung(3, "c_bubble_scalar", "Bubble sort in C, gcc -O2 -fno-tree-slp-vectorize",
         "compilers", "gcc", "cpu", "same-algorithm", "02-c-and-numba",
         "py2ptx.sorts:c_bubble_scalar"),
    Rung(4, "numba_bubble", "Bubble sort with Numba @njit", "compilers", "LLVM (Numba)", "cpu",
         "same-algorithm", "02-c-and-numba", "py2ptx.sorts:numba_bubble"),
    Rung(5, "numpy_sort", "np.sort (the library's O(n log n) sort)", "compilers",
         "C library (NumPy)", "cpu", "algorithm-change", "02-c-and-numba",
         "py2ptx.sorts:numpy_sort", complexity="O(n log n)"),
    Rung(6, "odd_even_numba", "Odd-even sort, numba.cuda, a launch per phase",
         "compilers", "LLVM (Numba) -> PTX", "gpu", "same-algorithm", "03-cuda-parallel-sort",
         "py2ptx.gpusorts:odd_even_numba"),
    Rung(7, "odd_even_global", "Odd-even sort, CUDA C, a launch per phase",
         "compilers", "NVRTC", "gpu", "same-algorithm", "03-cuda-parallel-sort",
         "py2ptx.gpusorts:odd_even_global"),
    Rung(8, "odd_even_shared", "Odd-even sort, CUDA C, one block, shared memory", "compilers", "NVRTC", "gpu", "same-algorithm", "03-cuda-parallel-sort",
         "py2ptx.gpusorts:odd_even_shared"),
    Rung(9, "bitonic", "Bitonic sort, CUDA C, shared tiles + global merges",
         "compilers", "NVRTC", "gpu", "algorithm-change", "03-cuda-parallel-sort",
         "py2ptx.gpusorts:bitonic", complexity="O(n log^2 n)"),
    Rung(10, "cupy_sort", "cupy.sort (CUB radix sort, the library ceiling)", "compilers",
         "CUDA library (CUB)", "gpu", "algorithm-change", "03-cuda-parallel-sort",
         "py2ptx.gpusorts:cupy_sort", complexity="O(n) passes over 32-bit keys"),
    Rung(11, "odd_even_inline_ptx", "Odd-even sort, shared memory, inline-PTX min/max", "ptx", "NVRTC (ptxas inside)", "gpu", "same-algorithm", "04-ptx",
         "py2ptx.gpusorts:odd_even_inline_ptx"),
)


def rung(key_or_number: str | int) -> Rung:
    """Look a rung up by key (``"c_bubble_scalar"``) or number (``3``)."""
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


def markdown_table(selected: list[Rung] | None = None) -> str:
    """The ladder as a Markdown table (README and notebooks)."""
    head = ("| # | rung | layer | compiled by | device | kind | notebook |\n"
            "|---|---|---|---|---|---|---|\n")
    rows = [f"| {r.number} | {r.title} | {LAYERS[r.layer].title} | {r.tool} | "
            f"{r.device.upper()} | {r.kind} | {r.notebook} |" for r in (RUNGS if selected is None else selected)]
    return head + "\n".join(rows)
