"""Timing (one result type for every measurement) and recorded runs with provenance.

Timings themselves are never asserted: only the bookkeeping around them.
"""

from __future__ import annotations

import importlib.util
import json
import time

import numpy as np
import pytest

from py2ptx import results
from py2ptx.timing import Timing, fit_power_law, format_seconds, time_cpu, time_gpu

# --------------------------------------------------------------------------- Timing


def test_timing_median_spread_repeats_best():
    t = Timing((5.0, 1.0, 3.0, 2.0, 4.0), label="x", n=10)
    assert t.repeats == 5
    assert t.median == 3.0
    assert t.spread == pytest.approx(2.0)  # inclusive quartiles 2 and 4
    assert t.best == 1.0
    assert t.where == "cpu"


def test_timing_single_sample_has_zero_spread():
    t = Timing((0.25,))
    assert t.repeats == 1 and t.median == 0.25 and t.spread == 0.0


def test_timing_needs_samples():
    with pytest.raises(ValueError, match="at least one sample"):
        Timing(())


def test_timing_str_cpu():
    text = str(Timing((0.010, 0.012, 0.014), label="numba"))
    assert text.startswith("numba: ")
    assert "12 ms median" in text
    assert "IQR 2 ms" in text
    assert "3 repeats" in text
    assert "SIMULATOR" not in text and "GPU" not in text


def test_timing_str_says_simulator_and_gpu():
    sim = str(Timing((1e-3,), where="simulator"))
    assert "SIMULATOR" in sim and "not GPU speed" in sim
    gpu = str(Timing((1e-6, 2e-6), where="gpu"))
    assert "GPU events" in gpu and "SIMULATOR" not in gpu


@pytest.mark.parametrize(("seconds", "text"), [(2.5, "2.5 s"), (0.0123, "12.3 ms"),
                                               (4.56e-5, "45.6 µs"), (7e-9, "7 ns"),
                                               (0.0, "0 ns")])
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text


def test_timing_dict_round_trip_keeps_meta():
    t = Timing((1.0, 2.0, 4.0), label="c", where="gpu", n=1024, meta={"calls_per_sample": 3})
    d = t.to_dict()
    assert d["median_s"] == 2.0 and d["repeats"] == 3 and d["calls_per_sample"] == 3
    back = Timing.from_dict(json.loads(json.dumps(d)))
    assert back == t
    assert back.meta == {"calls_per_sample": 3}


# --------------------------------------------------------------------------- time_cpu


def test_time_cpu_calls_warmup_plus_repeats_for_a_slow_function():
    calls = []
    t = time_cpu(calls.append, 1, repeats=4, warmup=2, min_sample_s=0.0, label="f", n=7,
                 max_repeats=4)
    # min_sample_s=0: every call is "slow enough", so one call per sample; max_repeats=4:
    # no extra samples, however noisy a sub-microsecond call is.
    assert len(calls) == 2 + 4
    assert t.repeats == 4 and len(t.samples) == 4
    assert t.meta["calls_per_sample"] == 1
    assert t.label == "f" and t.n == 7 and t.where == "cpu"
    assert all(s >= 0 for s in t.samples)


def test_time_cpu_loops_a_fast_function_per_sample():
    calls = []
    t = time_cpu(calls.append, None, repeats=3, warmup=1, min_sample_s=5e-3, max_repeats=3)
    number = t.meta["calls_per_sample"]
    assert number >= 1
    assert t.repeats == 3 and len(t.samples) == 3
    # warm-up, the one probing call, then `repeats` samples of `number` calls each
    # (if the probe alone outlasted min_sample_s it is kept as the first sample).
    expected = {1 + 1 + 3 * number} if number > 1 else {1 + 3, 1 + 1 + 3}
    assert len(calls) in expected
    assert set(calls) == {None}


def test_time_cpu_passes_arguments_and_rejects_zero_repeats():
    seen = []
    time_cpu(lambda a, b: seen.append((a, b)), 1, 2, repeats=1, warmup=0, min_sample_s=0.0)
    assert seen == [(1, 2)]
    with pytest.raises(ValueError, match="repeats"):
        time_cpu(lambda: None, repeats=0)


# --------------------------------------------------------------------------- power law


@pytest.mark.parametrize("k", [1.0, 2.0])
def test_fit_power_law_recovers_the_exponent(k):
    c = 3e-9
    timings = [Timing((c * n**k,), n=n) for n in (256, 512, 1024, 2048, 4096)]
    fit_k, fit_c = fit_power_law(timings)
    assert fit_k == pytest.approx(k, abs=1e-6)
    assert fit_c == pytest.approx(c, rel=1e-6)


def test_fit_power_law_with_noisy_quadratic_timings():
    noise = (1.05, 0.97, 1.02, 0.99, 1.03, 0.96)
    ns = (100, 200, 400, 800, 1600, 3200)
    timings = [Timing((2e-8 * n**2 * e, 2e-8 * n**2), n=n) for n, e in zip(ns, noise, strict=True)]
    k, _ = fit_power_law(timings)
    assert k == pytest.approx(2.0, abs=0.05)


def test_fit_power_law_needs_two_sizes():
    with pytest.raises(ValueError, match="two or more"):
        fit_power_law([Timing((1.0,), n=10)])
    with pytest.raises(ValueError):
        fit_power_law([Timing((1.0,)), Timing((2.0,))])  # no n


# --------------------------------------------------------------------------- time_gpu


def test_gpu_timing_carries_both_columns_and_round_trips():
    t = Timing((10e-6, 12e-6, 14e-6), "bitonic", "gpu", 1024, {"cpu_median_s": 11e-6},
               device_samples=(2e-6, 3e-6, 4e-6), host_fraction=11 / 12)
    assert t.device_median == 3e-6 and t.device_spread == pytest.approx(1e-6)
    assert t.host_bound  # 92 % of the event time is Python
    d = t.to_dict()
    assert (d["device_median"], d["host_fraction"], d["host_bound"]) == (3e-6, 11 / 12, True)
    assert d["device_iqr"] == pytest.approx(1e-6)
    back = Timing.from_dict(json.loads(json.dumps(d)))
    assert back == t and back.meta == {"cpu_median_s": 11e-6}
    assert "device only 3 µs" in str(t) and "host-bound" in str(t)


def test_host_bound_is_80_percent_of_the_event_time():
    just = Timing((1.0,), where="gpu", host_fraction=0.8)
    below = Timing((1.0,), where="gpu", host_fraction=0.79)
    assert just.host_bound and not below.host_bound
    assert not Timing((1.0,), where="gpu").host_bound  # unknown is not host-bound


def test_a_run_recorded_before_the_device_column_loads_with_none():
    old = {"label": "bitonic", "where": "gpu", "n": 1024, "median_s": 1.2e-4, "spread_s": 0,
           "repeats": 1, "samples_s": [1.2e-4], "cpu_median_s": 1.1e-4}
    t = Timing.from_dict(old)
    assert (t.device_median, t.device_spread, t.host_fraction, t.host_bound) == (
        None, None, None, False)
    assert t.meta == {"cpu_median_s": 1.1e-4}
    assert "device only not measured" in str(t)
    cpu = Timing((1.0,)).to_dict()
    assert "device_median" not in cpu  # CPU timings keep the old keys only


def test_time_gpu_measures_device_only_behind_the_spin(fake_gpu, monkeypatch):
    import fake_cupy

    work = fake_cupy.zeros(4, dtype=np.int32)
    monkeypatch.setitem(fake_cupy.PYTHON_KERNELS, "busy",
                        lambda grid, block, args, shared: time.sleep(2e-3))
    kernel = fake_cupy.RawModule(code='extern "C" __global__ void busy(int *a) {}').get_function(
        "busy")
    t = time_gpu(lambda: kernel((1,), (1,), (work,)), repeats=3, warmup=1, label="busy")
    assert t.repeats == 3 and len(t.device_samples) == 3
    assert t.meta["device_method"].startswith("CUDA events queued behind a spin")
    assert t.meta["spin_s"] > t.meta["cpu_median_s"]
    assert all(s >= 2e-3 for s in t.device_samples)  # the work itself, behind the spin
    assert t.host_fraction is not None


def test_time_gpu_says_why_when_no_spin_hides_the_host(fake_gpu, monkeypatch):
    import fake_cupy

    from py2ptx import timing

    def waits_for_the_gpu():  # as a call that synchronizes (a pageable copy) does
        fake_cupy._wait_for_device()

    t = time_gpu(waits_for_the_gpu, repeats=2, warmup=0)
    assert t.device_median is None and "waits for the GPU" in t.meta["device_note"]
    monkeypatch.setattr(timing, "MAX_SPIN_S", 1e-9)
    t = time_gpu(lambda: None, repeats=2, warmup=0)
    assert t.device_median is None and "graph replay" in t.meta["device_note"]
    assert time_gpu(lambda: None, repeats=2, device=False).device_samples is None


def test_time_gpu_without_cupy_points_to_results():
    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("CuPy is installed here; time_gpu would try a real GPU")
    with pytest.raises(RuntimeError) as info:
        time_gpu(lambda: None)
    message = str(info.value)
    assert "results/" in message
    assert "CuPy" in message


# --------------------------------------------------------------------------- recorded runs


@pytest.fixture
def cpu_only(monkeypatch):
    """Record runs as on a machine without a GPU, whatever this machine has."""
    monkeypatch.setattr(results, "gpu_info", lambda: {"error": "no GPU (test)"})


@pytest.fixture
def h200_provenance(monkeypatch):
    """Record runs as on the H200 (provenance only; conftest's fake_gpu is the fake CuPy)."""
    monkeypatch.setattr(results, "gpu_info", lambda: {
        "name": "NVIDIA H200", "cc": "9.0", "driver": "580.65", "driver_cuda": (13, 0),
        "runtime_cuda": (13, 0)})


TIMINGS = [Timing((0.5, 0.6, 0.7), label="python_bubble", n=1000, meta={"calls_per_sample": 1}),
           Timing((0.01, 0.02), label="numpy_sort", n=1000)]


def test_results_dir_follows_the_environment(results_dir):
    assert results.results_dir() == results_dir


def test_record_and_load_round_trip(results_dir, cpu_only):
    path = results.record_run("ladder", TIMINGS, extra={"note": "test"})
    assert path.parent == results_dir
    assert path.suffix == ".json" and path.name.endswith("-ladder.json")
    run = results.load_run(path)
    assert run.name == "ladder"
    assert run.path == path
    assert run.timings == TIMINGS
    assert run.timing("numpy_sort").median == pytest.approx(0.015)
    assert run.timing("numpy_sort", n=1000) is not None
    assert run.timing("numpy_sort", n=5) is None
    assert run.timing("nothing") is None
    prov = run.provenance
    for key in ("recorded_utc", "commit", "machine", "versions"):
        assert key in prov, key
    assert prov["recorded_utc"].endswith("Z")
    assert prov["machine"]["cpu"] and prov["machine"]["cores"]
    assert "python" in prov["versions"] and "numpy" in prov["versions"]
    assert prov["extra"] == {"note": "test"}
    assert not run.on_gpu
    assert run.device == prov["machine"]["cpu"]
    assert "recorded run 'ladder'" in run.describe()
    data = json.loads(path.read_text())
    assert data["schema"] == results.SCHEMA


def test_recorded_gpu_run_carries_the_gpu_provenance(results_dir, h200_provenance):
    run = results.load_run(results.record_run("ladder", TIMINGS))
    assert run.on_gpu and run.device == "NVIDIA H200"
    assert "nvidia-h200" in run.path.name
    m = run.provenance["machine"]
    assert m["compute_capability"] == "9.0" and m["driver_cuda"] == "13.0"
    assert m["driver"] == "580.65"
    text = run.describe()
    assert "NVIDIA H200" in text and "driver CUDA 13.0" in text


def test_latest_run_with_gpu_is_none_when_only_cpu_runs_exist(results_dir, cpu_only):
    results.record_run("ladder", TIMINGS)
    assert results.load_runs("ladder")
    assert results.latest_run("ladder") is None
    assert results.latest_run("ladder", gpu=True) is None
    cpu = results.latest_run("ladder", gpu=False)
    assert cpu is not None and not cpu.on_gpu
    assert results.latest_run("ladder", gpu=None) is not None
    assert results.latest_run("other", gpu=None) is None


def test_latest_run_finds_a_gpu_run(results_dir, h200_provenance):
    results.record_run("ladder", TIMINGS)
    run = results.latest_run("ladder")
    assert run is not None and run.on_gpu


def test_load_runs_from_a_missing_directory_is_empty(tmp_path):
    assert results.load_runs(directory=tmp_path / "none") == []
    assert results.latest_run("ladder", directory=tmp_path / "none") is None


def test_load_run_rejects_an_unknown_schema(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"schema": 99, "name": "x", "provenance": {}, "timings": []}))
    with pytest.raises(ValueError, match="schema"):
        results.load_run(path)


def test_no_run_message():
    text = results.no_run_message("ladder")
    assert "No GPU run" in text
    assert "'ladder'" in text
    assert "results/" in text


@pytest.mark.parametrize("name", ["bad name", "../escape", "a/b", "", "x.json"])
def test_bad_run_name_is_rejected(name, results_dir):
    with pytest.raises(ValueError, match="run name"):
        results.record_run(name, TIMINGS)
    assert list(results_dir.iterdir()) == []


def test_run_needs_timings(results_dir):
    with pytest.raises(ValueError, match="at least one timing"):
        results.record_run("ladder", [])


def test_two_runs_of_one_name_are_both_kept(results_dir, cpu_only):
    first = results.record_run("ladder", TIMINGS[:1])
    second = results.record_run("ladder", TIMINGS[1:])
    assert first != second
    assert len(results.load_runs("ladder")) == 2


def test_a_commit_named_by_the_sender_wins_over_a_stale_git(monkeypatch):
    # The lent GPU machine's copy of the tree carried a stale .git (2026-11-28): the
    # command that sent the tree names its commit, and that is what gets recorded.
    monkeypatch.setenv("PY2PTX_COMMIT", "d264c75c168526a3def9d8f4bc3744b6acb85d2f")
    monkeypatch.setenv("PY2PTX_DIRTY", "0")
    prov = results.provenance()
    assert prov["commit"] == "d264c75c168526a3def9d8f4bc3744b6acb85d2f"
    assert prov["dirty"] is False
    monkeypatch.setenv("PY2PTX_DIRTY", "1")
    assert results.provenance()["dirty"] is True
