"""Every notebook and solution runs top to bottom; every lab fails only at its exercises."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import execute  # tools/: the course's one way to execute a notebook (never waits forever)
import nbformat
import pytest
from nbclient.exceptions import CellTimeoutError

REPO = Path(__file__).resolve().parent.parent
CELL_TIMEOUT = execute.CELL_TIMEOUT
RUNNABLE = sorted((REPO / "notebooks").glob("*.ipynb")) + sorted((REPO / "solutions").glob("*.ipynb"))
LABS = sorted((REPO / "labs").glob("*.ipynb"))
ARTIFACTS = REPO / "test-artifacts"


def _execute(path: Path, allow_errors: bool = False):
    nb = nbformat.read(path, as_version=4)
    client = execute.CourseClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                  allow_errors=allow_errors,
                                  resources={"metadata": {"path": str(path.parent)}})
    # Inline figures, as a student sees them (the unit tests' Agg would hide them).
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    # Run the notebooks in this environment's kernel, not a user-wide "python3" elsewhere.
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        [str(Path(sys.prefix) / "share" / "jupyter"), os.environ.get("JUPYTER_PATH", "")])
    try:
        client.execute()
    except CellTimeoutError:
        pytest.fail(timeout_message(path, nb), pytrace=False)
    return nb


def timeout_message(path: Path, nb) -> str:
    """Which cell of ``path`` ran past CELL_TIMEOUT, and what usually causes it."""
    return execute.timeout_message(str(path.relative_to(REPO)), nb, CELL_TIMEOUT)


def _errors(nb) -> list[tuple[int, str, str]]:
    return [(i, out["ename"], out["evalue"]) for i, cell in enumerate(nb.cells)
            if cell.cell_type == "code" for out in cell.get("outputs", [])
            if out.get("output_type") == "error"]


def test_there_are_notebooks_labs_and_solutions():
    assert len(list((REPO / "notebooks").glob("*.ipynb"))) >= 3
    assert len(LABS) >= 2
    assert [p.name for p in LABS] == [p.name for p in sorted((REPO / "solutions").glob("*.ipynb"))]


#: The GPU chapters run with the recorded runs of results/, as a student without a GPU
#: sees them (the other notebooks, and every test elsewhere, with an empty results
#: folder): what the output must say, and the figures it must draw.
REPLAYED = {
    "notebooks/03-cuda-parallel-sort.ipynb": (["recorded run 'gpu-ladder' on NVIDIA"], 2),
    "notebooks/04-ptx.ipynb": (["recorded run 'gpu-ladder' on NVIDIA"], 1),
    "notebooks/05-deepseek.ipynb": (["recorded run 'deepseek-l2' on NVIDIA",
                                     "The least harmful stream was", "Auto-tuned chunk for"], 3),
    "notebooks/06-the-whole-ladder.ipynb": (["recorded run 'ladder' on NVIDIA"], 2),
    "solutions/05-lab-deepseek.ipynb": (["and on the recorded NVIDIA H200 run"], 0),
}


@pytest.mark.parametrize("path", RUNNABLE, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_runs_top_to_bottom(path, results_dir):
    import shutil

    from py2ptx import gpu

    name = f"{path.parent.name}/{path.name}"
    replay = name in REPLAYED and gpu.cupy_or_none() is None
    recorded = sorted((REPO / "results").glob("*.json")) if replay else []
    for run in recorded:
        shutil.copy(run, results_dir / run.name)
    nb = _execute(path)
    assert not _errors(nb)
    # Keep the executed copy for a person to look at (CI artifact), never in the sources.
    ARTIFACTS.mkdir(exist_ok=True)
    nbformat.write(nb, ARTIFACTS / f"{path.parent.name}-{path.name}")
    texts = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                    for o in c.get("outputs", []))
    if path.parent.name == "solutions":
        assert texts.count("✓") >= 2, "a solved lab must pass its self-checks"
    if recorded:  # replayed: what the recorded H200 runs must show
        wants, figures = REPLAYED[name]
        for want in wants:
            assert want in texts, (name, want)
        pngs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                if "image/png" in o.get("data", {})]
        assert len(pngs) >= figures, (name, len(pngs))


@pytest.mark.parametrize("path", LABS, ids=lambda p: p.name)
def test_unsolved_lab_fails_only_at_its_exercises(path):
    nb = _execute(path, allow_errors=True)
    errors = _errors(nb)
    assert errors, "an unsolved lab must fail its self-checks"
    assert {ename for _, ename, _ in errors} == {"NotImplementedError"}, errors
    checks = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and ".check(" in c.source]
    failed = {i for i, _, _ in errors}
    assert set(checks) <= failed, "every self-check must fail while its exercise is unsolved"
    # The self-checks' messages name the exercise they belong to.
    assert all("is not solved yet" in evalue for i, _, evalue in errors if i in checks)
