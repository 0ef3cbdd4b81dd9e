"""Lab 01's self-checks: a bubble sort with an early exit, and its worst case predicted."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import numpy as np

from ..checks import check_sorted, standard_cases
from .core import Exercise, ExerciseFailed


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


#: The sizes the prediction is checked at; small ones first, so a wrong formula fails at
#: the n a student can work by hand.
_REVERSED_SIZES = (0, 1, 2, 3, 10, 1000, 65536)


def _check_swaps_reversed(formula: Callable[[int], int]) -> str:
    # The property, not the formula: a bubble sort makes one swap per inversion, so the
    # inversions of n reversed keys are the swaps the student must predict.
    for n in _REVERSED_SIZES:
        got = formula(n)
        want = count_inversions(range(n, 0, -1))
        if got != want:
            raise ExerciseFailed(f"for n={n} you predict {got} swaps on a reversed input; "
                                 f"bubble sort makes {want}. Try n=3 by hand: [3, 2, 1].")
    return (f"right for every n checked, up to {_REVERSED_SIZES[-1]:,}: every pair is out of "
            f"order, and each swap fixes exactly one")


lab01 = SimpleNamespace(
    early_exit=Exercise("Lab 01", "early exit and swap counter",
                        "bubble_sort_early_exit(a) sorts the list a in place and returns "
                        "(passes, swaps), stopping after a pass with no swap",
                        _check_early_exit),
    swaps_reversed=Exercise("Lab 01", "swaps on a reversed input",
                            "swaps_reversed(n) returns how many swaps bubble sort makes on "
                            "n keys in reversed order", _check_swaps_reversed),
)
