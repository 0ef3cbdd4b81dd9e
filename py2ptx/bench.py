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

import numbers
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


def _count(value, what: str, least: int = 0) -> int:
    """``value`` as an int of at least ``least``, or a ValueError that says what to pass."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what} must be a whole number, e.g. 4096 or 2**12; got "
                        f"{value!r} ({type(value).__name__})")
    if value < least:
        raise ValueError(f"{what} must be at least {least}; got {value}")
    return int(value)


def measure(key: str, n: int, repeats: int = 5, seed: int = 0) -> Timing:
    """Validate version ``key`` (a rung or a variant, :func:`py2ptx.ladder.version`) on n
    random keys against ``np.sort``, time it, and validate the last timed sample too.

    Every sample sorts a fresh copy of the same input (GPU sorts: a device-to-device
    copy, then the sort in place, both inside the events); the output the last sample
    left is checked against ``np.sort`` again, so a kernel that is right once and
    wrong when timed raises :class:`py2ptx.checks.WrongResult` and never reaches a plot.
    GPU versions get both columns (:func:`py2ptx.timing.time_gpu`).
    """
    v = version(key)
    n = _count(n, "n (the number of keys)")
    repeats = _count(repeats, "repeats", least=1)
    sort = v.load()
    keys = random_keys(n, seed=seed)
    check_sorted(f"random, n = {n}", keys, sort(keys), what=v.title)
    last_sample = f"random, n = {n}, the output of the last timed sample"
    if v.device == "cpu":
        out: list = [None]

        def sort_keep():  # the sort returns a fresh sorted copy; keep the last one
            out[0] = sort(keys)

        t = time_cpu(sort_keep, repeats=repeats, label=v.key, n=n)
        check_sorted(last_sample, keys, out[0], what=v.title)
        return t
    cp = require_gpu(v.title)
    device_sort = DEVICE_SORTS[v.key]
    with explained(f"{v.title} at n = {n:,}"):
        d_in, work = cp.asarray(keys), cp.empty(n, dtype=cp.int32)

        def copy_then_sort():  # a device-to-device copy of the input, then the sort in place
            cp.copyto(work, d_in)
            device_sort(work)

        t = time_gpu(copy_then_sort, repeats=repeats, warmup=1, label=v.key, n=n)
        check_sorted(last_sample, keys, cp.asnumpy(work), what=v.title)
    return t


#: The label of a version replayed as a CUDA graph: ``odd_even_global@graph``.
GRAPH_SUFFIX = "@graph"
#: Versions the GPU check also replays as a CUDA graph (goal 4: launch cost without Python).
GRAPH_PLAN: dict[str, tuple[tuple[int, ...], int]] = {
    "odd_even_global": (version("odd_even_global").plan.sizes, 5)}


def graph_replay(key: str, n: int, repeats: int = 5, seed: int = 0) -> Timing:
    """Version ``key`` captured once as a CUDA graph (CuPy stream capture), then replayed.

    One capture of the copy of the input and every launch of the sort; each sample is one
    ``Graph.launch``. End to end, its events time one graph launch from Python; device
    only, the GPU's own time for all the launches (:func:`py2ptx.timing.time_gpu`).
    ``meta["launches"]`` is how many kernel launches the graph holds, so the GPU's own
    cost per launch sits beside Python's (version ``key``'s time / its launches). The
    output of the last replay is checked against ``np.sort``.
    """
    v = version(key)
    cp = require_gpu(f"{v.title} as a CUDA graph")
    keys = random_keys(n, seed=seed)
    launches = None
    if v.schedule is not None:
        launches = len(v.schedule(n, None).launches)
    with explained(f"{v.title} at n = {n:,}, as a CUDA graph"):
        d_in, work = cp.asarray(keys), cp.empty(n, dtype=cp.int32)
        device_sort = DEVICE_SORTS[v.key]
        device_sort(work)  # once outside capture: modules load, kernels are checked
        stream = cp.cuda.Stream(non_blocking=True)
        with stream:
            stream.begin_capture()
            try:
                cp.copyto(work, d_in)
                device_sort(work)
            finally:
                graph = stream.end_capture()
            t = time_gpu(graph.launch, repeats=repeats, warmup=1, label=v.key + GRAPH_SUFFIX,
                         n=n, meta={"launches": launches, "of": v.key,
                                    "how": "one CUDA graph (stream capture) per sample"})
            stream.synchronize()
        check_sorted(f"random, n = {n}, the output of the last graph replay", keys,
                     cp.asnumpy(work), what=f"{v.title} (CUDA graph)")
    return t


def run_plan(plan: dict[str, tuple[tuple[int, ...], int]], progress: bool = True,
             transfers: bool = True,
             graphs: dict[str, tuple[tuple[int, ...], int]] | None = None,
             failures: list[dict] | None = None) -> list[Timing]:
    """Every (version, n) of ``plan``, measured; plus host<->device copies at each GPU n,
    and the versions of ``graphs`` replayed as CUDA graphs (:func:`graph_replay`).

    With ``progress``, a bar counts the measurements and each result is printed above it.
    A version that needs an optional extra this machine lacks (``OPTIONAL_NEEDS``: Triton
    for variant 9t) is left out, and with ``progress`` that is said.

    ``failures``: when given, a version that raises (a wrong result, a kernel that does
    not compile or launch on this GPU) is left out from then on and its error appended
    there, so one broken version does not cost the rest of a GPU session's measurements;
    a wrong result still never becomes a timing. Without it, the error is raised.
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
    steps += [(key + GRAPH_SUFFIX, n, repeats) for key, (sizes, repeats)
              in (graphs or {}).items() for n in sizes]
    gpu_sizes = sorted({n for key, n, _ in steps if GRAPH_SUFFIX not in key
                        and version(key).device == "gpu"})
    timings: list[Timing] = []
    with _bar(len(steps) + (len(gpu_sizes) if transfers else 0), "measuring", progress) as bar:
        failed: set[str] = set()
        for key, n, repeats in steps:
            bar.set_postfix_str(f"{key}, n = {n:,}")
            if key in failed:
                bar.update()
                continue
            try:
                if key.endswith(GRAPH_SUFFIX):
                    t = graph_replay(key.removesuffix(GRAPH_SUFFIX), n, repeats)
                else:
                    t = measure(key, n, repeats)
            except Exception as err:
                if failures is None:
                    raise
                failed.add(key)
                failures.append({"key": key, "n": n, "error": f"{type(err).__name__}: {err}"})
                bar.write(f"{key:<22} n = {n:>9,}  NOT MEASURED ({type(err).__name__}: "
                          f"{str(err).splitlines()[0] if str(err) else ''}); its other sizes "
                          f"are left out too")
                bar.update()
                continue
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


def series(timings: list[Timing], *labels: str, device: bool = False
           ) -> dict[str, list[Timing]]:
    """``{legend: [Timing at each n]}`` for the plots, in the order of ``labels``.

    A rung's legend is its number, key and device (``"8. odd_even_shared (GPU)"``). With
    ``device``, each GPU version with device-only samples also gets a second series of
    them (``"... , device only"``), so a plot carries both columns.
    """
    def legend(label: str) -> str:
        try:
            r = rung(label)
        except KeyError:
            return label
        return f"{r.number}. {r.key} ({r.device.upper()})"

    out = {}
    for label in labels:
        mine = [t for t in timings if t.label == label]
        if not mine:
            continue
        out[legend(label)] = mine
        own = [device_only(t) for t in mine if t.device_samples]
        if device and own:
            out[f"{legend(label)}, device only"] = own
    return out


def device_only(t: Timing) -> Timing:
    """A GPU timing's device-only column as a Timing of its own (for plots and fits)."""
    if not t.device_samples:
        raise ValueError(f"{t.label} at n = {t.n} has no device-only samples")
    return Timing(t.device_samples, f"{t.label}, device only", t.where, t.n,
                  {"of": t.label, "column": "device only"})


def crossover(cpu: list[Timing], gpu: list[Timing]) -> int | None:
    """The smallest n measured by both at which ``gpu`` is faster than ``cpu`` (or None)."""
    cpu_at = {t.n: t.median for t in cpu}
    wins = sorted(t.n for t in gpu if t.n in cpu_at and t.median < cpu_at[t.n])
    return wins[0] if wins else None


def device_facts() -> dict:
    """This GPU's SM clock and SM count, for the cycle models of :mod:`py2ptx.readings`
    (recorded with every GPU run). ``ClockRate`` is the boost clock, in kHz."""
    cp = require_gpu("reading the GPU's clock")
    attributes = cp.cuda.Device().attributes
    facts = {"sms": attributes.get("MultiProcessorCount")}
    if attributes.get("ClockRate"):
        facts["clock_hz"] = attributes["ClockRate"] * 1e3
    return facts


def gpu_timings(plan: dict | None = None, progress: bool = True) -> Measured:
    """GPU numbers for a notebook: measured live on a GPU, else the latest recorded run
    (a :class:`~py2ptx.results.Measured`; with neither, its ``where`` says so plainly)."""
    if has_gpu():
        name = gpu_info()["name"]
        return Measured(run_plan(plan or GPU_PLAN, progress), f"{name}, live, with "
                        f"{machine_label()}", f"{name}, live", live=True, extra=device_facts())
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
    simulator, cpu-threads, compile-only or recorded mode is not timed here -- a simulator time is
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


