#!/usr/bin/env python3
"""Build the tree students receive: notebooks/, labs/, the py2ptx package, a README.

Never solutions/, and never a cell or file holding solution code (a ``### BEGIN SOLUTION``
region): the build stops before writing anything if one would slip in.

    python tools/student_tree.py build/student            # write (or refresh) a folder
    python tools/student_tree.py build/student --commit   # ... and commit it on branch `student`

The target must be new, empty, or an earlier output of this tool (it holds the marker file
``.student-tree.json``, which lists the files the tool wrote). Anything else is refused, so
the tool can never write over a student's work or a folder of yours. A refresh rewrites the
tool's own files, removes those no longer in the course, and leaves every other file alone.

Notebooks are written the way Jupyter saves them (nbformat), so when a student saves a lab
only the cells they edited change, and nbgitpuller can merge the instructor's next update
cell by cell (docs/instructors.md).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path, PurePosixPath

REPO = Path(__file__).resolve().parent.parent
MARKER = ".student-tree.json"
# What students get, taken from the files git tracks (so no caches, checkpoints or scratch
# notebooks). environment.yml and pyproject.toml make the tree installable on its own
# (Binder, `pip install -e .`); results/ holds the recorded GPU runs the notebooks show.
# docs/glossary.md: the notebooks link their terms to it (tools/glossary.py); the rest of
# docs/ is for instructors.
INCLUDE = ("notebooks", "labs", "py2ptx", "results", "pyproject.toml", "environment.yml",
           "docs/glossary.md")
NEVER = ("solutions",)
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
COURSE_MAP = re.compile(r"<!-- course-map:start -->.*?<!-- course-map:end -->", re.S)


class TreeError(Exception):
    """Bad input or a refused build: the message says what to do; nothing was written."""


def _git(*args: str, cwd: Path, check: bool = True) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME=os.environ.get("GIT_AUTHOR_NAME", "py2ptx student tree"),
               GIT_AUTHOR_EMAIL=os.environ.get("GIT_AUTHOR_EMAIL", "student-tree@localhost"))
    env.setdefault("GIT_COMMITTER_NAME", env["GIT_AUTHOR_NAME"])
    env.setdefault("GIT_COMMITTER_EMAIL", env["GIT_AUTHOR_EMAIL"])
    out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env)
    if check and out.returncode != 0:
        raise TreeError(f"git {' '.join(args)} failed in {cwd}: {out.stderr.strip()}")
    return out.stdout.strip()


def source_files(source: Path) -> list[str]:
    """The course files students get: tracked by git, under INCLUDE, as relative POSIX paths."""
    if not (source / ".git").exists():
        raise TreeError(f"{source} is not a git repository: the student tree is built from the "
                        "files git tracks, so scratch files never reach students")
    tracked = _git("ls-files", "-z", "--", *INCLUDE, cwd=source).split("\0")
    files = sorted(p for p in tracked if p and (source / p).is_file())
    leaked = [p for p in files if PurePosixPath(p).parts[0] in NEVER]
    if leaked:  # INCLUDE never names them; this guards an edit of INCLUDE
        raise TreeError(f"refusing to ship {leaked[0]}: {'/'.join(NEVER)} never reach students")
    return files


def _notebook_text(path: Path) -> str:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        for marker in SOLUTION_MARKERS:
            if marker in cell.source:
                raise TreeError(f"{path}, cell {index} holds solution code ({marker}); "
                                "labs are made from solutions/ by `make labs`, which removes it")
        if cell.cell_type == "code":  # outputs in the instructor's working tree stay there
            cell.outputs, cell.execution_count = [], None
    # Exactly what Jupyter writes when a student saves, so their save only touches their edits.
    return nbformat.writes(nb) + "\n"


def student_readme(source: Path) -> str:
    """The README students see: where to start, the course map, and how updates treat their work."""
    readme = (source / "README.md").read_text()
    found = COURSE_MAP.search(readme)
    course_map = found.group(0) if found else ""
    return f"""# From Python to PTX — your copy

One problem, sorting, taken down every layer of the stack: Python, C, Numba, CUDA, PTX.
Start with [notebooks/00-the-stack.ipynb](notebooks/00-the-stack.ipynb), then follow the map.

{course_map}

`labs/` are your exercises: each ends with a self-check that names the first input it fails.

## Your work is kept

When your instructor publishes an update and you open the course link again, the update is
merged into this folder: new files arrive, and your edits stay. Where you and the update
changed the same lines, your version is kept. A file you deleted comes back from the course.

## On your own machine

```sh
pip install -e .          # or: conda env create -f environment.yml && conda activate py2ptx
jupyter lab notebooks/00-the-stack.ipynb
```
"""


def render(source: Path) -> dict[str, str]:
    """Every file of the student tree (relative path -> text), checked for solution code."""
    tree = {}
    for rel in source_files(source):
        path = source / rel
        text = _notebook_text(path) if rel.endswith(".ipynb") else path.read_text()
        for marker in SOLUTION_MARKERS:
            if marker in text:
                raise TreeError(f"{rel} contains {marker!r}: solution code never reaches students")
        tree[rel] = text
    tree["README.md"] = student_readme(source)
    return tree


def _check_target(target: Path, source: Path) -> list[str]:
    """The files an earlier build wrote into ``target`` ([] if new); refuse anything else."""
    if target.exists() and not target.is_dir():
        raise TreeError(f"{target} is a file, not a folder")
    resolved, src = target.resolve(), source.resolve()
    if resolved == src or any(resolved.is_relative_to(src / top) for top in (*INCLUDE, *NEVER)):
        raise TreeError(f"{target} is inside the course's own sources; choose a folder such as "
                        f"{src / 'build' / 'student'}")
    if not target.exists() or not any(target.iterdir()):
        return []
    marker = target / MARKER
    if not marker.is_file():
        raise TreeError(f"{target} is not empty and was not made by this tool (it has no {MARKER});"
                        " refusing to write into it. Choose a new or empty folder.")
    try:
        return list(json.loads(marker.read_text())["files"])
    except (ValueError, KeyError, TypeError) as err:
        raise TreeError(f"{marker} is damaged ({err}); refusing to write into {target}") from None


def build(target: Path, source: Path = REPO, commit: bool = False,
          branch: str = "student") -> dict:
    """Write the student tree into ``target``; return what was done (files, removed, commit)."""
    target, source = Path(target), Path(source)
    previous = _check_target(target, source)
    tree = render(source)  # everything is read and checked before anything is written
    foreign = [rel for rel in tree if rel not in previous and (target / rel).exists()]
    if foreign:
        raise TreeError(f"{target / foreign[0]} exists but was not written by this tool; "
                        "move it away first (nothing was changed)")
    if commit and (target / ".git").exists():
        current = _git("rev-parse", "--abbrev-ref", "HEAD", cwd=target)
        if current != branch:
            raise TreeError(f"{target} has branch {current!r} checked out, not {branch!r}")

    target.mkdir(parents=True, exist_ok=True)
    removed = sorted(set(previous) - set(tree))
    for rel in removed:
        (target / rel).unlink(missing_ok=True)
        for parent in (target / rel).parents:  # drop folders the course no longer has
            if parent == target or any(parent.iterdir()):
                break
            parent.rmdir()
    for rel, text in tree.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    source_commit = _git("rev-parse", "HEAD", cwd=source, check=False) or "unknown"
    dirty = bool(_git("status", "--porcelain", "--", *INCLUDE, "README.md", cwd=source, check=False))
    (target / MARKER).write_text(json.dumps(
        {"made_by": "tools/student_tree.py", "source_commit": source_commit,
         "source_dirty": dirty, "files": sorted(tree)}, indent=1) + "\n")

    done = {"files": sorted(tree), "removed": removed, "commit": None}
    if commit:
        if not (target / ".git").exists():
            _git("init", "-q", "-b", branch, cwd=target)
        # Only the tool's own files: anything else in the folder is someone's, never published.
        _git("add", "--", *tree, MARKER, cwd=target)
        if removed:
            _git("rm", "-q", "--cached", "--ignore-unmatch", "--", *removed, cwd=target)
        if _git("diff", "--cached", "--name-only", cwd=target):
            note = " (with uncommitted changes)" if dirty else ""
            _git("commit", "-q", "-m", f"student tree from {source_commit[:12]}{note}", cwd=target)
        done["commit"] = _git("rev-parse", "HEAD", cwd=target)
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", type=Path, help="folder to write (new, empty, or made by this tool)")
    parser.add_argument("--commit", action="store_true",
                        help="make the folder a git repository and commit the tree on --branch")
    parser.add_argument("--branch", default="student", help="branch to commit on (default: student)")
    parser.add_argument("--source", type=Path, default=REPO, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        done = build(args.target, args.source, commit=args.commit, branch=args.branch)
    except TreeError as err:
        print(f"student_tree: {err}", file=sys.stderr)
        return 2
    print(f"wrote {len(done['files'])} files to {args.target}"
          + (f", removed {len(done['removed'])}" if done["removed"] else ""))
    if done["commit"]:
        print(f"committed on branch {args.branch}: {done['commit'][:12]}\n"
              f"publish it with: git -C {args.target} push <course repository URL> {args.branch}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
