"""Reading the GPU ladder's numbers: the models and ratios notebook 03 prints beside them.

Every sentence here is computed from the timings it is given (live, or a recorded run
from ``results/``), so a rerun on another machine prints its own conclusions, never
prose that its numbers contradict. The models are labelled as models:

* **the wavefront law** for rung 8 (keys in shared memory, one block): each phase, n/64
  warp-wide accesses (32 pairs each) issue 2 loads and up to 2 stores of shared
  memory; lane p reads word 2p, so lanes p and p+16 fall in the same of the 32 banks
  (:func:`bank_degree` of stride 2 is 2): 2 wavefronts per access, 8 per warp access,
  n/8 a phase, n^2/8 cycles in
  all at one wavefront a cycle. It counts every store as issued, so it is an upper
  model; the GPU check's Nsight Compute counters measure the real wavefronts.
* **ceilings** (:func:`ceiling`): conflict-free shared memory (n^2/16 cycles) for the
  shared-memory odd-even sorts; for merge-split, p phases that each read and write
  every key once, conflict-free (p n/16 cycles); integer min/max on one SM (n^2/64
  cycles: n^2/2 compare-exchanges of one min and one max, 64 integer lanes a cycle --
  the programming guide's throughput, not measured here) for keys in registers; one
  read and one write of the keys at HBM bandwidth for the multi-SM sorts. Each is a
  floor from a model, not a measurement; a version without one says why
  (:data:`NO_CEILING`).

**What no GPU has run.** A version that no recorded run in ``results/`` has a time for
has never run on a GPU in this project: :func:`unmeasured` and :func:`reading` say so
for it, and what they print about its speed is labelled as a model or a design target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .bench import crossover
from .checks import random_keys
from .gpusorts import merge_split_launch
from .kernels import KERNELS
from .ladder import VERSIONS, version
from .results import load_runs
from .timing import HOST_BOUND, Timing, format_seconds, format_speedup

#: The H200's SM clock under load: 1,897-1,980 MHz in all 755 clock samples of
#: results/20261128T194037Z-nvidia-h200-deepseek-l2.json (its ClockRate attribute says
#: 1,980 MHz). A run that recorded its GPU's clock (``extra["clock_hz"]``) uses that.
H200_CLOCK_HZ = 1.98e9
#: HBM3e device-to-device, read + write counted: CuPy's copy moved 4.19 TB/s in
#: results/20261128T194037Z-nvidia-h200-deepseek-l2.json (label copy:cupy).
H200_HBM_BYTES_S = 4.2e12
BANKS = 32

#: Which ceiling applies to which version (see the module docstring).
SHARED_SORTS = ("odd_even_shared", "odd_even_inline_ptx", "odd_even_minmax")
MERGE_SPLIT_SORTS = ("merge_split", "merge_split_interleaved")
REGISTER_SORTS = ("odd_even_registers",)
MULTI_SM_SORTS = ("bitonic", "bitonic_registers", "triton_bitonic", "cupy_sort")
#: Why a GPU version has no ceiling in :func:`ceiling` (the table prints it instead).
NO_CEILING = {
    "odd_even_numba": "none modelled: n launches, each issued from Python",
    "odd_even_global": "none modelled: n launches, each issued from Python",
    "odd_even_handwritten_ptx": "none modelled: n launches, each issued from Python",
    "odd_even_temporal": "none modelled yet (n/H launches over many SMs)",
}


def bank_degree(stride_words: int) -> int:
    """How many lanes of a warp share a bank when lane p reads word ``stride * p``:
    gcd(stride, 32) (1: conflict-free; 32: all in one bank)."""
    return math.gcd(int(stride_words), BANKS) if stride_words else BANKS


def wavefront_law_cycles(n: int) -> float:
    """Rung 8's shared-memory cycles by the wavefront law: n phases x n/8 wavefronts."""
    return n * n / 8


def gpu_time(t: Timing) -> tuple[float, str]:
    """The figure that measures the GPU: device only where the run has it, else end to
    end -- with which one it is, to print beside it."""
    if t.device_median is not None:
        return t.device_median, "device only"
    return t.median, "end to end"


def clock_hz(extra: dict | None) -> tuple[float, str]:
    """The SM clock for the cycle models: the run's recorded clock, else the H200's."""
    if extra and extra.get("clock_hz"):
        return float(extra["clock_hz"]), "the clock the run recorded"
    return H200_CLOCK_HZ, ("the H200's 1.98 GHz under load (the clock recorded in its DeepSeek run), not "
                          "recorded in this run")


def ceiling(key: str, n: int, clock: float) -> tuple[str, float] | None:
    """(what limits it, the fastest it could be, in seconds) for version ``key`` at n."""
    if key in SHARED_SORTS:
        return "conflict-free shared memory, one SM (n²/16 cycles)", n * n / 16 / clock
    if key in MERGE_SPLIT_SORTS:
        p = merge_split_launch(n).block
        return (f"merge-split's shared memory: {p:,} phases x n keys read + written, "
                f"conflict-free (p·n/16 cycles)", p * n / 16 / clock)
    if key in REGISTER_SORTS:
        return "integer min/max on one SM (n²/64 cycles)", n * n / 64 / clock
    if key in MULTI_SM_SORTS:
        return "HBM: one read + one write of the keys", 8 * n / H200_HBM_BYTES_S
    return None


@dataclass(frozen=True)
class Row:
    """One GPU figure with its throughput and its distance from its ceiling."""

    key: str
    n: int
    seconds: float
    which: str  # "device only" or "end to end"
    keys_per_s: float
    limit: str | None  # the ceiling, or (fraction None) why there is none
    fraction: float | None  # of the ceiling reached (1 = at the limit)


def throughput(timings: list[Timing], extra: dict | None = None) -> list[Row]:
    """Keys per second and the fraction of the relevant ceiling, for every GPU sort."""
    clock, _ = clock_hz(extra)
    rows = []
    for t in timings:
        if t.where != "gpu" or t.label in ("h2d", "d2h") or not t.n:
            continue
        seconds, which = gpu_time(t)
        lim = ceiling(t.label, t.n, clock)
        rows.append(Row(t.label, t.n, seconds, which, t.n / seconds,
                        lim[0] if lim else NO_CEILING.get(t.label),
                        lim[1] / seconds if lim else None))
    return rows


def _at(timings: list[Timing], key: str, n: int) -> Timing | None:
    return next((t for t in timings if t.label == key and t.n == n), None)


def recorded_keys(directory=None) -> set[str]:
    """Every version that some recorded GPU run (``results/``, or ``directory``) has a
    time for: a GPU version not in it has never run on a GPU in this project."""
    return {t.label for run in load_runs(gpu=True, directory=directory) for t in run.timings}


def _absent(key: str, recorded: set[str]) -> str:
    """Why a version has no time here, in words."""
    if key in recorded:
        return "no time in this run (a recorded run in results/ has one)"
    return ("no time in this run, nor in any recorded run in results/: not yet measured "
            "on a GPU")


def _absent_at(timings: list[Timing], key: str, n: int, recorded: set[str]) -> str:
    """Why ``key`` has no time at n here: not measured at that n, or not at all."""
    others = sorted(t.n for t in timings if t.label == key)
    if others:
        return (f"not measured at n = {n:,} in this run (only at n = "
                + ", ".join(f"{m:,}" for m in others) + ")")
    return _absent(key, recorded)


def unmeasured(timings: list[Timing], notebook: str | None = None,
               recorded: set[str] | None = None) -> list[str]:
    """Every GPU version (of ``notebook``, or all) without a time in ``timings``, and
    whether any recorded run has one -- said plainly, never silently left out."""
    recorded = recorded_keys() if recorded is None else recorded
    have = {t.label for t in timings}
    return [f"{v.label:<3} {v.key:<24} {_absent(v.key, recorded)}" for v in VERSIONS
            if v.device == "gpu" and v.key not in have
            and (notebook is None or v.notebook == notebook)]


def wavefront_law(timings: list[Timing], extra: dict | None = None) -> list[str]:
    """Rung 8 at each measured n: the law's prediction beside the measurement."""
    clock, where = clock_hz(extra)
    lines = []
    for t in sorted((t for t in timings if t.label == "odd_even_shared"), key=lambda t: t.n):
        seconds, which = gpu_time(t)
        predicted = wavefront_law_cycles(t.n) / clock
        share = host_share(t) if which == "end to end" else None
        lines.append(f"n = {t.n:>6,}: the law predicts {format_seconds(predicted)}, measured "
                     f"{format_seconds(seconds)} ({which}): measured / predicted = "
                     f"{seconds / predicted:.3f}"
                     + (f" (Python is {share:.0%} of this event time)"
                        if share is not None and share >= 0.2 else ""))
    if lines:
        lines.append(f"(n²/8 cycles at {where}; at small n the launch and the one-time "
                     f"load and store of the keys are not in the law)")
    return lines


def crossovers(timings: list[Timing], recorded: set[str] | None = None) -> list[str]:
    """For each GPU sort: the smallest measured n where it beats the scalar C bubble sort,
    and the smallest where it beats ``np.sort`` (end to end, keys already on the GPU);
    for each of notebook 03's GPU versions without a time, that it has none."""
    by = {}
    for t in timings:
        by.setdefault(t.label, []).append(t)
    lines = []
    for key, ts in by.items():
        if ts[0].where != "gpu" or key in ("h2d", "d2h") or "@" in key:
            continue
        parts = []
        for cpu_key, name in (("c_bubble_scalar", "the C bubble sort"), ("numpy_sort", "np.sort")):
            if cpu_key not in by:
                parts.append(f"{name}: not in this run")
                continue
            n = crossover(by[cpu_key], ts)
            if not n:
                parts.append(f"{name}: never, at the n measured")
                continue
            cpu_at = {t.n: t.median for t in by[cpu_key]}
            holds = all(t.median < cpu_at[t.n] for t in ts if t.n >= n and t.n in cpu_at)
            parts.append(f"{name} from n = {n:,}" if holds else
                         f"{name} first at n = {n:,}, but not at every larger n measured")
        lines.append(f"{key:<24} beats " + "; ".join(parts))
    for line in unmeasured(timings, "03-cuda-parallel-sort", recorded):
        lines.append(line[4:] + ": no crossover to compute")
    return lines


def launch_costs(timings: list[Timing]) -> list[str]:
    """What one launch costs: from Python (the launch-per-phase rungs' time per launch)
    and, where the run replayed rung 7 as a CUDA graph, the GPU's own."""
    lines = []
    for key in ("odd_even_numba", "odd_even_global"):
        ts = [t for t in timings if t.label == key]
        if ts:
            t = max(ts, key=lambda t: t.n)
            lines.append(f"{key:<16} n = {t.n:,}: {format_seconds(t.median / t.n)} a launch "
                         f"from Python (end to end / {t.n:,} launches)")
    graphs = [t for t in timings if t.label == "odd_even_global@graph"]
    if not graphs:
        lines.append("No CUDA graph replay in this run: the GPU's own cost per launch was not "
                     "measured here (the GPU check records it now).")
    for g in sorted(graphs, key=lambda t: t.n):
        launches = g.meta.get("launches") or g.n
        own, which = gpu_time(g)
        lines.append(f"rung 7 as a CUDA graph, n = {g.n:,}: {format_seconds(own / launches)} a "
                     f"launch on the GPU ({which}, {launches:,} launches; each kernel's own work "
                     f"included), "
                     f"{format_seconds(g.median)} end to end for the whole graph")
    return lines


def host_share(t: Timing) -> float | None:
    """Python's share of a GPU figure's event time: ``host_fraction``, or for a run
    recorded before that field, the same ratio from the host time it recorded."""
    if t.where != "gpu":
        return None
    if t.host_fraction is not None:
        return t.host_fraction
    host = t.meta.get("cpu_median_s")
    return host / t.median if host and t.median > 0 else None


def host_bound(timings: list[Timing]) -> list[str]:
    """The figures whose end-to-end time is mostly Python (host share >= 80 %)."""
    out = []
    for t in timings:
        share = host_share(t)
        if share is not None and share >= HOST_BOUND and t.label not in ("h2d", "d2h"):
            out.append(f"{t.label} at n = {t.n:,} ({share:.0%})")
    return out


def _host_note(*ts: Timing) -> str:
    """' (host-bound: ...)' when any of ``ts`` is mostly Python, else ''."""
    shares = [host_share(t) for t in ts]
    if any(s is not None and s >= HOST_BOUND for s in shares):
        return " (host-bound: a ratio of Python's costs more than of the kernels')"
    return ""


def reading(timings: list[Timing], extra: dict | None = None,
            recorded: set[str] | None = None) -> list[str]:
    """The notebook's "reading the numbers": each sentence computed from ``timings``;
    a version the run lacks is named with why (:func:`_absent`), and what is said about
    its speed is labelled a model or a design target."""
    recorded = recorded_keys() if recorded is None else recorded
    lines = []
    at = 2**14
    clock = clock_hz(extra)[0]
    c, r8, r8b = (_at(timings, k, at) for k in ("c_bubble_scalar", "odd_even_shared",
                                                 "merge_split"))
    if c and r8:
        s8, w8 = gpu_time(r8)
        lines.append(f"At n = {at:,}, rung 8 takes {format_seconds(s8)} ({w8}): "
                     f"{format_speedup(c.median / s8)} over the scalar C bubble sort's "
                     f"{format_seconds(c.median)} on the same machine's CPU"
                     + (f" ({c.noise_note()}: the ratio is that uncertain)" if c.noisy else "")
                     + ".")
        predicted = wavefront_law_cycles(at) / clock
        lines.append(f"The wavefront law (a model) predicts {format_seconds(predicted)} for it: "
                     f"measured / predicted = {s8 / predicted:.3f}. By the same model, "
                     f"conflict-free shared memory would still need "
                     f"{format_seconds(predicted / 2)}: below that, the keys must leave shared "
                     f"memory for registers.")
    if r8 and r8b:
        s8, _ = gpu_time(r8)
        s8b, w8b = gpu_time(r8b)
        launch = merge_split_launch(at)
        p, m = launch.block, int(launch.scalars[1])
        verdict = "slower" if s8b > s8 else "faster"
        lines.append(f"Merge-split (8b) takes {format_seconds(s8b)} ({w8b}): {verdict} than "
                     f"rung 8 by {format_speedup(max(s8b, s8) / min(s8b, s8))}, with "
                     f"{p:,} barriers to rung 8's {at:,} (1/{at // p}). Its runs of m = {m} "
                     f"are contiguous (lane t at word t·{m} + k): a {bank_degree(m)}-way bank "
                     f"conflict wherever the lanes are at the same k of their runs, as in every "
                     f"store of a merge (the CPU model above counts them), against rung 8's "
                     f"{bank_degree(2)}-way; and its even and odd lanes take different branches."
                     + (" Fewer barriers and slower: so barriers were not most of what rung 8 "
                        "paid for; the bank conflicts and the divergent merges are consistent "
                        "with 8b's cost, but this run does not separate them."
                        if s8b > s8 else " Fewer barriers and faster: consistent with barriers "
                        "costing rung 8 something this run can see."))
    r8c = _at(timings, "odd_even_registers", at)
    floor = at * at / 64 / clock  # one SM's integer min/max, n²/64 cycles (a model)
    if c and r8c:
        s8c, w8c = gpu_time(r8c)
        lines.append(f"Variant 8c (keys in registers) takes {format_seconds(s8c)} ({w8c}): "
                     f"{format_speedup(c.median / s8c)} over the C bubble sort (issue 12's goal: "
                     f"×100), {floor / s8c:.0%} of the model's ceiling for one SM's integer "
                     f"min/max ({format_seconds(floor)}).")
    elif r8c is None:
        why = _absent_at(timings, "odd_even_registers", at, recorded)
        lines.append(f"Variant 8c (keys in registers): {why}. Its design target, not a "
                     f"measurement: ×100 over the C bubble sort"
                     + (f" (≤ {format_seconds(c.median / 100)} here)" if c else "")
                     + f", against the model's floor of {format_seconds(floor)} "
                     f"(n²/64 cycles of integer min/max on one SM).")
    r8d = _at(timings, "merge_split_interleaved", at)
    if r8b and r8d:
        s8b, _ = gpu_time(r8b)
        s8d, w8d = gpu_time(r8d)
        lines.append(f"Merge-split before and after: 8b {format_seconds(s8b)}, 8d (interleaved "
                     f"runs, no branch; the CPU model counts it near-conflict-free) "
                     f"{format_seconds(s8d)} ({w8d}): {format_speedup(s8b / s8d)}. 8d changes "
                     f"the layout and the branch together, so this is their joint effect.")
    elif r8d is None:
        why = _absent_at(timings, "merge_split_interleaved", at, recorded)
        lines.append(f"Variant 8d (8b's runs interleaved, no branch): {why}. So the control "
                     f"for the merge-split prediction is not measured: the only evidence on "
                     f"8b's bank conflicts here is the CPU model's count, not a GPU's.")
    r7 = _at(timings, "odd_even_global", at)
    if r7 and r8:
        s8, _ = gpu_time(r8)
        ratio = s8 / (wavefront_law_cycles(at) / clock)
        share = host_share(r7)
        g = _at(timings, "odd_even_global@graph", at)
        lines.append(f"Launches or memory? Rung 7 takes {format_seconds(r7.median)} for "
                     f"{at:,} launches ({format_seconds(r7.median / at)} each"
                     + (f"; Python is {share:.0%} of its event time" if share is not None
                        else "") + f"); rung 8 does the same phases in one launch in "
                     f"{format_seconds(s8)} ({format_speedup(r7.median / s8)} less time), "
                     + ("which the shared-memory law accounts for within 10 %: consistent "
                        "with rung 7 paying for launches and rung 8 for shared memory."
                        if abs(ratio - 1) <= 0.1 else
                        f"{ratio:.2f} × what the shared-memory law predicts, so the law does not "
                        f"account for all of it here.")
                     + (" Answer: launches -- rung 7's figure is Python issuing them, so what "
                        "its global-memory phases cost is hidden under it in this run."
                        if share is not None and share >= HOST_BOUND else "")
                     + ("" if g is not None or extra and extra.get("bank_conflicts", {}).get("ncu")
                        else " This run has neither a CUDA graph replay (the GPU's own launch "
                             "cost) nor Nsight Compute's bank counters, the measurements that "
                             "would isolate each."))
        if g is not None:
            own, which = gpu_time(g)
            lines.append(f"Replayed as a CUDA graph (no Python), rung 7 needs "
                         f"{format_seconds(own)} "
                         f"({which}): {format_seconds(own / at)} a launch on the GPU itself, its "
                         f"kernel's work included, "
                         f"against {format_seconds(r7.median / at)} from Python.")
    for n in sorted({t.n for t in timings if t.label == "bitonic"}):
        b, cu = _at(timings, "bitonic", n), _at(timings, "cupy_sort", n)
        if b and cu:
            sb, wb = gpu_time(b)
            sc, wc = gpu_time(cu)
            lines.append(f"n = {n:>9,}: bitonic {format_seconds(sb)} ({wb}) / cupy.sort "
                         f"{format_seconds(sc)} ({wc}) = {sb / sc:.2f}" + _host_note(b, cu))
    if not any(t.label == "bitonic_registers" for t in timings):
        lines.append(f"Variant 9b (bitonic in registers): {_absent('bitonic_registers', recorded)}"
                     f". Its design target, not a measurement: within ×2 of cupy.sort at "
                     f"every n ≤ 2^16, and faster end to end at n ≤ 2^14 (issue 12).")
    if not any(t.label == "odd_even_temporal" for t in timings):
        lines.append(f"Variant 7c (temporal blocking): {_absent('odd_even_temporal', recorded)}"
                     f"; only its launch count (above) and its correctness on CPU threads are "
                     f"shown here.")
    hb = host_bound(timings)
    if hb:
        lines.append("Host-bound (Python is >= 80 % of the event time, so the end-to-end "
                     "figure measures the host): " + ", ".join(hb) + ".")
    return lines


# --------------------------------------------------------------------------- the CPU model


def bank_reports(key: str, n: int, seed: int = 0) -> list:
    """Version ``key``'s launches at n run on CPU threads with every shared-memory access
    recorded (:func:`py2ptx.banks.bank_conflicts`): one report per launch. The keys are
    ``random_keys(n, seed)``, as the GPU check profiles them under ncu."""
    from . import banks  # the tracer runs the C runner; only asked for here

    v = version(key)
    size, launches = v.schedule(n, None)
    work = np.full(size, np.iinfo(np.int32).max, dtype=np.int32)
    work[:n] = random_keys(n, seed=seed)
    return [banks.bank_conflicts(KERNELS / v.kernel, launch.kernel, launch.grid, launch.block,
                                 work, *launch.scalars, shared_mem=launch.shared_mem,
                                 timeout=120) for launch in launches]


def bank_counts(reports) -> dict[str, int]:
    """Load and store requests (warp instructions) and wavefronts, summed over reports:
    the quantities Nsight Compute's counters measure on a GPU."""
    counts = {"load_requests": 0, "load_wavefronts": 0, "store_requests": 0,
              "store_wavefronts": 0}
    for report in reports:
        for site in report.sites:
            counts[f"{site.kind}_requests"] += site.requests
            counts[f"{site.kind}_wavefronts"] += site.wavefronts
    return counts


def law_against_the_model(report, n: int) -> list[str]:
    """Rung 8's phase loads and stores as the CPU model counts them at n, beside the
    wavefront law's n²/16 + n²/16 (the law counts a store for every pair)."""
    loads = sum(s.wavefronts for s in report.sites
                if s.kind == "load" and "keys[i + 1]" in s.text)
    stores = sum(s.wavefronts for s in report.sites
                 if s.kind == "store" and ("= right" in s.text or "= left" in s.text))
    law = n * n / 16
    lines = [f"CPU model, rung 8 at n = {n}: phase loads {loads:,} wavefronts (the law: "
             f"{law:,.0f}), phase stores {stores:,} (the law: {law:,.0f})."]
    if stores < 0.9 * law:
        lines.append(f"Only {stores / law:.0%} of the stores the law counts happen (a warp stores "
                     f"only where a lane swaps): the law overcounts shared memory by "
                     f"{1 - (loads + stores) / (2 * law):.0%} at n = {n}. If it overcounts at "
                     f"2^14 too (not counted there: the CPU model runs small n), its close fit "
                     f"there is partly luck, and the time it fits also holds costs it leaves "
                     f"out (the barrier each phase, the loop's own instructions). Nsight "
                     f"Compute's wavefront counts (the GPU check) would measure what the GPU "
                     f"really issued.")
    return lines
