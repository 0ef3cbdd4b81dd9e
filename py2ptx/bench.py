"""Measuring rungs: validate, then time, then record -- the one path every number takes.

Used by notebook 03 onwards, by the GPU check (``tools/gpu_check.py``) and by
``python -m py2ptx ladder`` (:func:`ladder_at`). For each rung and size: random keys,
the rung's sort checked against ``np.sort`` (a fast wrong kernel never reaches a
plot), then timed -- CPU rungs with :func:`time_cpu`,
GPU rungs in place on the device with CUDA events (:func:`time_gpu`), so that
host<->device copies are timed on their own (:func:`py2ptx.gpusorts.time_transfers`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .checks import check_sorted, random_keys
from .ladder import rung
from .timing import Timing, format_seconds, format_speedup, refuse_simulator, time_cpu, time_gpu

#: The GPU check's plan: rung key -> (sizes n, repeats). Sized so the whole check
#: stays well under 8 minutes on an H200: the launch-per-phase rungs pay n launches
#: per sort, so they stop at 2^14; bitonic and cupy.sort go to 2^20.
GPU_PLAN: dict[str, tuple[tuple[int, ...], int]] = {
    "python_bubble": ((2**10, 2**12), 3),
    "c_bubble_vectorized": ((2**10, 2**12), 3),
    "c_bubble_scalar": ((2**10, 2**12, 2**14), 3),
    "numba_bubble": ((2**10, 2**12), 3),
    "numpy_sort": ((2**10, 2**12, 2**14, 2**16, 2**18, 2**20), 5),
    "odd_even_numba": ((2**10, 2**12), 3),
    "odd_even_global": ((2**10, 2**12, 2**14), 5),
    "odd_even_shared": ((2**10, 2**12, 2**14), 10),
    "merge_split": ((2**10, 2**12, 2**14), 10),  # version 3b (notebook 03), not a rung
    "odd_even_inline_ptx": ((2**10, 2**12, 2**14), 10),
    "odd_even_minmax": ((2**10, 2**12, 2**14), 10),  # rung 11's twin in C (notebook 04)
    "bitonic": ((2**10, 2**12, 2**14, 2**16, 2**18, 2**20), 20),
    "cupy_sort": ((2**10, 2**12, 2**14, 2**16, 2**18, 2**20), 20),
}
#: The name recorded GPU runs of the ladder are saved under (results/…-gpu-ladder.json).
GPU_RUN = "gpu-ladder"


def _what(key: str) -> tuple[str, str, Callable]:
    """(title, device, sort) of a rung key, or of a GPU sort that is not a rung."""
    try:
        r = rung(key)
        return r.title, r.device, r.load()
    except KeyError:
        from .gpusorts import DEVICE_SORTS, on_gpu

        if key not in DEVICE_SORTS:
            raise
        return key, "gpu", on_gpu(DEVICE_SORTS[key])


def measure(key: str, n: int, repeats: int = 5, seed: int = 0) -> Timing:
    """Validate ``key`` (a rung, or a GPU sort of ``gpusorts.DEVICE_SORTS``) on n random
    keys against ``np.sort``, then time it (GPU sorts in place on the device)."""
    title, device, sort = _what(key)
    keys = random_keys(n, seed=seed)
    check_sorted(f"random, n = {n}", keys, sort(keys), what=title)
    if device == "cpu":
        return time_cpu(sort, keys, repeats=repeats, label=key, n=n)
    from .gpu import explained, require_gpu
    from .gpusorts import DEVICE_SORTS

    cp = require_gpu(title)
    device_sort = DEVICE_SORTS[key]
    with explained(f"{title} at n = {n:,}"):
        d_in, work = cp.asarray(keys), cp.empty(n, dtype=cp.int32)

        def copy_then_sort():  # a device-to-device copy of the input, then the sort in place
            work[...] = d_in
            device_sort(work)

        return time_gpu(copy_then_sort, repeats=repeats, warmup=1, label=key, n=n)


def run_plan(plan: dict[str, tuple[tuple[int, ...], int]],
             progress: Callable[[str], None] = print, transfers: bool = True) -> list[Timing]:
    """Every (rung, n) of ``plan``, measured; plus host<->device copies at each GPU n."""
    timings: list[Timing] = []
    for key, (sizes, repeats) in plan.items():
        for n in sizes:
            t = measure(key, n, repeats)
            progress(f"{key:<22} n = {n:>9,}  {t}")
            timings.append(t)
    if transfers:
        from .gpusorts import time_transfers

        gpu_sizes = sorted({n for k, (s, _) in plan.items() if _what(k)[1] == "gpu" for n in s})
        for n in gpu_sizes:
            for t in time_transfers(n):
                progress(f"   {t.label:<22} n = {n:>9,}  {t}")
                timings.append(t)
    return timings


def series(timings: list[Timing], *labels: str) -> dict[str, list[Timing]]:
    """``{legend: [Timing at each n]}`` for the plots, in the order of ``labels``.

    A rung's legend is its number, key and device (``"8. odd_even_shared (GPU)"``).
    """
    def legend(label: str) -> str:
        try:
            r = rung(label)
        except KeyError:
            return label
        return f"{r.number}. {r.key} ({r.device.upper()})"

    return {legend(label): [t for t in timings if t.label == label] for label in labels
            if any(t.label == label for t in timings)}


def crossover(cpu: list[Timing], gpu: list[Timing]) -> int | None:
    """The smallest n measured by both at which ``gpu`` is faster than ``cpu`` (or None)."""
    cpu_at = {t.n: t.median for t in cpu}
    wins = sorted(t.n for t in gpu if t.n in cpu_at and t.median < cpu_at[t.n])
    return wins[0] if wins else None


def gpu_timings(plan: dict | None = None, progress: Callable[[str], None] = print):
    """GPU numbers for a notebook: measured live on a GPU, else the latest recorded run.

    Returns ``(timings, where)`` -- ``where`` names the machine and, for a recorded
    run, its provenance -- or ``(None, message)`` when there is neither a GPU nor a
    recorded run (the message says so plainly).
    """
    from .doctor import gpu_info, has_gpu, machine_label
    from .results import latest_run, no_run_message

    if has_gpu():
        timings = run_plan(plan or GPU_PLAN, progress)
        return timings, f"{gpu_info()['name']}, live, with {machine_label()}"
    run = latest_run(GPU_RUN)
    if run is None:
        return None, no_run_message(GPU_RUN)
    return run.timings, run.describe()


# --------------------------------------------------------------------------- the whole ladder

#: ``python -m py2ptx ladder``'s default n: rung 1 (pure-Python bubble sort) takes about
#: 0.5 s a sort at n = 4096 on a 2-core cloud VM (AMD EPYC), so validation, warm-up and
#: 5 repeats stay under 5 s; every other rung is far faster. A power of two, so bitonic
#: sort needs no padding, and small enough for one block's shared memory (rungs 8, 11).
LADDER_N = 4096
LADDER_REPEATS = 5
#: The ladder warns above this estimate (seconds) for its O(n^2) CPU rungs.
LADDER_SLOW_S = 60.0


def ladder_keys(keys=None) -> list[str]:
    """Rung keys in ladder order from keys and/or numbers (``["3", 1, "numpy_sort"]``).

    None means every rung. An unknown one raises :class:`KeyError` listing the rungs.
    """
    from .ladder import RUNGS

    if keys is None:
        return [r.key for r in RUNGS]
    chosen = {rung(int(k) if str(k).strip().isdigit() else str(k).strip()) for k in keys}
    return [r.key for r in sorted(chosen, key=lambda r: r.number)]


def ladder_at(n: int, keys=None, repeats: int = LADDER_REPEATS,
              progress: Callable[[int, int, str], None] | None = None,
              modes: dict[str, tuple[str, str]] | None = None,
              ) -> tuple[dict[str, Timing], dict[str, str]]:
    """The ladder at one n: every rung this machine runs live, validated, then timed.

    Taught in notebook 06; ``python -m py2ptx ladder`` prints it as a table.

    ``keys`` picks rungs by key or number (default: all of :data:`py2ptx.ladder.RUNGS`).
    Whether a rung runs comes from the doctor (:func:`py2ptx.doctor.probe`, or ``modes``:
    rung key -> (mode, reason)): only ``live`` rungs are timed. A GPU rung in the
    simulator, compile-only or recorded mode is not timed here -- a simulator time is
    not GPU speed. Each timed rung goes through :func:`measure` (checked against
    ``np.sort`` first, so a wrong sort raises :class:`py2ptx.checks.WrongResult` and
    never reaches a table). A rung that refuses this n (``ValueError``: say, more keys
    than one block's shared memory holds) is skipped with its message.

    ``progress(i, total, text)`` is called before each rung (i from 1), e.g. with
    ``lambda i, total, text: print(f"[{i}/{total}] {text}")``.

    Returns ``(timings, skipped)``: rung key -> :class:`Timing` at n for the rungs that
    ran, and rung key -> the reason for the rungs that did not, both in ladder order.
    """
    if n < 2:
        raise ValueError(f"the ladder needs n >= 2 keys, not {n}")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, not {repeats}")
    selected = ladder_keys(keys)
    if modes is None:
        from .doctor import probe

        modes = probe().modes
    timings: dict[str, Timing] = {}
    skipped: dict[str, str] = {}
    for i, key in enumerate(selected, start=1):
        mode, reason = modes[key]
        if mode != "live":
            skipped[key] = f"{mode}: {reason}"
            if progress:
                progress(i, len(selected), f"{key}: not run here ({mode})")
            continue
        if progress:
            progress(i, len(selected), f"{key} ...")
        try:
            t = measure(key, n, repeats)
        except ValueError as err:  # the rung's own limit at this n, not a wrong result
            skipped[key] = f"cannot run at n = {n:,}: {err}"
            continue
        if t.where == "simulator":  # belt and braces: never a simulator time as speed
            skipped[key] = "ran in the simulator: correct, but not GPU speed"
            continue
        timings[key] = t
    return timings, skipped


def ladder_estimate(n: int, keys=None, repeats: int = LADDER_REPEATS, n0: int = 512,
                    modes: dict[str, tuple[str, str]] | None = None) -> dict[str, float]:
    """Seconds that :func:`ladder_at` would spend on each live O(n^2) CPU rung at n.

    Each is timed once at ``n0`` (after a warm-up call, so Numba's compilation stays
    out) and scaled by (n / n0)^2, times the validation, the warm-up and the repeats.
    GPU rungs are left out: at small n their launches, not their work, set the time.
    """
    import time

    if modes is None:
        from .doctor import probe

        modes = probe().modes
    keys0 = random_keys(n0, seed=1)
    estimate = {}
    for key in ladder_keys(keys):
        r = rung(key)
        if r.device != "cpu" or r.complexity != "O(n^2)" or modes[key][0] != "live":
            continue
        sort = r.load()
        sort(keys0)
        start = time.perf_counter()
        sort(keys0)
        estimate[key] = (time.perf_counter() - start) * (n / n0) ** 2 * (repeats + 2)
    return estimate


def measured_on(timings) -> str:
    """The machine a set of timings was measured on, for titles: the GPU too if one ran."""
    from .doctor import gpu_info, machine_label

    if any(t.where == "gpu" for t in timings):
        return f"{gpu_info().get('name', 'a GPU')} and {machine_label()}"
    return machine_label()


def ladder_figure(timings: dict[str, Timing], skipped: dict[str, str]):
    """:func:`ladder_at`'s result as :func:`py2ptx.plots.speedup_ladder`'s figure: speedups
    over the first rung that ran (rung 1 unless left out), the rungs not run named below."""
    import textwrap

    from .plots import speedup_ladder

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


# --------------------------------------------------------------------------- notebook 06


@dataclass(frozen=True)
class LayerStep:
    """One layer of the stack in :func:`layer_split` (notebook 06)."""

    layer: str  # a key of py2ptx.stack.LAYERS
    rungs: tuple[str, ...]  # the rungs written at this layer that ran, in ladder order
    split: SpeedupSplit | None  # over every rung that ran at this layer or above it
    same_step: float | None  # what this layer's rungs added without changing the algorithm
    total_step: float | None  # what they added to the fastest time so far


def layer_split(timings: dict[str, Timing]) -> list[LayerStep]:
    """The speedup down the stack: for each layer of :data:`py2ptx.stack.LAYERS`, top to
    bottom, :func:`speedup_split` over every rung that ran at that layer or above it.

    Taught in notebook 06. Each row splits rung 1 -> the fastest rung so far into the
    same-algorithm part and the algorithm change on top (the rule of :func:`ladder_report`,
    never a product of step-by-step speedups). ``same_step`` and ``total_step`` say how much
    faster this layer's own rungs made the best same-algorithm time and the best time of
    all (x1 when they made neither faster; None at a layer where none of its rungs ran,
    at the first layer with rung 1, and without rung 1).
    """
    from .stack import LAYERS

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


def layer_table(timings: dict[str, Timing], skipped: dict[str, str] | None = None) -> str:
    """:func:`layer_split` as a Markdown table (notebook 06): one row per layer of the
    stack, the rungs written there that did not run named with the reason's first word."""
    from .ladder import RUNGS
    from .stack import LAYERS

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
    from .ladder import RUNGS

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
    from .ladder import RUNGS
    from .stack import LAYERS

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


class TextProgress:
    """``[3/11] c_bubble_scalar ...`` on ``stream`` (stderr): one line rewritten in place
    on a terminal, one line per step otherwise (a log or a pipe stays readable)."""

    def __init__(self, stream=None):
        import sys

        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.open = False

    def __call__(self, i: int, total: int, text: str) -> None:
        line = f"[{i}/{total}] {text}"
        if self.tty:
            self.stream.write("\r\x1b[K" + line)
            self.open = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.open:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.open = False
