"""Set-up that talks and recovers (tools/setup_venv.py, the Makefile), without a network.

A broken .venv the set-up made is rebuilt and a foreign one is named with the command that
removes it; an unreachable package index is reported as such; a GPU that appears after set-up
is noticed; the course's JupyterLab settings are merged into an environment, never clobbering
what is there; git reads notebooks through tools/clean_notebooks.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
import clean_notebooks  # noqa: E402
import setup_venv  # noqa: E402


def _fake_python(path: Path, version: str) -> Path:
    """A stand-in for a Python of ``version`` ("3 8 10"): enough for the set-up's probes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    dotted = version.replace(" ", ".")
    path.write_text("#!/bin/sh\n"
                    f'case "$1" in --version) echo "Python {dotted}";; '
                    f'-c) echo "{version}"; exit 0;; *) exit 1;; esac\n')
    path.chmod(0o755)
    return path


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: connection refused


@pytest.fixture
def offline(monkeypatch):
    """pip's only index is a port where nothing listens; no other configuration is read."""
    url = f"https://127.0.0.1:{_closed_port()}/simple"
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", url)
    for name in ("PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX"):
        monkeypatch.delenv(name, raising=False)
    return url


def test_a_folder_that_is_not_a_venv_is_left_alone_and_named(tmp_path):
    venv = tmp_path / ".venv"
    venv.mkdir()
    (venv / "notes.txt").write_text("mine")
    with pytest.raises(setup_venv.SetupError) as err:
        setup_venv.check_or_clear(venv)
    assert "not a Python virtual environment" in str(err.value)
    assert f"rm -rf {venv.resolve()}" in str(err.value)
    assert (venv / "notes.txt").read_text() == "mine"


def test_a_venv_without_pip_is_detected_and_rebuilt_when_ours(tmp_path, capsys):
    venv = tmp_path / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    assert "no pip" in setup_venv.venv_problem(venv)
    # Not made by the set-up (no marker): the message names what to remove.
    with pytest.raises(setup_venv.SetupError, match=r"has no pip .*\n    rm -rf "):
        setup_venv.check_or_clear(venv)
    assert venv.exists()
    # Made by it (an interrupted creation leaves the marker, written first): rebuilt.
    (venv / setup_venv.MARKER).write_text("")
    setup_venv.check_or_clear(venv)
    assert not venv.exists()
    assert "has no pip (was its creation interrupted?). Rebuilding it." in capsys.readouterr().out


def test_a_venv_made_by_an_older_python_is_detected(tmp_path):
    venv = tmp_path / ".venv"
    (venv / "pyvenv.cfg").parent.mkdir()
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    _fake_python(venv / "bin" / "python", "3 8 10")
    assert "made by Python 3.8.10, older than the 3.10" in setup_venv.venv_problem(venv)
    (venv / setup_venv.LEGACY_STAMP).write_text("")  # the old Makefile's: ours too
    setup_venv.check_or_clear(venv)
    assert not venv.exists()


def test_a_venv_whose_python_no_longer_runs_is_detected(tmp_path):
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /gone\n")
    (venv / "bin" / "python").symlink_to(tmp_path / "gone" / "python3")
    assert "does not run" in setup_venv.venv_problem(venv)


def test_too_old_a_python_is_refused_with_the_way_to_name_another(tmp_path):
    old = _fake_python(tmp_path / "python3.8", "3 8 10")
    with pytest.raises(setup_venv.SetupError, match=r"needs Python 3\.10 or newer; .* is "
                                                    r"3\.8\.10\. Name another: make PYTHON="):
        setup_venv.create(tmp_path / ".venv", str(old))
    assert not (tmp_path / ".venv").exists()


def test_an_unreachable_index_is_said_in_words_and_a_current_venv_is_left_alone(
        tmp_path, offline, capsys, monkeypatch):
    venv = tmp_path / ".venv"
    assert setup_venv.main(["lab", "--venv", str(venv), "--python", sys.executable]) == 1
    out = capsys.readouterr()
    assert f"Could not reach the package index ({offline})" in out.err
    assert "HTTPS_PROXY" in out.err and "PIP_INDEX_URL" in out.err
    assert "Retrying" not in out.out + out.err, "pip's raw retries must not be what a user sees"
    assert "creating" in out.out and "checking that the package index can be reached" in out.out
    # The venv was made (and kept) before the index was asked; with a current stamp, the
    # next run returns at once without asking the index at all.
    assert setup_venv.venv_problem(venv) is None and setup_venv.made_by_us(venv)
    monkeypatch.setattr(setup_venv, "gpu_requirements", lambda: ([], "no GPU"))
    setup_venv.stamp_path(venv, "lab").write_text(json.dumps(
        {"inputs": setup_venv.inputs_digest("lab", []), "gpu": []}))
    assert setup_venv.setup("lab", venv, sys.executable) is False
    # A GPU appears: the next `make lab` installs CuPy for it (here: says so, then finds
    # the index unreachable).
    monkeypatch.setattr(setup_venv, "gpu_requirements", lambda: (["cupy-cuda13x>=13.6"], ""))
    with pytest.raises(setup_venv.SetupError, match="Could not reach the package index"):
        setup_venv.setup("lab", venv, sys.executable)
    assert "a GPU appeared since set-up: adding cupy-cuda13x>=13.6" in capsys.readouterr().out


def test_setuptools_editable_banner_is_hidden_and_pip_errors_are_not(tmp_path, monkeypatch,
                                                                     capsys):
    banner = ("  /tmp/x/editable_wheel.py:354: BuildBackendWarning: Editable installation.\n"
              "  !!\n  ****\n  Please be careful with folders in your working directory\n"
              "  !!\n    with strategy, WheelFile(wheel_path, \"w\") as wheel_obj:\n")
    script = tmp_path / "fake_pip.py"
    script.write_text("import sys\nsys.stdout.write(" + repr(
        "Collecting numpy\nRequirement already satisfied: six\n" + banner
        + "Successfully installed py2ptx-0.1.0\n") + ")\n")
    fake = tmp_path / "python"
    fake.write_text(f"#!/bin/sh\nexec {sys.executable} {script}\n")
    fake.chmod(0o755)
    setup_venv.pip(fake, ["install", "-e", "."])
    out = capsys.readouterr().out
    assert "Collecting numpy" in out and "Successfully installed py2ptx" in out
    assert "careful" not in out and "!!" not in out and "already satisfied" not in out
    fake.write_text("#!/bin/sh\necho 'ERROR: No matching distribution found for numba'; exit 1\n")
    with pytest.raises(setup_venv.SetupError, match="Could not reach the package index"):
        setup_venv.pip(fake, ["install", "numba"])


def test_jupyterlab_settings_are_merged_into_the_environment(tmp_path):
    target = tmp_path / setup_venv.SETTINGS_IN_PREFIX
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps({"@jupyterlab/apputils-extension:themes": {"theme": "Dark"},
                                  "@jupyterlab/apputils-extension:notification":
                                      {"doNotDisturbMode": True}}))
    assert setup_venv.install_settings(tmp_path) == target
    merged = json.loads(target.read_text())
    assert merged["@jupyterlab/apputils-extension:themes"] == {"theme": "Dark"}
    assert merged["@jupyterlab/apputils-extension:notification"] == {
        "doNotDisturbMode": True, "checkForUpdates": False, "fetchNews": "false"}
    ours = json.loads(setup_venv.SETTINGS_SOURCE.read_text())
    assert ours == {"@jupyterlab/apputils-extension:notification":
                    {"checkForUpdates": False, "fetchNews": "false"}}


def test_makefile_says_which_python_is_too_old(tmp_path):
    make = shutil.which("make")
    if make is None:
        pytest.skip("no make")
    old = _fake_python(tmp_path / "python3.8", "3 8 10")
    old.write_text('#!/bin/sh\ncase "$1" in --version) echo "Python 3.8.10";; *) exit 1;; '
                   'esac\n')
    out = subprocess.run([make, "-s", "setup", f"PYTHON={old}", f"VENV={tmp_path / 'v'}"],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert f"the course needs Python 3.10 or newer; '{old}' is Python 3.8.10" in out.stdout
    assert "make PYTHON=python3.12" in out.stdout
    assert not (tmp_path / "v").exists()


def test_makefile_wires_lab_and_test_to_their_own_set_up():
    makefile = (REPO / "Makefile").read_text()
    assert "--quiet" not in makefile, "set-up must show its progress"
    assert "\nlab: setup\n" in makefile and "\ntest: setup-test\n" in makefile
    assert "\nsetup:\n\t$(SETUP) lab\n" in makefile and "\nsetup-test:\n\t$(SETUP) test\n" in makefile


# --- notebooks in git: one tool, clean_notebooks.py, also JupyterLab's save hook ------------

def test_committed_notebooks_are_what_the_clean_tool_writes():
    """So a notebook that was only run is saved (by the hook) byte for byte as committed."""
    for folder in clean_notebooks.FOLDERS:
        for path in sorted((REPO / folder).glob("*.ipynb")):
            assert clean_notebooks.cleaned_text(path.read_text()) == path.read_text(), (
                f"{path.relative_to(REPO)}: run `make clean-notebooks`")


def _run_model(path: Path) -> dict:
    """The model JupyterLab sends when it saves ``path`` after a run (outputs, counts)."""
    nb = json.loads(path.read_text())
    for i, cell in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"):
        cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["ran\n"]}]
        cell["execution_count"] = i + 1
        cell["metadata"]["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00Z"}
    nb["metadata"]["language_info"] = {"name": "python", "version": "3.12.1",
                                       "mimetype": "text/x-python"}
    return {"type": "notebook", "format": "json", "content": nb}


def test_the_save_hook_saves_course_notebooks_without_outputs_and_keeps_edits():
    import nbformat

    for rel in ("notebooks/00-the-stack.ipynb", "labs/01-lab-bubble-sort.ipynb",
                "/solutions/01-lab-bubble-sort.ipynb"):
        path = REPO / rel.strip("/")
        model = _run_model(path)
        clean_notebooks.pre_save_hook(model=model, path=rel, contents_manager=None)
        # What jupyter_server then writes: nbformat's JSON and a newline.
        assert nbformat.writes(nbformat.from_dict(model["content"])) + "\n" == path.read_text()
    edited = _run_model(REPO / "labs/01-lab-bubble-sort.ipynb")
    code = next(c for c in edited["content"]["cells"] if c["cell_type"] == "code")
    code["source"] = "my answer = 42"
    clean_notebooks.pre_save_hook(model=edited, path="labs/01-lab-bubble-sort.ipynb")
    assert code["source"] == "my answer = 42" and code["outputs"] == []
    # Anything else -- a student's own notebook elsewhere, a file -- is saved as it is.
    for rel in ("my-notes/scratch.ipynb", "notebooks/drafts/x.ipynb", "notebooks/notes.txt"):
        model = _run_model(REPO / "notebooks/00-the-stack.ipynb")
        clean_notebooks.pre_save_hook(model=model, path=rel)
        assert any(c.get("outputs") for c in model["content"]["cells"]), rel
    text = {"type": "file", "format": "text", "content": "x"}
    clean_notebooks.pre_save_hook(model=text, path="notebooks/notes.txt")
    assert text["content"] == "x"


def test_doctor_names_the_command_for_a_gpu_that_came_after_set_up(monkeypatch):
    from py2ptx import doctor, machine

    monkeypatch.setattr(machine, "gpu_from_cupy",
                        lambda: {"error": "CuPy not usable: ModuleNotFoundError"})
    monkeypatch.setattr(machine, "gpu_from_nvidia_smi", lambda: {
        "name": "NVIDIA H200", "driver": "580.159.04", "cc": "9.0", "driver_cuda": (13, 0)})
    report = doctor.Report()
    doctor._probe_gpu(report)
    row = next(r for r in report.rows if r.item == "CuPy")
    assert row.ok is False and "ModuleNotFoundError" in row.value
    assert "`make cupy`" in row.value
    assert f"{sys.executable} -m pip install $(sh tools/gpu_packages.sh)" in row.value
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^cupy: setup\n\t@reqs=\$\$\(sh tools/gpu_packages\.sh\);", makefile, re.M)


def test_a_notebook_cell_that_never_ends_is_stopped_and_named(tmp_path, monkeypatch):
    """nbclient's per-cell limit (tests/test_notebooks.py) stops a cell and says which."""
    import nbformat
    import test_notebooks

    nb = nbformat.v4.new_notebook(metadata={"kernelspec": clean_notebooks.KERNELSPEC})
    nb.cells = [nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_code_cell("import time\nwhile True:\n    time.sleep(0.1)")]
    path = REPO / "test-artifacts" / f"hang-{os.getpid()}.ipynb"
    path.parent.mkdir(exist_ok=True)
    nbformat.write(nb, path)
    monkeypatch.setattr(test_notebooks, "CELL_TIMEOUT", 3)
    try:
        with pytest.raises(pytest.fail.Exception) as err:
            test_notebooks._execute(path)
    finally:
        path.unlink()
    message = str(err.value)
    assert f"hang-{os.getpid()}.ipynb: cell 1 did not finish within 3 s" in message
    assert "while True:" in message and "__syncthreads()" in message
