"""Every notebook and solution runs top to bottom; every lab fails only at its exercises."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError

REPO = Path(__file__).resolve().parent.parent
# Seconds per cell: a whole notebook stays well under a minute at scale 1. Below pytest's
# limit per test (pyproject.toml, 300 s), so a cell that waits forever is stopped and named
# here rather than by pytest-timeout's thread dump.
CELL_TIMEOUT = 150
RUNNABLE = sorted((REPO / "notebooks").glob("*.ipynb")) + sorted((REPO / "solutions").glob("*.ipynb"))
LABS = sorted((REPO / "labs").glob("*.ipynb"))
ARTIFACTS = REPO / "test-artifacts"


def _execute(path: Path, allow_errors: bool = False):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
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
    started = [i for i, c in enumerate(nb.cells)
               if c.cell_type == "code" and c.get("execution_count") is not None]
    index = started[-1] if started else None
    source = nb.cells[index].source if index is not None else ""
    head = "\n".join("    " + line for line in source.splitlines()[:6])
    return (f"{path.relative_to(REPO)}: cell {index} did not finish within {CELL_TIMEOUT} s "
            f"and was stopped (nbclient's limit per cell):\n{head}\n"
            f"At PY2PTX_SCALE=1 every cell of the course finishes in seconds; one that waits "
            f"is usually a kernel that never returns (a __syncthreads() some threads never "
            f"reach, a loop that never ends) or a GPU busy with someone else's work.")


def _errors(nb) -> list[tuple[int, str, str]]:
    return [(i, out["ename"], out["evalue"]) for i, cell in enumerate(nb.cells)
            if cell.cell_type == "code" for out in cell.get("outputs", [])
            if out.get("output_type") == "error"]


def test_there_are_notebooks_labs_and_solutions():
    assert len(list((REPO / "notebooks").glob("*.ipynb"))) >= 3
    assert len(LABS) >= 2
    assert [p.name for p in LABS] == [p.name for p in sorted((REPO / "solutions").glob("*.ipynb"))]


@pytest.mark.parametrize("path", RUNNABLE, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_runs_top_to_bottom(path):
    nb = _execute(path)
    assert not _errors(nb)
    # Keep the executed copy for a person to look at (CI artifact), never in the sources.
    ARTIFACTS.mkdir(exist_ok=True)
    nbformat.write(nb, ARTIFACTS / f"{path.parent.name}-{path.name}")
    texts = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                    for o in c.get("outputs", []))
    if path.parent.name == "solutions":
        assert texts.count("✓") >= 2, "a solved lab must pass its self-checks"


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
