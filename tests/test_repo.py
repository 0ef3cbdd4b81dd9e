"""Repository rules: environment.yml complete, labs in sync, sources clean, two commands wired."""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

import clean_notebooks  # noqa: E402
import course_map  # noqa: E402
import make_labs  # noqa: E402


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_top_level_layout():
    for item in ("notebooks", "labs", "solutions", "environment.yml", "README.md", "pyproject.toml",
                 "Makefile", "py2ptx", "tests", "tools", "results", ".ci/run"):
        assert (REPO / item).exists(), item


def test_environment_yml_names_every_runtime_dependency():
    try:
        import tomllib

        deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    except ModuleNotFoundError:  # Python 3.10: read the installed package's metadata
        deps = [r for r in importlib.metadata.requires("py2ptx") if "extra ==" not in r]
    env = (REPO / "environment.yml").read_text()
    listed = {_name(m.group(1)) for m in re.finditer(r"^\s*-\s+([A-Za-z0-9_.\-]+)", env, re.M)}
    missing = sorted(_name(d) for d in deps if _name(d) not in listed)
    assert not missing, f"environment.yml does not name: {missing}"
    assert "conda-forge" in env and re.search(r"cuda-version\s*=", env)
    assert re.search(r"^\s*-\s+-e \.\s*$", env, re.M), "environment.yml must install the package"


def test_labs_are_generated_from_solutions():
    expected = make_labs.expected_labs()
    assert expected, "no solutions found"
    for path, text in expected.items():
        assert path.exists(), f"{path.name} missing: run `make labs`"
        assert path.read_text() == text, f"{path.name} differs from its solution: run `make labs`"
        assert "### BEGIN SOLUTION" not in text and "raise NotImplementedError()" in text


def test_make_labs_refuses_broken_markers():
    nb = {"cells": [{"cell_type": "code", "source": "x = 1\n### BEGIN SOLUTION\ny = 2\n",
                     "metadata": {}, "outputs": [], "execution_count": None}]}
    try:
        make_labs.lab_from_solution(nb, "broken.ipynb")
    except make_labs.MarkerError as err:
        assert "broken.ipynb" in str(err) and "never closed" in str(err)
    else:
        raise AssertionError("an unclosed solution region must be refused")


def test_committed_notebooks_carry_no_outputs():
    tracked = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=REPO, capture_output=True,
                             text=True).stdout.split()
    paths = [REPO / p for p in tracked] or [p for f in clean_notebooks.FOLDERS
                                             for p in (REPO / f).glob("*.ipynb")]
    assert paths
    problems = {str(p.relative_to(REPO)): clean_notebooks.problems(p) for p in paths}
    assert not {k: v for k, v in problems.items() if v}


def test_notebooks_are_numbered_and_linked():
    names = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
    assert all(re.match(r"\d\d-[a-z0-9-]+\.ipynb$", n) for n in names), names
    assert [int(n[:2]) for n in names] == list(range(len(names)))


def test_readme_course_map_is_current_and_commands_shown():
    readme = (REPO / "README.md").read_text()
    assert course_map.updated_readme(readme) == readme, "run `make course-map`"
    assert "make lab" in readme and "make test" in readme
    assert "make test" in (REPO / ".ci/run").read_text()


def test_every_notebook_ends_with_current_navigation():
    for nb in course_map.notebooks():
        assert course_map.updated_notebook(nb) == nb.read_text(), f"{nb.name}: run `make course-map`"
        nav = json.loads(nb.read_text())["cells"][-1]
        links = re.findall(r"\]\(([^)#]+)", "".join(nav["source"]))
        assert links and all((nb.parent / link).exists() for link in links), links
    first = json.loads(course_map.notebooks()[0].read_text())["cells"][-1]
    assert "previous" not in "".join(first["source"])


def test_makefile_has_the_two_commands():
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^lab:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "notebooks/00-the-stack.ipynb" in makefile


def test_ruff_clean():
    ruff = Path(sys.executable).with_name("ruff")
    cmd = [str(ruff)] if ruff.exists() else [sys.executable, "-m", "ruff"]
    out = subprocess.run([*cmd, "check", "."], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
