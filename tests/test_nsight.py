"""py2ptx.nsight: ncu's command line and its CSV report, checked without a GPU.

A stand-in ``ncu`` (a shell script) writes a report file and prints, on ``--import``,
a table in ncu's raw CSV layout, so the whole path of :func:`nsight.profile` runs here.
"""

import math
import stat
import sys

import pytest

from py2ptx import nsight

RAW = '''==PROF== Connected to process 4242
"ID","Process ID","Process Name","Host Name","Kernel Name","Context","Stream","Block Size","Grid Size","Device","CC","dram__bytes_read.sum","lts__t_sector_hit_rate.pct"
"","","","","","","","","","","","byte","%"
"0","4242","python3","127.0.0.1","odd_even_shared","1","7","(1024, 1, 1)","(1, 1, 1)","0","9.0","65,536","97.5"
"1","4242","python3","127.0.0.1","victim","1","7","(1024, 1, 1)","(112, 1, 1)","0","9.0","1048576","n/a"
'''


def test_parse_csv_reads_counters_units_and_names():
    rows = nsight.parse_csv(RAW)
    assert [r.kernel for r in rows] == ["odd_even_shared", "victim"]
    assert [r.launch for r in rows] == [0, 1]
    assert rows[0]["dram__bytes_read.sum"] == 65536.0
    assert rows[0].units == {"dram__bytes_read.sum": "byte", "lts__t_sector_hit_rate.pct": "%"}
    assert math.isnan(rows[1]["lts__t_sector_hit_rate.pct"])
    assert rows[1].to_dict()["metrics"]["lts__t_sector_hit_rate.pct"] is None


def test_parse_csv_without_a_table_says_what_ncu_said():
    with pytest.raises(nsight.NsightError, match="(?s)no table of counters.*LibraryNotLoaded"):
        nsight.parse_csv("==ERROR== Failed to initialize the profiler: LibraryNotLoaded\n")


def test_command_filters_kernels_and_leaves_clocks_alone():
    cmd = nsight.command(["python3", "x.py"], kernels="victim|stream", metrics=["a.sum", "b.pct"],
                         launches=3, skip=2, report="r")
    assert cmd[1:3] == ["--clock-control", "none"]
    assert ["-k", "regex:victim|stream", "-s", "2", "-c", "3"] == cmd[5:11]
    assert "a.sum,b.pct" in cmd and cmd[-2:] == ["python3", "x.py"]


@pytest.fixture
def fake_ncu(tmp_path, monkeypatch):
    script = tmp_path / "ncu"
    table = tmp_path / "table.csv"
    table.write_text(RAW)
    script.write_text(f'''#!/bin/sh
if [ "$1" = "--import" ]; then cat {table}; exit 0; fi
while [ $# -gt 0 ]; do
  if [ "$1" = "-o" ]; then out="$2"; fi
  if [ "$1" = "FAIL" ]; then echo "==ERROR== Failed to initialize the profiler"; exit 1; fi
  shift
done
touch "$out.ncu-rep"
''')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(nsight, "ncu_path", lambda: str(script))
    return script


def test_profile_runs_ncu_and_reads_its_report(fake_ncu):
    rows = nsight.profile([sys.executable, "-c", "pass"], kernels="odd_even", metrics=["x"])
    assert rows[0].kernel == "odd_even_shared"


def test_profile_failure_quotes_ncu(fake_ncu):
    with pytest.raises(nsight.NsightError, match="(?s)wrote no report.*Failed to initialize"):
        nsight.profile(["FAIL"], kernels="victim", metrics=["x"])


def test_profile_without_ncu_says_so(monkeypatch):
    monkeypatch.setattr(nsight, "ncu_path", lambda: None)
    with pytest.raises(nsight.NsightError, match="not installed"):
        nsight.profile(["true"], kernels="k", metrics=["x"])
    with pytest.raises(ValueError, match="at least one metric"):
        nsight.profile(["true"], kernels="k", metrics=[])
