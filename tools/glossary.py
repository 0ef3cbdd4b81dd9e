#!/usr/bin/env python3
"""Link each glossary term at its first use in each notebook (docs/glossary.md).

    python tools/glossary.py --apply     # write the links into notebooks/
    python tools/glossary.py --check     # exit 1 if a notebook is out of sync with --apply

In each notebook of ``notebooks/``, the first use of each term of :data:`TERMS` in the text of
its Markdown cells becomes a link, ``[SMs](../docs/glossary.md#sm)``. Never linked: code
(fenced blocks and `code spans`), headings, text already inside a link, HTML tags, URLs and
math. The tool owns these links: ``--apply`` first removes every link into the glossary, then
links the first uses again, so its result depends only on the text (idempotent), and a term
whose first use moved (someone edited the prose) is linked where it now first appears.
The coordinator re-runs ``--apply`` after merging notebook edits; tests/test_glossary.py fails
while a notebook is out of sync, or while a term has no anchor in the glossary.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))  # clean_notebooks: the one notebook format on disk
import clean_notebooks  # noqa: E402

NOTEBOOKS = REPO / "notebooks"
GLOSSARY = REPO / "docs" / "glossary.md"
#: The link's target, relative to a notebook in notebooks/.
HREF = "../docs/glossary.md"

_I = re.IGNORECASE
#: Anchor in docs/glossary.md -> the pattern of its term in prose (first match wins, in this
#: order: "bank conflict" before "bank", "shared memory" before nothing else named "memory").
TERMS: dict[str, re.Pattern] = {
    "sm": re.compile(r"\bSMs?\b"),
    "warp": re.compile(r"\bwarps?\b", _I),
    "lane": re.compile(r"\blanes?\b", _I),
    "block": re.compile(r"\b(?:thread )?blocks?\b(?![-_])", _I),
    "grid": re.compile(r"\bgrids?\b", _I),
    "kernel": re.compile(r"\bkernels?\b", _I),
    "host": re.compile(r"\bhost\b", _I),
    "register": re.compile(r"\bregisters?\b", _I),
    "spill": re.compile(r"\bspill(?:s|ed|ing)?\b", _I),
    "occupancy": re.compile(r"\boccupancy\b", _I),
    "l1": re.compile(r"\bL1\b"),
    "l2": re.compile(r"\bL2\b"),
    "hbm": re.compile(r"\bHBM\w*"),
    "global-memory": re.compile(r"\bglobal memory\b", _I),
    "shared-memory": re.compile(r"\bshared memory\b", _I),
    "bank-conflict": re.compile(r"\bbank conflicts?\b", _I),
    "bank": re.compile(r"\bbanks?\b", _I),
    "wavefront": re.compile(r"\bwavefronts?\b", _I),
    "predicate": re.compile(r"\bpredicates?\b", _I),
    "ldg": re.compile(r"\b(?:LDG|STG)\b"),
    "lds": re.compile(r"\b(?:LDS|STS)\b"),
    "isetp": re.compile(r"\bISETP\b"),
    "vimnmx": re.compile(r"\bV?IMNMX\b"),
    "sel": re.compile(r"\bSEL\b"),
    "s2r": re.compile(r"\bC?S2R\b"),
    "ptx": re.compile(r"\bPTX\b"),
    "sass": re.compile(r"\bSASS\b"),
    "ptxas": re.compile(r"\bptxas\b"),
    "nvrtc": re.compile(r"\bNVRTC\b"),
    "nvcc": re.compile(r"\bnvcc\b"),
    "cubin": re.compile(r"\bcubins?\b"),
    "compute-capability": re.compile(r"\bcompute capability\b", _I),
    "jit": re.compile(r"\bJIT\b"),
    "bytecode": re.compile(r"\bbytecodes?\b", _I),
    "llvm-ir": re.compile(r"\bLLVM IR\b"),
    "slp-vectorizer": re.compile(r"\bSLP vectori[sz]er\b", _I),
    "store-to-load-forwarding": re.compile(r"\bstore-to-load forwarding\b", _I),
    "median": re.compile(r"\bmedians?\b", _I),
    "iqr": re.compile(r"\bIQR\b"),
    "cuda-event": re.compile(r"\bCUDA events?\b"),
}
#: Uses of a word that are not the term: the text just before such a match, per anchor.
#: (Notebook 05's "grid" of measurements is no CUDA grid.)
NOT_AFTER: dict[str, re.Pattern] = {
    "grid": re.compile(r"(?:Explore the|measured|the whole measured) $"),
}
#: Markdown that is never linked inside: fenced code, code spans, links and images, HTML
#: tags, headings, URLs, math.
PROTECTED = re.compile(r"```.*?```|~~~.*?~~~|`[^`\n]*`|!?\[[^\]\n]*\]\([^)\n]*\)|<[^>\n]+>"
                       r"|^#{1,6} [^\n]*|https?://\S+|\$\$.*?\$\$|\$[^$\n]+\$", re.S | re.M)
OURS = re.compile(r"\[([^\]\n]*)\]\(" + re.escape(HREF) + r"#[\w-]+\)")


def anchors(text: str | None = None) -> list[str]:
    """The anchors (``<a id="...">``) of docs/glossary.md."""
    return re.findall(r'<a id="([\w-]+)"></a>', GLOSSARY.read_text() if text is None else text)


def _link_text(text: str, done: set[str]) -> str:
    """``text`` (Markdown, links into the glossary already removed) with the first use of
    each term not in ``done`` linked; ``done`` is updated."""
    out, last = [], 0
    for m in PROTECTED.finditer(text):
        out.append(_link_plain(text[last:m.start()], done))
        out.append(m.group(0))
        last = m.end()
    out.append(_link_plain(text[last:], done))
    return "".join(out)


def _first(key: str, pattern: re.Pattern, text: str):
    """The first match of a term in ``text`` that :data:`NOT_AFTER` does not exclude."""
    for m in pattern.finditer(text):
        before = NOT_AFTER.get(key)
        if before is None or not before.search(text[max(0, m.start() - 30):m.start()]):
            return m
    return None


def _link_plain(text: str, done: set[str]) -> str:
    # Earliest first: where two terms' first uses overlap, the earlier one is linked.
    while True:
        hits = [(m.start(), -len(m.group(0)), key, m) for key, pattern in TERMS.items()
                if key not in done and (m := _first(key, pattern, text))]
        if not hits:
            return text
        _, _, key, m = min(hits, key=lambda h: h[:2])
        done.add(key)
        link = f"[{m.group(0)}]({HREF}#{key})"
        # The rest of the text, after the link, is searched again; the link itself is not.
        return text[:m.start()] + link + _link_plain(text[m.end():], done)


def linked(nb: dict) -> dict:
    """``nb`` with every glossary link removed, then each term linked at its first use."""
    done: set[str] = set()
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        new = _link_text(OURS.sub(r"\1", source), done)
        cell["source"] = new.splitlines(keepends=True)
    return nb


def out_of_sync(nb: dict) -> list[str]:
    """The Markdown cells whose links differ from :func:`linked`'s (empty: in sync)."""
    want = linked(json.loads(json.dumps(nb)))
    return [f"cell {i}: glossary links differ from tools/glossary.py --apply"
            for i, (a, b) in enumerate(zip(nb["cells"], want["cells"], strict=True))
            if "".join(a["source"]) != "".join(b["source"])]


def notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--apply", action="store_true", help="write the links")
    mode.add_argument("--check", action="store_true", help="exit 1 if a notebook is out of sync")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook")
    args = parser.parse_args(argv)
    missing = sorted(set(TERMS) - set(anchors()))
    if missing:
        print(f"docs/glossary.md has no anchor for: {', '.join(missing)}")
        return 1
    paths = [p.resolve() for p in args.notebooks] or notebooks()
    bad = clean_notebooks.apply_or_check(paths, linked, out_of_sync, args.check,
                                         "tools/glossary.py")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
