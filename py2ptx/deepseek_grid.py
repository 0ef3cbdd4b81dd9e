"""Notebook 05's grid, read back: cells, the chunk auto-tuner and the findings (no GPU).

The grid's axes are the stream variants (:data:`VARIANTS`), the chunk sizes and the
victim's working sets. Everything here reads a run -- live or recorded -- of :func:`py2ptx.deepseek.run_experiment`;
nothing measures. Its names are re-exported by :mod:`py2ptx.deepseek`, where the notebook
and lab 05 call them (``deepseek.cells``, ``deepseek.pick_chunk``, ``deepseek.findings``).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from .timing import Timing

#: The chunk size at which interference is measured by victim working set.
SIZE_CHUNK = 2**20


@dataclass(frozen=True)
class Variant:
    """One way of writing the streaming kernel's loads and stores in PTX."""

    key: str
    kernel: str
    load: str
    store: str
    min_cc: tuple[int, int]
    what: str
    words: str = "PTX"  # "PTX" (inline asm), "C++" (CUDA C++ / CCCL) or "signal" (ablation)

    @property
    def needs(self) -> str:
        return f"sm_{self.min_cc[0]}{self.min_cc[1]}"


VARIANTS: tuple[Variant, ...] = (
    Variant("plain", "stream_plain", "ld.global.v4.s32", "st.global.v4.s32", (7, 0),
            "what CUDA C writes for a plain copy"),
    Variant("nc_na_256b", "stream_nc_na_256b", "ld.global.nc.L1::no_allocate.L2::256B.v4.s32",
            "st.global.v4.s32", (8, 0),
            "DeepEP's read: read-only path, no L1 line, 256-byte L2 prefetch"),
    Variant("evict_first", "stream_evict_first", "ld.global.L2::cache_hint.v4.s32 (evict_first)",
            "st.global.L2::cache_hint.v4.s32 (evict_first)", (8, 0),
            "an L2 policy made by createpolicy: asks L2 to evict the copied lines first (a hint)"),
    Variant("all_hints", "stream_all_hints",
            "ld.global.nc.L1::no_allocate.L2::cache_hint.L2::256B.v4.s32 (evict_first)",
            "st.global.L1::no_allocate.L2::cache_hint.v4.s32 (evict_first)", (8, 0),
            "DeepEP's read plus the evict-first policy, and stores that skip L1"),
)


#: CUDA C++'s own words for cache behaviour, in the same stream body (kernels stream_cpp_*;
#: built only where CCCL's headers are found, sm_80+ like the hinted PTX).
CPP_VARIANTS: tuple[Variant, ...] = (
    Variant("cpp_ldg", "stream_cpp_ldg", "__ldg(p)", "*p = v", (8, 0),
            "CUDA C++'s read-only data cache load", "C++"),
    Variant("cpp_ldcs", "stream_cpp_ldcs", "__ldcs(p)", "__stcs(p, v)", (8, 0),
            "CUDA C++'s 'cache streaming, likely accessed once'", "C++"),
    Variant("cpp_ldcg", "stream_cpp_ldcg", "__ldcg(p)", "*p = v", (8, 0),
            "CUDA C++'s 'cache global': in L2, not in L1", "C++"),
    Variant("cpp_annotated", "stream_cpp_annotated",
            "*annotated_ptr<const int4, access_property::streaming>",
            "*annotated_ptr<int4, access_property::streaming> = v", (8, 0),
            "libcu++: the pointer carries an L2 access property", "C++"),
    Variant("cpp_ptx_deepep", "stream_cpp_ptx_deepep",
            "cuda::ptx::ld_nc_L1_no_allocate_L2_256B(space_global, p)", "*p = v", (8, 0),
            "CCCL's name for DeepEP's exact load", "C++"),
)
#: The plain stream with other signals after each chunk (the small-chunk ablation).
SIGNAL_VARIANTS: tuple[Variant, ...] = (
    Variant("plain_nofence", "stream_plain_nofence", "ld.global.v4.s32", "st.global.v4.s32",
            (7, 0), "signal: atomicAdd alone, no __threadfence()", "signal"),
    Variant("plain_release", "stream_plain_release", "ld.global.v4.s32", "st.global.v4.s32",
            (7, 0), "signal: atom.add.release.gpu (a release atomic, as in DeepEP's low-latency "
            "kernels), no __threadfence()", "signal"),
    Variant("plain_nosignal", "stream_plain_nosignal", "ld.global.v4.s32", "st.global.v4.s32",
            (7, 0), "no signal at all (the block barrier stays)", "signal"),
)
#: What each stream kernel does after a chunk; every kernel not named here: __threadfence()
#: then atomicAdd.
SIGNAL_OF = {"plain_nofence": "atomicAdd only", "plain_release": "atom.add.release.gpu",
             "plain_nosignal": "none"}


def variant(key: str) -> Variant:
    for v in VARIANTS + CPP_VARIANTS + SIGNAL_VARIANTS:
        if v.key == key:
            return v
    raise KeyError(f"no variant {key!r}; the variants are "
                   f"{', '.join(v.key for v in VARIANTS + CPP_VARIANTS + SIGNAL_VARIANTS)}")


PICK_RULE = ("the chunk with the least victim slowdown among those whose stream bandwidth "
             "(beside the victim) is within 10% of the best measured")


@dataclass(frozen=True)
class Cell:
    """One cell of the grid: a victim beside one stream variant at one chunk size and
    victim working set. ``cell["slowdown"]`` works too (lab 05's tuner reads cells so)."""

    slowdown: float  # the victim's median time beside the stream / its median alone
    spread: float  # interquartile range of the per-repeat ratios
    bandwidth_with: float  # the stream's bytes read + written per second, beside the victim
    bandwidth_alone: float | None  # the same with the stream alone
    victim_alone_s: float = float("nan")
    victim_with_s: float = float("nan")
    clock_alone: float = float("nan")  # the victim's SM clock, MHz (median of its samples)
    clock_with: float = float("nan")
    inside: int | None = None  # how many of the victim's samples ended inside the stream
    repeats: int = 0
    victim_bytes: int | None = None
    chunk_bytes: int | None = None

    def __getitem__(self, name: str):
        if name not in self.__dataclass_fields__:
            raise KeyError(f"a cell has no {name!r}; it has {', '.join(self.__dataclass_fields__)}")
        return getattr(self, name)


def _cell(va: Timing, vw: Timing, sa: Timing, sw: Timing) -> Cell:
    ratios = [w / a for w, a in zip(vw.samples, va.samples, strict=False)]
    q = statistics.quantiles(ratios, n=4, method="inclusive") if len(ratios) > 1 else [0, 0, 0]
    moved = sw.meta.get("bytes_moved", 0)

    def clock(t):
        c = [x for x in t.meta.get("clock_mhz", []) if x == x]  # NaN-free
        return statistics.median(c) if c else float("nan")

    return Cell(slowdown=vw.median / va.median, spread=q[2] - q[0],
                bandwidth_with=moved / sw.median, bandwidth_alone=moved / sa.median,
                victim_alone_s=va.median, victim_with_s=vw.median,
                clock_alone=clock(va), clock_with=clock(vw),
                inside=vw.meta.get("inside_stream"), repeats=vw.repeats,
                victim_bytes=va.meta.get("victim_bytes"), chunk_bytes=va.n)


def _group(timings, key, keep, by) -> dict[int, Cell]:
    parts = {}
    for t in timings:
        prefix, _, k = t.label.partition(":")
        if k == key and prefix in ("victim_alone", "victim_with", "stream_alone",
                                   "stream_with") and keep(t):
            parts.setdefault(by(t), {})[prefix] = t
    return {g: _cell(p["victim_alone"], p["victim_with"], p["stream_alone"], p["stream_with"])
            for g, p in sorted(parts.items()) if len(p) == 4}


def cells(timings: list[Timing], key: str, victim_bytes: int | None = None) -> dict[int, Cell]:
    """One variant's cells by chunk size, at one victim working set (all, if None).

    A cell: ``slowdown`` (the victim's median time beside the stream over its median
    alone), ``spread`` (interquartile range of the per-repeat ratios), the stream's
    bandwidth beside the victim and alone (bytes read plus written per second), the
    victim's SM clock alone and beside (MHz), and how many samples ended inside the stream.
    """
    return _group(timings, key,
                  lambda t: victim_bytes is None or t.meta.get("victim_bytes") == victim_bytes,
                  lambda t: t.n)


def size_cells(timings: list[Timing], key: str, chunk: int = SIZE_CHUNK) -> dict[int, Cell]:
    """One variant's cells by victim working set (bytes), at one chunk size."""
    return _group(timings, key, lambda t: t.n == chunk and "victim_bytes" in t.meta,
                  lambda t: t.meta["victim_bytes"])


def pick_chunk(by_chunk: dict[int, dict], within: float = 0.10) -> tuple[int, str]:
    """The auto-tuner: ``(chunk bytes, why)`` by :data:`PICK_RULE`.

    ``by_chunk`` is :func:`cells` of one variant. Ties in slowdown go to the faster stream.
    """
    if not by_chunk:
        raise ValueError("no measured chunk sizes to choose from")
    best_bw = max(c["bandwidth_with"] for c in by_chunk.values())
    fast = {k: c for k, c in by_chunk.items() if c["bandwidth_with"] >= (1 - within) * best_bw}
    chunk = min(fast, key=lambda k: (round(fast[k]["slowdown"], 3), -fast[k]["bandwidth_with"]))
    c = by_chunk[chunk]
    return chunk, (f"{chunk:,} bytes: stream {c['bandwidth_with'] / 1e9:,.0f} GB/s (best "
                   f"{best_bw / 1e9:,.0f}), victim slowed x{c['slowdown']:.2f}; {len(fast)} of "
                   f"{len(by_chunk)} chunk sizes were within {within:.0%} of the best bandwidth")


def copy_table(timings: list[Timing]) -> list[dict]:
    """Bandwidth of each whole-GPU copy, and its share of CuPy's copy."""
    copies = {t.label.split(":", 1)[1]: t for t in timings if t.label.startswith("copy:")}
    if "cupy" not in copies:
        return []
    ref = copies["cupy"].meta["bytes_moved"] / copies["cupy"].median
    rows = []
    for name, t in copies.items():
        bw = t.meta["bytes_moved"] / t.median
        rows.append({"copy": name, "bandwidth": bw, "of_cupy": bw / ref,
                     "iqr_s": t.spread, "median_s": t.median, "repeats": t.repeats})
    return rows


def _spread_free(a: Cell, b: Cell) -> bool:
    """Whether two cells' slowdowns differ by more than both spreads (the IQRs of their ratios)."""
    return abs(a.slowdown - b.slowdown) > max(a.spread, b.spread)


def victim_rate(c: Cell, passes: int) -> float:
    """The victim's read bandwidth beside the stream (bytes per second)."""
    return c.victim_bytes * passes / c.victim_with_s


def _passes(timings, key, chunk, victim_bytes) -> int | None:
    t = next((t for t in timings if t.label == f"victim_with:{key}" and t.n == chunk
              and t.meta.get("victim_bytes") == victim_bytes), None)
    return t.meta.get("passes") if t else None


def tuner_trades(timings: list[Timing], extra: dict) -> dict[str, dict]:
    """What the auto-tuner picked for each variant against the fastest chunk it measured:
    ``{key: {"picked", "fastest", "bandwidth_cost", "slowdown_fastest", "slowdown_picked"}}``."""
    sweep = extra.get("sweep_victim_bytes")
    out = {}
    for key in extra.get("picked_chunk", {}):
        by_chunk = cells(timings, key, sweep)
        if not by_chunk:
            continue
        picked = pick_chunk(by_chunk)[0]
        fastest = max(by_chunk, key=lambda k: by_chunk[k].bandwidth_with)
        out[key] = {"picked": picked, "fastest": fastest,
                    "bandwidth_cost": 1 - by_chunk[picked].bandwidth_with
                    / by_chunk[fastest].bandwidth_with,
                    "slowdown_fastest": by_chunk[fastest].slowdown,
                    "slowdown_picked": by_chunk[picked].slowdown}
    return out


def findings(timings: list[Timing], extra: dict) -> dict[str, list[str]]:
    """What a run measured, in sentences, by topic (``l2``, ``size``, ``control``, ``chunk``,
    ``signal``, ``cpp``, ``copy``, ``stale``, ``clock``, ``counters``): notebook 05's
    conclusions are printed from here, so they are true of whichever run the notebook shows
    (live or recorded). A topic the run did not measure is an empty list."""
    topics = ("l2", "size", "control", "chunk", "signal", "cpp", "copy", "stale", "clock",
              "counters")
    out: dict[str, list[str]] = {k: [] for k in topics}
    setup = extra.get("setup", {})
    curve = sorted((t for t in timings if t.label == "victim_pass"), key=lambda t: t.n)
    l2 = setup.get("l2_bytes")
    if curve and l2:
        rate = {t.n: t.n / t.median for t in curve}
        top = max(rate.values())
        fits = [n for n in rate if rate[n] >= 0.75 * top]
        beyond = [n for n in rate if n > max(fits)]
        if beyond:
            far = statistics.median(rate[n] for n in beyond)
            copies = {r["copy"]: r for r in copy_table(timings)}
            dram = max([rate[n] for n in beyond]
                       + ([copies["cupy"]["bandwidth"]] if "cupy" in copies else []))
            hbm = (f" {top / 1e12:.1f} TB/s is more than any rate this run measured from DRAM "
                   f"(the victim beyond L2: at most {max(rate[n] for n in beyond) / 1e12:.2f}"
                   + (f"; CuPy's whole-GPU copy, read + write: "
                      f"{copies['cupy']['bandwidth'] / 1e12:.2f}" if "cupy" in copies else "")
                   + " TB/s): most of those bytes must come from L2." if top > dram else "")
            out["l2"].append(
                f"Alone, the victim reads {top / 1e12:.1f} TB/s while its working set is at most "
                f"{max(fits) / 2**20:.0f} MiB, and {far / 1e12:.1f} TB/s from "
                f"{min(beyond) / 2**20:.0f} MiB on (L2 is {l2 / 2**20:.0f} MiB): data in L2 "
                f"reaches it {top / far:.1f}x faster than data in DRAM. The knee lies between "
                f"these two measured sizes ({max(fits) / l2:.0%} and {min(beyond) / l2:.0%} of "
                f"L2); nothing between them was measured." + hbm)
    keys = [v.key for v in VARIANTS if size_cells(timings, v.key)]
    if "plain" in keys:
        plain = size_cells(timings, "plain")
        worst = max(plain, key=lambda b: plain[b]["slowdown"])
        row = {k: size_cells(timings, k)[worst] for k in keys}
        best = min(row, key=lambda k: row[k].slowdown)
        out["size"].append(
            f"With a victim of {worst / 2**20:.0f} MiB, the plain stream slowed it "
            f"x{row['plain'].slowdown:.2f}; "
            + ", ".join(f"{k} x{row[k].slowdown:.2f}" for k in keys if k != "plain")
            + f". The least harmful stream was {best}."
            + "".join(f" {k} was within the spread of the plain stream there (the difference "
                      f"is no larger than the larger IQR of the two): not shown gentler."
                      for k in keys if k != "plain" and not _spread_free(row[k], row["plain"])))
        out["size"].append(
            "Per TB/s the stream moved beside it, the victim lost "
            + ", ".join(f"{k} {(row[k].slowdown - 1) / (row[k].bandwidth_with / 1e12):+.2f}"
                        for k in keys)
            + " (slowdown - 1 per TB/s). Beside the victim the hinted streams moved "
            + ", ".join(f"{k} {row[k].bandwidth_with / row['plain'].bandwidth_with - 1:+.0%}"
                        for k in keys if k != "plain")
            + " against the plain stream: where that is negative, part of their gentleness "
              "can be fewer bytes per second.")
        passes = _passes(timings, "plain", SIZE_CHUNK, worst)
        if passes:
            v = victim_rate(row["plain"], passes)
            total = v + row["plain"].bandwidth_with
            copies = {r["copy"]: r for r in copy_table(timings)}
            ceiling = (f", {total / copies['cupy']['bandwidth']:.0%} of what CuPy's copy moved "
                       f"on every SM ({copies['cupy']['bandwidth'] / 1e12:.2f} TB/s)"
                       if "cupy" in copies else "")
            out["size"].append(
                f"Beside the plain stream at {worst / 2**20:.0f} MiB the victim still read "
                f"{v / 1e12:.2f} TB/s while the stream moved "
                f"{row['plain'].bandwidth_with / 1e12:.2f} TB/s: together "
                f"{total / 1e12:.2f} TB/s{ceiling} (the stream's rate is its average over its "
                f"whole run, which the victim overlaps only in part).")
        small = min(plain)
        most = max(size_cells(timings, k)[small]["slowdown"] for k in keys)
        out["size"].append(
            f"With a victim of {small / 2**20:.0f} MiB, its time beside any stream was at most "
            f"x{most:.2f} its time alone.")
    placebo = size_cells(timings, "placebo")
    if placebo:
        out["control"].append(
            "Beside the placebo (the same SMs held, no memory traffic) the victim ran "
            + ", ".join(f"x{c.slowdown:.2f} (IQR {c.spread:.2f}) at {b / 2**20:.0f} MiB"
                        for b, c in placebo.items())
            + ": the baseline a stream's slowdown should be read against.")
    else:
        out["control"].append("No placebo control in this run: a victim faster beside a stream "
                               "than alone cannot be told from a placement effect.")
    sweep = extra.get("sweep_victim_bytes")
    for key, t in tuner_trades(timings, extra).items():
        by_chunk = cells(timings, key, sweep)
        what = (f"picked the fastest chunk it measured ({size_bytes(t['picked'])}): it traded "
                f"nothing" if t["picked"] == t["fastest"] else
                f"picked {size_bytes(t['picked'])} over the fastest, {size_bytes(t['fastest'])}: "
                f"{t['bandwidth_cost']:.0%} less bandwidth for x{t['slowdown_fastest']:.2f} -> "
                f"x{t['slowdown_picked']:.2f}")
        out["chunk"].append(f"Auto-tuned chunk for {key}: {what} ({pick_chunk(by_chunk)[1]}).")
    nc, ef = cells(timings, "nc_na_256b", sweep), cells(timings, "evict_first", sweep)
    if nc and ef:
        both = sorted(set(nc) & set(ef))
        better = [k for k in both if nc[k].slowdown < ef[k].slowdown and _spread_free(nc[k], ef[k])]
        worse = [k for k in both if nc[k].slowdown > ef[k].slowdown and _spread_free(nc[k], ef[k])]
        same = [k for k in both if k not in better and k not in worse]
        out["chunk"].append(
            "Read-only path (nc_na_256b) against the evict-first policy, chunk by chunk: gentler "
            f"at {', '.join(map(size_bytes, better)) or 'no chunk'}; harsher at "
            f"{', '.join(map(size_bytes, worse)) or 'no chunk'}; within the spread at "
            f"{', '.join(map(size_bytes, same)) or 'no chunk'}.")
    by_plain = cells(timings, "plain", sweep)
    blocks = setup.get("stream_sms")
    if by_plain and blocks:
        small = [k for k in by_plain if k <= 2**14]
        per_chunk = {k: by_plain[k].bandwidth_alone and
                     (setup["stream_bytes"] / by_plain[k].bandwidth_alone * 2)
                     / -(-setup["stream_bytes"] // k // blocks) for k in small}
        if per_chunk:
            flat = max(per_chunk.values()) / min(per_chunk.values())
            out["chunk"].append(
                "Time per chunk per block, stream alone: " + ", ".join(
                    f"{size_bytes(k)} {s * 1e6:.2f} µs" for k, s in per_chunk.items())
                + (f" -- within {flat - 1:.0%} of each other while the chunk grows "
                   f"{max(small) // min(small)}x: a fixed time per chunk, not a cost per byte "
                   "(what it is made of, the signal ablation measures)." if flat < 1.25 else
                   f" -- not constant ({flat:.1f}x apart)."))
        big = sorted(by_plain)[-2:]
        if len(big) == 2:
            gain = by_plain[big[1]].bandwidth_alone / by_plain[big[0]].bandwidth_alone - 1
            out["chunk"].append(
                f"From {size_bytes(big[0])} to {size_bytes(big[1])} chunks the plain stream "
                f"alone gained {gain:+.0%} bandwidth"
                + (": consistent with a plateau (two sizes, so not a proof of one)."
                   if abs(gain) < 0.05 else ": no plateau yet within the sweep."))
    sig = {k: cells(timings, k, sweep) for k in ["plain", *SIGNAL_OF]}
    sig = {k: c for k, c in sig.items() if c}
    if len(sig) > 1:
        chunks = sorted(set.intersection(*(set(c) for c in sig.values())))
        for chunk in chunks:
            out["signal"].append(
                f"{size_bytes(chunk)} chunks, stream alone: " + ", ".join(
                    f"{SIGNAL_OF.get(k, '__threadfence + atomicAdd')} "
                    f"{c[chunk].bandwidth_alone / 1e9:,.0f} GB/s" for k, c in sig.items()) + ".")
    cpp = {v.key: cells(timings, v.key, sweep) for v in CPP_VARIANTS}
    cpp = {k: c[SIZE_CHUNK] for k, c in cpp.items() if SIZE_CHUNK in c}
    if cpp:
        ptx = {k: c for k in keys if (c := cells(timings, k, sweep).get(SIZE_CHUNK))}
        out["cpp"].append(
            f"At {sweep / 2**20:.0f} MiB and 1 MiB chunks: " + ", ".join(
                f"{k} x{c.slowdown:.2f} ({c.bandwidth_with / 1e9:,.0f} GB/s)"
                for k, c in {**ptx, **cpp}.items()) + ".")
    rows = {r["copy"]: r for r in copy_table(timings)}
    if rows:
        mine = [k for k in rows if k not in ("cupy", "memcpy")]
        met = [k for k in mine if rows[k]["of_cupy"] >= 0.85]
        out["copy"].append(
            f"On every SM, CuPy's copy moved {rows['cupy']['bandwidth'] / 1e12:.2f} TB/s; "
            + ", ".join(f"{k} {rows[k]['of_cupy']:.0%} of it" for k in mine)
            + f". The goal of 85% was met by {', '.join(met) or 'none'}"
            + (f" and missed by {', '.join(k for k in mine if k not in met)}." if len(met) < len(mine)
               else "."))
    stale = [r for r in extra.get("stale_reads", []) if "stale" in r]
    for poll in ("ld.acquire.gpu", "ld.relaxed.gpu"):
        rows_ = [r for r in stale if r["poll"] == poll]
        if rows_:
            out["stale"].append(f"Polling with {poll}: " + "; ".join(
                (f"{r['load']}" if r.get("prime", r["load"]) == r["load"] else
                 f"{r['load']} after {r['prime']}") + f" stale {r['stale']:,} of {r['checked']:,}"
                for r in rows_) + ".")
    clocks = [c for t in timings if t.label.startswith("victim_") for c in t.meta.get("clock_mhz", [])
              if c == c]
    if clocks:
        out["clock"].append(f"The victim's SM clock stayed between {min(clocks):,.0f} and "
                            f"{max(clocks):,.0f} MHz in every sample.")
    mem = extra.get("memory_clock", {})
    if mem.get("mhz"):
        out["clock"].append(f"The memory clock (nvidia-smi, every {mem['every_ms']} ms during "
                            f"the run) stayed between {min(mem['mhz']):,.0f} and "
                            f"{max(mem['mhz']):,.0f} MHz.")
    elif "mhz" in mem or "why" in mem:
        out["clock"].append(f"Memory clock not recorded: {mem.get('why', 'no samples')}.")
    out["counters"] = counter_findings(extra.get("counters"))
    return out


def counter_findings(counters: dict | None) -> list[str]:
    """Sentences from the Nsight Compute counters of a run (``extra["counters"]``)."""
    if not counters:
        return ["No counters recorded yet: this run has no Nsight Compute measurement."]
    if "error" in counters:
        return [f"Nsight Compute did not run: {counters['error']}"]
    cases = counters.get("cases", {})
    alone = cases.get("victim alone")
    out = []
    for key in [v.key for v in VARIANTS]:
        both, stream = cases.get(f"{key} + victim"), cases.get(f"{key} alone")
        if not (both and stream and alone):
            continue
        extra_read = (both["dram__bytes_read.sum"] - stream["dram__bytes_read.sum"]
                      - alone["dram__bytes_read.sum"])
        out.append(
            f"{key}: L2 hit rate {alone['lts__t_sector_hit_rate.pct']:.0f}% (victim alone), "
            f"{stream['lts__t_sector_hit_rate.pct']:.0f}% (stream alone), "
            f"{both['lts__t_sector_hit_rate.pct']:.0f}% (both); DRAM read beyond the sum of "
            f"the two alone: {extra_read / 2**20:+,.0f} MiB "
            f"({extra_read / counters['victim_bytes_per_launch']:+.0%} of the victim's reads).")
    return out


def size_bytes(b: int) -> str:
    """``1048576`` -> ``'1 MiB'``, ``4096`` -> ``'4 KiB'``."""
    return f"{b / 2**20:g} MiB" if b >= 2**20 else f"{b / 1024:g} KiB"


def describe_cell(timings: list[Timing], key: str, cell: dict, machine: str) -> str:
    """One measured cell in words, with every sample of the victim (notebook 05's explorer)."""
    def samples(prefix: str) -> str:
        t = next((t for t in timings if t.label == f"{prefix}:{key}"
                  and t.n == cell["chunk_bytes"]
                  and t.meta.get("victim_bytes") == cell["victim_bytes"]), None)
        return ", ".join(f"{s * 1e6:,.0f}" for s in t.samples) if t else "-"

    c = cell
    return "\n".join([
        f"{key}, chunk {size_bytes(c['chunk_bytes'])}, victim working set "
        f"{size_bytes(c['victim_bytes'])} -- measured on {machine}",
        f"  victim: x{c['slowdown']:.2f} beside the stream (IQR of the ratios {c['spread']:.2f}); "
        f"{c['victim_alone_s'] * 1e6:,.0f} µs alone, {c['victim_with_s'] * 1e6:,.0f} µs beside "
        f"it (medians)",
        f"  stream: {c['bandwidth_alone'] / 1e9:,.0f} GB/s alone, {c['bandwidth_with'] / 1e9:,.0f} "
        f"GB/s beside the victim",
        f"  victim's SM clock: {c['clock_alone']:,.0f} MHz alone, {c['clock_with']:,.0f} MHz "
        f"beside; it ended inside the stream in {c['inside']} of {c['repeats']} repeats",
        f"  victim alone, every sample (µs):  {samples('victim_alone')}",
        f"  victim beside, every sample (µs): {samples('victim_with')}",
    ])


def not_in_run(timings: list[Timing], extra: dict) -> list[str]:
    """What notebook 05 can show that the run shown did not measure (an older design):
    each is printed beside the run, so no reader takes a missing measurement for a result."""
    sweep = extra.get("sweep_victim_bytes")
    checks = {
        "the placebo control (the same SMs held, no memory traffic)":
            bool(size_cells(timings, "placebo")),
        "the signal ablation (no fence, release atomic, no signal)":
            any(cells(timings, k, sweep) for k in SIGNAL_OF),
        "the CUDA C++ variants (__ldg, __ldcs, __ldcg, annotated_ptr, cuda::ptx)":
            any(cells(timings, v.key, sweep) for v in CPP_VARIANTS),
        "chunks above 4 MiB": any(k > 2**22 for k in cells(timings, "plain", sweep)),
        "the L2 curve between 3/4 of L2 and L2": any(
            t.label == "victim_pass" and 0.75 < t.meta.get("fraction_of_l2", 0) < 1.0
            for t in timings),
        "issue #136's stale-read case (a line primed by another load)": any(
            r.get("prime", r.get("load")) != r.get("load") for r in extra.get("stale_reads", [])),
        "the memory clock": bool(extra.get("memory_clock", {}).get("mhz")),
        "Nsight Compute counters": bool(extra.get("counters", {}).get("cases")),
    }
    return [name for name, there in checks.items() if not there]
