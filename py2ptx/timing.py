"""Timing: one result type for every measurement in the course.

Taught in notebook 01. CPU code is timed with :mod:`timeit` (after a warm-up, so
Numba's compilation and the first cache misses stay out of the numbers); GPU code
with :func:`cupyx.profiler.benchmark`, which times with CUDA events. Every printed
figure is a median with its spread beside it.

**Noise.** A shared or busy machine makes CPU timings scatter. A timing whose spread
(IQR) is more than :data:`NOISY_SPREAD` of its median is :attr:`Timing.noisy`: its text
says so and gives the fastest sample beside the median, and :func:`time_cpu` takes more
samples (up to ``max_repeats``) before giving up on a quieter estimate.
"""

from __future__ import annotations

import statistics
import timeit
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

#: IQR / median above which a timing is called noisy (issue 13: ~20 %).
NOISY_SPREAD = 0.2

_UNITS = ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns"))


def format_seconds(t: float) -> str:
    """``0.01234`` -> ``'12.3 ms'``."""
    for scale, unit in _UNITS:
        if abs(t) >= scale or unit == "ns":
            return f"{t / scale:.3g} {unit}"
    raise AssertionError("unreachable")


def format_speedup(x: float) -> str:
    """A speedup factor: ``12.3`` -> ``'×12.3'``, ``63825`` -> ``'×63,825'``; a slowdown
    below ×0.1 as how many times slower: ``0.0002`` -> ``'÷5,000'``."""
    if x < 0.1:
        slower = 1 / x
        return f"÷{slower:,.0f}" if slower >= 100 else f"÷{slower:.3g}"
    return f"×{x:,.0f}" if x >= 100 else f"×{x:.3g}"


@dataclass(frozen=True)
class Timing:
    """Repeated measurements of one thing, in seconds per call.

    ``where`` says what was timed: ``"cpu"`` (host clock), ``"gpu"`` (CUDA events)
    or ``"simulator"`` (Numba's CUDA simulator: correct results, meaningless speed).
    """

    samples: tuple[float, ...]
    label: str = ""
    where: str = "cpu"
    n: int | None = None
    meta: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        if not self.samples:
            raise ValueError("a Timing needs at least one sample")

    @property
    def repeats(self) -> int:
        return len(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        """Interquartile range (p75 - p25) of the samples; 0 for fewer than two."""
        if len(self.samples) < 2:
            return 0.0
        q = statistics.quantiles(self.samples, n=4, method="inclusive")
        return q[2] - q[0]

    @property
    def quartiles(self) -> tuple[float, float]:
        """(p25, p75) of the samples; both the sample for one sample."""
        if len(self.samples) < 2:
            return (self.samples[0], self.samples[0])
        q = statistics.quantiles(self.samples, n=4, method="inclusive")
        return (q[0], q[2])

    @property
    def relative_spread(self) -> float:
        """IQR / median: 0.05 is a quiet measurement, 0.3 a noisy one."""
        return self.spread / self.median if self.median > 0 else 0.0

    @property
    def noisy(self) -> bool:
        """True when the IQR exceeds :data:`NOISY_SPREAD` of the median."""
        return self.repeats >= 2 and self.relative_spread > NOISY_SPREAD

    def noise_note(self) -> str:
        """'' for a quiet timing; for a noisy one, what to say beside its number."""
        if not self.noisy:
            return ""
        return (f"NOISY: IQR {self.relative_spread:.0%} of the median; "
                f"fastest {format_seconds(self.best)}")

    @property
    def best(self) -> float:
        """The fastest sample (a noisy machine's median can be reported beside it)."""
        return min(self.samples)

    def __str__(self) -> str:
        what = {"gpu": "GPU events", "simulator": "SIMULATOR, not GPU speed"}.get(self.where, "")
        extra = f", {what}" if what else ""
        label = f"{self.label}: " if self.label else ""
        noise = f"; {self.noise_note()}" if self.noisy else ""
        return (f"{label}{format_seconds(self.median)} median "
                f"(IQR {format_seconds(self.spread)}, {self.repeats} repeats{extra}{noise})")

    def to_dict(self) -> dict:
        return {"label": self.label, "where": self.where, "n": self.n,
                "median_s": self.median, "spread_s": self.spread,
                "repeats": self.repeats, "samples_s": list(self.samples), **self.meta}

    @classmethod
    def from_dict(cls, d: dict) -> Timing:
        known = {"label", "where", "n", "median_s", "spread_s", "repeats", "samples_s"}
        return cls(tuple(d["samples_s"]), d.get("label", ""), d.get("where", "cpu"),
                   d.get("n"), {k: v for k, v in d.items() if k not in known})


def refuse_simulator(timings) -> None:
    """Simulator times are correct-result runs on CPU threads: never shown as speed, in a
    plot (:mod:`py2ptx.plots`) or a table (:func:`py2ptx.speedups.layer_split`)."""
    bad = [t.label for t in timings if t.where == "simulator"]
    if bad:
        raise ValueError(f"{', '.join(bad)}: simulator timings are not GPU speed and are "
                         f"never shown as speed; measure on a GPU or show a recorded run")


def time_cpu(fn: Callable, *args, repeats: int = 5, warmup: int = 1,
             min_sample_s: float = 0.02, label: str = "", n: int | None = None,
             max_repeats: int | None = None, max_extra_s: float = 10.0) -> Timing:
    """Time ``fn(*args)`` on the CPU with :mod:`timeit`: median of ``repeats`` samples.

    Each sample loops ``fn`` enough times to last ``min_sample_s`` (one call for slow
    functions) and is divided back to seconds per call. ``warmup`` calls run first
    and are not timed (JIT compilation, page faults, cold caches).

    If the samples are :attr:`Timing.noisy`, more are taken, one at a time, until the
    timing is quiet, ``max_repeats`` samples (default: three times ``repeats``) are
    reached, or the extra samples have taken ``max_extra_s`` seconds. The result
    records how many were added (``meta["extra_repeats"]``); a timing still noisy after
    that says so in its text.
    """
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    max_repeats = 3 * repeats if max_repeats is None else max_repeats
    if max_repeats < repeats:
        raise ValueError(f"max_repeats ({max_repeats}) must be at least repeats ({repeats})")
    for _ in range(warmup):
        fn(*args)
    timer = timeit.Timer(lambda: fn(*args))
    number = 1
    first = timer.timeit(number)
    samples = [first]
    if first < min_sample_s:
        number = max(1, int(min_sample_s / max(first, 1e-9)))
        samples = []
    while len(samples) < repeats:
        samples.append(timer.timeit(number) / number)
    extra, spent = 0, 0.0
    while (len(samples) < max_repeats and spent < max_extra_s
           and Timing(tuple(samples)).noisy):
        t = timer.timeit(number)
        spent += t
        samples.append(t / number)
        extra += 1
    return Timing(tuple(samples), label=label, where="cpu", n=n,
                  meta={"calls_per_sample": number, "extra_repeats": extra})


def time_gpu(fn: Callable, *args, repeats: int = 20, warmup: int = 3,
             label: str = "", n: int | None = None) -> Timing:
    """Time GPU work ``fn(*args)`` with CUDA events via :func:`cupyx.profiler.benchmark`."""
    try:
        from cupyx.profiler import benchmark
    except ImportError as err:
        raise RuntimeError(
            "time_gpu needs CuPy and an NVIDIA GPU. Without one, the course shows the "
            "recorded GPU run from results/ instead (py2ptx.results.latest_run)."
        ) from err
    result = benchmark(fn, args, n_repeat=repeats, n_warmup=warmup, name=label or "gpu")
    gpu_times = tuple(float(t) for t in result.gpu_times[0])
    return Timing(gpu_times, label=label, where="gpu", n=n,
                  meta={"cpu_median_s": float(statistics.median(result.cpu_times))})


def fit_power_law(timings: list[Timing]) -> tuple[float, float]:
    """Fit ``t = c * n**k`` to medians by least squares in log-log space; return (k, c).

    Bubble sort should give k close to 2: double n, four times the work.
    """
    pts = [(t.n, t.median) for t in timings if t.n and t.median > 0]
    if len(pts) < 2:
        raise ValueError("need timings at two or more sizes n to fit a power law")
    log_n, log_t = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    k, log_c = np.polyfit(log_n, log_t, 1)
    return float(k), float(np.exp(log_c))
