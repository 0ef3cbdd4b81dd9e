"""Every CPU rung of the ladder behind one interface: ``sort(keys) -> sorted copy``.

The algorithms themselves live in ``kernels/`` (``bubble_python.py``,
``bubble_numba.py``, ``c/bubble_sort.c``); this module only adapts them so the
ladder, the notebooks and the tests can call them alike. Each function checks its
input (a 1-D int32 array, see :func:`py2ptx.checks.as_int32_keys`), sorts a copy,
and leaves the caller's array untouched.
"""

from __future__ import annotations

import ctypes
import functools

import numpy as np

from .cbuild import INT32_ARRAY, build_c
from .checks import as_int32_keys
from .kernels import bubble_python as python_kernel

#: gcc 12 at -O2 vectorizes the swap (one 8-byte load, a shuffle, one 8-byte store).
C_FLAGS_VECTORIZED = ("-O2",)
#: The same -O2 with the SLP vectorizer off: a plain scalar compare-and-swap.
C_FLAGS_SCALAR = ("-O2", "-fno-tree-slp-vectorize")


def bubble_python(keys: np.ndarray) -> np.ndarray:
    """Rung 1: the pure-Python bubble sort on a list copy of ``keys``."""
    values = as_int32_keys(keys).tolist()
    python_kernel.bubble_sort(values)
    return np.asarray(values, dtype=np.int32)


@functools.cache
def c_bubble_function(flags: tuple[str, ...] = C_FLAGS_SCALAR):
    """``bubble_sort(int32_t *a, int32_t n)`` from kernels/c/bubble_sort.c, built with ``flags``."""
    lib = build_c("bubble_sort.c", flags)
    return lib.function("bubble_sort", [INT32_ARRAY, ctypes.c_int32])


def c_bubble(keys: np.ndarray, flags: tuple[str, ...] = C_FLAGS_SCALAR) -> np.ndarray:
    """The C bubble sort (compiled once per flag set) on a copy of ``keys``."""
    out = as_int32_keys(keys).copy()
    c_bubble_function(tuple(flags))(out, np.int32(out.size))
    return out


def c_bubble_vectorized(keys: np.ndarray) -> np.ndarray:
    """Rung 2: C bubble sort at gcc -O2, where the swap is vectorized."""
    return c_bubble(keys, C_FLAGS_VECTORIZED)


def c_bubble_scalar(keys: np.ndarray) -> np.ndarray:
    """Rung 3: C bubble sort at gcc -O2 -fno-tree-slp-vectorize (scalar swap)."""
    return c_bubble(keys, C_FLAGS_SCALAR)


def numba_bubble(keys: np.ndarray) -> np.ndarray:
    """Rung 4: the Numba-compiled bubble sort on a copy of ``keys``."""
    from .kernels import bubble_numba  # heavy: imports and JIT-compiles with Numba

    out = as_int32_keys(keys).copy()
    bubble_numba.bubble_sort(out)
    return out


def numpy_sort(keys: np.ndarray) -> np.ndarray:
    """Rung 5: NumPy's own sort, an O(n log n) algorithm instead of O(n^2)."""
    return np.sort(as_int32_keys(keys))
