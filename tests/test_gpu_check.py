"""The GPU check's measuring stages rehearsed on the fake GPU at tiny sizes.

The real check (``tools/gpu_check.py``) refuses to run without a GPU, and the lent GPU's
minutes are too few to find a broken stage there. These tests call its stage functions
in process, with tests/fake_cupy.py for CuPy and a stand-in ``ncu`` (a shell script, as
in tests/test_nsight.py): what they check is the stages' plumbing -- every version
measured in both columns, the graph replay, the counters mapped to versions, the run
recorded with all of it -- never a speed.
"""

from __future__ import annotations

import stat

import gpu_check
import pytest

from py2ptx import bench, nsight, results


@pytest.fixture
def stand_in_ncu(tmp_path, monkeypatch):
    """An ``ncu`` that prints one row of counters per bank version's kernel."""
    from py2ptx.ladder import version

    metrics = gpu_check.BANK_METRICS
    header = ['"ID"', '"Kernel Name"'] + [f'"{m}"' for m in metrics]
    rows = [",".join(header), ",".join(['""', '""'] + ['"1"'] * len(metrics))]
    names = gpu_check.bank_kernels(gpu_check.bank_versions(), 64)
    for i, name in enumerate(names):
        rows.append(",".join([f'"{i}"', f'"{name}"'] + [f'"{1000 * (i + 1)}"'] * len(metrics)))
    table = tmp_path / "table.csv"
    table.write_text("\n".join(rows) + "\n")
    script = tmp_path / "ncu"
    script.write_text(f'''#!/bin/sh
if [ "$1" = "--import" ]; then cat {table}; exit 0; fi
while [ $# -gt 0 ]; do if [ "$1" = "-o" ]; then out="$2"; fi; shift; done
touch "$out.ncu-rep"
''')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(nsight, "ncu_path", lambda: str(script))
    assert version("odd_even_shared").schedule  # the counters need each version's schedule
    return names


def test_measuring_stages_rehearsed_on_the_fake_gpu(fake_gpu, stand_in_ncu, results_dir,
                                                    capsys, monkeypatch):
    from py2ptx import timing

    monkeypatch.setattr(timing, "MAX_SPIN_S", 60.0)  # CPU threads launch slowly: spin longer
    check = gpu_check.Check(plan=gpu_check.rehearsal_plan(32),
                            graphs={"odd_even_global": ((32,), 1)}, bank_n=64,
                            progress=False, gpu_tests_passed=True)
    assert gpu_check.run_stages(check, ["ladder", "bank_counters", "record_ladder"])
    said = capsys.readouterr().out
    assert "=== ladder:" in said and "budget 360 s" in said
    assert [name for name, _, _ in check.results] == ["ladder", "bank_counters",
                                                      "record_ladder"]

    run = results.latest_run(bench.GPU_RUN)
    assert run.path == check.recorded[0] and run.path.parent == results_dir
    labels = {t.label for t in run.timings}
    assert set(gpu_check.rehearsal_plan(32)) <= labels
    assert {"odd_even_global@graph", "h2d", "d2h"} <= labels
    bitonic = run.timing("bitonic", 32)
    assert bitonic.device_median is not None and bitonic.host_fraction is not None
    graph = run.timing("odd_even_global@graph", 32)
    assert graph.meta["launches"] == 32

    extra = run.provenance["extra"]
    assert extra["gpu_tests_passed"] and "graph_plan" in extra and "how" in extra
    banks = extra["bank_conflicts"]
    assert banks["versions"] == gpu_check.bank_versions() and banks["n"] == 64
    assert {row["version"] for row in banks["ncu"]} == set(gpu_check.bank_versions())
    assert all(row["metrics"][gpu_check.BANK_METRICS[0]] >= 1000 for row in banks["ncu"])
    assert "--clock-control none" in banks["command"]
    assert "cpu_model" in banks


def test_the_profiled_program_sorts_each_bank_version(fake_gpu):
    gpu_check.profile_target(gpu_check.bank_versions(), 64)  # WrongResult if one is wrong


def test_without_counters_the_stage_records_ncus_words(fake_gpu, monkeypatch):
    monkeypatch.setattr(nsight, "ncu_path", lambda: None)
    check = gpu_check.Check(bank_n=64, progress=False)
    assert gpu_check.stage_bank_counters(check)
    assert "not installed" in check.extra["bank_conflicts"]["ncu_error"]


def test_every_stage_has_a_budget_and_they_fit_in_six_minutes():
    names = [name for name, *_ in gpu_check.STAGES]
    assert names == list(gpu_check.STAGE_BUDGET_S)
    assert sum(gpu_check.STAGE_BUDGET_S.values()) <= gpu_check.BUDGET_S == 360


def test_a_broken_version_is_left_out_and_named_and_the_rest_recorded(fake_gpu, results_dir,
                                                                        monkeypatch):
    # A kernel never run on a GPU before (a new variant, Triton's 9t) may fail there: the
    # check must still measure and record every other version, and name the one it lost.
    from py2ptx import checks, timing

    monkeypatch.setattr(timing, "MAX_SPIN_S", 60.0)
    real_measure = bench.measure

    def measure(key, n, repeats=5, seed=0):
        if key == "bitonic":
            raise checks.WrongResult("random, n = 32: wrong at index 3")
        return real_measure(key, n, repeats, seed)

    monkeypatch.setattr(bench, "measure", measure)
    plan = {"bitonic": ((32, 64), 1), "odd_even_shared": ((32,), 1)}
    check = gpu_check.Check(plan=plan, graphs={}, progress=False, gpu_tests_passed=False)
    assert not gpu_check.run_stages(check, ["ladder", "record_ladder"])  # the check fails...
    run = results.latest_run(bench.GPU_RUN)  # ...but the run is recorded without bitonic
    labels = {t.label for t in run.timings}
    assert "odd_even_shared" in labels and "bitonic" not in labels
    lost = run.provenance["extra"]["not_measured"]
    assert lost == [{"key": "bitonic", "n": 32, "error": "WrongResult: random, n = 32: "
                                                         "wrong at index 3"}]
    assert run.provenance["extra"]["gpu_tests_passed"] is False
