"""Where the speedup comes from: the two kinds of optimization, as data (notebook 06).

:func:`speedup_split` splits rung 1 -> the fastest rung into the part that kept bubble
sort's compare-and-swaps (``same-algorithm``, see :mod:`py2ptx.ladder`) and the algorithm
change on top; :func:`layer_split` does it layer by layer down the stack. Reports
(:mod:`py2ptx.reports`) print these and plots (:mod:`py2ptx.plots`) draw them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .ladder import rung
from .layers import LAYERS
from .timing import Timing, refuse_simulator


@dataclass(frozen=True)
class SpeedupSplit:
    """Rung 1 -> the fastest rung, split by the two kinds of :mod:`py2ptx.ladder`.

    ``same_algorithm`` is rung 1 over the fastest rung that keeps bubble sort's
    compare-and-swaps (``same``); ``algorithm_change`` is what the fastest rung of all
    (``best``) adds on top of that. Their product is ``total``. The step-by-step speedups
    down the table are deliberately not multiplied: going back from ``np.sort``
    (O(n log n)) to an O(n^2) GPU rung would be blamed on the same-algorithm rungs.
    """

    base: str  # rung 1's key
    same: str  # the fastest baseline or same-algorithm rung
    best: str  # the fastest rung of all
    same_algorithm: float  # t(base) / t(same)
    algorithm_change: float  # t(same) / t(best), never below 1
    total: float  # t(base) / t(best)


def speedup_split(timings: dict[str, Timing]) -> SpeedupSplit | None:
    """Where the speedup comes from, as data (:func:`ladder_report` prints it, notebook 06
    tables and plots it per layer): None without rung 1, python_bubble."""
    if "python_bubble" not in timings:
        return None

    def fastest(kinds):
        ran = [k for k in timings if rung(k).kind in kinds]
        return min(ran, key=lambda k: (timings[k].median, rung(k).number))

    best = fastest(("baseline", "same-algorithm", "algorithm-change"))
    same = fastest(("baseline", "same-algorithm"))
    t_base = timings["python_bubble"].median
    t_best, t_same = timings[best].median, timings[same].median
    return SpeedupSplit("python_bubble", same, best, t_base / t_same, t_same / t_best,
                        t_base / t_best)


@dataclass(frozen=True)
class LayerStep:
    """One layer of the stack in :func:`layer_split` (notebook 06)."""

    layer: str  # a key of py2ptx.layers.LAYERS
    rungs: tuple[str, ...]  # the rungs written at this layer that ran, in ladder order
    split: SpeedupSplit | None  # over every rung that ran at this layer or above it
    same_step: float | None  # what this layer's rungs added without changing the algorithm
    total_step: float | None  # what they added to the fastest time so far


def layer_split(timings: dict[str, Timing]) -> list[LayerStep]:
    """The speedup down the stack: for each layer of :data:`py2ptx.layers.LAYERS`, top to
    bottom, :func:`speedup_split` over every rung that ran at that layer or above it.

    Taught in notebook 06. Each row splits rung 1 -> the fastest rung so far into the
    same-algorithm part and the algorithm change on top (the rule of :func:`ladder_report`,
    never a product of step-by-step speedups). ``same_step`` and ``total_step`` say how much
    faster this layer's own rungs made the best same-algorithm time and the best time of
    all (x1 when they made neither faster; None at a layer where none of its rungs ran,
    at the first layer with rung 1, and without rung 1).
    """
    refuse_simulator(timings.values())
    steps: list[LayerStep] = []
    so_far: dict[str, Timing] = {}
    previous: SpeedupSplit | None = None
    for layer in LAYERS:
        here = tuple(k for k in sorted(timings, key=lambda k: rung(k).number)
                     if rung(k).layer == layer)
        so_far.update({k: timings[k] for k in here})
        split = speedup_split(so_far)
        same_step = total_step = None
        if here and split is not None and previous is not None:
            same_step = split.same_algorithm / previous.same_algorithm
            total_step = split.total / previous.total
        steps.append(LayerStep(layer, here, split, same_step, total_step))
        previous = split or previous
    return steps
