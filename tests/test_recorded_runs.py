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


# --------------------------------------------------------------------------- replayed


def test_the_gpu_chapters_replay_the_recorded_runs(results_dir):
    # What a student without a GPU sees: notebooks 03-06 and lab 05 showing the H200 runs
    # of results/ (the other notebook tests run with an empty results folder).
    import shutil

    from test_notebooks import REPO, _errors, _execute

    from py2ptx import gpu

    if gpu.cupy_or_none() is not None:
        pytest.skip("this machine has a GPU: the notebooks would run live, not replay")
    recorded = sorted((REPO / "results").glob("*.json"))
    if not recorded:
        pytest.skip("no recorded runs in results/")
    for path in recorded:
        shutil.copy(path, results_dir / path.name)
    for name, wants, figures in (
            ("notebooks/03-cuda-parallel-sort.ipynb", ["recorded run 'gpu-ladder' on NVIDIA"], 2),
            ("notebooks/04-ptx.ipynb", ["recorded run 'gpu-ladder' on NVIDIA"], 1),
            ("notebooks/05-deepseek.ipynb", ["recorded run 'deepseek-l2' on NVIDIA",
                                             "The least harmful stream was",
                                             "Auto-tuned chunk for"], 3),
            ("notebooks/06-the-whole-ladder.ipynb", ["recorded run 'ladder' on NVIDIA"], 2),
            ("solutions/05-lab-deepseek.ipynb", ["and on the recorded NVIDIA H200 run"], 0)):
        nb = _execute(REPO / name)
        assert not _errors(nb), (name, _errors(nb))
        text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                       for o in c.get("outputs", []))
        for want in wants:
            assert want in text, (name, want)
        pngs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                if "image/png" in o.get("data", {})]
        assert len(pngs) >= figures, (name, len(pngs))
