#!/usr/bin/env python3
"""The notebooks as lecture slides: slide metadata in the notebooks, and static decks.

    python tools/slides.py --apply              # write each cell's slide type into notebooks/
    python tools/slides.py --check              # exit 1 if a notebook is out of sync with --apply
    python tools/slides.py --build build/slides [--execute]   # reveal.js decks (make slides)

One deck per notebook of ``notebooks/``. The slide types (``metadata.slideshow.slide_type``,
read by RISE in JupyterLab -- Alt+R -- and by ``jupyter nbconvert --to slides``) follow from
the cells, so they never drift from the prose (:func:`slide_types`):

* the first cell and every ``#``/``##`` heading start a **slide**; a ``###`` heading a
  **subslide** (below it, in reveal.js's second dimension);
* a code cell that shows a listing (``show_source``, ``side_by_side``) gets a subslide of its
  own: its output fills one;
* an ``*Answer:*`` cell is a **fragment**: it appears on the next key press, after the question;
* the navigation footer (``---`` and the previous/next links) is **skipped**;
* any other cell continues the slide, until the slide holds about :data:`BUDGET` lines of source
  (a code cell counts :data:`OUTPUT_LINES` more for its output): then it starts a subslide.

A lecturer overrides one cell with a tag ``slide:slide``, ``slide:subslide``, ``slide:fragment``,
``slide:skip``, ``slide:notes`` or ``slide:-`` (JupyterLab: the property inspector's tags); the
tag wins and stays, and the cells after it are counted from there. The coordinator re-runs
``--apply`` after merging notebook edits; tests/test_slides.py fails while a notebook is out of
sync.

``--build`` writes ``build/slides/<notebook>.slides.html`` with nbconvert's reveal.js exporter
(``--execute`` runs each notebook first, at most :data:`CELL_TIMEOUT` s a cell, so the decks
carry the outputs a lecture shows; without it they show the cells only). The decks load
reveal.js, RequireJS and MathJax from their CDNs, as nbconvert's template does: presenting
offline, use RISE in JupyterLab. :func:`deck_problems` checks a deck: its number of slides, and
that every local file it refers to exists.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))  # clean_notebooks: the one notebook format on disk
import clean_notebooks  # noqa: E402
import execute  # noqa: E402  -- the course's one way to execute a notebook

NOTEBOOKS = REPO / "notebooks"
TYPES = ("slide", "subslide", "fragment", "skip", "notes", "-")
TAG = "slide:"
#: Lines of source one slide holds before the next cell starts a subslide (a projector
#: shows about 25 lines of notebook text at a readable size).
BUDGET = 22
#: What a code cell's output is counted as, in lines, since the sources carry none.
OUTPUT_LINES = 6
#: Code that shows a listing, which gets a subslide of its own.
LISTING = re.compile(r"\b(show_source|side_by_side)\(")
#: Seconds per cell when --build --execute runs a notebook (as tests/test_notebooks.py).
CELL_TIMEOUT = execute.CELL_TIMEOUT
#: The remote files nbconvert's reveal.js template loads (anything else remote is a problem).
CDN = ("https://cdnjs.cloudflare.com/ajax/libs/", "https://unpkg.com/reveal.js@")


def _override(cell: dict) -> str | None:
    tags = [t[len(TAG):] for t in cell.get("metadata", {}).get("tags", []) if t.startswith(TAG)]
    for t in tags:
        if t not in TYPES:
            raise ValueError(f"tag {TAG}{t!r}: the slide types are "
                             + ", ".join(TAG + x for x in TYPES))
    return tags[-1] if tags else None


def _lines(cell: dict) -> int:
    source = "".join(cell.get("source", ""))
    return source.count("\n") + 1 + (OUTPUT_LINES if cell["cell_type"] == "code" else 0)


def _by_structure(index: int, cell: dict) -> str | None:
    """A cell's type from what it is, or None: it continues or overflows the slide."""
    source = "".join(cell.get("source", "")).lstrip()
    if index == 0 or (cell["cell_type"] == "markdown" and re.match(r"#{1,2} ", source)):
        return "slide"
    if cell["cell_type"] == "markdown":
        if source.startswith("### "):
            return "subslide"
        if source.startswith("---"):  # the navigation footer (tools/course_map.py)
            return "skip"
        if source.startswith(("*Answer", "**Answer")):
            return "fragment"
    elif LISTING.search(source):
        return "subslide"
    return None


def slide_types(cells: list[dict]) -> list[str]:
    """Each cell's slide type: its ``slide:`` tag, else by the rules of this module."""
    types, used = [], 0
    for i, cell in enumerate(cells):
        kind = _override(cell) or _by_structure(i, cell)
        if kind is None:
            kind = "subslide" if used and used + _lines(cell) > BUDGET else "-"
        if kind in ("slide", "subslide"):
            used = 0
        if kind not in ("skip", "notes"):
            used += _lines(cell)
        types.append(kind)
    return types


def applied(nb: dict) -> dict:
    """``nb`` with every cell's ``metadata.slideshow`` set to :func:`slide_types`' answer."""
    for cell, kind in zip(nb["cells"], slide_types(nb["cells"]), strict=True):
        cell.setdefault("metadata", {})["slideshow"] = {"slide_type": kind}
    return nb


def out_of_sync(nb: dict) -> list[str]:
    """Which cells' slide types differ from :func:`applied`'s (empty: in sync)."""
    want = slide_types(nb["cells"])
    return [f"cell {i}: {cell.get('metadata', {}).get('slideshow')} (want {kind!r})"
            for i, (cell, kind) in enumerate(zip(nb["cells"], want, strict=True))
            if cell.get("metadata", {}).get("slideshow") != {"slide_type": kind}]


def notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


class _Sections(HTMLParser):
    """Counts a reveal.js deck's slides: the ``<section>`` elements with none inside."""

    def __init__(self):
        super().__init__()
        self.stack: list[bool] = []  # per open section: has it a section inside?
        self.slides = 0
        self.refs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "section":
            if self.stack:
                self.stack[-1] = True
            self.stack.append(False)
        for name, value in attrs:
            if value and ((tag in ("img", "script", "source", "iframe") and name == "src")
                          or (tag == "link" and name == "href")):
                self.refs.append(value)

    def handle_endtag(self, tag):
        if tag == "section" and self.stack:
            self.slides += not self.stack.pop()


def expected_slides(nb: dict) -> int:
    """The slides a deck of ``nb`` must have: one per slide or subslide cell."""
    return sum(c.get("metadata", {}).get("slideshow", {}).get("slide_type") in
               ("slide", "subslide") for c in nb["cells"])


def deck_problems(html: str, nb: dict, folder: Path) -> list[str]:
    """What is wrong with a deck built from ``nb`` into ``folder`` (empty: nothing)."""
    parser = _Sections()
    parser.feed(html)
    found = []
    if parser.slides != expected_slides(nb):
        found.append(f"{parser.slides} slides, but the notebook's metadata makes "
                     f"{expected_slides(nb)}")
    for ref in parser.refs:
        if ref.startswith(("data:", "#")):
            continue
        if ref.startswith(("http://", "https://", "//")):
            if not ref.startswith(CDN):
                found.append(f"remote asset outside nbconvert's template: {ref}")
        elif not (folder / ref.split("#")[0].split("?")[0]).exists():
            found.append(f"missing asset: {ref}")
    return found


def build(path: Path, out: Path, run: bool = False) -> tuple[Path, list[str]]:
    """Write ``path``'s deck into ``out``; return its path and :func:`deck_problems`."""
    import nbformat
    from nbconvert import SlidesExporter

    nb = nbformat.read(path, as_version=4)
    if run:
        os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
        execute.execute_notebook(nb, path.parent, CELL_TIMEOUT)
    html, _ = SlidesExporter().from_notebook_node(nb)
    out.mkdir(parents=True, exist_ok=True)
    deck = out / f"{path.stem}.slides.html"
    deck.write_text(html, encoding="utf-8")
    return deck, deck_problems(html, nb, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--apply", action="store_true", help="write the slide types")
    mode.add_argument("--check", action="store_true", help="exit 1 if a notebook is out of sync")
    mode.add_argument("--build", type=Path, metavar="FOLDER", help="write reveal.js decks")
    parser.add_argument("--execute", action="store_true", help="with --build: run each first")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or notebooks()
    if not args.build:
        bad = clean_notebooks.apply_or_check(paths, applied, out_of_sync, args.check,
                                             "tools/slides.py")
        return 1 if bad else 0
    bad = 0
    for path in paths:
        deck, problems = build(path, args.build.resolve(), args.execute)
        print(f"{deck}: {expected_slides(json.loads(path.read_text()))} slides"
              + "".join(f"\n  problem: {p}" for p in problems))
        bad += len(problems)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
