#!/usr/bin/env python3
"""Generate the README's course map from the notebooks, the labs and the ladder registry.

    python tools/course_map.py           # rewrite the map between the README's markers
    python tools/course_map.py --check   # exit 1 if the README's map is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from py2ptx.ladder import rungs  # noqa: E402

START, END = "<!-- course-map:start -->", "<!-- course-map:end -->"


def title_of(path: Path) -> str:
    """The notebook's first Markdown heading, without the leading number."""
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"])
            for line in text.splitlines():
                if line.startswith("# "):
                    heading = line[2:].strip()
                    return heading.split("—", 1)[1].strip() if "—" in heading else heading
    return path.stem


def course_map() -> str:
    lines = ["| # | notebook | rungs of the ladder | lab |", "|---|---|---|---|"]
    for nb in sorted((REPO / "notebooks").glob("[0-9][0-9]-*.ipynb")):
        number = nb.name[:2]
        taught = ", ".join(f"{r.number}. {r.title}" for r in rungs(notebook=nb.stem)) or "—"
        labs = sorted((REPO / "labs").glob(f"{number}-*.ipynb"))
        lab = ", ".join(f"[{p.stem}](labs/{p.name})" for p in labs) or "—"
        lines.append(f"| {number} | [{title_of(nb)}](notebooks/{nb.name}) | {taught} | {lab} |")
    return "\n".join(lines)


def updated_readme(text: str) -> str:
    if START not in text or END not in text:
        raise SystemExit(f"README.md needs the markers {START} and {END}")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{course_map()}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    readme = REPO / "README.md"
    text = readme.read_text()
    new = updated_readme(text)
    if args.check:
        if new != text:
            print("README.md's course map is out of date: run `make course-map`")
            return 1
        return 0
    readme.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
