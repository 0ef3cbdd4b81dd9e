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
            "an L2 policy made by createpolicy: the copied lines are evicted first"),
    Variant("all_hints", "stream_all_hints",
            "ld.global.nc.L1::no_allocate.L2::cache_hint.L2::256B.v4.s32 (evict_first)",
            "st.global.L1::no_allocate.L2::cache_hint.v4.s32 (evict_first)", (8, 0),
            "DeepEP's read plus the evict-first policy, and stores that skip L1"),
)


def variant(key: str) -> Variant:
    for v in VARIANTS:
        if v.key == key:
            return v
    raise KeyError(f"no variant {key!r}; the variants are {', '.join(v.key for v in VARIANTS)}")


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


def findings(timings: list[Timing], extra: dict) -> dict[str, list[str]]:
    """What a run measured, in sentences, by topic (``l2``, ``size``, ``chunk``, ``copy``,
    ``stale``, ``clock``): notebook 05's conclusions are printed from here, so they are
    true of whichever run the notebook shows (live or recorded)."""
    out: dict[str, list[str]] = {k: [] for k in ("l2", "size", "chunk", "copy", "stale",
                                                 "clock")}
    curve = sorted((t for t in timings if t.label == "victim_pass"), key=lambda t: t.n)
    l2 = extra.get("setup", {}).get("l2_bytes")
    if curve and l2:
        rate = {t.n: t.n / t.median for t in curve}
        top = max(rate.values())
        fits = [n for n in rate if rate[n] >= 0.75 * top]
        beyond = [n for n in rate if n > max(fits)]
        if beyond:
            far = statistics.median(rate[n] for n in beyond)
            out["l2"].append(
                f"Alone, the victim reads {top / 1e12:.1f} TB/s while its working set is at most "
                f"{max(fits) / 2**20:.0f} MiB, and {far / 1e12:.1f} TB/s from "
                f"{min(beyond) / 2**20:.0f} MiB on (L2 is {l2 / 2**20:.0f} MiB): data in L2 "
                f"reaches it {top / far:.1f}x faster than data in DRAM.")
    keys = [v.key for v in VARIANTS if size_cells(timings, v.key)]
    if "plain" in keys:
        plain = size_cells(timings, "plain")
        worst = max(plain, key=lambda b: plain[b]["slowdown"])
        row = {k: size_cells(timings, k)[worst]["slowdown"] for k in keys}
        best = min(row, key=row.get)
        out["size"].append(
            f"With a victim of {worst / 2**20:.0f} MiB, the plain stream slowed it "
            f"x{row['plain']:.2f}; " + ", ".join(f"{k} x{row[k]:.2f}" for k in keys if k != "plain")
            + f". The least harmful stream was {best}.")
        small = min(plain)
        most = max(size_cells(timings, k)[small]["slowdown"] for k in keys)
        out["size"].append(
            f"With a victim of {small / 2**20:.0f} MiB, its time beside any stream was at most "
            f"x{most:.2f} its time alone" + (": L2 had room for both." if most <= 1.1 else "."))
    sweep = extra.get("sweep_victim_bytes")
    for key in extra.get("picked_chunk", {}):
        by_chunk = cells(timings, key, sweep)
        if by_chunk:
            out["chunk"].append(f"Auto-tuned chunk for {key}: {pick_chunk(by_chunk)[1]}.")
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
                f"{r['load']} stale {r['stale']:,} of {r['checked']:,}" for r in rows_) + ".")
    clocks = [c for t in timings if t.label.startswith("victim_") for c in t.meta.get("clock_mhz", [])
              if c == c]
    if clocks:
        out["clock"].append(f"The victim's SM clock stayed between {min(clocks):,.0f} and "
                   f"{max(clocks):,.0f} MHz in every sample: the slowdowns are not the GPU "
                   f"changing its clock.")
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
