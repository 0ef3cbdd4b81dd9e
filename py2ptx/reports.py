"""Reports of measured rungs: the ladder as a table, the layer table, two machines side by
side, and the ladder's figure (``python -m py2ptx ladder`` and notebook 06).

Measuring is :mod:`py2ptx.bench`; where the speedup comes from is :mod:`py2ptx.speedups`.
"""

from __future__ import annotations

import textwrap

from .ladder import RUNGS, rung
from .layers import LAYERS
from .machine import gpu_info, machine_label
from .plots import speedup_ladder
from .speedups import layer_split, speedup_split
from .timing import Timing, format_seconds, format_speedup


def measured_on(timings) -> str:
    """The machine a set of timings was measured on, for titles: the GPU too if one ran."""
    if any(t.where == "gpu" for t in timings):
        return f"{gpu_info().get('name', 'a GPU')} and {machine_label()}"
    return machine_label()


def ladder_figure(timings: dict[str, Timing], skipped: dict[str, str]):
    """:func:`ladder_at`'s result as :func:`py2ptx.plots.speedup_ladder`'s figure: speedups
    over the first rung that ran (rung 1 unless left out), the rungs not run named below."""
    if not timings:
        raise ValueError("no rung ran, so there is nothing to plot")
    note = ""
    if skipped:
        note = textwrap.fill("Not run here: " + ", ".join(
            f"{rung(k).number}. {k} ({why.split(':')[0]})" for k, why in skipped.items())
            + " -- see python -m py2ptx doctor", 150)
    baseline = min(timings, key=lambda k: rung(k).number)
    return speedup_ladder(timings, measured_on(timings.values()), baseline=baseline, note=note)


def ladder_report(timings: dict[str, Timing], skipped: dict[str, str]) -> str:
    """:func:`ladder_at`'s result as text: the table, the rungs not run, where the speedup
    comes from."""
    lines = []
    if timings:
        n = next(iter(timings.values())).n
        lines.append(f"Sorting n = {n:,} random int32 keys, measured on "
                     f"{measured_on(timings.values())}")
        base_key = min(timings, key=lambda k: rung(k).number)
        base = timings[base_key].median
        head = (f"{'#':>2}  {'rung':<52}{'device':<8}{'kind':<18}{'median':>10}{'IQR':>10}"
                f"{'repeats':>9}{f'× rung {rung(base_key).number}':>12}{'× prev':>10}")
        lines += ["", head, "-" * len(head)]
        previous = None
        for key, t in sorted(timings.items(), key=lambda kt: rung(kt[0]).number):
            r = rung(key)
            step = "" if previous is None else format_speedup(previous / t.median)
            lines.append(f"{r.number:>2}  {r.title:<52}{r.device.upper():<8}{r.kind:<18}"
                         f"{format_seconds(t.median):>10}{format_seconds(t.spread):>10}"
                         f"{t.repeats:>9}{format_speedup(base / t.median):>12}{step:>10}"
                         .rstrip())
            previous = t.median
        lines.append("")
        lines.append(f"× rung {rung(base_key).number}: speedup over rung {rung(base_key).number} "
                     f"({base_key}); × prev: over the rung above it in this table; "
                     f"÷k: k times slower.")
        lines += ["", *_split(timings)]
    else:
        lines.append("No rung ran here.")
    if skipped:
        lines += ["", "Not run here, with the reason:"]
        for key, reason in skipped.items():
            r = rung(key)
            lines.append(f"{r.number:>2}  {r.key:<20} {reason}")
    return "\n".join(lines)


def _split(timings: dict[str, Timing]) -> list[str]:
    """:func:`speedup_split` as the lines of :func:`ladder_report`."""
    split = speedup_split(timings)
    if split is None:
        return ["(Where the speedup comes from needs rung 1, python_bubble.)"]
    best, same = split.best, split.same
    return [
        f"Where the speedup comes from: rung 1 -> the fastest rung here, "
        f"{rung(best).number}. {best}: {format_speedup(split.total)}",
        f"  same algorithm (bubble sort's compare-and-swaps, better use of the machine): "
        f"{format_speedup(split.same_algorithm)}  (best: {rung(same).number}. {same})",
        f"  algorithm change, on top of that: {format_speedup(split.algorithm_change)}"
        + ("  (no rung that changes the algorithm beat it here)" if best == same
           else f"  ({rung(best).number}. {best} over {rung(same).number}. {same})"),
    ]


def layer_table(timings: dict[str, Timing], skipped: dict[str, str] | None = None) -> str:
    """:func:`layer_split` as a Markdown table (notebook 06): one row per layer of the
    stack, the rungs written there that did not run named with the reason's first word."""
    skipped = skipped or {}
    rows = ["| layer | rungs written here | same algorithm, down to here | algorithm change "
            "on top | = fastest so far, × rung 1 | this layer's own rungs added |",
            "|---|---|---|---|---|---|"]
    for step in layer_split(timings):
        registered = [r for r in RUNGS if r.layer == step.layer]
        if not registered:
            rows.append(f"| {LAYERS[step.layer].title} | no rung is written at this layer "
                        f"| | | | |")
            continue
        ran = ", ".join(str(rung(k).number) for k in step.rungs) or "none"
        not_run = [r for r in registered if r.key not in step.rungs]
        if not_run:
            ran += "; not run: " + ", ".join(
                f"{r.number} ({skipped.get(r.key, 'not measured').split(':')[0]})"
                for r in not_run)
        s = step.split
        if s is None:
            rows.append(f"| {LAYERS[step.layer].title} | {ran} | needs rung 1 | | | |")
            continue
        change = ("×1 (none beat it)" if s.best == s.same
                  else f"{format_speedup(s.algorithm_change)} ({rung(s.best).number}. {s.best})")
        added = ("—" if step.same_step is None
                 else f"same algorithm {format_speedup(step.same_step)}, "
                      f"fastest {format_speedup(step.total_step)}")
        rows.append(f"| {LAYERS[step.layer].title} | {ran} | "
                    f"{format_speedup(s.same_algorithm)} ({rung(s.same).number}. {s.same}) | "
                    f"{change} | {format_speedup(s.total)} ({rung(s.best).number}. {s.best}) "
                    f"| {added} |")
    return "\n".join(rows)


def recorded_ladder(run) -> dict[str, Timing]:
    """The rungs of a recorded ``ladder`` run (:func:`py2ptx.results.latest_run`), by key,
    in ladder order: what notebook 06 puts beside this machine's ladder."""
    keys = [r.key for r in RUNGS]
    ladder = {t.label: t for t in sorted((t for t in run.timings if t.label in keys),
                                         key=lambda t: keys.index(t.label))}
    ns = {t.n for t in ladder.values()}
    if len(ns) > 1:
        raise ValueError(f"run {run.name!r} holds the rungs at several n ({sorted(ns)}); "
                         f"a ladder compares them at one")
    return ladder


def ladder_beside(here: dict[str, Timing], skipped: dict[str, str],
                  there: dict[str, Timing], here_name: str, there_name: str) -> str:
    """Every rung on two machines side by side, as a Markdown table (notebook 06).

    ``here``/``skipped`` come from :func:`ladder_at` on this machine, ``there`` from a
    recorded run (:func:`recorded_ladder`). A rung that did not run here says why; a
    simulator time is never shown as a time. Speedups are over rung 1 on the same machine.
    """
    def n_of(timings):
        ns = {t.n for t in timings.values()}
        return f", n = {ns.pop():,}" if len(ns) == 1 else ""

    def cell(timings, key, missing):
        t = timings.get(key)
        if t is None:
            return missing, ""
        if t.where == "simulator":
            return "simulator: correct, not speed", ""
        base = timings.get("python_bubble")
        speed = format_speedup(base.median / t.median) if base else ""
        return f"{format_seconds(t.median)} (IQR {format_seconds(t.spread)})", speed

    rows = [f"| # | rung | layer | kind | {here_name}{n_of(here)} | × rung 1 | "
            f"{there_name}{n_of(there)} | × rung 1 |", "|---|---|---|---|---|---|---|---|"]
    for r in RUNGS:
        why = skipped.get(r.key)
        mine = cell(here, r.key, f"not run here ({why.split(':')[0]})" if why else "not run")
        theirs = cell(there, r.key, "not in the run")
        rows.append(f"| {r.number} | {r.title} ({r.device.upper()}) | {LAYERS[r.layer].title} | "
                    f"{r.kind} | "
                    f"{mine[0]} | {mine[1]} | {theirs[0]} | {theirs[1]} |")
    return "\n".join(rows)
