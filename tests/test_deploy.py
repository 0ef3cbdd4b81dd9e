"""Classroom deployment: the student tree, the hub-link tool, and the deploy/ files.

The student tree must never carry solutions/ or any solution code, must refuse to write
into a folder it did not make, and must refresh its own output without touching anything
else. The link tool must refuse bad input with a message. The deploy files must agree with
each other and with the tools (the folder name, the branch, the CUDA release).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import hub_link  # noqa: E402
import make_labs  # noqa: E402
import nbformat
import pytest
import student_tree  # noqa: E402
import yaml
from deploy_support import REPO, course_copy, git, in_ci, require

SOLUTION_REGION = re.compile(r"^[ \t]*### BEGIN SOLUTION\n(.*?)^[ \t]*### END SOLUTION", re.M | re.S)


def _tree_texts(tree: Path) -> dict[str, str]:
    """Every file of the tree as text; notebooks as their cells' sources (what a student reads)."""
    texts = {}
    for path in tree.rglob("*"):
        if ".git" in path.relative_to(tree).parts or not path.is_file():
            continue
        rel = path.relative_to(tree).as_posix()
        if path.suffix == ".ipynb":
            nb = nbformat.read(path, as_version=4)
            nbformat.validate(nb)
            texts[rel] = "\n".join(cell.source for cell in nb.cells)
        else:
            texts[rel] = path.read_text()
    return texts


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("student") / "py2ptx"
    student_tree.build(target)
    return target


def test_student_tree_has_the_course_and_no_solutions(tree):
    texts = _tree_texts(tree)
    assert not [p for p in texts if p.startswith("solutions/") or "/solutions/" in p]
    for lab in make_labs.expected_labs():
        assert f"labs/{lab.name}" in texts, f"{lab.name} missing from the student tree"
    for nb in (REPO / "notebooks").glob("*.ipynb"):
        assert f"notebooks/{nb.name}" in texts
    assert "py2ptx/__init__.py" in texts and "py2ptx/kernels/c/bubble_sort.c" in texts
    assert "pyproject.toml" in texts and "environment.yml" in texts
    assert json.loads((tree / student_tree.MARKER).read_text())["made_by"] == "tools/student_tree.py"

    # No solution code anywhere: no marker, and no region's code (as written in solutions/).
    regions = []
    for path in (REPO / "solutions").glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            regions += [r.strip() for r in SOLUTION_REGION.findall(cell.source) if r.strip()]
    assert regions, "found no solution regions to look for"
    for rel, text in texts.items():
        assert "### BEGIN SOLUTION" not in text, rel
        for region in regions:
            assert region not in text, f"{rel} contains solution code:\n{region}"


def test_student_readme_links_resolve_inside_the_tree(tree):
    readme = (tree / "README.md").read_text()
    links = re.findall(r"\]\(([^)#]+)\)", readme)
    assert any(link.startswith("labs/") for link in links), "the course map is missing"
    missing = [link for link in links if not (tree / link).exists()]
    assert not missing, missing
    assert "solutions" not in readme


def test_student_tree_refuses_a_folder_it_did_not_make(tmp_path, capsys):
    target = tmp_path / "course"
    target.mkdir()
    work = target / "my-lab.ipynb"
    work.write_text("a student's work")
    assert student_tree.main([str(target)]) == 2
    err = capsys.readouterr().err
    assert "not empty" in err and "refusing" in err and str(target) in err
    assert sorted(p.name for p in target.iterdir()) == ["my-lab.ipynb"]
    assert work.read_text() == "a student's work"


def test_student_tree_refuses_the_course_sources(capsys):
    assert student_tree.main([str(REPO / "notebooks" / "student")]) == 2
    assert "inside the course's own sources" in capsys.readouterr().err
    assert not (REPO / "notebooks" / "student").exists()
    assert student_tree.main([str(REPO)]) == 2


def test_student_tree_refreshes_its_own_output_and_keeps_other_files(tmp_path):
    course = course_copy(tmp_path / "course")
    target = tmp_path / "tree"
    first = student_tree.build(target, source=course, commit=True)
    notes = target / "notes-of-mine.md"
    notes.write_text("kept")

    again = student_tree.build(target, source=course, commit=True)
    assert again["commit"] == first["commit"], "nothing changed, so no new commit"
    assert git(target, "ls-files", "notes-of-mine.md") == "", "a file not ours was committed"

    git(course, "rm", "-q", "notebooks/02-c-and-numba.ipynb")
    git(course, "commit", "-q", "-m", "drop 02")
    done = student_tree.build(target, source=course, commit=True)
    assert done["removed"] == ["notebooks/02-c-and-numba.ipynb"]
    assert not (target / "notebooks/02-c-and-numba.ipynb").exists()
    assert notes.read_text() == "kept"
    assert done["commit"] != first["commit"]
    assert git(target, "rev-parse", "--abbrev-ref", "HEAD") == "student"


def test_student_tree_will_not_overwrite_a_file_it_did_not_write(tmp_path):
    course = course_copy(tmp_path / "course")
    target = tmp_path / "tree"
    student_tree.build(target, source=course)
    (course / "labs" / "03-new.md").write_text("new lab notes\n")
    git(course, "add", "-A")
    git(course, "commit", "-q", "-m", "add notes")
    (target / "labs" / "03-new.md").write_text("the student's own file")
    with pytest.raises(student_tree.TreeError, match="was not written by this tool"):
        student_tree.build(target, source=course)
    assert (target / "labs" / "03-new.md").read_text() == "the student's own file"


def test_student_tree_stops_before_writing_if_solution_code_would_leak(tmp_path):
    course = course_copy(tmp_path / "course")
    lab = course / "labs" / "01-lab-bubble-sort.ipynb"
    nb = nbformat.read(lab, as_version=4)
    nb.cells[-1].source += "\n### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION"
    nbformat.write(nb, lab)
    git(course, "commit", "-qam", "a lab edited by hand, with its answer")
    target = tmp_path / "tree"
    with pytest.raises(student_tree.TreeError, match="01-lab-bubble-sort.ipynb.*solution"):
        student_tree.build(target, source=course)
    assert not target.exists()


# --- the hub link --------------------------------------------------------------------------

def test_hub_link_names_branch_folder_and_notebook():
    link = hub_link.link("https://hub.example.edu/", "labs/01-lab-bubble-sort.ipynb",
                         "https://github.com/org/py2ptx.git")
    parts = urlsplit(link)
    assert parts.scheme == "https" and parts.netloc == "hub.example.edu"
    assert parts.path == "/hub/user-redirect/git-pull"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query == {"repo": "https://github.com/org/py2ptx.git", "branch": "student",
                     "targetpath": hub_link.TARGET,
                     "urlpath": f"lab/tree/{hub_link.TARGET}/labs/01-lab-bubble-sort.ipynb"}
    other = hub_link.link("http://10.0.0.5/course", "notebooks/00-the-stack.ipynb",
                          "https://example.edu/py2ptx", branch="term-2", app="notebook")
    query = {k: v[0] for k, v in parse_qs(urlsplit(other).query).items()}
    assert other.startswith("http://10.0.0.5/course/hub/user-redirect/git-pull?")
    assert query["branch"] == "term-2"
    assert query["urlpath"] == f"notebooks/{hub_link.TARGET}/notebooks/00-the-stack.ipynb"


@pytest.mark.parametrize("hub, notebook, repo, branch, message", [
    ("hub.example.edu", "notebooks/00-the-stack.ipynb", "https://g.io/r", "student",
     "not an http(s) URL"),
    ("ftp://hub.example.edu", "notebooks/00-the-stack.ipynb", "https://g.io/r", "student",
     "not an http(s) URL"),
    ("https://hub.example.edu/?next=x", "notebooks/00-the-stack.ipynb", "https://g.io/r",
     "student", "query"),
    ("https://hub.example.edu/hub/home", "notebooks/00-the-stack.ipynb", "https://g.io/r",
     "student", "use 'https://hub.example.edu'"),
    ("https://hub.example.edu", "notebooks/00-stack.ipynb", "https://g.io/r", "student",
     "did you mean 'notebooks/00-the-stack.ipynb'"),
    ("https://hub.example.edu", "solutions/01-lab-bubble-sort.ipynb", "https://g.io/r",
     "student", "students never receive"),
    ("https://hub.example.edu", "../secrets.ipynb", "https://g.io/r", "student",
     "inside the course"),
    ("https://hub.example.edu", "notebooks/00-the-stack.ipynb", "git@github.com:o/r", "student",
     "http(s)://"),
    ("https://hub.example.edu", "notebooks/00-the-stack.ipynb", "https://g.io/r", "my branch",
     "not a valid git branch"),
])
def test_hub_link_refuses_bad_input_with_a_message(hub, notebook, repo, branch, message, capsys):
    assert hub_link.main([hub, notebook, "--repo", repo, "--branch", branch]) == 2
    out = capsys.readouterr()
    assert out.out == "", "no link may be printed for bad input"
    assert out.err.startswith("hub_link: ") and message in out.err, out.err


# --- the deploy/ files agree with each other and with the tools ----------------------------

def test_z2jh_values_have_cpu_and_one_gpu_profiles_and_pull_the_student_branch():
    values = yaml.safe_load((REPO / "deploy" / "z2jh-values.yaml").read_text())
    single = values["singleuser"]
    profiles = single["profileList"]
    gpu = [p for p in profiles
           if p.get("kubespawner_override", {}).get("extra_resource_limits", {}).get("nvidia.com/gpu")]
    cpu = [p for p in profiles if p not in gpu]
    assert len(cpu) == 1 and cpu[0].get("default") is True, "one default CPU profile"
    assert len(gpu) == 1 and gpu[0]["kubespawner_override"]["extra_resource_limits"] == {
        "nvidia.com/gpu": "1"}, "Kubernetes wants the GPU count as a string"
    home = f"/home/jovyan/{hub_link.TARGET}"
    assert single["extraEnv"]["PYTHONPATH"] == home
    assert gpu[0]["kubespawner_override"]["environment"]["PYTHONPATH"] == home
    command = single["lifecycleHooks"]["postStart"]["exec"]["command"]
    assert command[0] == "gitpuller" and command[2:] == ["student", home]


def test_dockerfile_builds_on_docker_stacks_from_environment_yml():
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text()
    base = re.search(r"^FROM\s+(\S+)", dockerfile, re.M).group(1)
    assert re.fullmatch(r"quay\.io/jupyter/[a-z-]+-notebook:\d{4}-\d{2}-\d{2}", base), \
        f"{base}: a docker-stacks image with a date tag (a date tag never moves)"
    copied = [src for line in re.findall(r"^COPY\s+(?:--\S+\s+)*(.+)$", dockerfile, re.M)
              for src in line.split()[:-1]]
    assert copied and all((REPO / src).exists() for src in copied), copied
    assert not [src for src in copied if src in (".", "solutions") or "solutions" in src]
    assert "environment.yml" in copied and "nbgitpuller" in dockerfile
    cuda = re.search(r"cuda-version\s*=\s*([\d.]+)", (REPO / "environment.yml").read_text())
    assert f"CONDA_OVERRIDE_CUDA={cuda.group(1)} " in dockerfile


def test_deploy_docs_link_to_files_that_exist():
    for doc in [REPO / "docs" / "instructors.md", *(REPO / "deploy").glob("*.md")]:
        for link in re.findall(r"\]\(([^)#:]+)\)", doc.read_text()):
            assert (doc.parent / link).exists(), f"{doc.name}: broken link {link}"


def test_ci_installs_the_deployment_tests_prerequisites():
    ci = (REPO / ".ci" / "run").read_text()
    assert "chromium" in ci and "configurable-http-proxy" in ci and "playwright install" not in ci


def test_missing_prerequisite_skips_here_but_fails_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "false")
    assert not in_ci()
    with pytest.raises(pytest.skip.Exception, match="no widget"):
        require(None, "no widget")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run this test, but no widget"):
        require(None, "no widget")
    assert require("/usr/bin/x", "never shown") == "/usr/bin/x"


def test_every_deployment_ships_the_course_jupyterlab_settings():
    """No news or update pop-up: the same settings in .venv, the image, the hub and TLJH."""
    ours = json.loads((REPO / "deploy" / "overrides.json").read_text())
    assert ours["@jupyterlab/apputils-extension:notification"] == {
        "checkForUpdates": False, "fetchNews": "false"}
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text()
    target = "/opt/conda/share/jupyter/lab/settings/overrides.json"
    assert re.search(rf"^COPY\s+(--\S+\s+)*deploy/overrides\.json\s+{target}$", dockerfile, re.M)
    values = yaml.safe_load((REPO / "deploy" / "z2jh-values.yaml").read_text())
    mounted = values["singleuser"]["extraFiles"]["jupyterlab-overrides"]
    assert mounted["mountPath"] == target and mounted["data"] == ours
    tljh = (REPO / "deploy" / "tljh.md").read_text()
    block = re.search(r"overrides\.json <<'JSON'\n(.*?)\nJSON\n", tljh, re.S)
    assert block and json.loads(block.group(1)) == ours
