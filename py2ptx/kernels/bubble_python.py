"""Rung 1 of the ladder (notebook 01): bubble sort in pure Python.

Every other rung of the course sorts the same keys (the same-algorithm rungs with
the same count of neighbour compare-and-swaps, odd-even transposition arranging them
differently; the algorithm-change rungs with other operations, py2ptx.ladder says
which); this file is the reference they are all measured against.
"""

from __future__ import annotations


def compare_swap(a: list, i: int) -> None:
    """The step every sort in the course is built from: order a[i] and a[i + 1]."""
    left, right = a[i], a[i + 1]
    if left > right:
        a[i], a[i + 1] = right, left


def bubble_sort(a: list) -> None:
    """Sort the list ``a`` in place: n - 1 passes, each bubbling the largest key right."""
    n = len(a)
    for end in range(n - 1, 0, -1):
        for j in range(end):
            if a[j] > a[j + 1]:
                a[j], a[j + 1] = a[j + 1], a[j]
