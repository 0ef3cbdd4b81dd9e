#!/usr/bin/env python3
"""Generate labs/ from solutions/: the solutions are the single source of both.

In a solution notebook, each exercise's answer sits between nbgrader's markers::

    def bubble_sort_early_exit(a):
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

The lab gets nbgrader's stub in its place, at the same indentation::

        # YOUR CODE HERE
        raise NotImplementedError()

(In Markdown cells the region becomes "YOUR ANSWER HERE".) Outputs are dropped.

    python tools/make_labs.py           # write labs/ (only inside this repository)
    python tools/make_labs.py --check   # exit 1 if labs/ differs from what it would write
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS, LABS = REPO / "solutions", REPO / "labs"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


class MarkerError(ValueError):
    pass


def _clear(source: str, markdown: bool, where: str) -> tuple[str, int]:
    out, inside, regions = [], False, 0
    for number, line in enumerate(source.splitlines(keepends=True), 1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise MarkerError(f"{where}, line {number}: {BEGIN} inside another solution region")
            inside, regions = True, regions + 1
            indent = re.match(r"\s*", line).group(0)
            out.append("YOUR ANSWER HERE\n" if markdown
                       else f"{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError()\n")
        elif stripped == END:
            if not inside:
                raise MarkerError(f"{where}, line {number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise MarkerError(f"{where}: {BEGIN} is never closed by {END}")
    return "".join(out).rstrip("\n"), regions


def lab_from_solution(solution: dict, name: str = "notebook") -> dict:
    """The lab notebook (a dict in nbformat 4 JSON) made from a solution notebook."""
    lab = copy.deepcopy(solution)
    total = 0
    for index, cell in enumerate(lab["cells"]):
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        cleared, regions = _clear(source, cell["cell_type"] == "markdown", f"{name}, cell {index}")
        total += regions
        # A list of lines, as Jupyter saves it: a lab a student only ran is saved unchanged.
        cell["source"] = cleared.splitlines(keepends=True)
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    if total == 0:
        raise MarkerError(f"{name}: no {BEGIN} region, so the lab would have nothing to do")
    return lab


def render(nb: dict) -> str:
    """Serialise like Jupyter does (indent 1, trailing newline), so diffs stay small."""
    return json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def expected_labs() -> dict[Path, str]:
    out = {}
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        solution = json.loads(path.read_text())
        out[LABS / path.name] = render(lab_from_solution(solution, path.name))
    return out


# What this tool last wrote, kept inside .git (never committed, never in a student's copy):
# a lab whose text is neither that nor the committed version was edited by a person.
STAMP = REPO / ".git" / "py2ptx-labs.json"


def _digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def _written_before() -> dict[str, str]:
    try:
        return json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return {}


def _remember(written: dict[str, str]) -> None:
    if STAMP.parent.is_dir():
        STAMP.write_text(json.dumps(written, indent=1))


def _committed_digest(path: Path) -> str | None:
    import subprocess

    out = subprocess.run(["git", "show", f"HEAD:{path.relative_to(REPO).as_posix()}"],
                         cwd=REPO, capture_output=True, text=True)
    return _digest(out.stdout) if out.returncode == 0 else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    parser.add_argument("--force", action="store_true",
                        help="overwrite labs even where someone edited them by hand")
    args = parser.parse_args(argv)
    try:
        expected = expected_labs()
    except MarkerError as err:
        print(f"make_labs: {err}", file=sys.stderr)
        return 2
    stale = sorted(set(LABS.glob("*.ipynb")) - set(expected))
    differ = [p for p, text in expected.items() if not p.exists() or p.read_text() != text]
    if args.check:
        for p in differ:
            print(f"labs out of date: {p.relative_to(REPO)} (run `make labs`)")
        for p in stale:
            print(f"lab without a solution: {p.relative_to(REPO)}")
        return 1 if differ or stale else 0
    LABS.mkdir(exist_ok=True)
    written = _written_before()
    edited = [p for p in differ if p.exists() and not args.force
              and _digest(p.read_text()) not in (written.get(p.name), _committed_digest(p))]
    for p in edited:
        print(f"make_labs: {p.relative_to(REPO)} has changes this tool did not write (someone's "
              f"work on the lab?); left as it is. Commit or move it, or run with --force.",
              file=sys.stderr)
    for p in differ:
        if p in edited:
            continue
        p.write_text(expected[p])
        written[p.name] = _digest(expected[p])
        print(f"wrote {p.relative_to(REPO)}")
    _remember(written)
    if edited:
        return 1
    for p in stale:
        print(f"note: {p.relative_to(REPO)} has no solution; left in place")
    return 0


if __name__ == "__main__":
    sys.exit(main())
