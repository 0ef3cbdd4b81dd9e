"""Lecture slides (tools/slides.py): the notebooks carry the slide types its rules give, and
every notebook builds, un-executed, into a reveal.js deck with those slides and no missing file."""

from __future__ import annotations

import json

import pytest
import slides  # tools/


def _md(text, tags=()):
    return {"cell_type": "markdown", "metadata": {"tags": list(tags)} if tags else {},
            "source": text.splitlines(keepends=True)}


def _code(text):
    return {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
            "source": text.splitlines(keepends=True)}


def test_the_rules_give_slides_subslides_fragments_and_skip_the_footer():
    cells = [_md("# 00 - Title\n\nintro"), _code("import x"), _md("## 1. A section"),
             _code("widgets.show_source(path)"), _md("*Question:* why?"), _md("*Answer:* this."),
             _md("### A subsection"), _md("---\n[next](01.ipynb)")]
    assert slides.slide_types(cells) == ["slide", "-", "slide", "subslide", "-", "fragment",
                                         "subslide", "skip"]


def test_a_long_slide_overflows_into_a_subslide():
    long = "\n".join(f"line {i}" for i in range(slides.BUDGET - 3))
    cells = [_md("## Section"), _md(long), _md("a paragraph\nof\nfive\nmore\nlines")]
    assert slides.slide_types(cells) == ["slide", "-", "subslide"]


def test_a_lecturers_tag_wins_and_is_kept():
    cells = [_md("# Title"), _md("## Section", tags=["slide:skip"]), _code("x = 1")]
    nb = slides.applied({"cells": json.loads(json.dumps(cells))})
    assert [c["metadata"]["slideshow"]["slide_type"] for c in nb["cells"]] == ["slide", "skip",
                                                                               "-"]
    assert nb["cells"][1]["metadata"]["tags"] == ["slide:skip"]
    with pytest.raises(ValueError, match="slide:subslide"):
        slides.slide_types([_md("x", tags=["slide:sub"])])


def test_apply_is_idempotent_and_check_names_the_cells_out_of_sync(tmp_path):
    nb = json.loads(slides.notebooks()[0].read_text())
    once = slides.applied(json.loads(json.dumps(nb)))
    assert slides.applied(json.loads(json.dumps(once))) == once
    assert not slides.out_of_sync(once)
    once["cells"][0]["metadata"]["slideshow"] = {"slide_type": "-"}
    assert slides.out_of_sync(once) == ["cell 0: {'slide_type': '-'} (want 'slide')"]


@pytest.mark.parametrize("path", slides.notebooks(), ids=lambda p: p.name)
def test_each_notebook_is_in_sync_with_the_slide_rules(path):
    problems = slides.out_of_sync(json.loads(path.read_text()))
    assert not problems, (f"{path.name} is out of sync with tools/slides.py: run "
                          f"python tools/slides.py --apply\n" + "\n".join(problems))


def test_every_notebook_builds_into_a_deck_with_its_slides_and_no_missing_file(tmp_path):
    for path in slides.notebooks():
        deck, problems = slides.build(path, tmp_path)
        assert deck.stat().st_size > 10_000
        assert not problems, f"{path.name}: {problems}"
        assert slides.expected_slides(json.loads(path.read_text())) >= 5, path.name


def test_deck_problems_finds_a_wrong_count_and_a_missing_image(tmp_path):
    nb = {"cells": [{"metadata": {"slideshow": {"slide_type": "slide"}}}] * 2}
    html = ("<section><section><img src='figure.png'></section></section>"
            "<script src='https://example.com/x.js'></script>")
    assert slides.deck_problems(html, nb, tmp_path) == [
        "1 slides, but the notebook's metadata makes 2", "missing asset: figure.png",
        "remote asset outside nbconvert's template: https://example.com/x.js"]
