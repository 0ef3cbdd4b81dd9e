"""What DeepSeek's custom PTX does, measured (notebook 05, lab 05).

DeepSeek-V3's report: "we employ customized PTX instructions and auto-tune the
communication chunk size, which significantly reduces the use of the L2 cache and
the interference to other SMs." This module rebuilds that claim as an experiment
on one GPU, with the kernels in ``kernels/cuda/streaming_cache_hints.cu`` and
``kernels/cuda/stale_reads.cu``:

* **interference** -- a *streaming* kernel (the stand-in for communication: a few
  SMs copying a buffer far larger than L2, chunk by chunk, with a signal after each
  chunk) runs beside a *victim* kernel on the other SMs that re-reads a buffer
  sized to fit in L2. The victim's slowdown, and the stream's bandwidth, are
  measured for each PTX variant of the stream's loads and stores (:data:`VARIANTS`);
* **chunk-size auto-tuning** -- the same at every chunk size of a sweep, and
  :func:`pick_chunk` chooses one, the way the quote's "auto-tune" does;
* **bandwidth** -- each variant on the whole GPU against CuPy's own copy;
* **stale reads** -- :func:`stale_reads` counts what ``.nc`` loads return when
  another block writes the data while the kernel runs (stale_reads.cu), also in
  DeepEP's issue #136 case (a line primed by another load);
* **controls and causes** -- a placebo holding the stream's SMs with no memory traffic
  (``%smid`` of every block recorded), the signal ablation at small chunks, CUDA C++'s
  own words (:data:`CPP_VARIANTS`) in the same body, the memory clock, and Nsight
  Compute's counters of fused stream + victim launches (:mod:`.deepseek_probes`).

Why this module is long: it is one experiment -- its set-up, its kernels' launches, and
the order in which the GPU check runs them -- and splitting :class:`Experiment` from
:func:`run_experiment` would put the two halves of each measurement in different files.
What reads a run lives in :mod:`.deepseek_grid`, the probes in :mod:`.deepseek_probes`.

Without a GPU everything that needs no GPU still runs: the SASS each variant
becomes (:func:`sass_evidence`, NVRTC + nvdisasm from pip wheels) and the analysis
of the recorded run (:func:`recorded`, :func:`cells`, :func:`pick_chunk`).
Nothing here invents a number: with neither a GPU nor a recorded run, the notebook
says so.
"""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass

import numpy as np

from .cudatools import CudaCompileError, sass_by_kernel, sass_for
from .deepseek_grid import (  # noqa: F401 -- notebook 05's and lab 05's names
    CPP_VARIANTS,
    PICK_RULE,
    SIGNAL_OF,
    SIGNAL_VARIANTS,
    SIZE_CHUNK,
    VARIANTS,
    Cell,
    Variant,
    cells,
    copy_table,
    counter_findings,
    describe_cell,
    findings,
    not_in_run,
    pick_chunk,
    size_bytes,
    size_cells,
    tuner_trades,
    variant,
)
from .deepseek_probes import (  # noqa: F401 -- notebook 05's names
    NCU_METRICS,
    PROBE_FILE,
    PTX_KEYS,
    STALE_CASES,
    STALE_LOADS,
    MemoryClock,
    cccl_include,
    ncu_cases,
    ncu_counters,
    stale_reads,
)
from .gpu import compute_capability, explained, load_module, require_gpu
from .machine import gpu_info, has_gpu, machine_label
from .results import Measured, latest_run
from .settings import shared_gpu
from .timing import Timing

KERNEL_FILE = "streaming_cache_hints.cu"
#: The name recorded runs of this experiment are saved under (results/…-deepseek-l2.json).
RUN_NAME = "deepseek-l2"
#: Chunk sizes of the sweep, in bytes: 1 KiB to 64 MiB (the stream's size is rounded so
#: that every chunk size gives each stream block the same number of whole chunks).
CHUNKS = tuple(2**k for k in range(10, 27, 2))
#: The small chunks of the signal ablation (fence, release atomic, no fence, no signal).
SIGNAL_CHUNKS = (2**10, 2**12, 2**14, 2**16)
#: The chunk the variants are compared at, before any tuning (64 KiB).
DEFAULT_CHUNK = 2**16
#: DeepSeek-V3 gave 20 of an H800's 132 SMs to communication; the stream gets the same share.
STREAM_SM_SHARE = 20 / 132


def split_by_arch(cc: tuple[int, int], cccl: bool = True,
                  variants=VARIANTS) -> tuple[list[Variant], dict[str, str]]:
    """The variants a GPU of compute capability ``cc`` can run, and why the others not."""
    runnable, skipped = [], {}
    for v in variants:
        if tuple(cc) < v.min_cc:
            skipped[v.key] = (f"needs {v.needs} or newer (PTX ISA: .L2::cache_hint and "
                              f"createpolicy need sm_80; ptxas: \"Modifier '.L2::256B' requires "
                              f".target sm_80 or higher\"); this GPU is sm_{cc[0]}{cc[1]}, so "
                              f"the kernel is not even compiled for it")
        elif v.words == "C++" and not cccl:
            skipped[v.key] = ("CCCL's headers were not found (pip install nvidia-cuda-cccl), "
                              "so the CUDA C++ kernels are not compiled")
        else:
            runnable.append(v)
    return runnable, skipped


# --------------------------------------------------------------------------- SASS, no GPU


def sass_evidence(arch: str = "sm_90") -> dict[str, dict[str, list[str]]]:
    """Each stream kernel's global loads and stores in SASS, compiled here (no GPU).

    ``{variant key: {"load": [...], "store": [...], "policy": [...], "signal": [...]}}``:
    the distinct LDG and STG instructions (registers stripped), the uniform-register
    constants ptxas folded in (for the evict-first variants the cache policy the loads
    carry in ``desc[...]``), and the instructions of the signal after each chunk (fences,
    cache invalidations, atomics). PTX variants, CUDA C++ variants (when CCCL's headers
    are found) and the signal ablations; variants the arch cannot build are left out.
    """
    cc = (int(arch[3:-1]), int(arch[-1]))
    inc = cccl_include()
    runnable, _ = split_by_arch(cc, bool(inc), VARIANTS + CPP_VARIANTS + SIGNAL_VARIANTS)
    by_kernel = sass_by_kernel(sass_for(KERNEL_FILE, arch, tuple(inc)))
    out = {}
    for v in runnable:
        ins = by_kernel[v.kernel]
        out[v.key] = {
            "load": distinct_ops(i for i in ins if "LDG" in i),
            "store": distinct_ops(i for i in ins if "STG" in i),
            "policy": [i for i in ins if i.startswith("UMOV") and "0x" in i],
            "signal": distinct_ops(i for i in ins if any(
                w in i for w in ("MEMBAR", "CCTL", "ATOMG", "REDG", "RED.", "FENCE"))),
        }
    return out


def sass_table(arch: str = "sm_90") -> list[dict]:
    """Notebook 05's side-by-side table: every variant's source words and the SASS they
    became, ``[{"key", "words", "load", "store", "sass_load", "sass_store", "policy"}]``;
    ``same_as`` names the hand-written PTX variant whose load and store mnemonics are identical
    (both with or both without a policy); ``same_policy`` says whether the policy constants
    ptxas folded are identical too (None where neither carries a policy)."""
    ev = sass_evidence(arch)
    rows = []
    def ops(key):
        e = ev[key]
        return ([o.split()[0] for o in e["load"]], [o.split()[0] for o in e["store"]],
                bool(e["policy"]))

    def constants(key):
        return " ".join(i.split(",")[-1].strip() for i in ev[key]["policy"])

    for v in VARIANTS + CPP_VARIANTS:
        if v.key not in ev:
            continue
        e = ev[v.key]
        twin = None if v.words == "PTX" else next(
            (w.key for w in VARIANTS if w.key in ev and ops(w.key) == ops(v.key)), None)
        rows.append({"key": v.key, "words": v.words, "load": v.load, "store": v.store,
                     "sass_load": ", ".join(ops(v.key)[0]),
                     "sass_store": ", ".join(ops(v.key)[1]),
                     "policy": constants(v.key),
                     "same_as": twin,
                     "same_policy": (constants(v.key) == constants(twin)
                                     if twin and e["policy"] else None)})
    return rows


#: DeepEP's own loads and stores, as its source writes them (read at DeepEP commit dd758ca):
#: V1's LD_NC_FUNC / ST_NA_FUNC with its aggressive PTX on and in the default build
#: (DISABLE_AGGRESSIVE_PTX_INSTRS, csrc/kernels/legacy/utils.cuh), and V2's
#: ldg_with_gez_pred with its hard-coded policy kEvictFirst (deep_ep/include/deep_ep/
#: common/ptx.cuh). ``(which, PTX, cache-policy operand or None)``.
DEEPEP_ACCESSES: tuple[tuple[str, str, int | None], ...] = (
    ("V1 load, aggressive PTX on", "ld.global.nc.L1::no_allocate.L2::256B.v4.s32", None),
    ("V1 load, default build", "ld.volatile.global.v4.s32", None),
    ("V1 store, aggressive PTX on", "st.global.L1::no_allocate.v4.s32", None),
    ("V1 store, default build", "st.global.v4.s32", None),
    ("V2 load (ldg_with_gez_pred)", "ld.L1::no_allocate.L2::cache_hint.global.nc.v4.s32",
     0x12F0000000000000),
)


def deepep_sass(arch: str = "sm_90") -> list[dict]:
    """What ptxas makes of each of :data:`DEEPEP_ACCESSES` (compiled here, no GPU):
    ``[{"which", "ptx", "sass", "policy"}]`` -- the access's LDG or STG mnemonic, and the
    uniform-register constants of its policy descriptor ('' without a policy)."""
    kernels = []
    for i, (_, ptx, policy) in enumerate(DEEPEP_ACCESSES):
        regs = '"=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)'
        if ptx.startswith("ld"):
            body = (f'int4 v; asm volatile("{ptx} {{%0, %1, %2, %3}}, [%4]'
                    + (f', %5;" : {regs} : "l"(p), "l"({policy:#x}ull)' if policy else
                       f';" : {regs} : "l"(p)')
                    + ' : "memory"); o[threadIdx.x] = v;')
        else:
            body = (f'int4 v = p[threadIdx.x]; asm volatile("{ptx} [%0], {{%1, %2, %3, %4}};" '
                    ':: "l"(o + threadIdx.x), "r"(v.x), "r"(v.y), "r"(v.z), "r"(v.w) : "memory");')
        kernels.append(f'extern "C" __global__ void deepep_{i}(const int4 *p, int4 *o) '
                       f'{{ {body} }}')
    by_kernel = sass_by_kernel(sass_for("\n".join(kernels), arch))
    rows = []
    for n, (which, ptx, _) in enumerate(DEEPEP_ACCESSES):
        ins = by_kernel[f"deepep_{n}"]
        op = "LDG" if ptx.startswith("ld") else "STG"
        rows.append({"which": which, "ptx": ptx,
                     "sass": next(x.split()[0] for x in ins if x.split()[0].startswith(op)),
                     "policy": " ".join(x.split(",")[-1].strip() for x in ins
                                        if x.startswith("UMOV") and "0x" in x)})
    return rows


def distinct_ops(instructions) -> list[str]:
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
    stream_bytes: int
    threads: int
    one_block_per_sm_shared: int

    @property
    def victim_sms(self) -> int:
        return self.sms - self.stream_sms


#: Victim working sets of the size sweep, as fractions of L2.
VICTIM_FRACTIONS = (0.25, 0.5, 0.75, 1.0)
#: Working sets of the L2 curve (victim alone), as multiples of L2: dense around the knee.
CURVE_FRACTIONS = (0.25, 0.5, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0, 1.5, 2.0, 8.0)
#: The chunk the victim-size sweep streams with (1 MiB).


class Experiment:
    """The streaming and victim kernels loaded on this GPU, with their buffers.

    ``Experiment()`` sizes everything from the GPU: the stream copies at least 1 GiB
    (20x L2 or more) on 20/132 of the SMs, the victim runs on the rest, and every
    block asks for over half an SM's shared memory so that no two blocks share an
    SM. Victim working sets are fractions of L2 (:meth:`victim_buffer`).
    """

    def __init__(self, stream_bytes: int | None = None, threads: int = 1024):
        cp = self.cp = require_gpu("the L2 interference experiment")
        attrs = cp.cuda.Device().attributes
        self.cc = compute_capability()
        sms, l2 = int(attrs["MultiProcessorCount"]), int(attrs["L2CacheSize"])
        per_sm = int(attrs["MaxSharedMemoryPerMultiprocessor"])
        per_block = int(attrs["MaxSharedMemoryPerBlockOptin"])
        free, _ = cp.cuda.runtime.memGetInfo()
        stream_sms = max(1, round(sms * STREAM_SM_SHARE))
        if stream_bytes is None:
            # Whole rounds at every chunk size: a multiple of (stream SMs x the largest chunk).
            unit = stream_sms * CHUNKS[-1]
            want = max(2**30, 20 * l2)
            stream_bytes = min(-(-want // unit) * unit, free // 4)
        stream_bytes -= stream_bytes % 2**20
        self.setup = Setup(
            sms=sms, l2_bytes=l2, stream_sms=stream_sms,
            stream_bytes=stream_bytes, threads=threads,
            one_block_per_sm_shared=min(per_block, per_sm // 2 + 1024))
        self.include = cccl_include()
        cccl_failed = ""
        try:
            self.module = load_module(KERNEL_FILE, options=self.include)
        except CudaCompileError as err:  # e.g. this GPU's NVRTC and the CCCL found disagree
            if not self.include:
                raise
            cccl_failed = str(err).strip().splitlines()[-1][:300]
            self.include = []
            self.module = load_module(KERNEL_FILE)
        self.runnable, self.skipped = split_by_arch(
            self.cc, bool(self.include), VARIANTS + CPP_VARIANTS + SIGNAL_VARIANTS)
        if cccl_failed:
            for v in CPP_VARIANTS:
                self.skipped[v.key] = f"CCCL's headers were found but did not compile: {cccl_failed}"
        self.kernels = {v.key: self.module.kernel(v.kernel) for v in self.runnable}
        self.victim_kernel = self.module.kernel("victim")
        self.placebo_kernel = self.module.kernel("placebo")
        self.sm_of_block = cp.zeros(sms, dtype=cp.uint32)
        self.placebo_sms = cp.zeros(sms, dtype=cp.uint32)
        self.src = _scrambled(cp, stream_bytes // 4, 1)  # never time on zeros
        self.dst = cp.empty_like(self.src)
        self.sink = cp.zeros(1, dtype=cp.int32)
        self.clock = cp.zeros(4, dtype=cp.uint64)
        self.done = cp.zeros(1, dtype=cp.uint32)
        self.s_stream = cp.cuda.Stream(non_blocking=True)
        self.s_victim = cp.cuda.Stream(non_blocking=True)
        self._buffers: dict[int, object] = {}
        self.passes: dict[int, int] = {}
        self._fastest: float | None = None  # the fastest stream alone, once measured

    # ---- buffers and launches
    def victim_buffer(self, fraction_of_l2: float):
        """A victim working set of that fraction of L2 (a multiple of 64 KiB), made once."""
        size = max(2**16, int(self.setup.l2_bytes * fraction_of_l2) // 2**16 * 2**16)
        if size not in self._buffers:
            self._buffers[size] = _scrambled(self.cp, size // 4, 2 + len(self._buffers))
        return self._buffers[size]

    def launch_stream(self, key: str, chunk_bytes: int, blocks: int | None = None,
                      one_per_sm: bool = True, src=None, dst=None) -> None:
        src = self.src if src is None else src
        dst = self.dst if dst is None else dst
        self.kernels[key]((blocks or self.setup.stream_sms,), (self.setup.threads,),
                          src, dst, np.int64(src.size // 4), np.int32(chunk_bytes // 16),
                          self.done,
                          shared_mem=self.setup.one_block_per_sm_shared if one_per_sm else 0)

    def launch_victim(self, passes: int, buf) -> None:
        self.victim_kernel((self.setup.victim_sms,), (self.setup.threads,),
                           buf, np.int64(buf.size // 4), np.int32(passes), self.sink,
                           self.clock, self.sm_of_block,
                           shared_mem=self.setup.one_block_per_sm_shared)

    def launch_placebo(self, seconds: float) -> None:
        """Hold the stream's share of SMs for ``seconds`` with no memory traffic."""
        self.placebo_kernel((self.setup.stream_sms,), (self.setup.threads,),
                            np.int64(int(seconds * 1e9)), self.placebo_sms,
                            shared_mem=self.setup.one_block_per_sm_shared)

    def victim_sms(self) -> list[int]:
        """The SM each victim block ran on in its last launch (%smid)."""
        return [int(x) for x in self.sm_of_block.get()[:self.setup.victim_sms]]

    def victim_clock_mhz(self) -> float:
        """The SM clock the last victim launch ran at: its cycles over its nanoseconds."""
        c0, c1, t0, t1 = (int(x) for x in self.clock.get())
        return (c1 - c0) / (t1 - t0) * 1e3 if t1 > t0 else float("nan")

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

    def calibrate(self, buf) -> int:
        """Victim passes over ``buf`` so that alone it lasts about a third of the fastest
        PTX stream: beside the stream it then runs inside it, even slowed down 3x."""
        if self._fastest is None:
            self._fastest = min(
                self._timed(self.s_stream, lambda k=k: self.launch_stream(k, SIZE_CHUNK))
                for k in self.kernels if k in {v.key for v in VARIANTS} for _ in range(2))
        t10 = min(self._timed(self.s_victim, lambda: self.launch_victim(10, buf))
                  for _ in range(3))
        self.passes[buf.nbytes] = max(1, round(self._fastest / 3 / (t10 / 10)))
        return self.passes[buf.nbytes]

    def l2_curve(self, fractions=CURVE_FRACTIONS, repeats: int = 5) -> list[Timing]:
        """Seconds per victim pass, alone, at working sets from a quarter of L2 to 8x L2.

        Timings labelled ``victim_pass`` with n the working set in bytes; ``meta``
        holds the SM clock of each sample (``clock_mhz``).
        """
        out = []
        for fraction in fractions:
            buf = self.victim_buffer(fraction)
            passes = 20
            self._timed(self.s_victim, lambda b=buf: self.launch_victim(2, b))  # warm up
            samples, clocks = [], []
            for _ in range(repeats):
                samples.append(self._timed(self.s_victim,
                                           lambda b=buf: self.launch_victim(20, b)) / passes)
                clocks.append(self.victim_clock_mhz())
            out.append(Timing(tuple(samples), "victim_pass", "gpu", int(buf.nbytes),
                              {"clock_mhz": clocks, "fraction_of_l2": fraction}))
        return out

    def interference(self, key: str, chunk_bytes: int, buf=None,
                     repeats: int = 9) -> list[Timing]:
        """Victim alone, stream alone, then both at once -- ``repeats`` times, interleaved.

        Returns four Timings labelled ``victim_alone:K``, ``victim_with:K``,
        ``stream_alone:K`` and ``stream_with:K`` (K the variant), with n the chunk size
        in bytes. ``meta`` holds the victim's working set, the SM clock of each victim
        sample, and (``victim_with``) how many samples ended inside the stream.
        """
        cp = self.cp
        buf = self.victim_buffer(VICTIM_FRACTIONS[0]) if buf is None else buf
        passes = self.passes.get(buf.nbytes) or self.calibrate(buf)
        if key == "placebo":  # as long as the fastest stream, and no byte moved
            def partner():
                self.launch_placebo(self._fastest)
        else:
            def partner():
                self.launch_stream(key, chunk_bytes)
        alone_v, alone_s, with_v, with_s, inside = [], [], [], [], 0
        clock_alone, clock_with = [], []
        for _ in range(repeats):
            alone_v.append(self._timed(self.s_victim, lambda: self.launch_victim(passes, buf)))
            clock_alone.append(self.victim_clock_mhz())
            sms_alone = self.victim_sms()
            alone_s.append(self._timed(self.s_stream, partner))
            e = [cp.cuda.Event() for _ in range(4)]
            with self.s_stream:
                e[0].record(self.s_stream)
                partner()
                e[1].record(self.s_stream)
            self.s_victim.wait_event(e[0])
            with self.s_victim:
                e[2].record(self.s_victim)
                self.launch_victim(passes, buf)
                e[3].record(self.s_victim)
            e[1].synchronize()
            e[3].synchronize()
            with_s.append(cp.cuda.get_elapsed_time(e[0], e[1]) / 1e3)
            with_v.append(cp.cuda.get_elapsed_time(e[2], e[3]) / 1e3)
            clock_with.append(self.victim_clock_mhz())
            inside += cp.cuda.get_elapsed_time(e[0], e[3]) <= cp.cuda.get_elapsed_time(e[0], e[1])
        meta = {"chunk_bytes": chunk_bytes,
                "bytes_moved": 0 if key == "placebo" else 2 * self.setup.stream_bytes,
                "victim_bytes": int(buf.nbytes), "passes": passes}
        partner_sms = ([int(x) for x in self.placebo_sms.get()[:self.setup.stream_sms]]
                       if key == "placebo" else None)
        return [Timing(tuple(alone_v), f"victim_alone:{key}", "gpu", chunk_bytes,
                       dict(meta, clock_mhz=clock_alone, victim_sms=sms_alone)),
                Timing(tuple(with_v), f"victim_with:{key}", "gpu", chunk_bytes,
                       dict(meta, clock_mhz=clock_with, inside_stream=int(inside),
                            victim_sms=self.victim_sms(), partner_sms=partner_sms)),
                Timing(tuple(alone_s), f"stream_alone:{key}", "gpu", chunk_bytes, dict(meta)),
                Timing(tuple(with_s), f"stream_with:{key}", "gpu", chunk_bytes, dict(meta))]

    def copy_bandwidth(self, chunk_bytes: int, repeats: int = 20) -> list[Timing]:
        """Each variant on every SM (no shared-memory padding) against CuPy's copies."""
        cp = self.cp
        blocks = 2 * self.setup.sms
        moved = 2 * self.setup.stream_bytes
        runs = {f"copy:{k}": (lambda k=k: self.launch_stream(k, chunk_bytes, blocks=blocks,
                                                             one_per_sm=False))
                for k in self.kernels if k not in SIGNAL_OF}
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


def run_ncu_cases(victim_bytes: int, chunk_bytes: int, passes: int,
                  stream_bytes: int | None = None) -> None:
    """What ``python -m py2ptx.deepseek --ncu-cases ...`` runs under ncu: each case of
    :func:`ncu_cases` once, as one fused kernel (stream blocks and victim blocks), so the
    two really share L2 while ncu -- which serializes separate kernels -- profiles it."""
    ex = Experiment(stream_bytes)
    buf = ex.victim_buffer(victim_bytes / ex.setup.l2_bytes)
    s = ex.setup
    duo = ex.module.kernel("duo")
    for _name, key, what in ncu_cases([k for k in PTX_KEYS if k in ex.kernels]):
        duo((s.sms,), (s.threads,), ex.src, ex.dst, np.int64(ex.src.size // 4),
            np.int32(chunk_bytes // 16), ex.done, buf, np.int64(buf.size // 4), np.int32(passes),
            ex.sink, ex.clock, ex.sm_of_block, np.int32(s.stream_sms), np.int32(what),
            np.int32(PTX_KEYS.index(key)), shared_mem=s.one_block_per_sm_shared)
        ex.cp.cuda.Device().synchronize()


def run_experiment(repeats: int = 9, chunks=CHUNKS, progress=print,
                   stream_bytes: int | None = None, stale_rounds: int = 20000,
                   fractions=VICTIM_FRACTIONS, counters: bool = True) -> tuple[list[Timing], dict]:
    """The whole experiment on this GPU: ``(timings, extra)``, ready for ``record_run``.

    1. every variant validated; 2. the victim alone at working sets from L2/4 to 8x L2
    (the L2 curve); 3. every PTX variant, and the placebo, beside the victim at each
    working set of ``fractions`` (chunk 1 MiB); 4. the chunk sweep at the working set
    where the plain stream hurt the victim most, the auto-pick, the signal ablation at
    small chunks and the CUDA C++ variants at 1 MiB; 5. each variant on the whole GPU
    against CuPy's copy; 6. the stale-read probe; 7. Nsight Compute counters of the
    victim beside each PTX stream (``counters``). The memory clock is sampled throughout.
    """
    with MemoryClock() as memory:
        timings, extra, ex = _measure(repeats, chunks, progress, stream_bytes, stale_rounds,
                                      fractions)
    extra["memory_clock"] = memory.samples
    if counters:
        extra["counters"] = ncu_counters(ex, extra["sweep_victim_bytes"], SIZE_CHUNK, progress)
        for line in counter_findings(extra["counters"]):
            progress("  " + line)
    return timings, extra


def _measure(repeats, chunks, progress, stream_bytes, stale_rounds, fractions):
    ex = Experiment(stream_bytes)
    progress(f"GPU sm_{ex.cc[0]}{ex.cc[1]}: {ex.setup.sms} SMs, L2 {ex.setup.l2_bytes / 2**20:.0f} "
             f"MiB; stream on {ex.setup.stream_sms} SMs, victim on {ex.setup.victim_sms}; "
             f"stream {ex.setup.stream_bytes / 2**30:.2f} GiB")
    for key, why in ex.skipped.items():
        progress(f"skipped {key}: {why}")
    ex.validate()
    progress("every variant copies exactly (poisoned output, partial last chunk)")
    timings = ex.l2_curve()
    for t in timings:
        progress(f"  victim alone, {t.n / 2**20:6.1f} MiB: {t.median * 1e6:7.1f} us per pass, "
                 f"{t.n / t.median / 1e12:.2f} TB/s, SM clock {statistics.median(t.meta['clock_mhz']):,.0f} MHz")
    ptx = [k for k in ex.kernels if k in {v.key for v in VARIANTS}]
    for fraction in fractions:
        buf = ex.victim_buffer(fraction)
        for key in [*ptx, "placebo"]:
            timings += ex.interference(key, SIZE_CHUNK, buf, repeats)
            c = size_cells(timings, key, SIZE_CHUNK)[int(buf.nbytes)]
            progress(f"  victim {buf.nbytes / 2**20:5.1f} MiB, {key:<12}: victim x{c['slowdown']:.2f} "
                     f"(clock {c['clock_alone']:,.0f} -> {c['clock_with']:,.0f} MHz), stream "
                     f"{c['bandwidth_with'] / 1e9:,.0f} GB/s")
    plain = size_cells(timings, "plain", SIZE_CHUNK)
    sweep_bytes = max(plain, key=lambda b: plain[b]["slowdown"])
    buf = ex.victim_buffer(sweep_bytes / ex.setup.l2_bytes)
    progress(f"chunk sweep at the victim working set the plain stream hurt most: "
             f"{sweep_bytes / 2**20:.1f} MiB")
    plan = [(k, c) for k in ptx for c in chunks]
    plan += [(k, c) for k in ex.kernels if k in SIGNAL_OF for c in SIGNAL_CHUNKS if c in chunks]
    plan += [(k, SIZE_CHUNK) for k in ex.kernels if k in {v.key for v in CPP_VARIANTS}]
    for key, chunk in plan:
        if chunk != SIZE_CHUNK or key not in ptx:  # PTX at 1 MiB: measured above already
            timings += ex.interference(key, chunk, buf, repeats)
        c = cells(timings, key, sweep_bytes)[chunk]
        progress(f"  {key:<14} chunk {chunk:>10,} B: victim x{c['slowdown']:.2f}, stream "
                 f"{c['bandwidth_with'] / 1e9:,.0f} GB/s beside it, {c['bandwidth_alone'] / 1e9:,.0f} alone")
    picks = {key: pick_chunk(cells(timings, key, sweep_bytes)) for key in ptx}
    for key, (_chunk, why) in picks.items():
        progress(f"  picked for {key}: {why}")
    best = picks.get("all_hints", picks["plain"])[0]
    timings += ex.copy_bandwidth(best)
    progress("stale-read probe ...")
    stale = stale_reads(stale_rounds)
    extra = {"setup": vars(ex.setup), "compute_capability": list(ex.cc),
             "skipped": ex.skipped, "sweep_victim_bytes": sweep_bytes,
             "picked_chunk": {k: v[0] for k, v in picks.items()},
             "pick_rule": PICK_RULE, "stale_reads": stale, "cccl": bool(ex.include),
             "how": "python3 tools/gpu_check.py -> py2ptx.deepseek.run_experiment: each "
                    "variant validated (poisoned output); then victim alone, stream (or "
                    "placebo) alone and both together, interleaved, timed with CUDA events; "
                    "the victim also records its SM clock (clock64 over %globaltimer) and "
                    "the SM of each block (%smid); nvidia-smi samples the memory clock"}
    return timings, extra, ex


def main(argv=None) -> int:
    """``python -m py2ptx.deepseek --ncu-cases VICTIM_BYTES CHUNK PASSES STREAM_BYTES``:
    the launches Nsight Compute profiles (:func:`run_ncu_cases`); nothing else."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 5 or args[0] != "--ncu-cases":
        print("usage: python -m py2ptx.deepseek --ncu-cases VICTIM_BYTES CHUNK_BYTES PASSES "
              "STREAM_BYTES (run by ncu_counters under Nsight Compute)", file=sys.stderr)
        return 2
    victim, chunk, passes, stream = (int(x) for x in args[1:])
    run_ncu_cases(victim, chunk, passes, stream)
    return 0


def recorded():
    """The latest recorded run of this experiment on a GPU, or None."""
    return latest_run(RUN_NAME)


def measured(progress=print) -> Measured:
    """The experiment's numbers for notebook 05, as a :class:`~py2ptx.results.Measured`
    (``extra`` holds the run's set-up, grid and probe).

    Live on a GPU (unless ``PY2PTX_SHARED_GPU`` says it is shared), else the latest
    recorded run with its provenance in ``where``; with neither, ``timings`` is None and
    ``where`` says so plainly.
    """
    why = ""
    if has_gpu():
        if not shared_gpu():
            timings, extra = run_experiment(progress=progress)
            name = gpu_info()["name"]
            return Measured(timings, f"{name}, live, with {machine_label()}", f"{name}, live",
                            True, None, extra)
        why = ("PY2PTX_SHARED_GPU is set: on a GPU shared with other users this experiment "
               "would measure their kernels too, and disturb them; showing the recorded "
               "run instead. ")
    return Measured.from_run(recorded(), RUN_NAME, why)


if __name__ == "__main__":
    sys.exit(main())
