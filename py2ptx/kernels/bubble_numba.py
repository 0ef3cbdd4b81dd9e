"""Rung 4 of the ladder (notebook 02): the Python bubble sort compiled by Numba.

What changed from the previous version (bubble_python.py): one decorator. Numba
reads the function's bytecode, infers that ``a`` is an int32 array, and hands
LLVM the same loops that gcc compiles in kernels/c/bubble_sort.c.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=False)
def compare_swap(a: np.ndarray, i: int) -> None:
    """The compare-and-swap step, compiled by Numba (notebook 00 shows its LLVM IR)."""
    left, right = a[i], a[i + 1]
    if left > right:
        a[i] = right
        a[i + 1] = left


@numba.njit(cache=False)
def bubble_sort(a: np.ndarray) -> None:
    """Sort the int32 array ``a`` in place, exactly as bubble_python.bubble_sort does."""
    n = a.shape[0]
    for end in range(n - 1, 0, -1):
        for j in range(end):
            left, right = a[j], a[j + 1]
            if left > right:
                a[j] = right
                a[j + 1] = left
