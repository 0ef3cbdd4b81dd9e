"""Measured conclusions, computed from the run shown (notebooks 01, 02, 04 and 06).

A sentence that states a measured result is printed by code from the numbers beside it,
never typed: a rerun on a busy machine must not contradict the prose (issue 13; the
model is :func:`py2ptx.deepseek.findings`). Every comparison here says how sure it is:

* :func:`ratio` gives a ratio of medians with the range the quartiles allow
  (``a``'s p25 over ``b``'s p75 up to ``a``'s p75 over ``b``'s p25);
* :func:`within_noise` says whether two timings' interquartile ranges overlap — then
  the data do not tell them apart, whatever the medians say.

The CPU-side noise rule itself (IQR above 20 % of the median) is
:attr:`py2ptx.timing.Timing.noisy`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .ladder import rung
from .speedups import layer_split, speedup_split
from .timing import Timing, fit_power_law, format_seconds, format_speedup

#: Leiserson et al. (2020), Table 1: Python -> AVX intrinsics, 4096 x 4096 matrix product.
LEISERSON_TOTAL = 62_806


@dataclass(frozen=True)
class Ratio:
    """``a / b`` of two timings' medians, with the range their quartiles allow."""

    value: float
    low: float
    high: float

    @property
    def sure(self) -> bool:
        """True when the whole quartile range lies on one side of ×1."""
        return self.low > 1 or self.high < 1

    def text(self) -> str:
        return (f"{format_speedup(self.value)} (quartile range {format_speedup(self.low)}"
                f" to {format_speedup(self.high)})")


def ratio(a: Timing, b: Timing) -> Ratio:
    """How many times ``b``'s time ``a`` takes, with the range the quartiles allow."""
    (a1, a3), (b1, b3) = a.quartiles, b.quartiles
    return Ratio(a.median / b.median, a1 / b3, a3 / b1)


def within_noise(a: Timing, b: Timing) -> bool:
    """True when the two interquartile ranges overlap: the data cannot tell a from b."""
    (a1, a3), (b1, b3) = a.quartiles, b.quartiles
    return a1 <= b3 and b1 <= a3


def noise_flags(timings) -> str:
    """One line naming every noisy timing (IQR above 20 % of its median), or ''."""
    noisy = [t for t in timings if t.noisy]
    if not noisy:
        return ""
    return ("Noisy on this machine (IQR > 20 % of the median; the fastest sample beside it): "
            + "; ".join(f"{t.label or t.n}: {format_seconds(t.median)}, fastest "
                        f"{format_seconds(t.best)}" for t in noisy))


def compare(a_name: str, a: Timing, b_name: str, b: Timing) -> str:
    """One sentence: a's time against b's, and whether the noise allows a verdict."""
    r = ratio(a, b)
    if within_noise(a, b):
        verdict = "their interquartile ranges overlap: within the noise, no difference shown"
    elif r.value > 1:
        verdict = f"{a_name} is slower, beyond the noise"
    else:
        verdict = f"{a_name} is faster, beyond the noise"
    return f"{a_name} takes {r.text()} {b_name}'s time: {verdict}"


# --------------------------------------------------------------------------- notebook 01


#: How far a measured time may stray from an n² prediction (either way) and still be read as
#: following it: ×0.8 to ×1.25.
QUADRATIC_BAND = 1.25


def quadratic_prediction(timings: list[Timing]) -> str:
    """Notebook 01: the first size's time scaled by (n / n0)^2, against the last size, and
    what the ratio says -- computed, so a busy machine's rerun cannot contradict it. When
    the medians stray from n², the fastest samples (the least disturbed) are compared too."""
    first, last = timings[0], timings[-1]
    scale = (last.n / first.n) ** 2
    predicted = first.median * scale
    off = last.median / predicted
    line = (f"From n = {first.n:,} ({format_seconds(first.median)}), n² predicts "
            f"{format_seconds(predicted)} at n = {last.n:,}; measured "
            f"{format_seconds(last.median)} ({format_speedup(off)} the prediction)")
    if 1 / QUADRATIC_BAND <= off <= QUADRATIC_BAND:
        return line + ": within ×1.25 either way, n² describes this machine's times."
    best_off = last.best / (first.best * scale)
    per = (f"per comparison {first.median / (first.n * (first.n - 1) / 2) * 1e9:.0f} ns at "
           f"n = {first.n:,}, {last.median / (last.n * (last.n - 1) / 2) * 1e9:.0f} ns at "
           f"n = {last.n:,}")
    if 1 / QUADRATIC_BAND <= best_off <= QUADRATIC_BAND:
        return (line + f": off n² by more than ×1.25 ({per}), but the fastest samples follow "
                f"it ({format_speedup(best_off)}): the medians' excess is consistent with other "
                f"work on this machine during the run, not with the sort itself. Rerun the cell.")
    direction = ("slower" if best_off > 1 else "faster") + " than n² predicts"
    return (line + f": off n² by more than ×1.25 ({per}), the fastest samples too "
            f"({format_speedup(best_off)}, {direction}). Fixed costs per call would make the "
            f"large n relatively faster; a larger n whose list no longer fits a cache would make "
            f"it slower; a busy machine can do either. This run alone does not tell which.")


# --------------------------------------------------------------------------- notebook 02


def store_experiment(random_vec: Timing, random_scalar: Timing, sorted_vec: Timing,
                     sorted_scalar: Timing) -> str:
    """Notebook 02: how much of -O2's gap to the scalar loop survives without stores."""
    before, after = ratio(random_vec, random_scalar), ratio(sorted_vec, sorted_scalar)
    lines = [f"random input: -O2 takes {before.text()} the scalar loop's time",
             f"sorted input (no swap, so no store): {after.text()}"]
    extra_random = random_vec.median - random_scalar.median
    extra_sorted = sorted_vec.median - sorted_scalar.median
    if within_noise(sorted_vec, sorted_scalar) and (sorted_vec.noisy or sorted_scalar.noisy):
        lines.append("The sorted-input timings are too noisy here (IQR > 20 % of the median) "
                     "to tell: their ranges overlap, but a gap could hide inside them. Rerun "
                     "this cell on a quieter machine.")
    elif within_noise(sorted_vec, sorted_scalar):
        lines.append("Without stores the gap is gone, within the noise: the extra time comes "
                     "with the stores.")
    elif extra_random > 0 and after.value < 1:
        lines.append(f"Without stores -O2 is even faster than the scalar loop "
                     f"({format_speedup(after.value)}): all of its extra time comes with the "
                     f"stores.")
    elif extra_random > 0:
        share = max(0.0, 1 - extra_sorted / extra_random)
        lines.append(
            f"Without stores the extra time drops from {format_seconds(extra_random)} to "
            f"{format_seconds(extra_sorted)}: about {share:.0%} of it comes with the stores. "
            f"A {format_speedup(after.value)} gap remains with no store at all, which this "
            f"experiment does not explain (even without swapping the vector loop does more per "
            f"compare: one 8-byte load, then a pshufd and two moves to general registers, where "
            f"the scalar loop has two 4-byte loads -- more instructions between the load and "
            f"the compare).")
    else:
        lines.append("On random input -O2 was not slower here, so there is no gap to explain.")
    return "\n".join(lines)


def exponents(series: dict[str, list[Timing]]) -> list[str]:
    """Notebook 02: each line's fitted exponent (from the medians, and from the fastest
    samples), and whether it is within 0.25 of bubble sort's 2."""
    lines = []
    for label, timings in series.items():
        if len(timings) < 2:
            continue
        k, _ = fit_power_law(timings)
        fastest = [Timing((t.best,), n=t.n) for t in timings]
        k_best, _ = fit_power_law(fastest)
        verdict = ("close to n²" if abs(k - 2) <= 0.25 else
                   "close to n² from the fastest samples: the medians were disturbed"
                   if abs(k_best - 2) <= 0.25 else
                   "off n² even from the fastest samples: the comparisons are n(n−1)/2 on "
                   "every rung, so this is the machine's doing (caches, other work), not "
                   "the algorithm's")
        lines.append(f"{label}: n^{k:.2f} (fastest samples: n^{k_best:.2f}), {verdict}")
    return lines


def numba_ir_facts(ir: str) -> dict[str, int]:
    """What Numba's optimized LLVM IR of bubble_sort contains (notebook 02)."""
    return {"select": len(re.findall(r"=\s*select\b", ir)),
            "compares of two int32": len(re.findall(r"icmp sgt i32", ir)),
            "int32 loads": len(re.findall(r"load i32", ir)),
            "int32 stores": len(re.findall(r"store i32", ir))}


# --------------------------------------------------------------------------- notebook 04


def same_sass_times(timings, same=("odd_even_minmax", "odd_even_inline_ptx"),
                    other="odd_even_shared") -> list[str]:
    """Notebook 04: per n, the two kernels with the same SASS against each other, and the
    branchy kernel (different SASS) against them."""
    by = {(t.label, t.n): t for t in timings}
    lines = []
    for n in sorted({t.n for t in timings if t.label in (*same, other)}):
        a, b, c = by.get((same[0], n)), by.get((same[1], n)), by.get((other, n))
        if a and b:
            lines.append(f"n = {n:,}: same SASS — {compare(same[1], b, same[0], a)}")
        if c and a:
            lines.append(f"n = {n:,}: different SASS — {compare(same[0], a, other, c)}")
    return lines


# --------------------------------------------------------------------------- notebook 06


def split_range(timings: dict[str, Timing]) -> tuple[float, float] | None:
    """The range of rung 1 -> fastest rung that the two timings' quartiles allow."""
    split = speedup_split(timings)
    if split is None:
        return None
    r = ratio(timings[split.base], timings[split.best])
    return r.low, r.high


def headline(timings: dict[str, Timing]) -> str:
    """Notebook 06: rung 1 -> the fastest rung, with how sure it is, and the devices
    on each side of the algorithm-change step."""
    split = speedup_split(timings)
    if split is None:
        return "Rung 1 did not run here, so there is no total to compute."
    if split.total <= 1:
        return "No rung beat rung 1 here."
    low, high = split_range(timings)
    share = math.log(split.same_algorithm) / math.log(split.total) if split.same_algorithm > 1 else 0.0
    lines = [
        f"rung 1 -> {rung(split.best).number}. {split.best}: {format_speedup(split.total)} "
        f"(quartile range {format_speedup(low)} to {format_speedup(high)})",
        f"On a log scale, {share:.0%} of that way was covered without changing the algorithm "
        f"({format_speedup(split.same_algorithm)}, {rung(split.same).number}. {split.same}), "
        f"{1 - share:.0%} by changing it ({format_speedup(split.algorithm_change)}).",
    ]
    noisy = [k for k in (split.base, split.same, split.best) if timings[k].noisy]
    if noisy:
        fastest = timings[split.base].best / timings[split.best].best
        lines.append("Noisy here (IQR > 20 % of the median): " + ", ".join(noisy)
                     + " — read the total as its quartile range, not as one number "
                     f"(from the fastest sample of each: {format_speedup(fastest)}).")
    same_dev, best_dev = rung(split.same).device, rung(split.best).device
    if split.best != split.same and same_dev != best_dev:
        lines.append(f"The algorithm-change step also changes device ({same_dev.upper()} "
                     f"{split.same} -> {best_dev.upper()} {split.best}): its factor is "
                     f"algorithm and device together, not the algorithm alone.")
    return "\n".join(lines)


def beside_leiserson(timings: dict[str, Timing]) -> str:
    """Notebook 06: our total against Leiserson et al.'s ×62,806, with our range."""
    split = speedup_split(timings)
    if split is None:
        return "no total (rung 1 did not run)"
    low, high = split_range(timings)
    lo, hi = low / LEISERSON_TOTAL, high / LEISERSON_TOTAL
    if hi < 1:
        side = "below theirs across the whole range"
    elif lo > 1:
        side = "above theirs across the whole range"
    else:
        side = "their total lies inside our range: no winner"
    return (f"{format_speedup(split.total)} (range {format_speedup(low)} to "
            f"{format_speedup(high)}): {format_speedup(split.total / LEISERSON_TOTAL)} of "
            f"theirs ({format_speedup(lo)} to {format_speedup(hi)}), {side}")


def layer_answer(timings: dict[str, Timing]) -> str:
    """Notebook 06: which layer's rungs gave the fastest time, and which rungs ran where."""
    steps = [s for s in layer_split(timings) if s.rungs]
    if not steps or all(s.split is None for s in steps):
        return "Rung 1 did not run here, so the layers have no split."
    lines = []
    for s in steps:
        lines.append(f"{s.layer} layer: rung{'s' if len(s.rungs) > 1 else ''} "
                     + ", ".join(str(rung(k).number) for k in s.rungs) + " ran")
    best_step = max((s for s in steps if s.total_step is not None),
                    key=lambda s: s.total_step, default=None)
    if best_step is not None and best_step.total_step > 1:
        lines.append(f"The biggest step: the {best_step.layer} layer's rungs made the fastest "
                     f"time {format_speedup(best_step.total_step)} faster.")
    ptx = next((s for s in steps if s.layer == "ptx"), None)
    if ptx is None:
        lines.append("No rung ran at the PTX layer here, so this machine has no PTX row.")
    elif ptx.total_step is not None and ptx.total_step <= 1:
        lines.append("The PTX layer's rung did not make the fastest time any faster (×1).")
    elif ptx.total_step is not None:
        lines.append(f"The PTX layer's rung made the fastest time "
                     f"{format_speedup(ptx.total_step)} faster.")
    return "\n".join(lines)
