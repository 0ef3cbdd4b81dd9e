"""Lab 01's self-checks: a bubble sort with an early exit, and its worst case predicted."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
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


def _check_early_exit(sort: Callable[[list], tuple[int, int]], descending: bool = False) -> str:
    cases = standard_cases(60)
    in_order = "reversed" if descending else "already sorted"  # the input with nothing to do
    for name, keys in cases.items():
        values = keys.tolist()
        result = sort(values)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise ExerciseFailed(f"on input {name!r}: return (passes, swaps), a tuple of two "
                                 f"ints; got {result!r}")
        passes, swaps = result
        ordered = np.all(keys[:-1] >= keys[1:]) if descending else np.all(keys[:-1] <= keys[1:])
        if (keys.size >= 2 and values == keys.tolist() and not ordered
                and _leaves_list_unchanged(sort, descending)):
            raise ExerciseFailed(
                f"on input {name!r} (n={keys.size}) the list you were given is unchanged: "
                f"sort it in place (swap a[j] and a[j + 1] inside the list). Building a new "
                f"list, e.g. `a = sorted(a)`, leaves the caller's list as it was.")
        check_sorted(name, keys, np.asarray(values, dtype=np.int32), descending=descending,
                     what="your bubble sort (the list after sorting in place)")
        n = len(keys)
        want_swaps = count_inversions([-int(k) for k in keys] if descending else keys)
        if swaps != want_swaps:
            raise ExerciseFailed(f"on input {name!r} (n={n}) you counted {swaps} swaps; "
                                 f"bubble sort makes exactly {want_swaps} here (one per pair "
                                 f"of keys that are out of order)")
        if name == in_order and passes != 1:
            raise ExerciseFailed(f"on input {in_order!r} (n={n}) you made {passes} passes; "
                                 f"with an early exit, one pass without a swap is enough")
        if n >= 2 and not 1 <= passes <= n:
            raise ExerciseFailed(f"on input {name!r} (n={n}) you counted {passes} passes; "
                                 f"bubble sort needs between 1 and n")
    order = "descending " if descending else ""
    return (f"{len(cases)} inputs (n up to {max(map(len, cases.values()))}) sorted {order}in "
            f"place, swaps counted right, early exit works")


def _leaves_list_unchanged(sort, descending: bool = False) -> bool:
    """Does ``sort`` leave even a long list in the wrong order untouched (it sorted a copy)?"""
    probe = list(range(1, 11)) if descending else list(range(10, 0, -1))
    before = list(probe)
    sort(probe)
    return probe == before


#: The sizes the prediction is checked at; small ones first, so a wrong formula fails at
#: the n a student can work by hand.
_REVERSED_SIZES = (0, 1, 2, 3, 10, 1000, 65536)


def _reversed(n: int) -> list[int]:
    return list(range(n, 0, -1))


def _halves_swapped(n: int) -> list[int]:
    """The top half first, then the bottom half, each in order: [3, 4, 5, 1, 2] for n = 5."""
    return list(range(n // 2 + 1, n + 1)) + list(range(1, n // 2 + 1))


def _check_swaps_formula(formula: Callable[[int], int], make=_reversed,
                         what: str = "a reversed input", example: str = "[3, 2, 1]") -> str:
    # The property, not the formula: a bubble sort makes one swap per inversion, so the
    # inversions of the input are the swaps the student must predict.
    for n in _REVERSED_SIZES:
        got = formula(n)
        if isinstance(got, float) and got == int(got):
            raise ExerciseFailed(f"for n={n} your formula gives the float {got!r}: a number of "
                                 f"swaps is a whole number; divide with `//`, which keeps an int "
                                 f"(a float is exact only up to 2**53)")
        want = count_inversions(make(n))
        if got != want:
            raise ExerciseFailed(f"for n={n} you predict {got} swaps on {what}; "
                                 f"bubble sort makes {want}. Try n=3 by hand: {example}.")
    return (f"right for every n checked, up to {_REVERSED_SIZES[-1]:,}: each swap fixes "
            f"exactly one pair that is out of order")


_check_swaps_reversed = _check_swaps_formula


_FORMULA_TOO_LONG = (f"The check asks for n up to {_REVERSED_SIZES[-1]:,}: a formula in n answers "
                     f"at once, while sorting or counting the keys one pair at a time takes "
                     f"hours. Write the answer in n alone, without a loop.")

lab01 = SimpleNamespace(
    early_exit=Exercise("Lab 01", "early exit and swap counter",
                        "bubble_sort_early_exit(a) sorts the list a in place and returns "
                        "(passes, swaps), stopping after a pass with no swap",
                        _check_early_exit),
    # The graded variant (docs/instructors.md): py2ptx ships an ascending bubble sort.
    early_exit_descending=Exercise(
        "Lab 01", "early exit and swap counter, descending",
        "bubble_sort_early_exit(a) sorts the list a in place, largest key first, and returns "
        "(passes, swaps), stopping after a pass with no swap",
        partial(_check_early_exit, descending=True)),
    swaps_reversed=Exercise("Lab 01", "swaps on a reversed input",
                            "swaps_reversed(n) returns how many swaps bubble sort makes on "
                            "n keys in reversed order", _check_swaps_reversed,
                            too_long=_FORMULA_TOO_LONG),
    # The graded variant: notebook 01 derives the reversed case's formula; this one is not.
    swaps_halves=Exercise(
        "Lab 01", "swaps on two halves swapped",
        "swaps_halves(n) returns how many swaps bubble sort makes on the keys n//2 + 1, ..., n "
        "followed by 1, ..., n//2 (e.g. [3, 4, 5, 1, 2])",
        partial(_check_swaps_formula, make=_halves_swapped, what="the two halves swapped",
                example="[2, 3, 1]"), too_long=_FORMULA_TOO_LONG),
)
