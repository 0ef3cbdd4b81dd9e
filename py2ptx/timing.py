"""Timing: one result type for every measurement in the course.

Taught in notebook 01. CPU code is timed with :mod:`timeit` (after a warm-up, so
Numba's compilation and the first cache misses stay out of the numbers); GPU code
with :func:`cupyx.profiler.benchmark`, which times with CUDA events. Every printed
figure is a median with its spread beside it.

**Two columns for every GPU figure** (:func:`time_gpu`). *End to end*: CUDA events
recorded before and after the Python call (what ``cupyx.profiler.benchmark`` gives),
so the time includes whatever Python spends issuing the work whenever Python is the
slower of the two. *Device only*: the same call issued while the GPU is held busy by a
short spin kernel (:data:`SPIN_SOURCE`), with the start event queued behind the spin;
if the spin is still running when the call returns (the start event is not yet
reached), every launch was queued before the GPU began it, so the two events time the
GPU's own work and nothing of Python. When the spin cannot hide the host (the call
waits for the GPU, or it queues more launches than the driver buffers), the device
time is None and ``meta["device_note"]`` says why -- never a guess. Beside both: the
host fraction (host time of the call / event time) and the host-bound flag
(:data:`HOST_BOUND`).

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

from .machine import per_machine, require_gpu

#: A GPU figure is host-bound when Python's time for the call is at least this share of
#: the event time: the events then measure Python, not the GPU.
HOST_BOUND = 0.8
#: A spin longer than this is not tried: the call's host time is then better hidden by a
#: CUDA graph replay (:func:`py2ptx.bench.graph_replay`) than by holding the GPU idle.
MAX_SPIN_S = 0.1

#: The spin kernel behind which device-only times are taken: one thread reads the GPU's
#: nanosecond timer (``%globaltimer``, PTX ISA "Special Registers") until ``ns`` passed.
SPIN_SOURCE = r"""
extern "C" __global__ void py2ptx_spin(unsigned long long ns)
{
    unsigned long long t0, t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
    do {
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    } while (t - t0 < ns);
}
"""

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

    A GPU timing's ``samples`` are end-to-end event times; ``device_samples`` the
    device-only ones (None where they could not be taken, and in runs recorded before
    they existed); ``host_fraction`` is the host time of the call over the event time.
    """

    samples: tuple[float, ...]
    label: str = ""
    where: str = "cpu"
    n: int | None = None
    meta: dict = field(default_factory=dict, compare=False)
    device_samples: tuple[float, ...] | None = None
    host_fraction: float | None = None

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
        return _iqr(self.samples)

    @property
    def device_median(self) -> float | None:
        """The GPU's own time per call (device-only samples' median), or None."""
        return statistics.median(self.device_samples) if self.device_samples else None

    @property
    def device_spread(self) -> float | None:
        """Interquartile range of the device-only samples, or None."""
        return _iqr(self.device_samples) if self.device_samples else None

    @property
    def host_bound(self) -> bool:
        """True when Python's time for the call is >= :data:`HOST_BOUND` of the event
        time: the end-to-end figure then measures the host, not the GPU."""
        return self.host_fraction is not None and self.host_fraction >= HOST_BOUND

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
        text = (f"{label}{format_seconds(self.median)} median "
                f"(IQR {format_seconds(self.spread)}, {self.repeats} repeats{extra}{noise})")
        if self.where == "gpu":
            text += "; device only " + (
                f"{format_seconds(self.device_median)} (IQR {format_seconds(self.device_spread)})"
                if self.device_median is not None else "not measured")
            if self.host_fraction is not None:
                text += (f"; host {self.host_fraction:.0%} of it"
                         + (", host-bound" if self.host_bound else ""))
        return text

    def to_dict(self) -> dict:
        d = {"label": self.label, "where": self.where, "n": self.n,
             "median_s": self.median, "spread_s": self.spread,
             "repeats": self.repeats, "samples_s": list(self.samples), **self.meta}
        if self.where == "gpu" or self.device_samples or self.host_fraction is not None:
            d.update(device_median=self.device_median, device_iqr=self.device_spread,
                     device_samples_s=None if self.device_samples is None
                     else list(self.device_samples),
                     host_fraction=self.host_fraction, host_bound=self.host_bound)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Timing:
        """Back from :meth:`to_dict`; runs recorded before the device-only column load
        with ``device_median``/``host_fraction`` None (their ``meta`` keeps what they had,
        such as ``cpu_median_s``)."""
        known = {"label", "where", "n", "median_s", "spread_s", "repeats", "samples_s",
                 "device_median", "device_iqr", "device_samples_s", "host_fraction",
                 "host_bound"}
        device = d.get("device_samples_s")
        return cls(tuple(d["samples_s"]), d.get("label", ""), d.get("where", "cpu"),
                   d.get("n"), {k: v for k, v in d.items() if k not in known},
                   None if device is None else tuple(device), d.get("host_fraction"))


def _iqr(samples) -> float:
    """Interquartile range (p75 - p25); 0 for fewer than two samples."""
    if len(samples) < 2:
        return 0.0
    q = statistics.quantiles(samples, n=4, method="inclusive")
    return q[2] - q[0]


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
             label: str = "", n: int | None = None, device: bool = True,
             meta: dict | None = None) -> Timing:
    """Time GPU work ``fn(*args)``: end to end with CUDA events via
    :func:`cupyx.profiler.benchmark`, then (``device=True``) device only, the same call
    queued behind a spin kernel (:func:`device_times`). ``meta`` is recorded with it.

    ``fn`` must leave its result where the caller can check it after the last sample
    (:func:`py2ptx.bench.measure` checks it against ``np.sort``).
    """
    try:
        from cupyx.profiler import benchmark
    except ImportError as err:
        raise RuntimeError(
            "time_gpu needs CuPy and an NVIDIA GPU. Without one, the course shows the "
            "recorded GPU run from results/ instead (py2ptx.results.latest_run)."
        ) from err
    result = benchmark(fn, args, n_repeat=repeats, n_warmup=warmup, name=label or "gpu")
    gpu_times = tuple(float(t) for t in result.gpu_times[0])
    cpu_times = [float(t) for t in result.cpu_times]
    info = {"cpu_median_s": statistics.median(cpu_times), **(meta or {})}
    host_fraction = info["cpu_median_s"] / statistics.median(gpu_times) \
        if statistics.median(gpu_times) > 0 else None
    samples = None
    if device:
        samples, how = device_times(fn, *args, repeats=repeats, host_s=max(cpu_times))
        info.update(how)
    return Timing(gpu_times, label=label, where="gpu", n=n, meta=info,
                  device_samples=samples, host_fraction=host_fraction)


@per_machine
def _spin_kernel():
    cp = require_gpu("the spin kernel behind device-only times")
    module = cp.RawModule(code=SPIN_SOURCE, options=("-std=c++17",))
    return module.get_function("py2ptx_spin")


def device_times(fn: Callable, *args, repeats: int = 10, host_s: float,
                 retries: int = 2) -> tuple[tuple[float, ...] | None, dict]:
    """The GPU's own time for ``fn(*args)``: ``repeats`` samples, each the call issued
    behind a spin of the GPU longer than the call's host time ``host_s``.

    A sample counts only if the start event (queued right after the spin) has not been
    reached when the call returns: then every launch it makes was queued before the GPU
    began any of them. Otherwise the spin is made 4x longer (``retries`` times, at most
    :data:`MAX_SPIN_S`). Returns ``(samples or None, meta)``; the meta says the method
    and the spin, or why there are no samples.
    """
    cp = require_gpu("device-only timing")
    spin_s = 2 * host_s + 20e-6
    if spin_s > MAX_SPIN_S:
        return None, {"device_note": f"not measured: the call's host time "
                      f"({format_seconds(host_s)}) is longer than a spin worth holding the "
                      f"GPU for ({format_seconds(MAX_SPIN_S)}); a CUDA graph replay "
                      f"measures such work"}
    spin = _spin_kernel()
    start, end = cp.cuda.Event(), cp.cuda.Event()
    samples: list[float] = []
    while len(samples) < repeats:
        spin((1,), (1,), (np.uint64(int(spin_s * 1e9)),))
        start.record()
        fn(*args)
        hidden = not start.done  # the GPU is still spinning: all of fn's work is queued
        end.record()
        end.synchronize()
        if hidden:
            samples.append(cp.cuda.get_elapsed_time(start, end) * 1e-3)
            continue
        retries -= 1
        spin_s *= 4
        if retries < 0 or spin_s > MAX_SPIN_S:
            return None, {"device_note": "not measured: the call returned only after the GPU "
                          "had started its work (it waits for the GPU, or queues more "
                          "launches than the driver buffers), so no spin hides the host"}
    return tuple(samples), {"device_method": "CUDA events queued behind a spin kernel",
                            "spin_s": spin_s}


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
