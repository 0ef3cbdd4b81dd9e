"""Triton, the other road to PTX (py2ptx.triton_road, kernels/triton/sort_tile.py, notebook 04).

Without Triton (CI does not install the extra) the recorded stages are checked: every file
the manifest names is there and unedited, it was made from the kernel file as it is now, and
it shows what notebook 04 says. With Triton, a compile now must match the recording. The
sort's launch plan is checked by replaying it in NumPy; on a GPU, tests/test_gpu.py runs it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from py2ptx import doctor, ladder, triton_road
from py2ptx.checks import random_keys
from py2ptx.kernels import KERNELS

REPO = KERNELS.parents[1]
TRITON = triton_road.triton_version()
needs_triton = pytest.mark.skipif(TRITON is None, reason=f"Triton is not installed here: "
                                  f"{triton_road.INSTALL_HINT}")
RECORDED_FILES = {f"{k}{suffix}" for k in triton_road.SIGNATURES
                  for suffix in triton_road.STAGES.values()}


@pytest.fixture(scope="module")
def recorded():
    return triton_road.recorded()


# --------------------------------------------------------------------------- the recording


def test_the_manifest_names_every_stage_with_its_provenance(recorded):
    m = recorded.manifest
    assert set(m["files"]) == RECORDED_FILES
    assert sorted(p.name for p in triton_road.RECORDED.iterdir()) == sorted(
        RECORDED_FILES | {"manifest.json"})
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", m["triton"]), m["triton"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", m["recorded_utc"])
    assert re.fullmatch(r"[0-9a-f]{40}", m["commit"]) and m["dirty"] is False
    assert m["constexprs"] == {k: c for k, (_, c) in triton_road.SIGNATURES.items()}
    assert m["kernel_file"] == f"py2ptx/kernels/{triton_road.KERNEL_FILE}"


def test_the_recording_was_made_from_the_kernel_file_as_it_is_now(recorded):
    assert recorded.manifest["kernel_sha256"] == triton_road.kernel_sha256(), (
        "kernels/triton/sort_tile.py changed since its stages were recorded: run "
        "`python tools/record_triton.py` (needs Triton: make triton) and commit the files")


def test_the_recording_holds_no_machine_paths(recorded):
    for kernel, stages in recorded.stages.items():
        for stage, text in stages.items():
            assert not re.search(r"/(?:work|home|root|tmp|usr)/|site-packages", text), \
                (kernel, stage)
    assert '"<kernels>/triton/sort_tile.py"' in recorded.stage("sort_tiles", "ttir")


def test_a_recorded_file_edited_by_hand_is_refused(tmp_path):
    copy = tmp_path / "recorded"
    shutil.copytree(triton_road.RECORDED, copy)
    path = copy / "merge_step.ptx"
    path.write_text(path.read_text().replace("min.s32", "max.s32"))
    with pytest.raises(ValueError, match="edited by hand; rerun `python tools/record_triton.py`"):
        triton_road.recorded(copy)


def test_no_recording_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="tools/record_triton.py.*make triton"):
        triton_road.recorded(tmp_path)


def test_the_recorded_road_names_its_provenance(recorded):
    line = recorded.describe()
    m = recorded.manifest
    assert line.startswith("recorded:") and f"Triton {m['triton']}" in line
    assert m["recorded_utc"] in line and m["commit"][:12] in line and "make triton" in line
    with pytest.raises(KeyError, match="the stages are: ttir, ttgir, llir, ptx, sass"):
        recorded.stage("merge_step", "cubin")


def test_what_notebook_04_says_holds_for_the_recording(recorded):
    ptx = recorded.stage("merge_step", "ptx")
    assert re.search(r"^\.target sm_90a", ptx, re.M)  # Triton asks for sm_90a on 9.0
    assert "tt.elementwise_inline_asm \"min.s32" in recorded.stage("merge_step", "ttir")
    assert re.search(r"^#blocked = #ttg\.blocked", recorded.stage("merge_step", "ttgir"), re.M)
    rows = triton_road.comparison(recorded)
    merge, tile = rows["9t merge_step"], rows["9t sort_tiles"]
    assert merge["PTX min.s32+max.s32"] == merge["of them in inline asm"] > 0
    assert merge["SASS VIMNMX/IMNMX"] > 0 and rows["11 odd_even_shared_ptx"]["SASS VIMNMX/IMNMX"]
    assert tile["of them in inline asm"] == 0 and tile["SASS SHFL"] > 0
    assert rows["9 bitonic_sort_tile"]["SASS VIMNMX/IMNMX"] == 0  # rung 9 branches instead
    where = triton_road.stage_counts(recorded, "sort_tiles")
    assert where["TTIR arith.minsi/maxsi"] == where["TTGIR arith.minsi/maxsi"] == 0
    assert where["LLVM IR smin/smax calls"] > 0 and where["TTIR arith.select"] > 0
    found = triton_road.findings(recorded, rows)
    assert "as it did of rung 11's asm" in found[0]
    assert "first appear in the LLVM IR" in found[1]


# --------------------------------------------------------------------------- helpers


def test_ptx_functions_splits_a_module_per_kernel():
    from py2ptx import cudatools

    parts = triton_road.ptx_functions(cudatools.ptx_for("9_bitonic.cu"))
    assert list(parts) == ["bitonic_sort_tile", "bitonic_merge_global", "bitonic_merge_tile"]
    assert all(text.count(".entry") == 1 for text in parts.values())


def test_counts_sees_inline_asm_and_sass_families():
    ptx = ("\tsetp.gt.s32 %p1, %r1, %r2;\n\tmin.s32 %r3, %r1, %r2;\n"
           "\t// begin inline asm\n\tmax.s32 %r4, %r1, %r2;\n\t// end inline asm\n")
    row = triton_road.counts(ptx, ["VIMNMX R1, R2, R3, PT", "@P0 SEL R1, R2, R3, P1",
                                   "SHFL.BFLY PT, R1, R2, 0x1, 0x1f", "EXIT"])
    assert row["PTX min.s32+max.s32"] == 2 and row["of them in inline asm"] == 1
    assert row["PTX setp+selp"] == 1
    assert (row["SASS VIMNMX/IMNMX"], row["SASS SEL"], row["SASS SHFL"]) == (1, 1, 1)
    assert row["SASS instructions"] == 4


def test_excerpt_names_a_pattern_it_cannot_find():
    assert triton_road.excerpt("a\nb\nc\nd", "^c", 1, 1) == "b\nc\nd"
    with pytest.raises(ValueError, match="no line matches"):
        triton_road.excerpt("a\nb", "zzz")


# --------------------------------------------------------------------------- the sort's plan


def _replay_in_numpy(keys: np.ndarray, tile: int, pairs: int) -> np.ndarray:
    """sort_tile.py's two kernels, element for element, on the launches of launches()."""
    a = keys.copy()
    for name, grid, scalars in triton_road.launches(a.size, tile, pairs):
        if name == "sort_tiles":
            (k,) = scalars
            assert grid * tile == a.size
            for base in range(0, a.size, tile):
                run = np.sort(a[base:base + tile])
                a[base:base + tile] = run[::-1] if base & k else run
        else:
            k, j = scalars
            t = np.arange(grid * pairs)
            assert t.size == a.size // 2
            i = ((t & ~(j - 1)) << 1) | (t & (j - 1))
            low, high = np.minimum(a[i], a[i + j]), np.maximum(a[i], a[i + j])
            up = (i & k) == 0
            a[i], a[i + j] = np.where(up, low, high), np.where(up, high, low)
    return a


@pytest.mark.parametrize("size, tile, pairs", [(8, 8, 4), (64, 4, 2), (4096, 16, 8),
                                               (2**14, triton_road.TILE, triton_road.PAIRS)])
def test_the_launch_plan_sorts(size, tile, pairs):
    keys = random_keys(size, seed=size)
    np.testing.assert_array_equal(_replay_in_numpy(keys, tile, pairs), np.sort(keys))


def test_the_launch_plan_counts_rung_9s_steps():
    plan = triton_road.launches(2**12)
    assert [name for name, _, _ in plan] == ["sort_tiles", "merge_step", "sort_tiles",
                                             "merge_step", "merge_step", "sort_tiles"]
    with pytest.raises(ValueError, match="power of two >= 1024"):
        triton_road.launches(3000)
    with pytest.raises(ValueError, match="power of two"):
        triton_road.launches(512)


def test_variant_9t_is_in_the_registry_and_needs_triton():
    v = ladder.version("9t")
    assert v.key == "triton_bitonic" and v.needs == ("triton",) and "triton" in ladder.NEEDS
    assert v.device_sort is triton_road.triton_sort_device
    assert v.implementation.__wrapped__ is triton_road.triton_sort_device
    assert (KERNELS / v.kernel).is_file() and v.notebook == "04-ptx"


def test_the_doctor_says_whether_triton_is_here():
    from py2ptx.machine import version

    report = doctor.probe()
    row = next(r for r in report.rows if r.item == "triton")
    if version("triton") is None:  # what pip installed, as for every package the doctor lists
        assert row.ok is None and "make triton" in row.value  # optional: not a fault
    else:
        assert row.ok is True


def test_without_a_gpu_the_triton_sort_says_so(monkeypatch):
    from py2ptx import machine

    if machine.has_gpu():
        pytest.skip("this machine has a GPU (tests/test_gpu.py runs the sort there)")
    with pytest.raises(Exception, match="GPU"):
        triton_road.triton_sort(np.arange(10, dtype=np.int32))


# --------------------------------------------------------------------------- without Triton


def test_a_plan_leaves_9t_out_where_triton_is_missing(monkeypatch, capsys):
    from py2ptx import bench

    report = doctor.Report(have={"c-compiler": True, "cuda-tools": True, "triton": False})
    monkeypatch.setattr(bench, "probe", lambda: report)
    plan = {"numpy_sort": ((64,), 1), "triton_bitonic": ((1024,), 1)}
    timings = bench.run_plan(plan, progress=True, transfers=False)
    assert [t.label for t in timings] == ["numpy_sort"]
    assert "triton_bitonic         not measured: this machine has no Triton" in capsys.readouterr().out


def test_without_triton_the_road_is_the_recording(monkeypatch):
    monkeypatch.setitem(sys.modules, "triton", None)  # `import triton` raises ImportError
    triton_road.kernels.cache_clear()
    try:
        assert triton_road.triton_version() is None
        road = triton_road.road()
        assert not road.live and road.describe().startswith("recorded:")
        with pytest.raises(triton_road.TritonMissing, match="make triton"):
            triton_road.kernels()
    finally:
        triton_road.kernels.cache_clear()


def test_record_triton_without_triton_says_how_to_get_it(monkeypatch, capsys, tmp_path):
    import record_triton  # tools/

    monkeypatch.setattr(triton_road, "triton_version", lambda: None)
    target = tmp_path / "recorded"
    assert record_triton.main(["--dir", str(target)]) == 2
    assert "make triton" in capsys.readouterr().out and not target.exists()


def _section_notebook(tmp_path):
    """Notebook 04's set-up cell and its Triton section, as a notebook of their own."""
    nb = nbformat.read(REPO / "notebooks" / "04-ptx.ipynb", as_version=4)
    start = next(i for i, c in enumerate(nb.cells)
                 if c.source.startswith("## Another road to PTX: Triton"))
    nb.cells = [nb.cells[1]] + nb.cells[start:]
    path = tmp_path / "04-triton-section.ipynb"
    nbformat.write(nb, path)
    return path


def _run_section(tmp_path, hide_triton: bool) -> str:
    from nbclient import NotebookClient

    env_before = dict(os.environ)
    if hide_triton:  # the kernel's Python imports this first: `import triton` then fails
        site = tmp_path / "hide-triton"
        site.mkdir()
        (site / "sitecustomize.py").write_text("import sys\nsys.modules['triton'] = None\n")
        os.environ["PYTHONPATH"] = os.pathsep.join(
            [str(site), str(REPO), os.environ.get("PYTHONPATH", "")])
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        [str(Path(sys.prefix) / "share" / "jupyter"), os.environ.get("JUPYTER_PATH", "")])
    try:
        nb = nbformat.read(_section_notebook(tmp_path), as_version=4)
        NotebookClient(nb, timeout=150, kernel_name="python3").execute()
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.outputs)


def test_notebook_04s_triton_section_runs_without_triton(tmp_path):
    out = _run_section(tmp_path, hide_triton=True)
    assert "recorded: Triton" in out and "as it did of rung 11's asm" in out


@needs_triton
def test_notebook_04s_triton_section_compiles_live_with_triton(tmp_path):
    out = _run_section(tmp_path, hide_triton=False)
    assert f"live: compiled on this machine by Triton {TRITON}" in out


# --------------------------------------------------------------------------- with Triton


@needs_triton
def test_a_live_compile_matches_the_recording(recorded):
    if recorded.triton != TRITON:
        pytest.skip(f"recorded with Triton {recorded.triton}, Triton {TRITON} is installed: "
                    f"their output may differ; `python tools/record_triton.py` re-records")
    assert triton_road.stale_stages() == [], (
        "the recorded Triton stages are stale: run `python tools/record_triton.py` and commit")


@needs_triton
def test_record_triton_writes_a_recording_that_checks_current(tmp_path):
    out = subprocess.run([sys.executable, str(REPO / "tools" / "record_triton.py"),
                          "--dir", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["triton"] == TRITON and set(manifest["files"]) == RECORDED_FILES
    check = subprocess.run([sys.executable, str(REPO / "tools" / "record_triton.py"), "--check",
                            "--dir", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert check.returncode == 0 and "is current" in check.stdout
    (tmp_path / "sort_tiles.sass").write_text("edited\n")
    manifest["files"]["sort_tiles.sass"] = triton_road.hashlib.sha256(b"edited\n").hexdigest()
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    stale = subprocess.run([sys.executable, str(REPO / "tools" / "record_triton.py"), "--check",
                            "--dir", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert stale.returncode == 1 and "sort_tiles.sass" in stale.stdout
