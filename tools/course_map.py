#!/usr/bin/env python3
"""Generate the course's navigation: the README's course map, its table of recorded GPU
results, and the last cell of every notebook (previous / next / its lab / the map), from the
notebooks, labs, ladder registry and the runs in results/.

    python tools/course_map.py           # rewrite the map and the notebooks' navigation cells
    python tools/course_map.py --check   # exit 1 if any of them is out of date
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
RESULTS_START, RESULTS_END = "<!-- results:start -->", "<!-- results:end -->"


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


NAV_ID = "course-nav"


def notebooks() -> list[Path]:
    return sorted((REPO / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def navigation(nb: Path) -> str:
    """The Markdown of a notebook's last cell: its lab, the previous and next notebooks."""
    order = notebooks()
    i = order.index(nb)
    parts = []
    if i > 0:
        parts.append(f"← previous: [{order[i - 1].name[:2]} {title_of(order[i - 1])}]"
                     f"({order[i - 1].name})")
    labs = sorted((REPO / "labs").glob(f"{nb.name[:2]}-*.ipynb"))
    parts += [f"lab: [{p.stem}](../labs/{p.name})" for p in labs]
    if i + 1 < len(order):
        parts.append(f"next: [{order[i + 1].name[:2]} {title_of(order[i + 1])}]"
                     f"({order[i + 1].name}) →")
    parts.append("[course map](../README.md#course-map)")
    return "---\n" + " · ".join(parts)


def updated_notebook(nb: Path) -> str:
    """The notebook's JSON text with its navigation cell (the last cell) current."""
    import nbformat

    book = nbformat.read(nb, as_version=4)
    cell = nbformat.v4.new_markdown_cell(navigation(nb))
    cell.id = NAV_ID
    if book.cells and book.cells[-1].get("id") == NAV_ID:
        # Its metadata stays: the slide type tools/slides.py gave it (the footer is skipped).
        cell.metadata = book.cells[-1].get("metadata", {})
        book.cells[-1] = cell
    else:
        book.cells.append(cell)
    return nbformat.writes(book) + "\n"


def results_table() -> str:
    """The README's results: the latest recorded GPU runs, every number with its machine."""
    from py2ptx import deepseek
    from py2ptx.ladder import rung
    from py2ptx.results import latest_run, results_dir
    from py2ptx.timing import format_seconds, format_speedup

    lines = []
    run = latest_run("ladder", directory=REPO / "results")
    if run is None:
        lines.append("No recorded GPU run of the whole ladder yet (`python -m py2ptx ladder "
                     "--record` on a machine with an NVIDIA GPU).")
    else:
        base = run.timing("python_bubble")
        n = run.provenance.get("extra", {}).get("n") or (base.n if base else None)
        cpu = run.provenance.get("machine", {}).get("cpu", "its host's CPU")
        lines += [f"The whole ladder at n = {n:,} random int32 keys — {run.describe()}; the CPU "
                  f"rungs on its host, {cpu} "
                  f"(`{run.path.relative_to(REPO) if run.path else results_dir()}`):", "",
                  "| # | rung | device | median (IQR), end to end | GPU's own time (device "
                  "only) | host share | × rung 1 |", "|---|---|---|---|---|---|---|"]
        for t in sorted(run.timings, key=lambda t: rung(t.label).number):
            r = rung(t.label)
            speedup = format_speedup(base.median / t.median) if base else "—"
            lines.append(f"| {r.number} | {r.title} | {r.device.upper()} | "
                         f"{format_seconds(t.median)} ({format_seconds(t.spread)}) | "
                         f"{_device_cell(t)} | {_host_cell(t)} | {speedup} |")
        if any(t.where == "gpu" and t.device_median is None for t in run.timings):
            lines += ["", "A GPU row without a device-only time: that run predates the "
                      "two-column timing, or its call could not be hidden behind the spin "
                      "(`py2ptx.timing.device_times` says why in the run's file). A host "
                      "share of 80 % or more means the end-to-end time measures Python, "
                      "not the GPU."]
    ds = latest_run(deepseek.RUN_NAME, directory=REPO / "results")
    extra = ds.provenance.get("extra", {}) if ds else {}
    if ds and "sweep_victim_bytes" in extra:
        found = deepseek.findings(ds.timings, extra)
        lines += ["", f"Notebook 05's experiment — {ds.describe()}:", ""]
        lines += [f"* {line}" for line in found["size"][:1] + found["copy"] + found["stale"][1:]]
    return "\n".join(lines)


def _device_cell(t) -> str:
    """The device-only column: the GPU's own time, or why there is none."""
    from py2ptx.timing import format_seconds

    if t.where != "gpu":
        return "—"
    if t.device_median is None:
        return "not in this run"
    return f"{format_seconds(t.device_median)} ({format_seconds(t.device_spread)})"


def _host_cell(t) -> str:
    """Python's share of the event time, flagged when it is host-bound."""
    share = t.host_fraction
    if share is None and t.where == "gpu" and t.meta.get("cpu_median_s"):
        share = t.meta["cpu_median_s"] / t.median  # a run from before the field: same ratio
    if t.where != "gpu" or share is None:
        return "—"
    from py2ptx.timing import HOST_BOUND

    return f"{share:.0%}" + (" (host-bound)" if share >= HOST_BOUND else "")


def _replace(text: str, start: str, end: str, body: str) -> str:
    if start not in text or end not in text:
        raise SystemExit(f"README.md needs the markers {start} and {end}")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}\n{end}{tail}"


def updated_readme(text: str) -> str:
    text = _replace(text, START, END, course_map())
    return _replace(text, RESULTS_START, RESULTS_END, results_table())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    readme = REPO / "README.md"
    targets = {readme: updated_readme(readme.read_text())}
    targets.update({nb: updated_notebook(nb) for nb in notebooks()})
    stale = [path for path, text in targets.items() if path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path.relative_to(REPO)}: navigation out of date: run `make course-map`")
        return 1 if stale else 0
    for path in stale:
        path.write_text(targets[path])
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
