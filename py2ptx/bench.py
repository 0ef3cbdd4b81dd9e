"""Measuring rungs: validate, then time, then record -- the one path every number takes.

Used by notebook 03 onwards, by the GPU check (``tools/gpu_check.py``) and by
``python -m py2ptx ladder`` (:func:`ladder_at`). For each rung and size: random keys,
the rung's sort checked against ``np.sort`` (a fast wrong kernel never reaches a
plot), then timed -- CPU rungs with :func:`time_cpu`,
GPU rungs in place on the device with CUDA events (:func:`time_gpu`), so that
host<->device copies are timed on their own (:func:`py2ptx.gpusorts.time_transfers`).

What to measure comes from the registry (:data:`py2ptx.ladder.VERSIONS`: each version's
``plan``); where the speedup comes from is :mod:`py2ptx.speedups`, and the tables and
figures are :mod:`py2ptx.reports`. Progress is one protocol everywhere: a ``tqdm`` bar
(a widget in Jupyter, a bar on a terminal's stderr), turned off with ``progress=False``.
"""

from __future__ import annotations

import time

from tqdm.auto import tqdm

from .checks import check_sorted, random_keys
from .doctor import probe
from .gpu import explained, require_gpu
from .gpusorts import time_transfers
from .ladder import DEVICE_SORTS, NEEDS, OPTIONAL_NEEDS, RUNGS, VERSIONS, rung, version
from .machine import gpu_info, has_gpu, machine_label
from .results import Measured, latest_run
from .timing import Timing, time_cpu, time_gpu

#: The GPU check's plan, from the registry: version key -> (sizes n, repeats), in
#: ladder order (each version's ``plan`` in :data:`py2ptx.ladder.VERSIONS`).
GPU_PLAN: dict[str, tuple[tuple[int, ...], int]] = {
    v.key: (v.plan.sizes, v.plan.repeats) for v in VERSIONS}
#: The name recorded GPU runs of the ladder are saved under (results/…-gpu-ladder.json).
GPU_RUN = "gpu-ladder"


def _bar(total: int, desc: str, progress: bool):
    """The one progress protocol: a tqdm bar (widget in Jupyter, stderr on a terminal)."""
    # Every step drawn (mininterval=0): a step is a whole measurement, never too frequent.
    return tqdm(total=total, desc=desc, disable=not progress, leave=False,
                dynamic_ncols=True, mininterval=0, miniters=1)


def measure(key: str, n: int, repeats: int = 5, seed: int = 0) -> Timing:
    """Validate version ``key`` (a rung or a variant, :func:`py2ptx.ladder.version`) on n
    random keys against ``np.sort``, then time it (GPU sorts in place on the device)."""
    v = version(key)
    sort = v.load()
    keys = random_keys(n, seed=seed)
    check_sorted(f"random, n = {n}", keys, sort(keys), what=v.title)
    if v.device == "cpu":
        return time_cpu(sort, keys, repeats=repeats, label=v.key, n=n)
    cp = require_gpu(v.title)
    device_sort = DEVICE_SORTS[v.key]
    with explained(f"{v.title} at n = {n:,}"):
        d_in, work = cp.asarray(keys), cp.empty(n, dtype=cp.int32)

        def copy_then_sort():  # a device-to-device copy of the input, then the sort in place
            work[...] = d_in
            device_sort(work)

        return time_gpu(copy_then_sort, repeats=repeats, warmup=1, label=v.key, n=n)


def run_plan(plan: dict[str, tuple[tuple[int, ...], int]], progress: bool = True,
             transfers: bool = True) -> list[Timing]:
    """Every (version, n) of ``plan``, measured; plus host<->device copies at each GPU n.

    With ``progress``, a bar counts the measurements and each result is printed above it.
    A version that needs an optional extra this machine lacks (``OPTIONAL_NEEDS``: Triton
    for variant 9t) is left out, and with ``progress`` that is said.
    """
    have = probe().have
    unmet = {key: [NEEDS[need] for need in version(key).needs
                   if need in OPTIONAL_NEEDS and not have.get(need)] for key in plan}
    if progress:
        for key, missing in unmet.items():
            if missing:
                print(f"{key:<22} not measured: this machine has no {', '.join(missing)}")
    steps = [(key, n, repeats) for key, (sizes, repeats) in plan.items() for n in sizes
             if not unmet[key]]
    gpu_sizes = sorted({n for key, n, _ in steps if version(key).device == "gpu"})
    timings: list[Timing] = []
    with _bar(len(steps) + (len(gpu_sizes) if transfers else 0), "measuring", progress) as bar:
        for key, n, repeats in steps:
            bar.set_postfix_str(f"{key}, n = {n:,}")
            t = measure(key, n, repeats)
            if progress:
                bar.write(f"{key:<22} n = {n:>9,}  {t}")
            timings.append(t)
            bar.update()
        for n in gpu_sizes if transfers else ():
            for t in time_transfers(n):
                if progress:
                    bar.write(f"   {t.label:<22} n = {n:>9,}  {t}")
                timings.append(t)
            bar.update()
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


def gpu_timings(plan: dict | None = None, progress: bool = True) -> Measured:
    """GPU numbers for a notebook: measured live on a GPU, else the latest recorded run
    (a :class:`~py2ptx.results.Measured`; with neither, its ``where`` says so plainly)."""
    if has_gpu():
        name = gpu_info()["name"]
        return Measured(run_plan(plan or GPU_PLAN, progress), f"{name}, live, with "
                        f"{machine_label()}", f"{name}, live", live=True)
    return Measured.from_run(latest_run(GPU_RUN), GPU_RUN)


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
    if keys is None:
        return [r.key for r in RUNGS]
    chosen = {rung(int(k) if str(k).strip().isdigit() else str(k).strip()) for k in keys}
    return [r.key for r in sorted(chosen, key=lambda r: r.number)]


def ladder_at(n: int, keys=None, repeats: int = LADDER_REPEATS,
              progress: bool = False,
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

    ``progress=True`` shows a bar over the rungs (:func:`_bar`).

    Returns ``(timings, skipped)``: rung key -> :class:`Timing` at n for the rungs that
    ran, and rung key -> the reason for the rungs that did not, both in ladder order.
    """
    if n < 2:
        raise ValueError(f"the ladder needs n >= 2 keys, not {n}")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, not {repeats}")
    selected = ladder_keys(keys)
    if modes is None:
        modes = probe().modes
    timings: dict[str, Timing] = {}
    skipped: dict[str, str] = {}
    with _bar(len(selected), f"ladder, n = {n:,}", progress) as bar:
        for key in selected:
            mode, reason = modes[key]
            bar.set_postfix_str(key)
            bar.update()
            if mode != "live":
                skipped[key] = f"{mode}: {reason}"
                continue
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
    if modes is None:
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


