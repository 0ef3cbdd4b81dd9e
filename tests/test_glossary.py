"""The glossary (docs/glossary.md) and tools/glossary.py: every term has its anchor, each
notebook links a term at its first use in prose only, and the notebooks are in sync."""

from __future__ import annotations

import json

import glossary  # tools/
import pytest

REF = glossary.HREF


def _nb(*markdown: str) -> dict:
    return {"cells": [{"cell_type": "markdown", "metadata": {},
                       "source": text.splitlines(keepends=True)} for text in markdown]}


def _text(nb: dict) -> list[str]:
    return ["".join(c["source"]) for c in nb["cells"]]


def test_every_term_has_an_anchor_and_every_anchor_a_term():
    assert (glossary.NOTEBOOKS / REF).resolve() == glossary.GLOSSARY
    assert sorted(glossary.TERMS) == sorted(glossary.anchors())
    assert len(set(glossary.anchors())) == len(glossary.anchors()), "an anchor appears twice"


def test_a_term_is_linked_at_its_first_use_in_prose_only():
    nb = glossary.linked(_nb("## What an SM is\n\n`SM` in code, [SM](https://x) linked, then SMs here.",
                             "```\nSM in a fence\n```\nAn SM again, and a warp."))
    assert _text(nb) == [
        f"## What an SM is\n\n`SM` in code, [SM](https://x) linked, then [SMs]({REF}#sm) here.",
        f"```\nSM in a fence\n```\nAn SM again, and a [warp]({REF}#warp)."]


def test_the_longer_term_wins_and_a_word_that_is_not_the_term_is_left():
    nb = glossary.linked(_nb("A bank conflict, then a bank.", "Explore the grid. A grid of blocks."))
    assert _text(nb) == [f"A [bank conflict]({REF}#bank-conflict), then a [bank]({REF}#bank).",
                         f"Explore the grid. A [grid]({REF}#grid) of [blocks]({REF}#block)."]


def test_apply_is_idempotent_and_follows_the_first_use_when_it_moves():
    once = glossary.linked(_nb("Registers first.", "registers again"))
    assert glossary.linked(json.loads(json.dumps(once))) == once
    assert not glossary.out_of_sync(once)
    once["cells"].insert(0, {"cell_type": "markdown", "metadata": {}, "source": ["A register.\n"]})
    assert glossary.out_of_sync(once) == [
        "cell 0: glossary links differ from tools/glossary.py --apply",
        "cell 1: glossary links differ from tools/glossary.py --apply"]
    assert _text(glossary.linked(once))[:2] == [f"A [register]({REF}#register).\n",
                                                "Registers first."]


@pytest.mark.parametrize("path", glossary.notebooks(), ids=lambda p: p.name)
def test_each_notebook_is_in_sync_with_the_glossary_tool(path):
    problems = glossary.out_of_sync(json.loads(path.read_text()))
    assert not problems, (f"{path.name}: run python tools/glossary.py --apply\n"
                          + "\n".join(problems))


def test_students_get_the_glossary_their_notebooks_link_to():
    import student_tree  # tools/

    files = student_tree.source_files(glossary.REPO)
    assert "docs/glossary.md" in files
    assert not [f for f in files if f.startswith("docs/") and f != "docs/glossary.md"]
