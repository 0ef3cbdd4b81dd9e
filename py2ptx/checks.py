"""Reference, then validate: the inputs every sort must survive, and what a failure says.

Taught in notebook 01; used by every rung before it is timed, and by the labs'
self-checks. A fast wrong sort must never reach a plot, and a wrong answer must say
*which* input failed and the first index where it went wrong.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

INT32_MIN, INT32_MAX = np.iinfo(np.int32).min, np.iinfo(np.int32).max


class SortInputError(TypeError):
    """An input that the course's sorts do not take (they sort 1-D int32 arrays)."""


class WrongResult(AssertionError):
    """A sort returned the wrong keys; the message names the input and the first bad index."""


def as_int32_keys(a) -> np.ndarray:
    """Check that ``a`` is what every rung sorts: a 1-D NumPy array of int32 keys.

    Anything else is refused with a message saying how to make one, rather than
    silently converted: a float64 or int64 array would be reinterpreted by C and
    CUDA code as garbage, not rounded.
    """
    if not isinstance(a, np.ndarray):
        raise SortInputError(
            f"expected a NumPy int32 array, got {type(a).__name__}. "
            f"Make one with np.asarray(keys, dtype=np.int32)."
        )
    if a.dtype != np.int32:
        raise SortInputError(
            f"expected int32 keys, got dtype {a.dtype}. The C and GPU versions read "
            f"memory as 32-bit integers, so {a.dtype} would be misread, not converted. "
            f"Convert explicitly, e.g. a.astype(np.int32), after checking the values fit."
        )
    if a.ndim != 1:
        raise SortInputError(f"expected a 1-D array of keys, got shape {a.shape}.")
    return a


def random_keys(n: int, seed: int = 0, low: int = -(10**6), high: int = 10**6) -> np.ndarray:
    """``n`` random int32 keys, the same for the same seed (every rung sorts these)."""
    return np.random.default_rng(seed).integers(low, high, size=n, dtype=np.int32)


def standard_cases(n: int = 100) -> dict[str, np.ndarray]:
    """Named inputs that catch the usual sorting bugs (index off by one, sign, overflow)."""
    rng = np.random.default_rng(2026)
    return {
        "empty": np.array([], dtype=np.int32),
        "one element": np.array([7], dtype=np.int32),
        "two, reversed": np.array([2, 1], dtype=np.int32),
        "duplicates": rng.integers(0, 5, size=n, dtype=np.int32),
        "negatives": rng.integers(-1000, 0, size=n, dtype=np.int32),
        "int32 extremes": np.array(
            [INT32_MAX, INT32_MIN, 0, -1, INT32_MAX, 1, INT32_MIN], dtype=np.int32
        ),
        "already sorted": np.arange(n, dtype=np.int32),
        "reversed": np.arange(n, 0, -1, dtype=np.int32),
        "random, odd length": random_keys(n + 1, seed=1),
        "random": random_keys(n, seed=2),
    }


def first_mismatch(got: np.ndarray, expected: np.ndarray) -> int | None:
    """Index of the first element where ``got`` differs from ``expected`` (None if equal)."""
    if got.shape != expected.shape:
        return min(got.size, expected.size)
    diff = np.flatnonzero(got != expected)
    return int(diff[0]) if diff.size else None


def _show(a: np.ndarray, limit: int = 8) -> str:
    body = ", ".join(map(str, a[:limit].tolist()))
    return f"[{body}{', ...' if a.size > limit else ''}] (n={a.size})"


def check_sorted(name: str, keys: np.ndarray, got, *, what: str = "the sort",
                 descending: bool = False) -> None:
    """Raise :class:`WrongResult` unless ``got`` is ``keys`` sorted ascending (or, with
    ``descending``, largest first: the labs' graded variants)."""
    expected = np.sort(keys, kind="stable")
    if descending:
        expected = expected[::-1]
    if got is None:
        raise WrongResult(
            f"{what} on input {name!r} {_show(keys)} returned None. It must return the "
            f"sorted keys: if it sorts in place, end it with `return a`."
        )
    got = np.asarray(got)
    i = first_mismatch(got, expected)
    if i is None:
        return
    if got.shape != expected.shape:
        raise WrongResult(
            f"{what} on input {name!r} {_show(keys)} returned {got.size} keys, "
            f"expected {expected.size}."
        )
    order = " (sorted descending: largest first)" if descending else ""
    backwards = ""
    if got.size > 1 and np.array_equal(got, expected[::-1]):
        backwards = ("\n  Your result is sorted the other way round, "
                     + ("smallest first: the larger key of a pair must go first."
                        if descending else
                        "largest first: the smaller key of a pair must end up at the lower "
                        "index (a[i] <= a[i + 1]); look at which of the two you store where."))
    raise WrongResult(
        f"{what} on input {name!r} {_show(keys)} is wrong at index {i}{order}: "
        f"got {got[i]}, expected {expected[i]}.\n"
        f"  got      {_show(got[max(0, i - 2):])} from index {max(0, i - 2)}\n"
        f"  expected {_show(expected[max(0, i - 2):])}{backwards}"
    )


def validate(sort: Callable[[np.ndarray], np.ndarray], cases: dict | None = None,
             *, what: str = "the sort") -> int:
    """Run ``sort`` on every case and check each result; return the number checked.

    ``sort`` takes an int32 array and returns the sorted keys. The input must not be
    changed: every rung sorts a copy, so the same keys can be timed again.
    """
    cases = standard_cases() if cases is None else cases
    for name, keys in cases.items():
        before = keys.copy()
        got = sort(keys)
        if not np.array_equal(keys, before):
            raise WrongResult(
                f"{what} changed its input {name!r}: rungs must sort a copy, so the same "
                f"keys can be sorted (and timed) again."
            )
        check_sorted(name, before, got, what=what)
    return len(cases)
