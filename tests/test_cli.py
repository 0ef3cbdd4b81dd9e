"""``python -m py2ptx ladder``: the course's ladder without Jupyter (bench.ladder_at).

On a machine without a GPU (CI) the CPU rungs run live and every GPU rung is listed
as not run, with the doctor's reason; with the fake GPU (tests/fake_cupy.py) the GPU
rungs' host code runs too, so the GPU path of the command is exercised on CI.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import matplotlib.pyplot as plt
import pytest

from py2ptx import bench, doctor, ladder, reports, results, speedups
from py2ptx.__main__ import main
from py2ptx.checks import WrongResult
from py2ptx.timing import Timing

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _row(r: ladder.Rung) -> re.Pattern:
    """A table row of rung r: number, title, device and kind, then its numbers."""
    return re.compile(rf"^{r.number:>2}  {re.escape(r.title)} +{r.device.upper()} +{r.kind} ",
                      re.M)


def _ladder(capsys, *args: str) -> tuple[int, str, str]:
    """``python -m py2ptx ladder ARGS`` in this process: (exit code, stdout, stderr)."""
    try:
        code = main(["ladder", *args])
    except SystemExit as exit_:
        code = exit_.code
    out = capsys.readouterr()
    return code, out.out, out.err


# --------------------------------------------------------------------------- the real entry point


def test_python_m_py2ptx_ladder_at_small_n(tmp_path, private_dirs):
    figure = tmp_path / "ladder.png"
    run = subprocess.run([sys.executable, "-m", "py2ptx", "ladder", "--n", "64", "--repeats",
                          "1", "--figure", str(figure), "--record"],
                         capture_output=True, text=True, timeout=240, env={**os.environ})
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    out = run.stdout
    modes = doctor.probe().modes
    live = [r for r in ladder.RUNGS if modes[r.key][0] == "live"]
    not_live = [r for r in ladder.RUNGS if modes[r.key][0] != "live"]
    assert "Sorting n = 64 random int32 keys, measured on" in out
    for r in ladder.rungs("cpu"):  # every CPU rung runs here and has its row
        assert r in live
        assert _row(r).search(out), r.key
    # The rungs that cannot run here are listed, each with the doctor's mode and reason.
    table, _, not_run = out.partition("Not run here")
    for r in not_live:
        mode, reason = modes[r.key]
        assert re.search(rf"^{r.number:>2}  {r.key} +{re.escape(f'{mode}: {reason}')}$",
                         not_run, re.M), r.key
        assert r.title not in table
    if not doctor.has_gpu():
        assert {r.key for r in not_live} == {r.key for r in ladder.rungs("gpu")}
    # Rung 1 is the baseline of the speedups, and the split is printed.
    assert re.search(r"^ 1  Bubble sort in Python .* ×1$", out, re.M)
    assert "Where the speedup comes from: rung 1 -> the fastest rung here" in out
    # Progress is a tqdm bar on stderr, naming each rung; the table alone is on stdout.
    assert "ladder, n = 64" in run.stderr and "python_bubble" in run.stderr
    assert "11/11" in run.stderr and "ladder, n =" not in out
    # The figure ...
    assert figure.read_bytes()[:8] == PNG
    assert f"Figure: {figure}" in out
    # ... and the recorded run, read back with its settings and the rungs not run.
    paths = sorted(private_dirs["results"].glob("*-ladder.json"))
    assert len(paths) == 1 and f"Recorded: {paths[0]}" in out
    recorded = results.load_run(paths[0])
    assert recorded.name == "ladder"
    assert [t.label for t in recorded.timings] == [r.key for r in live]
    assert {t.n for t in recorded.timings} == {64}
    assert all(t.repeats == 1 for t in recorded.timings)
    extra = recorded.provenance["extra"]
    assert (extra["n"], extra["repeats"]) == (64, 1)
    assert extra["rungs"] == [r.key for r in ladder.RUNGS]
    assert extra["skipped"] == {r.key: f"{modes[r.key][0]}: {modes[r.key][1]}"
                                for r in not_live}
    assert extra["command"].startswith("python -m py2ptx ladder --n 64 --repeats 1")
    assert extra["command"].endswith("--record")


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(("args", "message"), [
    (["--n", "1"], "--n 1: the ladder needs at least 2 keys"),
    (["--rungs", "1,bogus"], "no rung 'bogus'; the rungs are: 1 python_bubble"),
    (["--rungs", "12"], "no rung 12"),
    (["--repeats", "0"], "--repeats 0: need at least 1"),
])
def test_bad_arguments_exit_2_with_a_clear_message(capsys, tmp_path, args, message):
    code, out, err = _ladder(capsys, *args, "--figure", str(tmp_path / "f.png"))
    assert code == 2
    assert message in err
    assert out == "" and "[1/" not in err  # refused before anything ran
    assert not (tmp_path / "f.png").exists()


def test_unknown_rung_lists_every_valid_one(capsys):
    code, _, err = _ladder(capsys, "--rungs", "nope")
    assert code == 2
    for r in ladder.RUNGS:
        assert f"{r.number} {r.key}" in err


def test_rungs_by_number_and_key_run_in_ladder_order(capsys, tmp_path):
    figure = tmp_path / "f.png"
    code, out, err = _ladder(capsys, "--n", "50", "--repeats", "2", "--rungs",
                             "numpy_sort, 3", "--figure", str(figure))
    assert code == 0, err
    rows = [line for line in out.splitlines() if re.match(r"^ ?\d+  \S", line)]
    assert [row.split()[0] for row in rows] == ["3", "5"]
    # Without rung 1 the speedups are over the first rung that ran, and say so.
    assert "× rung 3" in out and "× rung 1" not in out
    assert "needs rung 1, python_bubble" in out
    assert re.search(r"^ 3  .* 2 +×1$", out, re.M)  # 2 repeats, the baseline's ×1
    assert "Not run here" not in out
    assert figure.read_bytes()[:8] == PNG
    assert list(results.results_dir().glob("*.json")) == []  # no --record, no run


def test_large_n_warns_with_an_estimate_and_still_runs(capsys, tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(bench, "ladder_estimate",
                        lambda n, keys, repeats: {"python_bubble": 1800.0, "numpy_sort": 0.1})

    def fake_ladder_at(n, keys, repeats, progress):
        seen["n"] = n
        return {"numpy_sort": Timing((1e-3,), label="numpy_sort", n=n)}, {}

    monkeypatch.setattr(bench, "ladder_at", fake_ladder_at)
    code, _, err = _ladder(capsys, "--n", "200000", "--rungs", "1,5",
                           "--figure", str(tmp_path / "f.png"))
    assert code == 0
    assert seen["n"] == 200_000
    assert "warning: at n = 200,000 the O(n^2) CPU rungs will take about 30 minutes" in err
    assert "python_bubble ~30 min" in err and "numpy_sort" not in err.split("(")[1]


def test_a_wrong_sort_stops_the_ladder(capsys, tmp_path, monkeypatch):
    def wrong(key, n, repeats=5, seed=0):
        raise WrongResult(f"{key}: index 3 holds 7, expected 5")

    monkeypatch.setattr(bench, "measure", wrong)
    code, out, err = _ladder(capsys, "--n", "16", "--rungs", "5",
                             "--figure", str(tmp_path / "f.png"))
    assert code == 1
    assert "sorted wrongly" in err and "index 3 holds 7, expected 5" in err
    assert out == ""
    assert not (tmp_path / "f.png").exists()


# --------------------------------------------------------------------------- the library


def test_ladder_at_times_only_live_rungs(capsys):
    modes = {r.key: ("live", "here") for r in ladder.RUNGS}
    modes["c_bubble_scalar"] = ("simulator", "pretend: the simulator")
    modes["numba_bubble"] = ("unavailable", "pretend: no Numba")
    timings, skipped = bench.ladder_at(32, keys=["numpy_sort", 3, "4", "python_bubble"],
                                       repeats=2, modes=modes, progress=True)
    assert list(timings) == ["python_bubble", "numpy_sort"]
    # Two samples asked for; a noisy machine may add more (time_cpu's extra samples).
    assert all(t.n == 32 and t.where == "cpu" for t in timings.values())
    assert all(t.repeats - t.meta.get("extra_repeats", 0) == 2 for t in timings.values())
    assert skipped == {"c_bubble_scalar": "simulator: pretend: the simulator",
                       "numba_bubble": "unavailable: pretend: no Numba"}
    bar = capsys.readouterr().err  # one tqdm bar on stderr, naming each rung in turn
    assert "ladder, n = 32" in bar and "4/4" in bar
    assert all(key in bar for key in ("python_bubble", "c_bubble_scalar", "numba_bubble",
                                      "numpy_sort"))


def test_ladder_at_skips_a_rung_that_refuses_this_n(monkeypatch):
    real = bench.measure

    def measure(key, n, repeats=5, seed=0):
        if key == "numpy_sort":
            raise ValueError("5000 keys do not fit in one block's shared memory")
        return real(key, n, repeats, seed)

    monkeypatch.setattr(bench, "measure", measure)
    modes = {r.key: ("live", "here") for r in ladder.RUNGS}
    timings, skipped = bench.ladder_at(40, keys=[1, 5], repeats=1, modes=modes)
    assert list(timings) == ["python_bubble"]
    assert skipped == {"numpy_sort": "cannot run at n = 40: 5000 keys do not fit in one "
                                     "block's shared memory"}


def test_ladder_at_never_reports_a_simulator_time(monkeypatch):
    monkeypatch.setattr(bench, "measure", lambda key, n, repeats=5, seed=0:
                        Timing((1e-3,), label=key, where="simulator", n=n))
    modes = {r.key: ("live", "here") for r in ladder.RUNGS}
    timings, skipped = bench.ladder_at(8, keys=["odd_even_numba"], modes=modes)
    assert timings == {}
    assert "simulator" in skipped["odd_even_numba"]


@pytest.mark.parametrize(("n", "repeats"), [(1, 3), (10, 0)])
def test_ladder_at_refuses_bad_n_and_repeats(n, repeats):
    with pytest.raises(ValueError):
        bench.ladder_at(n, repeats=repeats, modes={})


def test_ladder_report_splits_the_speedup_by_kind():
    timings = {"python_bubble": Timing((1.0,), n=100), "c_bubble_scalar": Timing((0.01,), n=100),
               "numba_bubble": Timing((0.02,), n=100), "numpy_sort": Timing((1e-4,), n=100)}
    text = reports.ladder_report(timings, {"bitonic": "recorded: no GPU"})
    # × rung 1, then × the rung above: numba is slower than C, and it says so.
    assert re.search(r"^ 3  .* ×100 +×100$", text, re.M)
    assert re.search(r"^ 4  .* ×50 +×0\.5$", text, re.M)
    assert re.search(r"^ 5  .* ×10,000 +×200$", text, re.M)
    # 1 s -> 10 ms without changing the algorithm (best: C), x100 more by changing it.
    assert "the fastest rung here, 5. numpy_sort: ×10,000" in text
    assert re.search(r"same algorithm .*: ×100 +\(best: 3\. c_bubble_scalar\)", text)
    assert "algorithm change, on top of that: ×100  (5. numpy_sort over 3. c_bubble_scalar)" \
        in text
    assert re.search(r"^ 9  bitonic +recorded: no GPU$", text, re.M)


def test_ladder_report_when_no_algorithm_change_wins():
    timings = {"python_bubble": Timing((1.0,), n=8), "numpy_sort": Timing((0.5,), n=8),
               "c_bubble_scalar": Timing((0.1,), n=8)}
    text = reports.ladder_report(timings, {})
    assert "algorithm change, on top of that: ×1  (no rung that changes the algorithm" in text


def test_ladder_estimate_scales_the_quadratic_cpu_rungs():
    modes = {r.key: ("live", "here") for r in ladder.RUNGS}
    est = bench.ladder_estimate(8192, keys=["python_bubble", "numpy_sort", "bitonic"],
                                repeats=3, n0=256, modes=modes)
    assert list(est) == ["python_bubble"]  # O(n log n) and GPU rungs are not estimated
    small = bench.ladder_estimate(512, keys=["python_bubble"], repeats=3, n0=256, modes=modes)
    assert est["python_bubble"] > 50 * small["python_bubble"]  # (8192/512)^2 = 256


def test_progress_is_one_tqdm_bar_and_off_means_silent(capsys):
    plan = {"numpy_sort": ((64, 128), 2)}
    bench.run_plan(plan, progress=True, transfers=False)
    shown = capsys.readouterr()
    assert "measuring" in shown.err and "2/2" in shown.err  # the bar, on stderr
    assert "numpy_sort             n =        64" in shown.out  # each result, printed above it
    bench.run_plan(plan, progress=False, transfers=False)
    bench.ladder_at(64, keys=["numpy_sort"], repeats=2, progress=False)
    assert capsys.readouterr() == ("", "")


# --------------------------------------------------------------------------- with a GPU


def test_ladder_runs_gpu_rungs_live_where_there_is_a_gpu(fake_gpu, capsys, tmp_path):
    """The fake GPU (CPU threads) stands in for one: the same command, unchanged, times
    the GPU rungs on the device and names the GPU. (Its times are CPU threads, never read.)"""
    figure = tmp_path / "f.png"
    code, out, err = _ladder(capsys, "--n", "64", "--repeats", "1", "--rungs",
                             "1,5,7,8,9,10", "--figure", str(figure), "--record")
    assert code == 0, err
    import fake_cupy

    assert f"measured on {fake_cupy.FAKE_DEVICE_NAME} and" in out
    for key in ("odd_even_global", "odd_even_shared", "bitonic", "cupy_sort"):
        assert _row(ladder.rung(key)).search(out), key
    assert "Not run here" not in out
    run = results.latest_run("ladder")
    assert run.device == fake_cupy.FAKE_DEVICE_NAME
    assert {t.label: t.where for t in run.timings} == {
        "python_bubble": "cpu", "numpy_sort": "cpu", "odd_even_global": "gpu",
        "odd_even_shared": "gpu", "bitonic": "gpu", "cupy_sort": "gpu"}
    assert figure.read_bytes()[:8] == PNG


@pytest.mark.parametrize(("x", "text"), [(1.0, "×1"), (0.88, "×0.88"), (63825.2, "×63,825"),
                                         (0.05, "÷20"), (0.0002818, "÷3,549")])
def test_speedups_and_slowdowns_read_as_factors(x, text):
    from py2ptx.timing import format_speedup

    assert format_speedup(x) == text


# --------------------------------------------------------------------------- notebook 06


def _t(key, seconds, n=100, where="cpu", spread=0.0):
    return Timing((seconds - spread, seconds, seconds + spread), label=key, where=where, n=n)


#: A made-up ladder where the fastest rung changes the algorithm (np.sort) and the PTX rung
#: is the fastest same-algorithm one: rung 1 1 s, C 10 ms, GPU shared 2 ms, PTX 1 ms, np.sort 10 µs.
LADDER_06 = {"python_bubble": _t("python_bubble", 1.0), "c_bubble_scalar": _t("c_bubble_scalar", 1e-2),
             "numpy_sort": _t("numpy_sort", 1e-5), "odd_even_shared": _t("odd_even_shared", 2e-3, where="gpu"),
             "odd_even_inline_ptx": _t("odd_even_inline_ptx", 1e-3, where="gpu")}


def test_speedup_split_is_the_report_split_as_data():
    s = speedups.speedup_split(LADDER_06)
    assert (s.base, s.same, s.best) == ("python_bubble", "odd_even_inline_ptx", "numpy_sort")
    assert s.same_algorithm == pytest.approx(1000)
    assert s.algorithm_change == pytest.approx(100)
    assert s.total == pytest.approx(s.same_algorithm * s.algorithm_change) == pytest.approx(1e5)
    assert speedups.speedup_split({"numpy_sort": LADDER_06["numpy_sort"]}) is None
    # ladder_report prints exactly these factors.
    text = reports.ladder_report(LADDER_06, {})
    assert "the fastest rung here, 5. numpy_sort: ×100,000" in text
    assert re.search(r"same algorithm .*: ×1,000 +\(best: 11\. odd_even_inline_ptx\)", text)


def test_layer_split_goes_down_the_stack_without_multiplying_steps():
    from py2ptx.stack import LAYERS

    steps = speedups.layer_split(LADDER_06)
    assert [s.layer for s in steps] == list(LAYERS)
    by = {s.layer: s for s in steps}
    assert by["application"].rungs == ("python_bubble",)
    assert by["application"].split.total == pytest.approx(1)
    assert by["application"].same_step is None
    comp = by["compilers"]
    assert comp.rungs == ("c_bubble_scalar", "numpy_sort", "odd_even_shared")
    assert (comp.split.same, comp.split.best) == ("odd_even_shared", "numpy_sort")
    assert comp.split.same_algorithm == pytest.approx(500)
    assert comp.split.algorithm_change == pytest.approx(200)
    # The PTX rung halves the best same-algorithm time but not the fastest time: the
    # algorithm-change factor shrinks to keep the product, never blamed on a step.
    ptx = by["ptx"]
    assert ptx.rungs == ("odd_even_inline_ptx",)
    assert ptx.same_step == pytest.approx(2) and ptx.total_step == pytest.approx(1)
    assert ptx.split.algorithm_change == pytest.approx(100)
    assert ptx.split.total == pytest.approx(comp.split.total)
    # Layers where no rung ran carry the split down and add nothing of their own.
    for layer in ("runtime", "sass", "hardware"):
        assert by[layer].rungs == () and by[layer].same_step is None
    assert by["hardware"].split == ptx.split


def test_layer_split_without_rung_1_or_with_a_simulator_time():
    steps = speedups.layer_split({"numpy_sort": LADDER_06["numpy_sort"]})
    assert all(s.split is None and s.same_step is None for s in steps)
    with pytest.raises(ValueError, match="simulator"):
        speedups.layer_split({**LADDER_06, "odd_even_numba": _t("odd_even_numba", 1e-3,
                                                             where="simulator")})


def test_layer_table_names_every_layer_and_the_rungs_not_run():
    timings = {k: t for k, t in LADDER_06.items() if k != "odd_even_inline_ptx"}
    text = reports.layer_table(timings, {"odd_even_inline_ptx": "compile-only: no GPU here"})
    rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines()[2:]}
    assert list(rows) == ["Application", "Languages and compilers", "CUDA runtime and driver",
                          "PTX (virtual ISA)", "SASS (machine code)", "Hardware"]
    assert "no rung is written at this layer" in rows["CUDA runtime and driver"]
    assert "| none; not run: 11 (compile-only) |" in rows["PTX (virtual ISA)"]
    assert "×500 (8. odd_even_shared)" in rows["Languages and compilers"]
    assert "×200 (5. numpy_sort)" in rows["Languages and compilers"]
    assert "; not run: 2 (not measured), 4 (not measured), 6 (not measured)" \
        in rows["Languages and compilers"]
    assert rows["PTX (virtual ISA)"].endswith("| — |")  # nothing ran there, so nothing added


def _run(timings):
    return results.Run("ladder", {"machine": {"gpu": "Test GPU", "cpu": "Test CPU"}}, timings)


def test_recorded_ladder_keeps_the_rungs_in_ladder_order():
    timings = [LADDER_06["numpy_sort"], Timing((1e-4,), label="h2d", where="gpu", n=100),
               LADDER_06["python_bubble"]]
    assert list(reports.recorded_ladder(_run(timings))) == ["python_bubble", "numpy_sort"]
    with pytest.raises(ValueError, match="several n"):
        reports.recorded_ladder(_run([*timings, _t("c_bubble_scalar", 1e-2, n=200)]))


def test_ladder_beside_shows_both_machines_and_why_a_rung_did_not_run():
    here = {k: LADDER_06[k] for k in ("python_bubble", "c_bubble_scalar", "numpy_sort")}
    here["numba_bubble"] = _t("numba_bubble", 1e-3, where="simulator")
    there = {"python_bubble": _t("python_bubble", 2.0), "odd_even_shared": LADDER_06["odd_even_shared"]}
    text = reports.ladder_beside(here, {"odd_even_shared": "compile-only: no GPU"}, there,
                               "here", "there")
    lines = text.splitlines()
    assert lines[0].startswith("| # | rung | layer | kind | here, n = 100 | × rung 1 | there, n = 100 |")
    rows = {int(line.split(" | ")[0].lstrip("| ")): line for line in lines[2:]}
    assert list(rows) == [r.number for r in ladder.RUNGS]
    assert "| 1 s (IQR 0 ns) | ×1 | 2 s (IQR 0 ns) | ×1 |" in rows[1]
    assert "| 10 ms (IQR 0 ns) | ×100 | not in the run |  |" in rows[3]
    assert "simulator: correct, not speed |  |" in rows[4]  # never a time
    assert "| not run here (compile-only) |  | 2 ms (IQR 0 ns) | ×1,000 |" in rows[8]
    assert "| not run |  | not in the run |  |" in rows[9]
