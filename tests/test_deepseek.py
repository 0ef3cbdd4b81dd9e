"""Notebook 05's experiment: every PTX variant assembles, its SASS shows the qualifiers,
the auto-tuner picks by its rule. Tests marked ``gpu`` run the kernels on a real GPU
(``make gpu-check``): every variant copies exactly, and the probe's loads that the
memory model covers are never stale.
"""

from __future__ import annotations

import numpy as np
import pytest

from py2ptx import cudatools, deepseek
from py2ptx.timing import Timing

# --------------------------------------------------------------------------- no GPU


@pytest.mark.parametrize("v", deepseek.VARIANTS, ids=lambda v: v.key)
def test_every_variants_ptx_assembles_for_sm_90(v):
    ptx = cudatools.ptx_for(deepseek.KERNEL_FILE, "sm_90")
    assert f".entry {v.kernel}(" in ptx
    assert cudatools.assemble_ptx(ptx, "sm_90")[:4] == b"\x7fELF"


def test_only_the_plain_path_is_built_for_sm_75():
    ptx = cudatools.ptx_for(deepseek.KERNEL_FILE, "sm_75")
    assert cudatools.assemble_ptx(ptx, "sm_75")[:4] == b"\x7fELF"
    inc = tuple(deepseek.cccl_include())
    kernels = set(cudatools.sass_by_kernel(cudatools.sass_for(deepseek.KERNEL_FILE, "sm_75", inc)))
    assert kernels == {"stream_plain", "stream_plain_nofence", "stream_plain_release",
                       "stream_plain_nosignal", "victim", "placebo", "duo"}
    runnable, skipped = deepseek.split_by_arch((7, 5))
    assert [v.key for v in runnable] == ["plain"]
    assert set(skipped) == {"nc_na_256b", "evict_first", "all_hints"}
    assert all("needs sm_80" in why and "sm_75" in why for why in skipped.values())
    every = deepseek.VARIANTS + deepseek.CPP_VARIANTS + deepseek.SIGNAL_VARIANTS
    runnable, skipped = deepseek.split_by_arch((7, 5), True, every)
    assert {v.kernel for v in runnable} <= kernels
    assert set(skipped) == {v.key for v in every if v.min_cc > (7, 5)}
    _, skipped = deepseek.split_by_arch((9, 0), False, every)
    assert set(skipped) == {v.key for v in deepseek.CPP_VARIANTS}
    assert all("nvidia-cuda-cccl" in why for why in skipped.values())


def test_the_qualifiers_show_in_sass():
    sass = deepseek.sass_evidence("sm_90")
    assert sass["plain"]["load"][0].startswith("LDG.E.128 ")
    assert sass["nc_na_256b"]["load"][0].startswith("LDG.E.NA.LTC256B.128.CONSTANT")
    assert sass["all_hints"]["store"][0].startswith("STG.E.NA.128")
    assert sass["plain"]["store"][0].startswith("STG.E.128 ")
    # The evict-first policy is not in the mnemonic: the load is the plain one, and the
    # policy rides in a descriptor built from constants.
    assert sass["evict_first"]["load"][0].startswith("LDG.E.128 ")
    assert sass["evict_first"]["policy"] and not sass["plain"]["policy"]


def test_cuda_cplusplus_says_what_the_hand_written_ptx_says():
    # Notebook 05's side-by-side table, and issue 13's claims about CUDA C++'s words.
    assert deepseek.cccl_include(), "the nvidia-cuda-cccl wheel is a dependency of the course"
    rows = {r["key"]: r for r in deepseek.sass_table("sm_90")}
    assert rows["cpp_ldg"]["sass_load"] == "LDG.E.128.CONSTANT"
    assert (rows["cpp_ldcs"]["sass_load"], rows["cpp_ldcs"]["sass_store"]) == (
        "LDG.E.EF.128", "STG.E.EF.128")
    assert rows["cpp_ldcg"]["sass_load"] == "LDG.E.128.STRONG.GPU"
    # CCCL's cuda::ptx load is DeepEP's instruction, to the last suffix.
    assert rows["cpp_ptx_deepep"]["sass_load"] == "LDG.E.NA.LTC256B.128.CONSTANT"
    assert rows["cpp_ptx_deepep"]["same_as"] == "nc_na_256b"
    # annotated_ptr<streaming>: plain mnemonics, a policy descriptor in uniform registers.
    assert rows["cpp_annotated"]["sass_load"] == "LDG.E.128" and rows["cpp_annotated"]["policy"]
    assert rows["cpp_annotated"]["same_as"] == "evict_first"
    # Notebook 05: "compare the policy constants: ptxas folded different 64-bit values".
    assert rows["cpp_annotated"]["policy"] != rows["evict_first"]["policy"]
    # "__ldg reaches the read-only path (CONSTANT) without NA or LTC256B".
    assert not {"NA", "LTC256B"} & set(rows["cpp_ldg"]["sass_load"].split("."))
    assert all(r["same_as"] is None for r in rows.values() if r["words"] == "PTX")


def test_the_signals_of_the_ablation_in_sass():
    sass = deepseek.sass_evidence("sm_90")
    ops = {k: [o.split()[0] for o in sass[k]["signal"]] for k in ("plain", "plain_release",
                                                                  "plain_nofence", "plain_nosignal")}
    assert ops["plain"] == ["MEMBAR.SC.GPU", "CCTL.IVALL", "ATOMG.E.ADD.STRONG.GPU"]
    assert ops["plain_release"][0] == "MEMBAR.ALL.GPU" and "CCTL.IVALL" not in ops["plain_release"]
    assert not any("MEMBAR" in o for o in ops["plain_nofence"]) and ops["plain_nofence"]
    assert ops["plain_nosignal"] == []


def test_deepeps_own_accesses_in_sass():
    # Notebook 05's "DeepEP as it stands": the default build's load is a strong system-scope
    # load, V2's keeps NA and CONSTANT without LTC256B, and its hard-coded kEvictFirst folds to
    # the constants annotated_ptr<streaming> gets ("the same constants").
    rows = {r["ptx"]: r for r in deepseek.deepep_sass("sm_90")}
    assert rows["ld.global.nc.L1::no_allocate.L2::256B.v4.s32"]["sass"] == (
        "LDG.E.NA.LTC256B.128.CONSTANT")
    assert rows["ld.volatile.global.v4.s32"]["sass"] == "LDG.E.128.STRONG.SYS"
    assert rows["st.global.L1::no_allocate.v4.s32"]["sass"] == "STG.E.NA.128"
    assert rows["st.global.v4.s32"]["sass"] == "STG.E.128"
    v2 = rows["ld.L1::no_allocate.L2::cache_hint.global.nc.v4.s32"]
    assert v2["sass"] == "LDG.E.NA.128.CONSTANT"
    annotated = next(r for r in deepseek.sass_table("sm_90") if r["key"] == "cpp_annotated")
    assert v2["policy"] == annotated["policy"] == "0x0 0x12f00000"
    assert annotated["same_policy"] is False  # ... and not the createpolicy variant's


def test_the_256_byte_prefetch_is_lowered_per_chip():
    # Notebook 05 and the kernel's header: ptxas refuses .L2::256B below sm_80 and writes it
    # as LTC128B for sm_80, LTC256B for sm_90.
    assert deepseek.sass_evidence("sm_80")["nc_na_256b"]["load"][0].startswith(
        "LDG.E.NA.LTC128B.128.CONSTANT")
    src = ('extern "C" __global__ void k(const int *p, int *o) { int v; asm volatile('
           '"ld.global.nc.L2::256B.s32 %0, [%1];" : "=r"(v) : "l"(p)); o[0] = v; }')
    with pytest.raises(cudatools.CudaCompileError, match=r"'\.L2::256B' requires \.target sm_80"):
        cudatools.cubin_for(src, "sm_75")


def test_the_stale_read_probe_builds_for_both_archs():
    for arch in ("sm_90", "sm_75"):
        sass = cudatools.sass_for(deepseek.PROBE_FILE, arch)
        assert "stale_probe" in cudatools.sass_by_kernel(sass)


def _cell(key, chunk, victim_alone, victim_with, stream_s, moved=2e9):
    meta = {"bytes_moved": moved, "victim_bytes": 2**20}
    return [Timing((victim_alone,) * 3, f"victim_alone:{key}", "gpu", chunk, meta),
            Timing((victim_with,) * 3, f"victim_with:{key}", "gpu", chunk,
                   dict(meta, inside_stream=3)),
            Timing((stream_s,) * 3, f"stream_alone:{key}", "gpu", chunk, meta),
            Timing((stream_s,) * 3, f"stream_with:{key}", "gpu", chunk, meta)]


def test_cells_and_the_auto_tuner():
    timings = (_cell("plain", 1024, 1.0, 1.1, 2.0)      # slow stream, gentle
               + _cell("plain", 4096, 1.0, 1.5, 1.05)   # fast, harsh
               + _cell("plain", 16384, 1.0, 1.3, 1.0))  # fastest, in between
    cells = deepseek.cells(timings, "plain", 2**20)
    assert {k: c["slowdown"] for k, c in deepseek.cells(timings, "plain").items()} == {
        k: c["slowdown"] for k, c in cells.items()}
    assert deepseek.cells(timings, "plain", 2**21) == {}
    assert cells[1024]["slowdown"] == pytest.approx(1.1)
    assert cells[16384]["bandwidth_with"] == pytest.approx(2e9)
    chunk, why = deepseek.pick_chunk(cells)
    # 1 KiB is gentlest but half the bandwidth; of the two within 10 %, 16 KiB is gentler.
    assert chunk == 16384
    assert "2 of 3 chunk sizes" in why
    assert deepseek.pick_chunk(cells, within=0.6)[0] == 1024
    with pytest.raises(ValueError, match="no measured chunk"):
        deepseek.pick_chunk({})


def test_copy_table_is_relative_to_cupy():
    t = [Timing((1.0,), "copy:cupy", "gpu", 1, {"bytes_moved": 4e9}),
         Timing((1.25,), "copy:plain", "gpu", 1, {"bytes_moved": 4e9})]
    rows = {r["copy"]: r for r in deepseek.copy_table(t)}
    assert rows["plain"]["of_cupy"] == pytest.approx(0.8)
    assert rows["cupy"]["bandwidth"] == pytest.approx(4e9)
    assert deepseek.copy_table(t[1:]) == []


# --------------------------------------------------------------------------- on a GPU


@pytest.mark.gpu
def test_every_variant_copies_exactly_on_the_gpu():
    ex = deepseek.Experiment(stream_bytes=2**26)
    ex.validate()
    assert set(ex.kernels) == {v.key for v in ex.runnable}


@pytest.mark.gpu
def test_loads_inside_the_memory_model_are_never_stale():
    rows = deepseek.stale_reads(rounds=2000)
    assert not any(r.get("timed_out") for r in rows), rows
    for r in rows:
        if r["poll"] == "ld.acquire.gpu" and r["load"] in ("ld.relaxed.gpu.global", "ld.global"):
            assert r["checked"] == 2000 * 32 and r["stale"] == 0, r


@pytest.mark.gpu
def test_a_short_interference_cell_runs():
    ex = deepseek.Experiment(stream_bytes=2**28)
    cell = ex.interference("plain", deepseek.DEFAULT_CHUNK, ex.victim_buffer(0.5), repeats=3)
    assert [t.label for t in cell] == ["victim_alone:plain", "victim_with:plain",
                                      "stream_alone:plain", "stream_with:plain"]
    assert all(t.repeats == 3 and t.median > 0 for t in cell)
    c = deepseek.cells(cell, "plain")[deepseek.DEFAULT_CHUNK]
    assert np.isfinite(c["slowdown"]) and 100 < c["clock_alone"] < 5000


# --------------------------------------------------------------------------- host code, fake GPU


def _stand_ins(calls):
    """Python stand-ins for the inline-PTX kernels (the CPU-thread emulator refuses asm)."""
    def stream(grid, block, args, shared_mem):
        src, dst, n_vec, chunk_vec, done = args
        calls.append(("stream", grid[0], int(chunk_vec), shared_mem))
        dst[:n_vec * 4] = src[:n_vec * 4]
        done[0] += -(-int(n_vec) // int(chunk_vec))

    def victim(grid, block, args, shared_mem):
        calls.append(("victim", grid[0], int(args[2]), shared_mem))
        args[4][:] = (0, 1_500_000, 0, 1_000_000)  # 1.5 million cycles in 1 ms: 1,500 MHz
        args[5][:grid[0]] = range(1, grid[0] + 1)  # %smid of each victim block

    def placebo(grid, block, args, shared_mem):
        calls.append(("placebo", grid[0], int(args[0]), shared_mem))
        args[1][:grid[0]] = 0

    def probe(grid, block, args, shared_mem):
        data, flag, ack, rounds, number, acquire, max_spins, result, prime = args
        calls.append(("probe", int(prime), int(number), int(acquire)))
        result[:] = (0, int(rounds) * 32, 0)

    every = deepseek.VARIANTS + deepseek.CPP_VARIANTS + deepseek.SIGNAL_VARIANTS
    return {**{v.kernel: stream for v in every}, "victim": victim, "placebo": placebo,
            "stale_probe": probe}


def test_the_experiment_host_code_on_a_fake_gpu(fake_gpu, monkeypatch):
    import fake_cupy

    calls = []
    monkeypatch.setattr(fake_cupy, "PYTHON_KERNELS", _stand_ins(calls))
    lines = []
    timings, extra = deepseek.run_experiment(repeats=2, chunks=(1024, 2**20), progress=lines.append,
                                             stream_bytes=2**22, stale_rounds=10)
    setup = extra["setup"]
    # The fake has 4 SMs: the stream gets round(4 * 20/132) -> at least 1, the victim the rest,
    # and both ask for more than half an SM's shared memory (one block per SM).
    assert setup["stream_sms"] == 1
    assert {c[3] for c in calls if c[0] == "victim"} == {setup["one_block_per_sm_shared"]}
    assert setup["one_block_per_sm_shared"] > 228 * 1024 // 2
    assert {c[1] for c in calls if c[0] == "victim"} == {3}
    # The fake L2 is 1 MiB: working sets of 256 KiB to 1 MiB, the sweep at one of them.
    sizes = {2**18, 2**19, 3 * 2**18, 2**20}
    assert extra["sweep_victim_bytes"] in sizes
    for v in deepseek.VARIANTS:
        assert set(deepseek.size_cells(timings, v.key)) == sizes
        by_chunk = deepseek.cells(timings, v.key, extra["sweep_victim_bytes"])
        assert set(by_chunk) == {1024, 2**20}
        assert by_chunk[1024]["clock_alone"] == pytest.approx(1500)
        assert extra["picked_chunk"][v.key] in (1024, 2**20)
    curve = [t for t in timings if t.label == "victim_pass"]
    assert [t.meta["fraction_of_l2"] for t in curve] == list(deepseek.CURVE_FRACTIONS)
    copies = {r["copy"] for r in deepseek.copy_table(timings)}
    cpp = {v.key for v in deepseek.CPP_VARIANTS} if extra["cccl"] else set()
    assert copies == {"cupy", "memcpy", *(v.key for v in deepseek.VARIANTS), *cpp}
    # The placebo sits beside the victim at every working set, moving nothing, and its
    # blocks say which SMs they held; the victim's blocks say theirs.
    placebo = deepseek.size_cells(timings, "placebo")
    assert set(placebo) == sizes and all(c.bandwidth_with == 0 for c in placebo.values())
    with_placebo = next(t for t in timings if t.label == "victim_with:placebo")
    assert with_placebo.meta["victim_sms"] == [1, 2, 3] and with_placebo.meta["partner_sms"] == [0]
    assert any(c[0] == "placebo" and c[3] == setup["one_block_per_sm_shared"] for c in calls)
    # The signal ablation at the small chunks of the sweep, the C++ variants at 1 MiB.
    for key in deepseek.SIGNAL_OF:
        assert set(deepseek.cells(timings, key, extra["sweep_victim_bytes"])) == {1024}
    for key in cpp:
        assert set(deepseek.cells(timings, key, extra["sweep_victim_bytes"])) == {2**20}
    # Stale reads: every case, both polls, the prime load passed to the kernel.
    cases = len(deepseek.STALE_CASES)
    assert len(extra["stale_reads"]) == 2 * cases and all(r["checked"] == 320
                                                          for r in extra["stale_reads"])
    primed = {(r["prime"], r["load"]) for r in extra["stale_reads"]}
    assert ("ld.global", "ld.global.nc.L1::no_allocate") in primed
    assert ("ld.global.nc", "ld.global.nc.L1::no_allocate.L2::256B") in primed
    assert {(c[1], c[2]) for c in calls if c[0] == "probe"} == set(deepseek.STALE_CASES)
    assert any("every variant copies exactly" in line for line in lines)
    # No nvidia-smi and no ncu here: both say so instead of inventing numbers.
    found = deepseek.findings(timings, extra)
    assert "why" in extra["memory_clock"] or extra["memory_clock"]["mhz"]
    assert "error" in extra["counters"] and "ncu" in extra["counters"]["command"]
    assert found["counters"][0].startswith("Nsight Compute did not run")
    assert found["control"][0].startswith("Beside the placebo")


def test_a_variant_that_copies_wrongly_is_caught(fake_gpu, monkeypatch):
    import fake_cupy

    kernels = _stand_ins([])
    kernels["stream_evict_first"] = lambda grid, block, args, shared_mem: None  # copies nothing
    monkeypatch.setattr(fake_cupy, "PYTHON_KERNELS", kernels)
    ex = deepseek.Experiment(stream_bytes=2**22)
    with pytest.raises(AssertionError, match="stream_evict_first at chunk 1024 bytes copied "
                                             "wrongly: element 0 is -1"):
        ex.validate()


def test_a_shared_gpu_shows_the_recorded_run_and_says_why(fake_gpu, monkeypatch):
    import fake_cupy

    monkeypatch.setattr(fake_cupy, "PYTHON_KERNELS", _stand_ins([]))
    monkeypatch.setenv("PY2PTX_SHARED_GPU", "1")
    measured = deepseek.measured()
    assert measured.timings is None and measured.extra is None  # the results folder is empty
    assert not measured.found and not measured.live
    where = measured.where
    assert where.startswith("PY2PTX_SHARED_GPU is set") and "No GPU run named" in where


def test_plain_is_what_cuda_c_writes_for_a_copy():
    # Notebook 05's table: the plain variant is "what CUDA C writes for a plain copy".
    c_copy = ('extern "C" __global__ void k(const int4 *src, int4 *dst, long long n) {\n'
              '    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;\n'
              '    if (i < n) dst[i] = src[i];\n}\n')
    ops = {cudatools.sass_opcode(i) for i in cudatools.sass_by_kernel(
        cudatools.sass_for(c_copy, "sm_90"))["k"] if "LDG" in i or "STG" in i}
    sass = deepseek.sass_evidence("sm_90")["plain"]
    assert ops == {sass["load"][0].split()[0], sass["store"][0].split()[0]}


def test_ptxas_reorders_the_nc_loads_that_ptx_issued_first():
    # Notebook 05: "In the PTX of stream_all_hints each thread issues four loads, then four
    # stores" -- and in the SASS ptxas moved two loads past stores; plain keeps the order.
    ptx = cudatools.ptx_for(deepseek.KERNEL_FILE, "sm_90")
    body = ptx.split(".entry stream_all_hints(")[1].split(".entry")[0]
    order = [ln.split()[0][:2] for ln in body.splitlines() if ln.strip().startswith(("ld.global", "st.global"))]
    assert order == ["ld"] * 4 + ["st"] * 4
    by_kernel = cudatools.sass_by_kernel(cudatools.sass_for(deepseek.KERNEL_FILE, "sm_90"))

    def sass_order(kernel):
        return [cudatools.sass_opcode(i)[:3] for i in by_kernel[kernel] if "LDG" in i or "STG" in i]

    assert sass_order("stream_plain") == ["LDG"] * 4 + ["STG"] * 4
    assert sass_order("stream_all_hints") != ["LDG"] * 4 + ["STG"] * 4


def test_the_interference_explorer_shows_measured_cells_sample_by_sample():
    from py2ptx import widgets

    timings = _cell("plain", 1024, 1.0, 1.1, 2.0) + _cell("plain", 4096, 1.0, 1.5, 1.05)
    box = widgets.interference_explorer(timings, {"sweep_victim_bytes": 2**20}, "TEST GPU")
    variant, axis = box.children[0].children
    point = box.children[1]
    assert variant.options == ("plain",) and [v for _, v in point.options] == [1024, 4096]
    assert point.value == 4096
    text = deepseek.describe_cell(timings, "plain", deepseek.cells(timings, "plain")[4096],
                                  "TEST GPU")
    assert text.startswith("plain, chunk 4 KiB, victim working set 1 MiB -- measured on TEST GPU")
    assert "x1.50 beside the stream" in text
    assert "victim beside, every sample (µs): 1,500,000, 1,500,000, 1,500,000" in text
    axis.value = "size"  # the synthetic cells have no 1 MiB chunk: nothing to show there
    assert point.options == (("-", 0),)


# --------------------------------------------------------------------------- the recorded run


def _recorded():
    """The newest recorded run in the repository's results/ (the one notebook 05 shows)."""
    from py2ptx import results

    runs = [r for r in results.load_runs(deepseek.RUN_NAME, gpu=True,
                                         directory=results.REPO / "results")
            if "sweep_victim_bytes" in r.provenance.get("extra", {})]
    if not runs:
        pytest.skip("no recorded deepseek-l2 run of the second design in results/")
    run = max(runs, key=lambda r: r.provenance["recorded_utc"])
    return run.timings, run.provenance["extra"]


def test_the_findings_of_the_recorded_run_say_what_issue_14_checked():
    timings, extra = _recorded()
    found = deepseek.findings(timings, extra)
    trades = deepseek.tuner_trades(timings, extra)
    traded = {k for k, t in trades.items() if t["picked"] != t["fastest"]}
    # The tuner bought nothing for most variants on the recorded run; the prose says so.
    nothing = [line for line in found["chunk"] if "it traded nothing" in line]
    assert len(nothing) == len(trades) - len(traded)
    for key in traded:
        assert trades[key]["bandwidth_cost"] > 0
        assert any(line.startswith(f"Auto-tuned chunk for {key}: picked") and "less bandwidth" in line
                   for line in found["chunk"])
    # Small chunks: time per chunk is (nearly) constant -- a fixed latency, not a crawl.
    assert any("a fixed time per chunk" in line for line in found["chunk"])
    # The knee is between two measured sizes, said as such.
    assert "nothing between them was measured" in found["l2"][0] or "0.8" in str(
        deepseek.CURVE_FRACTIONS)
    # No counters and no placebo in the recorded run: said plainly, not invented.
    if "counters" not in extra:
        assert found["counters"] == ["No counters recorded yet: this run has no Nsight Compute "
                                     "measurement."]
    if not deepseek.size_cells(timings, "placebo"):
        assert found["control"][0].startswith("No placebo control in this run")


def test_the_size_and_l2_findings_of_the_recorded_run():
    timings, extra = _recorded()
    found = deepseek.findings(timings, extra)
    plain = deepseek.size_cells(timings, "plain")
    worst = max(plain, key=lambda b: plain[b]["slowdown"])
    for v in deepseek.VARIANTS[1:]:
        c = deepseek.size_cells(timings, v.key)[worst]
        within = abs(c.slowdown - plain[worst].slowdown) <= max(c.spread, plain[worst].spread)
        assert (f"{v.key} was within the spread of the plain stream" in found["size"][0]) == within
    # L2-speed passes faster than anything the run read from DRAM: "most ... from L2".
    assert "most of those bytes must come from L2" in found["l2"][0]


def test_read_only_against_policy_depends_on_the_chunk_in_the_recorded_run():
    timings, extra = _recorded()
    line = next(x for x in deepseek.findings(timings, extra)["chunk"]
                if x.startswith("Read-only path"))
    sweep = extra["sweep_victim_bytes"]
    nc, ef = (deepseek.cells(timings, k, sweep) for k in ("nc_na_256b", "evict_first"))
    gentler = line.split("gentler at ")[1].split(";")[0]
    for chunk in nc:
        clearly = nc[chunk].slowdown < ef[chunk].slowdown - max(nc[chunk].spread, ef[chunk].spread)
        assert (deepseek.size_bytes(chunk) in gentler.split(", ")) == clearly


def test_counter_findings_read_fused_launches():
    cases = {"victim alone": {"lts__t_sector_hit_rate.pct": 95.0, "dram__bytes_read.sum": 1e6},
             "plain alone": {"lts__t_sector_hit_rate.pct": 50.0, "dram__bytes_read.sum": 2e9},
             "plain + victim": {"lts__t_sector_hit_rate.pct": 40.0,
                                "dram__bytes_read.sum": 2e9 + 1e6 + 2**29}}
    lines = deepseek.counter_findings({"cases": cases, "victim_bytes_per_launch": 2**30})
    assert lines == ["plain: L2 hit rate 95% (victim alone), 50% (stream alone), 40% (both); "
                     "DRAM read beyond the sum of the two alone: +512 MiB (+50% of the "
                     "victim's reads)."]
    assert deepseek.counter_findings({"error": "ncu is not installed"})[0].endswith(
        "ncu is not installed")


def test_the_ncu_cases_run_as_fused_launches_on_a_fake_gpu(fake_gpu, monkeypatch):
    import fake_cupy

    from py2ptx import nsight

    launches = []
    kernels = _stand_ins([])
    kernels["duo"] = lambda grid, block, args, shared_mem: launches.append(
        (deepseek.PTX_KEYS[int(args[-1])], int(args[-2]), int(args[-3]), grid[0], shared_mem))
    monkeypatch.setattr(fake_cupy, "PYTHON_KERNELS", kernels)
    deepseek.run_ncu_cases(2**19, 2**20, 7, 2**22)
    cases = deepseek.ncu_cases(["plain", "nc_na_256b", "evict_first", "all_hints"])
    assert [(k, w) for k, w, *_ in launches] == [(k, w) for _, k, w in cases]
    assert {(blocks, sms) for *_, sms, blocks, _ in launches} == {(4, 1)}  # every SM, 1 streams
    assert all(shared > 228 * 1024 // 2 for *_, shared in launches)
    # ncu_counters names each profiled launch by its case, in launch order.
    ex = deepseek.Experiment(stream_bytes=2**22)
    ex.passes[2**19] = 7
    fake = [nsight.KernelCounters("duo", i, {m: float(i + 1) for m in deepseek.NCU_METRICS},
                                  {m: "x" for m in deepseek.NCU_METRICS})
            for i, (_, k, _) in enumerate(cases)]
    seen = {}
    monkeypatch.setattr(nsight, "available", lambda: True)
    monkeypatch.setattr(nsight, "profile", lambda argv, **kw: seen.update(argv=argv, **kw) or fake)
    got = deepseek.ncu_counters(ex, 2**19, 2**20, progress=lambda _: None)
    assert list(got["cases"]) == [name for name, _, _ in cases]
    assert got["cases"]["plain + victim"]["kernel"] == "duo"
    assert seen["argv"][1:4] == ["-m", "py2ptx.deepseek", "--ncu-cases"]
    assert seen["kernels"] == "^duo$" and seen["launches"] == len(cases)
    assert len(deepseek.counter_findings(got)) == 4
    monkeypatch.setattr(nsight, "profile", lambda argv, **kw: fake[:2])
    assert "expected 9" in deepseek.ncu_counters(ex, 2**19, 2**20, progress=lambda _: None)["error"]


def test_the_gpu_checks_deepseek_stage_records_the_run(fake_gpu, monkeypatch, results_dir, tmp_path,
                                                       capsys):
    # The GPU check's stage 3b, rehearsed on the fake GPU: one call, the run recorded and
    # copied to --out, every finding printed (no ncu here: the counters say why).
    import fake_cupy
    import gpu_check

    monkeypatch.setattr(fake_cupy, "PYTHON_KERNELS", _stand_ins([]))
    real = deepseek.run_experiment
    monkeypatch.setattr(deepseek, "run_experiment", lambda: real(
        repeats=2, chunks=(1024, 2**20), progress=print, stream_bytes=2**22, stale_rounds=10))
    assert gpu_check.deepseek_stage(tmp_path / "out") is True
    (copied,) = (tmp_path / "out").glob("*-deepseek-l2.json")
    assert (results_dir / copied.name).exists()
    out = capsys.readouterr().out
    assert "[counters]" in out and "Nsight Compute did not run" in out
    run = deepseek.recorded()
    assert run is not None and "error" in run.provenance["extra"]["counters"]


def test_cccl_headers_that_do_not_compile_skip_the_cpp_variants_with_the_reason(fake_gpu,
                                                                               monkeypatch):
    import fake_cupy

    from py2ptx.cudatools import CudaCompileError

    monkeypatch.setattr(fake_cupy, "PYTHON_KERNELS", _stand_ins([]))
    real = deepseek.load_module

    def picky(source, defines=None, options=()):
        if options:
            raise CudaCompileError("NVRTC could not compile:\nerror: cuda/ptx: unknown type")
        return real(source, defines, options)

    monkeypatch.setattr(deepseek, "load_module", picky)
    ex = deepseek.Experiment(stream_bytes=2**22)
    assert not {v.key for v in deepseek.CPP_VARIANTS} & set(ex.kernels)
    assert all("did not compile: error: cuda/ptx: unknown type" in ex.skipped[v.key]
               for v in deepseek.CPP_VARIANTS)
    assert "plain" in ex.kernels and "plain_release" in ex.kernels


def test_the_memory_clock_is_read_from_nvidia_smi_and_says_why_not(tmp_path, monkeypatch):
    import stat

    script = tmp_path / "nvidia-smi"
    script.write_text("#!/bin/sh\necho '1980, 3201'\necho '1975, 3201'\nexec sleep 30\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    with deepseek.MemoryClock(every_ms=50) as clock:
        import time

        time.sleep(0.5)
    assert clock.samples == {"every_ms": 50, "sm_mhz": [1980.0, 1975.0], "mhz": [3201.0, 3201.0]}
    found = deepseek.findings([], {"memory_clock": clock.samples})
    assert found["clock"] == ["The memory clock (nvidia-smi, every 50 ms during the run) stayed "
                              "between 3,201 and 3,201 MHz."]
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with deepseek.MemoryClock() as clock:
        pass
    assert "nvidia-smi could not run" in clock.samples["why"]
