"""The broken kernels of py2ptx/kernels/cuda/mistakes: the CPU checker's verdict on each
(here), and the parsing of compute-sanitizer's reports (canned, in its documented
format: the GPU side runs only in the GPU check)."""

import json

import pytest

from py2ptx import sanitizer
from py2ptx.cpu_trace import checks_available

needs_checks = pytest.mark.skipif(not checks_available()[0], reason=checks_available()[1])


def test_every_mistake_file_says_what_it_is_what_a_gpu_does_and_what_the_cpu_says():
    files = sorted(p.name for p in sanitizer.MISTAKES_DIR.glob("*.cu"))
    assert files == sorted(m.file for m in sanitizer.MISTAKES)
    for m in sanitizer.MISTAKES:
        head = m.path.read_text().split("*/", 1)[0]
        for part in ("The mistake:", "What a GPU does:", "What the CPU checker says:",
                     m.cpu_expected, f"--tool {m.tool}", "The fix:"):
            assert part in head, (m.file, part)


@needs_checks
@pytest.mark.parametrize("m", sanitizer.MISTAKES, ids=lambda m: m.file)
def test_the_cpu_checker_names_each_mistake(m):
    verdict = sanitizer.cpu_verdict(m)
    assert verdict["verdict"] == m.cpu_expected, verdict
    assert "line" in verdict["message"]


RACECHECK = """\
========= COMPUTE-SANITIZER
========= Error: Race reported between Write access at reverse_shared+0x90 in missing_syncthreads.cu:20
=========     and Read access at reverse_shared+0xc0 in missing_syncthreads.cu:21 [224 hazards]
=========
========= RACECHECK SUMMARY: 1 hazard displayed (1 error, 0 warnings)
"""

SYNCCHECK = """\
========= COMPUTE-SANITIZER
========= Barrier error detected. Divergent thread(s) in warp
=========     at stage_half+0x1b0 in barrier_in_if.cu:23
=========     by thread (0,0,0) in block (0,0,0)
=========
========= ERROR SUMMARY: 2 errors
"""

MEMCHECK = """\
========= COMPUTE-SANITIZER
========= Invalid __global__ read of size 4 bytes
=========     at double_all+0x70 in missing_bounds_guard.cu:19
=========     by thread (232,0,0) in block (3,0,0)
=========     Address 0x7f0e2a000fa0 is out of bounds
=========     and is 1 bytes after the nearest allocation at 0x7f0e2a000000 of size 4000 bytes
=========     Saved host backtrace up to driver entry point at kernel launch time
=========
========= ERROR SUMMARY: 24 errors
"""

CLEAN = """\
========= COMPUTE-SANITIZER
py2ptx-driver: finished
========= ERROR SUMMARY: 0 errors
"""


def test_parse_racecheck():
    r = sanitizer.parse_report(RACECHECK)
    assert (r["verdict"], r["errors"], r["hazards"], r["line"]) == ("race", 1, 224, 20)


def test_parse_synccheck():
    r = sanitizer.parse_report(SYNCCHECK)
    assert (r["verdict"], r["errors"], r["line"]) == ("barrier", 2, 23)
    assert "Divergent thread(s) in warp" in r["first"]


def test_parse_memcheck():
    r = sanitizer.parse_report(MEMCHECK)
    assert (r["verdict"], r["errors"], r["line"], r["space"], r["access"]) == (
        "out-of-bounds", 24, 19, "__global__", "read")
    assert r["thread"] == [232, 0, 0] and r["block"] == [3, 0, 0]


def test_parse_clean_and_unfinished():
    assert sanitizer.parse_report(CLEAN)["verdict"] == "clean"
    assert sanitizer.parse_report("========= COMPUTE-SANITIZER\n")["verdict"] == "unknown"


@needs_checks
def test_gpu_stage_without_a_sanitizer_records_cpu_verdicts_and_says_not_run(
        tmp_path, monkeypatch):
    monkeypatch.setenv("PY2PTX_RESULTS", str(tmp_path / "results"))
    monkeypatch.setattr(sanitizer, "sanitizer_path", lambda: None)
    record = sanitizer.gpu_check_stage(tmp_path / "out")
    assert [k["gpu"]["verdict"] for k in record["kernels"]] == ["not run"] * 4
    assert [k["cpu"]["verdict"] for k in record["kernels"]] == [
        m.cpu_expected for m in sanitizer.MISTAKES]
    saved = json.loads((tmp_path / "out" / record["path"].rsplit("/", 1)[1]).read_text())
    assert saved["kernels"][0]["file"] == "missing_syncthreads.cu"


@needs_checks
def test_gpu_stage_compares_parsed_verdicts(tmp_path, monkeypatch):
    canned = {"racecheck": RACECHECK, "synccheck": SYNCCHECK, "memcheck": MEMCHECK}
    monkeypatch.setenv("PY2PTX_RESULTS", str(tmp_path))
    monkeypatch.setattr(sanitizer, "run_sanitizer",
                        lambda m, tool=None, timeout=40: sanitizer.parse_report(canned[m.tool]))
    record = sanitizer.gpu_check_stage()
    assert all(k["agree"] for k in record["kernels"]), record["kernels"]
