"""The notebooks' prose about recorded GPU runs, checked against those runs.

Notebooks 03 and 05 say in Markdown what the H200 runs in results/ measured (a live run
prints its own numbers, but Markdown cannot). If a newer recorded run says otherwise,
these fail, and the prose must be rewritten before that run is committed.
"""

from __future__ import annotations

import pytest

from py2ptx import deepseek, results

# --------------------------------------------------------------------------- notebook 05


def _latest_recorded():
    from py2ptx import results

    runs = results.load_runs(deepseek.RUN_NAME, gpu=True, directory=results.REPO / "results")
    runs = [r for r in runs if "sweep_victim_bytes" in r.provenance.get("extra", {})]
    if not runs:
        pytest.skip("no recorded run of the second design in results/")
    return max(runs, key=lambda r: r.provenance["recorded_utc"])


def test_notebook_05s_prose_matches_the_recorded_run():
    # Notebook 05 states these in Markdown about the H200 run in results/; if a newer run
    # says otherwise, this fails and the prose must be rewritten.
    run = _latest_recorded()
    extra = run.provenance["extra"]
    stale = {(r["poll"], r["load"]): r for r in extra["stale_reads"]}
    assert all(r["stale"] == 0 for (poll, _), r in stale.items() if poll == "ld.acquire.gpu")
    for load in ("ld.global", "ld.global.nc"):
        r = stale[("ld.relaxed.gpu", load)]
        assert r["stale"] > 0.9 * r["checked"], r  # "almost every time"
    assert stale[("ld.relaxed.gpu", "ld.global.nc.L1::no_allocate")]["stale"] == 0  # "never"
    # (The chapter no longer says "the largest chunks make the fastest streams" or "the
    # victim was faster beside a crawling stream": the chunk sweep now goes past 4 MiB and
    # the placebo control decides the second; tests/test_deepseek.py checks the new prose.)
    # "Why the read-only path helps more than the policy alone ..."
    at = extra["sweep_victim_bytes"]
    assert (deepseek.size_cells(run.timings, "nc_na_256b")[at]["slowdown"]
            < deepseek.size_cells(run.timings, "evict_first")[at]["slowdown"])
    found = deepseek.findings(run.timings, extra)
    assert all(found[k] for k in ("l2", "size", "chunk", "copy", "stale", "clock")), found


def test_lab_05s_prose_matches_the_recorded_run():
    # Lab 05, exercise 2: "on the recorded run every variant slowed the victim most at one of
    # the fast chunks (256 KiB and up)".
    run = _latest_recorded()
    sweep = run.provenance["extra"]["sweep_victim_bytes"]
    for v in deepseek.VARIANTS:
        by_chunk = deepseek.cells(run.timings, v.key, sweep)
        assert max(by_chunk, key=lambda k: by_chunk[k]["slowdown"]) >= 2**18, v.key


def test_findings_name_the_least_harmful_stream():
    run = _latest_recorded()
    found = deepseek.findings(run.timings, run.provenance["extra"])
    by_size = {v.key: deepseek.size_cells(run.timings, v.key) for v in deepseek.VARIANTS}
    worst = max(by_size["plain"], key=lambda b: by_size["plain"][b]["slowdown"])
    best = min(by_size, key=lambda k: by_size[k][worst]["slowdown"])
    assert f"The least harmful stream was {best}." in found["size"][0]
    assert f"x{by_size['plain'][worst]['slowdown']:.2f}" in found["size"][0]


def test_notebook_03s_reading_is_computed_from_the_run_shown():
    # Notebook 03's "reading the numbers" is printed by py2ptx.readings from the run it
    # shows (tests/test_readings.py checks what it says about the recorded H200 run);
    # its Markdown states no measured number a rerun could contradict.
    import re

    import nbformat

    nb = nbformat.read(results.REPO / "notebooks" / "03-cuda-parallel-sort.ipynb", as_version=4)
    cells = {c.get("id"): c for c in nb.cells}
    assert "readings.reading(timings, extra)" in cells["reading-code"].source
    for cid in ("reading-md", "reading-the-numbers", "launch-md", "5e2d3879"):
        measured = re.findall(r"\d[\d.,]*\s*(?:ms|µs|us)\b|×\s*\d", cells[cid].source)
        assert not measured, (cid, measured)


NEVER_RUN = ("odd_even_temporal", "odd_even_registers", "merge_split_interleaved",
             "bitonic_registers", "triton_bitonic")


def _notebook_03():
    import nbformat

    nb = nbformat.read(results.REPO / "notebooks" / "03-cuda-parallel-sort.ipynb", as_version=4)
    return {c.get("id"): c.source for c in nb.cells}


def test_notebook_03s_no_gpu_has_run_them_yet_is_true():
    # Notebook 03's Markdown says variants 7c, 8c, 8d and 9b (and 04's 9t) have never run
    # on a GPU. A recorded run that has them makes this fail: rewrite those sentences
    # (cells 9f0d2681, 8c-md, 8d-md, 9b-md, registers-md, 5e2d3879) before committing it.
    from py2ptx import readings

    ran = readings.recorded_keys(results.REPO / "results") & set(NEVER_RUN)
    assert not ran, f"a recorded run now has {sorted(ran)}: notebook 03's prose says none does"
    cells = _notebook_03()
    assert "**no GPU has run them yet**" in cells["9f0d2681"]
    for cid in ("7c-md", "8c-md", "8d-md", "9b-md", "registers-md"):
        assert "No GPU has run" in cells[cid] or "no GPU has run" in cells[cid], cid


def test_notebook_03s_typed_numbers():
    # Numbers typed in notebook 03's Markdown that are not measurements: each computed here.
    from py2ptx import gpusorts, readings

    cells = _notebook_03()
    # "all 8. Key 1 ... home after 7; key 2 ... home only after phase 8" (reversed 8..1)
    a, home = list(range(8, 0, -1)), {}
    for phase in range(8):
        for i in range(phase & 1, 7, 2):
            if a[i] > a[i + 1]:
                a[i], a[i + 1] = a[i + 1], a[i]
        for key in (1, 2):  # the phase after which the key reached its place, for good
            home[key] = home.get(key) if a[key - 1] == key else None
            home[key] = home[key] or (phase + 1 if a[key - 1] == key else None)
    assert a == sorted(a) and "all 8" in cells["1783ae2c"]
    assert home == {1: 7, 2: 8}, home
    # "bubble sort compares (0,1) seven times and (6,7) once; odd-even compares every pair
    # four times: 28 compare-and-swaps either way"
    from collections import Counter

    bubble = Counter((j, j + 1) for i in range(7) for j in range(7 - i))
    odd_even = Counter((i, i + 1) for phase in range(8) for i in range(phase & 1, 7, 2))
    assert bubble[(0, 1)] == 7 and bubble[(6, 7)] == 1 and set(odd_even.values()) == {4}
    assert sum(bubble.values()) == sum(odd_even.values()) == 28
    assert "`(0,1)` seven times and `(6,7)` once" in cells["2c825d8a"]
    # "p phases suffice — 1,024 instead of 16,384 at n = 2¹⁴ with 1,024 threads"
    assert gpusorts.merge_split_launch(2**14).block == 1024
    assert "1,024 instead of 16,384" in cells["0bebe2f4"]
    # "with m = 16 ... a 16-way conflict"; 8d "bank t mod 32" needs p a multiple of 32
    assert int(gpusorts.merge_split_launch(2**14).scalars[1]) == 16
    assert readings.bank_degree(16) == 16 and "a 16-way conflict" in cells["8d-md"]
    assert gpusorts.merge_split_interleaved_launch(2**14).block % 32 == 0
    # "for n = 2²⁰, 210 steps instead of 1,048,576 phases"
    assert 20 * 21 // 2 == 210 and "210 steps" in cells["d03faea1"]
    # "A tile of 16,384 keys is sorted in one launch"
    size = gpusorts.bitonic_registers_size(2**14)
    assert len(gpusorts.bitonic_registers_launches(size)) == 1
    assert "A tile of 16,384 keys is sorted in **one launch**" in cells["9b-md"]
    # "n²/64 cycles — four times below conflict-free shared memory" (n²/16)
    clock = readings.H200_CLOCK_HZ
    shared = readings.ceiling("odd_even_shared", 2**14, clock)[1]
    registers = readings.ceiling("odd_even_registers", 2**14, clock)[1]
    assert shared / registers == 4 and "four\ntimes below" in cells["registers-md"]
    # 16 keys a thread (8c, 9b); tiles of 512 and halos of 256 on a GPU, 128 and 64 on CPU
    # threads (7c); host-bound at 80 %; the H200's 4.2 TB/s and 1.98 GHz in the ceilings
    import inspect

    from py2ptx.timing import HOST_BOUND

    assert gpusorts.REGISTER_KEYS == 16 and "16 keys a thread" in cells["9f0d2681"]
    defaults = inspect.signature(gpusorts.odd_even_temporal_launches).parameters
    assert (defaults["tile"].default, defaults["halo"].default) == (512, 256)
    assert "tiles of 512, halos of 256" in cells["7c-run"]
    cpu = gpusorts.odd_even_temporal_schedule(300).launches[0]
    assert (int(cpu.scalars[1]), int(cpu.scalars[2])) == (128, 64)
    assert "tiles of 128, halos of 64" in cells["7c-run"]
    assert HOST_BOUND == 0.8 and "80 % or more" in cells["f00f166d"]
    assert readings.H200_HBM_BYTES_S == 4.2e12 and "4.2 TB/s" in cells["f00f166d"]
    assert readings.H200_CLOCK_HZ == 1.98e9 and "1.98 GHz" in cells["f00f166d"]


# --------------------------------------------------------------------------- replayed


def test_a_gpu_chapter_without_any_recorded_run_says_so():
    # tests/test_notebooks.py runs notebooks 03-06 and lab 05 replaying results/ (what a
    # student without a GPU sees); here the course without a single recorded run, as a
    # fork that removed results/ would be: notebook 05 must run and say there is none.
    from test_notebooks import REPO, _errors, _execute

    from py2ptx import gpu

    if gpu.cupy_or_none() is not None:
        pytest.skip("this machine has a GPU: the notebook would run live, not replay")
    nb = _execute(REPO / "notebooks" / "05-deepseek.ipynb")
    assert not _errors(nb)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []))
    assert "No GPU run named 'deepseek-l2' has been recorded in results/ yet" in text, text[-2000:]
