"""What DeepSeek's custom PTX does, measured (notebook 05, lab 05).

DeepSeek-V3's report: "we employ customized PTX instructions and auto-tune the
communication chunk size, which significantly reduces the use of the L2 cache and
the interference to other SMs." This module rebuilds that claim as an experiment
on one GPU, with the kernels in ``kernels/cuda/7_streaming_cache_hints.cu`` and
``kernels/cuda/8_stale_reads.cu``:

* **interference** -- a *streaming* kernel (the stand-in for communication: a few
  SMs copying a buffer far larger than L2, chunk by chunk, with a signal after each
  chunk) runs beside a *victim* kernel on the other SMs that re-reads a buffer
  sized to fit in L2. The victim's slowdown, and the stream's bandwidth, are
  measured for each PTX variant of the stream's loads and stores (:data:`VARIANTS`);
* **chunk-size auto-tuning** -- the same at every chunk size of a sweep, and
  :func:`pick_chunk` chooses one, the way the quote's "auto-tune" does;
* **bandwidth** -- each variant on the whole GPU against CuPy's own copy;
* **stale reads** -- :func:`stale_reads` counts what ``.nc`` loads return when
  another block writes the data while the kernel runs (8_stale_reads.cu).

Without a GPU everything that needs no GPU still runs: the SASS each variant
becomes (:func:`sass_evidence`, NVRTC + nvdisasm from pip wheels) and the analysis
of the recorded run (:func:`recorded`, :func:`cells`, :func:`pick_chunk`).
Nothing here invents a number: with neither a GPU nor a recorded run, the notebook
says so.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import numpy as np

from .timing import Timing

KERNEL_FILE = "7_streaming_cache_hints.cu"
PROBE_FILE = "8_stale_reads.cu"
#: The name recorded runs of this experiment are saved under (results/…-deepseek-l2.json).
RUN_NAME = "deepseek-l2"
#: Chunk sizes of the sweep, in bytes: 1 KiB to 4 MiB.
CHUNKS = tuple(2**k for k in range(10, 23, 2))
#: The chunk the variants are compared at, before any tuning (64 KiB).
DEFAULT_CHUNK = 2**16
#: DeepSeek-V3 gave 20 of an H800's 132 SMs to communication; the stream gets the same share.
STREAM_SM_SHARE = 20 / 132


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

#: The loads 8_stale_reads.cu tests: (variant number, PTX, lowest compute capability).
STALE_LOADS: tuple[tuple[int, str, tuple[int, int]], ...] = (
    (0, "ld.relaxed.gpu.global", (7, 0)),
    (1, "ld.global", (7, 0)),
    (2, "ld.global.nc", (7, 0)),
    (3, "ld.global.nc.L1::no_allocate", (7, 0)),
    (4, "ld.global.nc.L1::no_allocate.L2::256B", (8, 0)),
)


def variant(key: str) -> Variant:
    for v in VARIANTS:
        if v.key == key:
            return v
    raise KeyError(f"no variant {key!r}; the variants are {', '.join(v.key for v in VARIANTS)}")


def split_by_arch(cc: tuple[int, int]) -> tuple[list[Variant], dict[str, str]]:
    """The variants a GPU of compute capability ``cc`` can run, and why the others not."""
    runnable = [v for v in VARIANTS if tuple(cc) >= v.min_cc]
    skipped = {v.key: (f"needs {v.needs} or newer (PTX ISA: .L2::cache_hint, .L2::256B and "
                       f"createpolicy need sm_80); this GPU is sm_{cc[0]}{cc[1]}, so the "
                       f"kernel is not even compiled for it")
               for v in VARIANTS if tuple(cc) < v.min_cc}
    return runnable, skipped


# --------------------------------------------------------------------------- SASS, no GPU


def sass_evidence(arch: str = "sm_90") -> dict[str, dict[str, list[str]]]:
    """Each stream kernel's global loads and stores in SASS, compiled here (no GPU).

    ``{variant key: {"load": [...], "store": [...], "policy": [...]}}``: the distinct
    LDG and STG instructions (registers stripped) and, for the evict-first variants,
    the uniform-register moves that build the cache policy the loads carry in
    ``desc[...]``. Variants the arch cannot run are left out.
    """
    from .cudatools import sass_by_kernel, sass_for

    cc = (int(arch[3:-1]), int(arch[-1]))
    runnable, _ = split_by_arch(cc)
    by_kernel = sass_by_kernel(sass_for(KERNEL_FILE, arch))
    out = {}
    for v in runnable:
        ins = by_kernel[v.kernel]
        out[v.key] = {
            "load": _distinct(i for i in ins if "LDG" in i),
            "store": _distinct(i for i in ins if "STG" in i),
            "policy": [i for i in ins if i.startswith("UMOV") and "0x" in i],
        }
    return out


def _distinct(instructions) -> list[str]:
    """``@!P0 LDG.E.128 R20, desc[UR16][R24.64]`` -> ``LDG.E.128 desc[UR16]``, once each."""
    seen = []
    for ins in instructions:
        words = ins.split()
        if words and words[0].startswith("@"):
            words = words[1:]
        op = words[0]
        desc = next((w.split("]")[0] + "]" for w in words if w.startswith("desc[")), "")
        text = f"{op} {desc}".strip()
        if text not in seen:
            seen.append(text)
    return seen


# --------------------------------------------------------------------------- on a GPU


def _cc(cp) -> tuple[int, int]:
    """This GPU's compute capability; CuPy gives it as a string (``"90"``)."""
    cc = str(cp.cuda.Device().compute_capability)
    return int(cc[:-1]), int(cc[-1])


def _scrambled(cp, n: int, seed: int):
    """n distinct-looking int32 values, made on the GPU (a multiplicative hash of 0..n-1)."""
    x = cp.arange(n, dtype=cp.uint32) * cp.uint32(2654435761) + cp.uint32(seed * 40503)
    return (x ^ (x >> cp.uint32(15))).view(cp.int32)


def _address(a) -> int:
    return int(a.__cuda_array_interface__["data"][0])


@dataclass
class Setup:
    """The experiment's sizes on one GPU (all decided from the GPU's own attributes)."""

    sms: int
    l2_bytes: int
    stream_sms: int
    victim_bytes: int
    stream_bytes: int
    threads: int
    one_block_per_sm_shared: int
    passes: int = 0

    @property
    def victim_sms(self) -> int:
        return self.sms - self.stream_sms


class Experiment:
    """The streaming and victim kernels loaded on this GPU, with their buffers.

    ``Experiment()`` sizes everything from the GPU: the victim's working set is a
    quarter of L2, the stream copies at least 1 GiB (20× L2 or more), and each
    kernel block asks for over half an SM's shared memory so that no two blocks
    share an SM: the stream gets its SMs, the victim the rest.
    """

    def __init__(self, stream_bytes: int | None = None, threads: int = 1024):
        from .gpu import load_module, require_gpu

        cp = self.cp = require_gpu("the L2 interference experiment")
        dev = cp.cuda.Device()
        attrs = dev.attributes
        self.cc = _cc(cp)
        sms, l2 = int(attrs["MultiProcessorCount"]), int(attrs["L2CacheSize"])
        per_sm = int(attrs["MaxSharedMemoryPerMultiprocessor"])
        per_block = int(attrs["MaxSharedMemoryPerBlockOptin"])
        free, _ = cp.cuda.runtime.memGetInfo()
        if stream_bytes is None:
            stream_bytes = min(max(2**30, 20 * l2), free // 4)
        stream_bytes -= stream_bytes % 2**20
        self.setup = Setup(
            sms=sms, l2_bytes=l2, stream_sms=max(1, round(sms * STREAM_SM_SHARE)),
            victim_bytes=max(2**16, (l2 // 4) - (l2 // 4) % 2**16),
            stream_bytes=stream_bytes, threads=threads,
            one_block_per_sm_shared=min(per_block, per_sm // 2 + 1024))
        self.runnable, self.skipped = split_by_arch(self.cc)
        self.module = load_module(KERNEL_FILE)
        self.kernels = {v.key: self.module.kernel(v.kernel) for v in self.runnable}
        self.victim_kernel = self.module.kernel("victim")
        self.src = _scrambled(cp, stream_bytes // 4, 1)  # never time on zeros
        self.dst = cp.empty_like(self.src)
        self.vbuf = _scrambled(cp, self.setup.victim_bytes // 4, 2)
        self.sink = cp.zeros(1, dtype=cp.int32)
        self.done = cp.zeros(1, dtype=cp.uint32)
        self.s_stream = cp.cuda.Stream(non_blocking=True)
        self.s_victim = cp.cuda.Stream(non_blocking=True)

    # ---- launches
    def launch_stream(self, key: str, chunk_bytes: int, blocks: int | None = None,
                      one_per_sm: bool = True, src=None, dst=None) -> None:
        src = self.src if src is None else src
        dst = self.dst if dst is None else dst
        self.kernels[key]((blocks or self.setup.stream_sms,), (self.setup.threads,),
                          src, dst, np.int64(src.size // 4), np.int32(chunk_bytes // 16),
                          self.done,
                          shared_mem=self.setup.one_block_per_sm_shared if one_per_sm else 0)

    def launch_victim(self, passes: int, buf=None) -> None:
        buf = self.vbuf if buf is None else buf
        self.victim_kernel((self.setup.victim_sms,), (self.setup.threads,),
                           buf, np.int64(buf.size // 4), np.int32(passes), self.sink,
                           shared_mem=self.setup.one_block_per_sm_shared)

    def _timed(self, stream, fn) -> float:
        cp = self.cp
        a, b = cp.cuda.Event(), cp.cuda.Event()
        with stream:
            a.record(stream)
            fn()
            b.record(stream)
        b.synchronize()
        return cp.cuda.get_elapsed_time(a, b) / 1e3

    def validate(self) -> None:
        """Every runnable variant copies exactly, at a small and a large chunk (poisoned dst)."""
        from .gpu import explained

        n = 3 * 2**20 + 7 * 4  # not a whole number of chunks: the last one is partial
        src, dst = self.src[:n], self.dst[:n]
        for key in self.kernels:
            for chunk in (CHUNKS[0], CHUNKS[-1]):
                with explained(f"stream_{key} at chunk {chunk} bytes"):
                    dst.fill(-1)
                    with self.s_stream:
                        self.launch_stream(key, chunk, src=src, dst=dst)
                    self.s_stream.synchronize()
                    if not bool((dst == src).all()):
                        bad = int(self.cp.argmax(dst != src))
                        raise AssertionError(
                            f"stream_{key} at chunk {chunk} bytes copied wrongly: element "
                            f"{bad} is {int(dst[bad])}, expected {int(src[bad])}")

    def calibrate(self) -> int:
        """Victim passes so that alone it lasts about a third of the fastest stream."""
        fastest = min(self._timed(self.s_stream, lambda k=k: self.launch_stream(k, DEFAULT_CHUNK))
                      for k in self.kernels for _ in range(2))
        t10 = min(self._timed(self.s_victim, lambda: self.launch_victim(10)) for _ in range(3))
        self.setup.passes = max(1, round(fastest / 3 / (t10 / 10)))
        return self.setup.passes

    def l2_evidence(self, repeats: int = 5) -> list[Timing]:
        """Seconds per victim pass with its working set in L2, and with one 8x L2 (DRAM)."""
        cp = self.cp
        big = _scrambled(cp, 2 * self.setup.l2_bytes, 3)  # 8x L2 in bytes
        out = []
        for label, buf in (("victim_pass:in_L2", self.vbuf), ("victim_pass:8x_L2", big)):
            passes = 20
            self._timed(self.s_victim, lambda b=buf: self.launch_victim(2, b))  # warm up
            samples = [self._timed(self.s_victim, lambda b=buf: self.launch_victim(20, b))
                       / passes for _ in range(repeats)]
            out.append(Timing(tuple(samples), label, "gpu", int(buf.nbytes)))
        del big
        return out

    def interference(self, key: str, chunk_bytes: int, repeats: int = 7) -> list[Timing]:
        """Victim alone, stream alone, then both at once -- ``repeats`` times, interleaved.

        Returns four Timings labelled ``victim_alone:K``, ``victim_with:K``,
        ``stream_alone:K`` and ``stream_with:K`` (K the variant), with n the chunk size
        in bytes; ``victim_with`` carries how many of its samples ended inside the
        stream (a victim that outlives the stream is not fully overlapped).
        """
        cp = self.cp
        passes = self.setup.passes or self.calibrate()
        alone_v, alone_s, with_v, with_s, inside = [], [], [], [], 0
        for _ in range(repeats):
            alone_v.append(self._timed(self.s_victim, lambda: self.launch_victim(passes)))
            alone_s.append(self._timed(self.s_stream,
                                       lambda: self.launch_stream(key, chunk_bytes)))
            e = [cp.cuda.Event() for _ in range(4)]
            with self.s_stream:
                e[0].record(self.s_stream)
                self.launch_stream(key, chunk_bytes)
                e[1].record(self.s_stream)
            self.s_victim.wait_event(e[0])
            with self.s_victim:
                e[2].record(self.s_victim)
                self.launch_victim(passes)
                e[3].record(self.s_victim)
            e[1].synchronize()
            e[3].synchronize()
            with_s.append(cp.cuda.get_elapsed_time(e[0], e[1]) / 1e3)
            with_v.append(cp.cuda.get_elapsed_time(e[2], e[3]) / 1e3)
            inside += cp.cuda.get_elapsed_time(e[0], e[3]) <= cp.cuda.get_elapsed_time(e[0], e[1])
        meta = {"chunk_bytes": chunk_bytes, "bytes_moved": 2 * self.setup.stream_bytes}
        return [Timing(tuple(alone_v), f"victim_alone:{key}", "gpu", chunk_bytes, dict(meta)),
                Timing(tuple(with_v), f"victim_with:{key}", "gpu", chunk_bytes,
                       dict(meta, inside_stream=int(inside))),
                Timing(tuple(alone_s), f"stream_alone:{key}", "gpu", chunk_bytes, dict(meta)),
                Timing(tuple(with_s), f"stream_with:{key}", "gpu", chunk_bytes, dict(meta))]

    def copy_bandwidth(self, chunk_bytes: int, repeats: int = 20) -> list[Timing]:
        """Each variant on every SM (no shared-memory padding) against CuPy's copies."""
        cp = self.cp
        blocks = 2 * self.setup.sms
        moved = 2 * self.setup.stream_bytes
        runs = {f"copy:{k}": (lambda k=k: self.launch_stream(k, chunk_bytes, blocks=blocks,
                                                             one_per_sm=False))
                for k in self.kernels}
        runs["copy:cupy"] = lambda: self.dst.__setitem__(Ellipsis, self.src)
        runs["copy:memcpy"] = lambda: cp.cuda.runtime.memcpyAsync(
            _address(self.dst), _address(self.src), self.src.nbytes,
            cp.cuda.runtime.memcpyDeviceToDevice, self.s_stream.ptr)
        out = []
        for label, fn in runs.items():
            self._timed(self.s_stream, fn)  # warm up
            samples = [self._timed(self.s_stream, fn) for _ in range(repeats)]
            out.append(Timing(tuple(samples), label, "gpu", chunk_bytes,
                              {"bytes_moved": moved, "blocks": blocks}))
        return out


def stale_reads(rounds: int = 20000, max_spins: int = 2_000_000) -> list[dict]:
    """Count stale reads of data another block writes while the kernel runs (on a GPU).

    One row per (polling protocol, load under test): ``{"poll", "load", "stale",
    "checked", "timed_out"}``. Loads this GPU cannot run are listed with a reason.
    """
    from .gpu import explained, load_module, require_gpu

    cp = require_gpu("the stale-read probe")
    cc = _cc(cp)
    probe = load_module(PROBE_FILE).kernel("stale_probe")
    rows = []
    for acquire in (1, 0):
        poll = "ld.acquire.gpu" if acquire else "ld.relaxed.gpu"
        for number, load, need in STALE_LOADS:
            if cc < need:
                rows.append({"poll": poll, "load": load, "skipped":
                             f"needs sm_{need[0]}{need[1]}; this GPU is sm_{cc[0]}{cc[1]}"})
                continue
            data, flag, ack = (cp.zeros(32, dtype=cp.int32) for _ in range(3))
            result = cp.zeros(3, dtype=cp.uint64)
            with explained(f"the stale-read probe ({poll}, {load})"):
                probe((2,), (32,), data, flag, ack, np.int32(rounds), np.int32(number),
                      np.int32(acquire), np.int64(max_spins), result)
                stale, checked, timed_out = (int(x) for x in result.get())
            rows.append({"poll": poll, "load": load, "stale": stale, "checked": checked,
                         "timed_out": bool(timed_out)})
    return rows


def run_experiment(repeats: int = 7, chunks=CHUNKS, progress=print,
                   stream_bytes: int | None = None, stale_rounds: int = 20000,
                   ) -> tuple[list[Timing], dict]:
    """The whole experiment on this GPU: ``(timings, extra)``, ready for ``record_run``."""
    ex = Experiment(stream_bytes)
    progress(f"GPU sm_{ex.cc[0]}{ex.cc[1]}: {ex.setup.sms} SMs, L2 {ex.setup.l2_bytes / 2**20:.0f} "
             f"MiB; stream on {ex.setup.stream_sms} SMs, victim on {ex.setup.victim_sms}; "
             f"victim working set {ex.setup.victim_bytes / 2**20:.1f} MiB, stream "
             f"{ex.setup.stream_bytes / 2**30:.2f} GiB")
    for key, why in ex.skipped.items():
        progress(f"skipped {key}: {why}")
    ex.validate()
    progress("every variant copies exactly (poisoned output, partial last chunk)")
    progress(f"victim: {ex.calibrate()} passes (about a third of the fastest stream)")
    timings = ex.l2_evidence()
    for key in ex.kernels:
        for chunk in chunks:
            cell = ex.interference(key, chunk, repeats)
            timings += cell
            c = cells(timings, key)[chunk]
            progress(f"  {key:<12} chunk {chunk:>8,} B: victim x{c['slowdown']:.2f}, stream "
                     f"{c['bandwidth_with'] / 1e9:,.0f} GB/s beside it")
    picks = {key: pick_chunk(cells(timings, key)) for key in ex.kernels}
    best = picks.get("all_hints", picks["plain"])[0]
    timings += ex.copy_bandwidth(best)
    progress("stale-read probe ...")
    stale = stale_reads(stale_rounds)
    extra = {"setup": vars(ex.setup), "compute_capability": list(ex.cc),
             "skipped": ex.skipped, "picked_chunk": {k: v[0] for k, v in picks.items()},
             "pick_rule": PICK_RULE, "stale_reads": stale,
             "how": "python3 tools/gpu_check.py -> py2ptx.deepseek.run_experiment: each "
                    "variant validated (poisoned output), then victim alone, stream alone "
                    "and both together, interleaved, timed with CUDA events"}
    return timings, extra


# --------------------------------------------------------------------------- analysis, no GPU

PICK_RULE = ("the chunk with the least victim slowdown among those whose stream bandwidth "
             "(beside the victim) is within 10% of the best measured")


def cells(timings: list[Timing], key: str) -> dict[int, dict]:
    """``{chunk bytes: {slowdown, spread, bandwidth_with, bandwidth_alone, inside, repeats}}``.

    ``slowdown`` is the victim's median time beside the stream over its median alone;
    ``spread`` the interquartile range of the per-repeat ratios; bandwidths count
    bytes read plus bytes written, in bytes per second.
    """
    def by_chunk(prefix):
        return {t.n: t for t in timings if t.label == f"{prefix}:{key}"}

    va, vw, sa, sw = (by_chunk(p) for p in ("victim_alone", "victim_with", "stream_alone",
                                            "stream_with"))
    out = {}
    for chunk in sorted(set(va) & set(vw) & set(sa) & set(sw)):
        ratios = [w / a for w, a in zip(vw[chunk].samples, va[chunk].samples, strict=False)]
        q = statistics.quantiles(ratios, n=4, method="inclusive") if len(ratios) > 1 else [0, 0, 0]
        moved = sw[chunk].meta.get("bytes_moved", 0)
        out[chunk] = {"slowdown": vw[chunk].median / va[chunk].median,
                      "spread": q[2] - q[0],
                      "bandwidth_with": moved / sw[chunk].median,
                      "bandwidth_alone": moved / sa[chunk].median,
                      "inside": vw[chunk].meta.get("inside_stream"),
                      "repeats": vw[chunk].repeats}
    return out


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


def recorded():
    """The latest recorded run of this experiment on a GPU, or None."""
    from .results import latest_run

    return latest_run(RUN_NAME)
