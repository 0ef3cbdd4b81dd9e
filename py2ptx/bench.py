"""Measuring rungs: validate, then time, then record -- the one path every number takes.

Used by notebook 03 onwards and by the GPU check (``tools/gpu_check.py``). For each
rung and size: random keys, the rung's sort checked against ``np.sort`` (a fast
wrong kernel never reaches a plot), then timed -- CPU rungs with :func:`time_cpu`,
GPU rungs in place on the device with CUDA events (:func:`time_gpu`), so that
host<->device copies are timed on their own (:func:`py2ptx.gpusorts.time_transfers`).
"""

from __future__ import annotations

from collections.abc import Callable

from .checks import check_sorted, random_keys
from .ladder import rung
from .timing import Timing, time_cpu, time_gpu

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
