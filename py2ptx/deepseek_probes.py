"""Notebook 05's probes beside the timings: the stale-read probe, the memory clock, and
Nsight Compute's counters of the victim beside each stream (used by :mod:`py2ptx.deepseek`).

The stale-read probe runs ``kernels/cuda/stale_reads.cu``; the memory clock is sampled by
``nvidia-smi`` in the background; the counters come from ``ncu`` (:mod:`py2ptx.nsight`)
running ``python -m py2ptx.deepseek --ncu-cases ...``, which launches the fused ``duo``
kernels of ``streaming_cache_hints.cu``. Every function here needs a GPU, except
:func:`ncu_cases` (the plan) and :class:`MemoryClock` (which says why it has no samples).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from .gpu import compute_capability, explained, load_module, require_gpu

PROBE_FILE = "stale_reads.cu"

#: The loads stale_reads.cu tests: (variant number, PTX, lowest compute capability).
STALE_LOADS: tuple[tuple[int, str, tuple[int, int]], ...] = (
    (0, "ld.relaxed.gpu.global", (7, 0)),
    (1, "ld.global", (7, 0)),
    (2, "ld.global.nc", (7, 0)),
    (3, "ld.global.nc.L1::no_allocate", (7, 0)),
    (4, "ld.global.nc.L1::no_allocate.L2::256B", (8, 0)),
)


def cccl_include() -> list[str]:
    """NVRTC's include options for CCCL (libcu++'s ``cuda/annotated_ptr``, ``cuda/ptx``):
    the ``nvidia-cuda-cccl`` wheel of this environment first, else a system CUDA's copy.
    CCCL's headers include the CUDA runtime's, so that folder comes too. [] if not found."""
    spec = importlib.util.find_spec("nvidia")  # the namespace package of NVIDIA's wheels
    roots = [Path(b) / "cu13" for b in (spec.submodule_search_locations or [])] if spec else []
    roots += [Path(r) for r in (os.environ.get("CUDA_HOME"), "/usr/local/cuda") if r]
    for root in roots:
        inc = root / "include"
        if (inc / "cccl" / "cuda" / "ptx").is_file() and (inc / "cuda_runtime_api.h").is_file():
            return [f"-I{inc / 'cccl'}", f"-I{inc}"]
    return []


#: The stream variants written in PTX (the ones the fused duo kernel can run).
PTX_KEYS = ("plain", "nc_na_256b", "evict_first", "all_hints")


#: The probe's cases: (polling load of the data while waiting, load under test), by
#: variant number of STALE_LOADS. Each load primed by itself (the first design), then
#: DeepEP's issue #136: a line brought into L1 by ld.global or ld.global.nc, then read
#: with .nc.L1::no_allocate (with and without .L2::256B).
STALE_CASES: tuple[tuple[int, int], ...] = (
    tuple((n, n) for n, _, _ in STALE_LOADS)
    + tuple((prime, test) for prime in (1, 2) for test in (3, 4)))


def stale_reads(rounds: int = 20000, max_spins: int = 2_000_000) -> list[dict]:
    """Count stale reads of data another block writes while the kernel runs (on a GPU).

    One row per (polling protocol, priming load, load under test): ``{"poll", "prime",
    "load", "stale", "checked", "timed_out"}``. Loads this GPU cannot run are listed with
    a reason.
    """
    cp = require_gpu("the stale-read probe")
    cc = compute_capability()
    probe = load_module(PROBE_FILE).kernel("stale_probe")
    rows = []
    for acquire in (1, 0):
        poll = "ld.acquire.gpu" if acquire else "ld.relaxed.gpu"
        for prime, number in STALE_CASES:
            load, need = STALE_LOADS[number][1], max(STALE_LOADS[number][2], STALE_LOADS[prime][2])
            row = {"poll": poll, "prime": STALE_LOADS[prime][1], "load": load}
            if cc < need:
                rows.append(dict(row, skipped=f"needs sm_{need[0]}{need[1]}; this GPU is "
                                              f"sm_{cc[0]}{cc[1]}"))
                continue
            data, flag, ack = (cp.zeros(32, dtype=cp.int32) for _ in range(3))
            result = cp.zeros(3, dtype=cp.uint64)
            with explained(f"the stale-read probe ({poll}, {row['prime']}, {load})"):
                probe((2,), (32,), data, flag, ack, np.int32(rounds), np.int32(number),
                      np.int32(acquire), np.int64(max_spins), result, np.int32(prime))
                stale, checked, timed_out = (int(x) for x in result.get())
            rows.append(dict(row, stale=stale, checked=checked, timed_out=bool(timed_out)))
    return rows


class MemoryClock:
    """nvidia-smi sampling the SM and memory clocks in the background (``with`` block).

    ``.samples``: ``{"every_ms", "sm_mhz", "mhz"}`` (memory), or ``{"why": ...}`` when
    nvidia-smi is missing or printed nothing. The process is always stopped on exit.
    """

    def __init__(self, every_ms: int = 200):
        self.every_ms = every_ms
        self.samples: dict = {}
        self._proc = None
        self._lines: list[str] = []

    def __enter__(self):
        try:
            self._proc = subprocess.Popen(
                ["nvidia-smi", "--query-gpu=clocks.sm,clocks.mem",
                 "--format=csv,noheader,nounits", f"--loop-ms={self.every_ms}"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        except OSError as err:
            self.samples = {"why": f"nvidia-smi could not run ({err.strerror})"}
            return self
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self):
        for line in self._proc.stdout:
            self._lines.append(line)

    def __exit__(self, *exc):
        if self._proc is None:
            return False
        self._proc.terminate()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._reader.join(timeout=5)
        sm, mem = [], []
        for line in self._lines:
            parts = [x.strip() for x in line.split(",")]
            if len(parts) == 2 and all(x.replace(".", "").isdigit() for x in parts):
                sm.append(float(parts[0]))
                mem.append(float(parts[1]))
        self.samples = ({"every_ms": self.every_ms, "sm_mhz": sm, "mhz": mem} if mem else
                        {"why": "nvidia-smi printed no clock samples"})
        return False


#: The Nsight Compute counters of the victim beside each stream (PTX ISA variants only).
NCU_METRICS = ("lts__t_sector_hit_rate.pct", "lts__t_sectors_op_read.sum",
               "dram__bytes_read.sum", "dram__bytes_write.sum", "gpu__time_duration.sum")


def ncu_cases(keys) -> list[tuple[str, str, int]]:
    """The fused launches profiled, in order: ``(case name, duo kernel's variant, what)``
    with what = 0 both, 1 the stream only, 2 the victim only."""
    cases = [("victim alone", "plain", 2)]
    for key in keys:
        cases += [(f"{key} alone", key, 1), (f"{key} + victim", key, 0)]
    return cases


def ncu_counters(ex, victim_bytes: int, chunk_bytes: int,
                 progress=print, timeout: float = 150) -> dict:
    """Nsight Compute counters of every case of :func:`ncu_cases`, for ``extra["counters"]``
    (``{"cases": {name: {metric: value}}, "units", "command", ...}``), or ``{"error": why}``."""
    from . import nsight  # reason: only the GPU check profiles; nsight runs ncu

    keys = [k for k in ex.kernels if k in PTX_KEYS]
    cases = ncu_cases(keys)
    passes = ex.passes.get(victim_bytes) or ex.calibrate(ex.victim_buffer(victim_bytes / ex.setup.l2_bytes))
    argv = [sys.executable, "-m", "py2ptx.deepseek", "--ncu-cases", str(victim_bytes),
            str(chunk_bytes), str(passes), str(ex.setup.stream_bytes)]
    base = {"victim_bytes": victim_bytes, "chunk_bytes": chunk_bytes, "passes": passes,
            "victim_bytes_per_launch": victim_bytes * passes,
            "command": " ".join(nsight.command(argv, kernels="^duo$", metrics=NCU_METRICS,
                                               launches=len(cases))),
            "how": "one fused kernel per case (blocks 0..stream_sms-1 stream, the rest are "
                   "the victim), one block per SM, clocks left alone (--clock-control none)"}
    if not nsight.available():
        return dict(base, error="ncu (Nsight Compute) is not installed here")
    progress(f"Nsight Compute: {len(cases)} fused launches ...")
    t0 = time.monotonic()
    try:
        counters = nsight.profile(argv, kernels="^duo$", metrics=NCU_METRICS,
                                  launches=len(cases), timeout=timeout,
                                  env={"PYTHONPATH": os.pathsep.join(sys.path)})
    except nsight.NsightError as err:
        return dict(base, error=str(err))
    if len(counters) != len(cases):
        return dict(base, error=f"ncu profiled {len(counters)} launches, expected {len(cases)}")
    out = dict(base, seconds=round(time.monotonic() - t0, 1), units=counters[0].units,
               cases={name: dict(c.to_dict()["metrics"], kernel=c.kernel)
                      for (name, _, _), c in zip(cases, counters, strict=True)})
    return out
