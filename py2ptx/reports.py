"""Reports of measured rungs: the ladder as a table, the layer table, two machines side by
side, and the ladder's figure (``python -m py2ptx ladder`` and notebook 06).

Measuring is :mod:`py2ptx.bench`; where the speedup comes from is :mod:`py2ptx.speedups`.
"""

from __future__ import annotations

import textwrap

from .bench import GPU_RUN
from .deepseek import RUN_NAME as DEEPSEEK_RUN
from .ladder import RUNGS, VERSIONS, rung
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


def host_cpu(measured) -> str:
    """The CPU that timed the CPU rungs of a :class:`~py2ptx.results.Measured`: the recorded
    run's host (its provenance), or this machine's when measured live here."""
    run = getattr(measured, "run", None)
    if run is not None:
        return run.provenance.get("machine", {}).get("cpu", "its CPU")
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


def _ladder_rows(timings: dict[str, Timing]) -> tuple[str, list[dict]]:
    """The ladder table's rows, once for both renderings (:func:`ladder_report`'s text and
    :func:`ladder_markdown`'s table): the baseline rung's key and one dict per rung."""
    base_key = min(timings, key=lambda k: rung(k).number)
    base = timings[base_key].median
    rows, previous = [], None
    for key, t in sorted(timings.items(), key=lambda kt: rung(kt[0]).number):
        r = rung(key)
        rows.append({"number": r.number, "title": r.title, "device": r.device.upper(),
                     "kind": r.kind, "median": format_seconds(t.median),
                     "iqr": format_seconds(t.spread), "repeats": t.repeats,
                     "x_base": format_speedup(base / t.median),
                     "x_prev": "" if previous is None else format_speedup(previous / t.median)})
        previous = t.median
    return base_key, rows


def _ladder_footnote(base_key: str) -> str:
    b = rung(base_key).number
    return (f"× rung {b}: speedup over rung {b} ({base_key}); × prev: over the rung above it "
            f"in this table; ÷k: k times slower.")


def ladder_report(timings: dict[str, Timing], skipped: dict[str, str]) -> str:
    """:func:`ladder_at`'s result as text (``python -m py2ptx ladder``): the table, the
    rungs not run, where the speedup comes from. A notebook shows
    :func:`ladder_markdown` instead, which never wraps mid-column."""
    lines = []
    if timings:
        n = next(iter(timings.values())).n
        lines.append(f"Sorting n = {n:,} random int32 keys, measured on "
                     f"{measured_on(timings.values())}")
        base_key, rows = _ladder_rows(timings)
        head = (f"{'#':>2}  {'rung':<52}{'device':<8}{'kind':<18}{'median':>10}{'IQR':>10}"
                f"{'repeats':>9}{f'× rung {rung(base_key).number}':>12}{'× prev':>10}")
        lines += ["", head, "-" * len(head)]
        for row in rows:
            lines.append(f"{row['number']:>2}  {row['title']:<52}{row['device']:<8}"
                         f"{row['kind']:<18}{row['median']:>10}{row['iqr']:>10}"
                         f"{row['repeats']:>9}{row['x_base']:>12}{row['x_prev']:>10}".rstrip())
        lines += ["", _ladder_footnote(base_key), "", *_split(timings)]
    else:
        lines.append("No rung ran here.")
    if skipped:
        lines += ["", "Not run here, with the reason:"]
        for key, reason in skipped.items():
            r = rung(key)
            lines.append(f"{r.number:>2}  {r.key:<20} {reason}")
    return "\n".join(lines)


def _nowrap(text: str) -> str:
    """A table cell that a narrow notebook may not break (``12.3 ms``, ``× rung 1``,
    ``same-algorithm``): in a span that does not wrap (JupyterLab keeps its style; a page
    that drops it still shows the text)."""
    return f"<span style='white-space:nowrap'>{text}</span>" if text else ""


def ladder_markdown(timings: dict[str, Timing], skipped: dict[str, str]) -> str:
    """:func:`ladder_report` as Markdown for a notebook (notebook 06,
    ``display(Markdown(...))``): the same numbers as a rendered table, whose numbers and
    headers never break across lines, then where the speedup comes from and the rungs not
    run, as lists."""
    if not timings:
        parts = ["**No rung ran here.**"]
    else:
        n = next(iter(timings.values())).n
        base_key, rows = _ladder_rows(timings)
        b = rung(base_key).number
        parts = [f"**Sorting n = {n:,} random int32 keys**, measured on "
                 f"{measured_on(timings.values())}", "",
                 "| # | rung | device | kind | median | IQR | repeats | "
                 f"{_nowrap(f'× rung {b}')} | {_nowrap('× prev')} |",
                 "|--:|---|---|---|--:|--:|--:|--:|--:|"]
        parts += [f"| {row['number']} | {row['title']} | {row['device']} | {_nowrap(row['kind'])} | "
                  f"{_nowrap(row['median'])} | {_nowrap(row['iqr'])} | {row['repeats']} | "
                  f"{_nowrap(row['x_base'])} | {_nowrap(row['x_prev'])} |" for row in rows]
        split = _split(timings)
        parts += ["", _ladder_footnote(base_key), "", f"**{split[0]}**", "",
                  *(f"* {line.strip()}" for line in split[1:])]
    if skipped:
        parts += ["", "**Not run here**, with the reason:", ""]
        parts += [f"* {rung(key).number}\\. `{key}`: {reason}" for key, reason in skipped.items()]
    return "\n".join(parts)


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


#: What a timing that is no version of the ladder measured (the GPU run's copies).
OTHER_TIMINGS = {"h2d": "copy host → device (keys to the GPU)",
                 "d2h": "copy device → host (keys back)"}


def version_table(timings: list[Timing]) -> str:
    """A run's timings as one Markdown table (notebook 03): a row per version, with the
    course's number and title, in ladder order; a column per n; each cell the median with
    its IQR beneath. Where a timing says how much of it was the GPU's own time
    (``device_median``; ``host_bound`` when the host, not the kernel, set the time), the
    cell says so too. The copies (h2d, d2h) come last; an n a version was not measured
    at is left empty."""
    ns = sorted({t.n for t in timings if t.n is not None})
    by = {(t.label, t.n): t for t in timings}
    order = [v.key for v in VERSIONS] + list(OTHER_TIMINGS)
    labels = sorted({t.label for t in timings},
                    key=lambda k: (order.index(k) if k in order else len(order), k))
    rows = ["| version | device | " + " | ".join(_nowrap(f"n = {n:,}") for n in ns)
            + " | repeats |", "|---|---|" + "--:|" * len(ns) + "--:|"]
    for label in labels:
        try:
            v = next(v for v in VERSIONS if v.key == label)
            title, device = f"{v.label}. {v.title}", v.device.upper()
        except StopIteration:
            title, device = OTHER_TIMINGS.get(label, label), "GPU"
        cells = [_version_cell(by.get((label, n))) for n in ns]
        repeats = sorted({t.repeats for t in timings if t.label == label})
        rows.append(f"| {title} | {device} | " + " | ".join(cells)
                    + f" | {', '.join(map(str, repeats))} |")
    notes = ["Each cell: the median, then its IQR (the middle half of the repeats)."]
    if any(getattr(t, "device_median", None) is not None for t in timings):
        notes.append("*device*: the GPU's own time, without the host's launch overhead.")
    if any(getattr(t, "host_bound", False) for t in timings):
        notes.append("**host-bound**: the host, not the kernel, set this time "
                     "(host share shown).")
    return "\n".join(rows) + "\n\n" + " ".join(notes)


def _version_cell(t: Timing | None) -> str:
    if t is None:
        return ""
    lines = [_nowrap(format_seconds(t.median)),
             f"<small>{_nowrap('IQR ' + format_seconds(t.spread))}</small>"]
    device = getattr(t, "device_median", None)
    if device is not None:
        lines.append(f"<small>{_nowrap('device ' + format_seconds(device))}</small>")
    if getattr(t, "host_bound", False):
        share = getattr(t, "host_fraction", None)
        lines.append("**host-bound**" + (f" <small>{share:.0%}</small>" if share is not None
                                         else ""))
    return "<br>".join(lines)


#: Which notebooks show the newest recorded run of each name (notebook 00 lists the runs).
RUN_USERS = {GPU_RUN: "notebooks 03 (every version, several n) and 04 (inline PTX, the block "
                      "schedule)",
             DEEPSEEK_RUN: "notebook 05 (the DeepSeek case)",
             "ladder": "notebook 06 (the whole ladder at one n)"}


def recorded_runs(runs) -> list[str]:
    """A line per recorded run (:func:`py2ptx.results.load_runs`): its provenance, then which
    notebook shows it -- the newest run of each name -- or that a newer one replaced it."""
    newest = {}
    for run in runs:
        when = run.provenance.get("recorded_utc", "")
        if run.name not in newest or when > newest[run.name].provenance.get("recorded_utc", ""):
            newest[run.name] = run
    lines = []
    for run in runs:
        if newest[run.name] is run:
            users = RUN_USERS.get(run.name, "no notebook (a run of its own name)")
            lines.append(f"{run.describe()}\n    -> shown by {users}")
        else:
            lines.append(f"{run.describe()}\n    -> kept for the record; the notebooks show the "
                         f"newer {run.name!r} run of "
                         f"{newest[run.name].provenance.get('recorded_utc', '?')}")
    return lines


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
