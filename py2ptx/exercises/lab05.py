"""Lab 05's self-checks: DeepEP's cache-hinted load in inline PTX, the chunk auto-tuner, and
why a .nc read can be stale (multiple choice, answer hashed: see :mod:`.core`)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from types import SimpleNamespace

import numpy as np

from .. import deepseek, doctor
from ..cudatools import cubin_for, ptx_for, sass_by_kernel, sass_for
from ..gpu import compute_capability, explained
from ..kernels import asm_lines
from ..settings import shared_gpu
from .core import Exercise, ExerciseFailed, MultipleChoice, gpu_kernel, require_params, source_text
from .lab05_ptx import DEEPEP_LDG, copy_problem, ldg_problem

#: The interference cell's stream: 256 MiB, over 4x an H200's L2, a few ms per launch.
_GPU_STREAM_BYTES = 2**28
_STREAM_SIGNATURE = ("const int4 *src, int4 *dst, long long n_vec, int chunk_vec, "
                     "unsigned int *chunks_done")
_STREAM_PARAMS = ["int4 *src", "int4 *dst", "long long n_vec", "int chunk_vec",
                  "unsigned int *chunks_done"]  # as kernel_params reads them: no const


def _check_streaming_source(source_fn: Callable[[], str]) -> str:
    """``stream_hinted`` whose load is DeepEP's ``ld.global.nc.L1::no_allocate.L2::256B``,
    in inline PTX: compiled for sm_90, its SASS and PTX read; on a GPU also run."""
    source = source_text(source_fn)
    require_params(source, "stream_hinted", _STREAM_PARAMS,
                   f'`extern "C" __global__ void stream_hinted({_STREAM_SIGNATURE})`',
                   " (the launch passes exactly these)")
    if not asm_lines(source):
        raise ExerciseFailed("write the load in inline PTX, asm(\"ld.global.nc....\" : ...), "
                             "as DeepEP did: this exercise is about the PTX itself (CUDA C++ "
                             "says it too, with CCCL's cuda::ptx::ld_nc_L1_no_allocate_L2_256B, "
                             "which notebook 05 compiles -- and which is inline PTX inside)")
    cubin = cubin_for(source, "sm_90")  # ptxas inside NVRTC checks every asm line
    ins = sass_by_kernel(sass_for(cubin))["stream_hinted"]
    loads = [op.split()[0] for op in deepseek.distinct_ops(i for i in ins if "LDG" in i)]
    stores = [op.split()[0] for op in deepseek.distinct_ops(i for i in ins if "STG" in i)]
    if not stores:
        raise ExerciseFailed(
            "stream_hinted's SASS has no STG (global store)"
            + (" and no LDG (global load) either" if not loads else "")
            + ": the copy never writes dst. Is the store left out, or never called? A load whose "
              "value is never stored is dead code: the compiler removes it, and your asm with "
              "it (an asm with outputs and without `volatile` goes when its outputs are unused).")
    if not loads:
        raise ExerciseFailed("stream_hinted's SASS has no LDG (global load): does the kernel "
                             "call your load helper, and is its result stored?")
    problem = ldg_problem(loads, source)
    if problem:
        raise ExerciseFailed(problem)
    problem = copy_problem(ptx_for(source, "sm_90"))
    if problem:
        raise ExerciseFailed(problem)
    done = (f"compiles for sm_90; its SASS loads with {DEEPEP_LDG} and stores with "
            f"{', '.join(stores)}; in its PTX every loaded vector is stored whole and in order")
    if not doctor.has_gpu():
        return (done + ". No GPU here: compiled and read only, not run (the copy itself, "
                "and the victim's slowdown, are checked on a GPU)")
    return done + _run_streaming_on_gpu(source)


def _run_streaming_on_gpu(source: str) -> str:
    """Validate the student's copy exactly, then one interference cell beside the plain one."""
    cc = compute_capability()
    if cc < (8, 0):
        return (f". This GPU is sm_{cc[0]}{cc[1]}: .L2::256B needs sm_80 or newer, so it was "
                f"compiled for sm_90 but not run here")
    cp, kernel = gpu_kernel(source, "stream_hinted")
    n_vec = 3 * 2**14 + 7  # not a whole number of chunks: the last one is partial
    src = cp.asarray(np.random.default_rng(5).integers(-2**31, 2**31 - 1, 4 * n_vec,
                                                      dtype=np.int32))
    for chunk in (deepseek.CHUNKS[0], deepseek.SIZE_CHUNK):
        chunk_vec = chunk // 16
        dst = cp.full(4 * n_vec, -1, dtype=cp.int32)  # poisoned: a word never written stays -1
        done = cp.zeros(1, dtype=cp.uint32)
        with explained(f"your stream_hinted at chunk {chunk} bytes"):
            kernel((4,), (256,), src, dst, np.int64(n_vec), np.int32(chunk_vec), done)
            cp.cuda.Device().synchronize()
        got, want = cp.asnumpy(dst), cp.asnumpy(src)
        if not np.array_equal(got, want):
            bad = int(np.flatnonzero(got != want)[0])
            unwritten = " (never written: dst was filled with -1)" if got[bad] == -1 else ""
            raise ExerciseFailed(
                f"on the GPU at chunk {chunk} bytes ({n_vec} int4, the last chunk partial) "
                f"dst[{bad}] (int4 {bad // 4}, word {'xyzw'[bad % 4]}) is {got[bad]}"
                f"{unwritten}, expected {want[bad]}")
        chunks = -(-n_vec // chunk_vec)
        if int(done.get()[0]) != chunks:
            raise ExerciseFailed(f"on the GPU at chunk {chunk} bytes chunks_done is "
                                 f"{int(done.get()[0])}, expected {chunks}: one signal per chunk")
    done = "; on the GPU it copies exactly (poisoned output, a partial last chunk)"
    if shared_gpu():
        print("PY2PTX_SHARED_GPU is set: on a GPU shared with other users the interference "
              "cell would measure their kernels too, and disturb them, so the victim's "
              "slowdown is not measured here (notebook 05 shows the recorded run).")
        return done
    ex = deepseek.Experiment(stream_bytes=_GPU_STREAM_BYTES)
    ex.kernels["hinted"] = kernel
    buf = ex.victim_buffer(0.75)
    timings = []
    for key in ("plain", "hinted"):
        timings += ex.interference(key, deepseek.SIZE_CHUNK, buf, repeats=5)
    plain, mine = (deepseek.cells(timings, k)[deepseek.SIZE_CHUNK] for k in ("plain", "hinted"))
    print(f"On this GPU, a victim re-reading {buf.nbytes / 2**20:,.1f} MiB (3/4 of L2) ran "
          f"x{mine['slowdown']:.2f} slower beside your stream_hinted "
          f"({mine['bandwidth_with'] / 1e9:,.0f} GB/s) and x{plain['slowdown']:.2f} beside "
          f"stream_plain ({plain['bandwidth_with'] / 1e9:,.0f} GB/s); chunk 1 MiB, median of "
          f"5, spread of the ratios {mine['spread']:.2f} and {plain['spread']:.2f}.")
    return done


def _cell(slowdown: float, bandwidth_with: float, bandwidth_alone: float | None = None) -> dict:
    """A synthetic cell of the shape :func:`py2ptx.deepseek.cells` returns (GB/s given)."""
    return {"slowdown": slowdown, "spread": 0.05, "bandwidth_with": bandwidth_with * 1e9,
            "bandwidth_alone": (bandwidth_alone or bandwidth_with * 1.05) * 1e9}


#: Chunk sets that tell the typical wrong rules from the right one: (name, what a wrong rule
#: does here, cells). Chunk sizes in bytes, bandwidths in GB/s.
_TUNER_CASES = (
    ("the fastest chunk hurts the victim most",
     "picking the best bandwidth alone takes the 4 MiB chunk",
     {2**16: _cell(1.90, 1500), 2**18: _cell(1.35, 1650), 2**20: _cell(1.60, 1700),
      2**22: _cell(2.10, 1800)}),
    ("the gentlest chunk is far too slow",
     "picking the least slowdown alone takes the 1 KiB chunk, whose stream runs at a "
     "fiftieth of the best",
     {2**10: _cell(0.90, 40), 2**14: _cell(1.10, 560), 2**18: _cell(1.50, 1700),
      2**20: _cell(1.40, 1600)}),
    ("a chunk at 90.5% of the best bandwidth",
     "'within 10%' is 10% of the best: a stream at 905 GB/s beside a best of 1000 qualifies "
     "(bandwidth >= 0.9 x best); measured on the wrong side (best <= 1.1 x bandwidth) it does "
     "not",
     {2**16: _cell(1.20, 905), 2**18: _cell(1.60, 1000), 2**20: _cell(1.80, 980)}),
    ("two chunks slow the victim equally",
     "on a tie in slowdown the faster stream wins, not the smaller (or first) chunk",
     {2**16: _cell(1.30, 1550), 2**18: _cell(1.30, 1600), 2**20: _cell(1.70, 1650)}),
    ("bandwidth beside the victim, not alone",
     "the rule reads the stream's bandwidth beside the victim (bandwidth_with): alone, the "
     "4 MiB chunk looks fast enough, but beside the victim it is not",
     {2**18: _cell(1.60, 1700, 1750), 2**20: _cell(1.45, 1600, 1720),
      2**22: _cell(1.20, 1300, 1700)}),
    ("one chunk measured", "with one chunk there is nothing to choose",
     {2**20: _cell(2.00, 1500)}),
)


def _tuner_verdict(best_chunk: Callable, by_chunk: dict, case: str, hint: str) -> None:
    given = copy.deepcopy(by_chunk)
    got = best_chunk(given)
    want, why = deepseek.pick_chunk(by_chunk)
    if isinstance(got, tuple):
        raise ExerciseFailed(f"case {case!r}: return the chunk size alone (a key of cells, in "
                             f"bytes), not a tuple; you returned {got!r}")
    if given != by_chunk:
        raise ExerciseFailed(f"case {case!r}: best_chunk changed the cells it was given; "
                             f"read them, do not modify them")
    if got != want:
        shown = f"{got:,} bytes" if isinstance(got, int) else repr(got)
        raise ExerciseFailed(f"case {case!r}: you picked {shown}, the rule picks {want:,} "
                             f"bytes ({why}). Here, {hint}.")


def _check_best_chunk(best_chunk: Callable[[dict], int]) -> str:
    """``best_chunk(cells)`` against :func:`py2ptx.deepseek.pick_chunk`, synthetic and recorded."""
    for case, hint, by_chunk in _TUNER_CASES:
        _tuner_verdict(best_chunk, by_chunk, case, hint)
    run = deepseek.recorded()
    if run is None:
        return (f"agrees with the rule on {len(_TUNER_CASES)} synthetic chunk sets; no "
                f"recorded run of the experiment in results/, so none on measured data")
    sweep = run.provenance.get("extra", {}).get("sweep_victim_bytes")
    checked = []
    for v in deepseek.VARIANTS:
        by_chunk = deepseek.cells(run.timings, v.key, sweep)
        if by_chunk:
            _tuner_verdict(best_chunk, by_chunk, f"recorded run on {run.device}, {v.key}",
                           "these are the chunk sweep's measured cells; print them and "
                           "apply the rule by hand")
            checked.append(v.key)
    return (f"agrees with the rule on {len(_TUNER_CASES)} synthetic chunk sets and on the "
            f"recorded {run.device} run ({', '.join(checked)})")


WHY_STALE = {
    "a": "A .nc load is slower than a plain load, so it reads the data before the "
         "producer's write has arrived.",
    "b": "The PTX ISA leaves .nc loads outside its memory consistency model (and CUDA C++ asks "
         "that data on the read-only path stay read-only for the whole kernel), so nothing says "
         "what a .nc load returns while another SM writes that memory: no acquire obliges it to "
         "see the write. The probe's numbers are consistent with an old value waiting in the "
         "reading SM's own L1, which other SMs' writes do not update; a .L1::no_allocate load "
         "that primed its own line never made an L1 line to find stale -- whether it also skips "
         "a line another load left in L1 is issue #136's question.",
    "c": "The .L2::256B prefetch fetches 256 bytes early, and those early bytes are the stale "
         "ones; .L1::no_allocate switches the prefetch off.",
    "d": ".nc loads skip L2 and read DRAM, which still holds the old value; "
         ".L1::no_allocate sends them through L2.",
}


def _stale_line() -> str:
    """The recorded run's stale reads after a relaxed poll, in one clause ('' without one)."""
    run = deepseek.recorded()
    rows = [r for r in (run.provenance.get("extra", {}).get("stale_reads", []) if run else [])
            if r.get("poll") == "ld.relaxed.gpu" and "stale" in r
            and r.get("load", "").startswith("ld.global.nc")]
    if not rows:
        return ""
    return ("; recorded on " + run.device + " after a relaxed poll: " + ", ".join(
        f"{r['load']}" + (f" (line primed by {r['prime']})" if r.get("prime", r["load"])
                          != r["load"] else "") + f" stale {r['stale']:,} of {r['checked']:,}"
        for r in rows))


#: The answer, as a salted hash, and what the check says for each letter, sealed with it.
_WHY_STALE_SALT = "Lab 05: why_stale 41d8"
_WHY_STALE_RESPONSES = {
    "be5ce417458e15b9cb6fdfcd": (
        "GSPpO04E6LEFtVfg57KkxeFK5I8+wTo4tzq06Cw2ahNy/oN2ip2GrEVR6RHNCBxmqUXSRvMSckQvOfcxfP5i"
        "eaEpGMUNViE7YAuo+zwFG4pStPBTOJfd0WmNeOsvCZw0gvvgOn+b/wldVYs4uXBoMnZnN7y1qOfX1rtvO/KI"
        "nfeUaxoXKmCD0RGjclKVLIs6hyp04MAHIJZ6O83hBjuUiCwav3Dqzn2C6nWARFnLUJJ3fofVsUOnj1HQWLUo"
        "sWPXanDi0wceb/M="
    ),
    "6cac436b2dd0e3918172a45e": (
        "2WYGQbJM1124NoCoii/H6AAnSK6vZNumbeurHTy3M2lNxuKirssfdQLaEjBViILPtA/lFlS1S/XeLUl5+UsB"
        "EgN4M6coukAaS8Ew3W+ykHEFFQcFLyrG/GmiE1YHU+F1vuc3GKuX31C9cE6oG8yudfrd8cmQ3YIvVTrcMVhp"
        "ngDsgLvBoOpHuneHuNmLAHdQHvRmtigqbjmiZAETqDYqS4ZP1lghP0qx3rXIytqT/YtmekMaOGu03DLaEbDQ"
        "EEeVgQyWR2mAtZI="
    ),
    "bdf2e79b297e76baca056060": (
        "njr2v3xdbdbtvJcIqlVIuwTqFbFCib8EhhfruKsrvlBAy3F9amS6RAvX3iTYJGuCBUc+GqTt3aFH0Eb6Xrtm"
        "M5oanWGsT5ighZeNGuWzUdCpKz7h+acrc8SBwt3y0HI57pAlLOO0BLjGB0Q8DpsAMw4gbGo1SHeUW80qIIul"
        "eO9daAILu/ny9NPHvxncRtxeiAo4W9GLI6rYxKo9reOvAZu8LVoe9Dcn6TioWPBJEl53haWNt3lRN36fe4a0"
        "HkOl5BkS/PTTxwQ="
    ),
    "f4f65a1fe15aecb62dd35021": (
        "vZxoOahfKDbtCvIlp5VwOzu7Uy5w6mQhyXwIE/UPScH13JsUnHVdyiVZa7ysNmdqZshCsW9iLGbinnSrWX00"
        "sEW3MKy7FF5sPROzIuBru/GNEjyaHBs1iBY+xJ8ZOilvdqB+/NJg3DXFqjVaD4Hb0SM+UT0GtjksWt7xdzF0"
        "rmgCWRIPHhjJsi3Cpy7x4yUo06bCLYRlFyMGGDn0W9qeQ5W6nmOEdSc4i9rXiZir5jwcK5/8Z1EksBbgRkty"
        "5gm3MIKZ/ERxkXY="
    ),
}


lab05 = SimpleNamespace(
    streaming_source=Exercise("Lab 05", "a cache-hinted load in inline PTX",
                              "streaming_source() returns CUDA C whose stream_hinted(...) "
                              "loads with ld.global.nc.L1::no_allocate.L2::256B.v4.s32 in asm",
                              _check_streaming_source, budget_s=180.0),
    best_chunk=Exercise("Lab 05", "the chunk auto-tuner",
                        "best_chunk(cells) returns the chunk size (bytes) that "
                        "deepseek.PICK_RULE picks", _check_best_chunk),
    why_stale=Exercise("Lab 05", "why .nc reads can be stale",
                       "why_stale() returns the letter of the right explanation",
                       MultipleChoice(WHY_STALE, _WHY_STALE_SALT, _WHY_STALE_RESPONSES,
                                      more=_stale_line)),
)
