"""The notebooks' interactive pieces (ipywidgets).

Each widget also works when nobody clicks: it renders its default view once, so a
notebook executed top to bottom (CI, nbconvert, a student's "Run all") shows it.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from pathlib import Path

import ipywidgets as w
from IPython.display import HTML, Code, display

from .checks import check_sorted, random_keys
from .deepseek import SIZE_CHUNK, VARIANTS, cells, describe_cell, size_bytes, size_cells
from .doctor import probe
from .gpu import numba_simulated
from .gpusorts import odd_even_numba
from .ladder import DEVICE_SORTS, SCHEDULES, emulate_on_cpu, rung, rungs
from .machine import has_gpu, machine_label
from .stack import LAYERS, PRODUCERS, artifact, artifacts_for_layer
from .timing import time_cpu, time_gpu


def stack_explorer(start: str = "ptx"):
    """Notebook 00: pick a layer of the stack, see what it makes of compare-and-swap.

    The diagram is coloured by what this machine can do at each layer (from the
    doctor); the artifact is produced live, on this machine, when chosen.
    """
    modes = probe().layers
    layer_pick = w.ToggleButtons(options=[(lay.title, key) for key, lay in LAYERS.items()],
                                 value=_layer_of(start), description="Layer:",
                                 style={"button_width": "190px"})
    artifact_pick = w.Dropdown(description="Artifact:")
    diagram, text = w.Output(), w.Output()

    def show_artifact(change=None):
        if artifact_pick.value is None:
            return
        art = artifact(artifact_pick.value)
        text.clear_output(wait=True)
        with text:
            display(HTML(f"<b>{escape(art.title)}</b> &mdash; made on this machine by "
                         f"<i>{escape(art.made_by)}</i><pre style='font-size:11px; "
                         f"max-height:420px; overflow:auto'>{escape(art.text)}</pre>"))

    def show_layer(change=None):
        layer = layer_pick.value
        keys = artifacts_for_layer(layer)
        artifact_pick.options = [(PRODUCERS[k][1], k) for k in keys]
        artifact_pick.value = start if start in keys else keys[0]
        diagram.clear_output(wait=True)
        with diagram:
            display(_stack_figure(layer, modes))
        mode, why = modes.get(layer, ("", ""))
        with diagram:
            display(HTML(f"<p><b>{escape(LAYERS[layer].title)}</b>: "
                         f"{escape(LAYERS[layer].summary)}<br><i>On this machine: {mode}"
                         f" &mdash; {escape(why)}</i></p>"))
        show_artifact()

    layer_pick.observe(show_layer, names="value")
    artifact_pick.observe(show_artifact, names="value")
    show_layer()
    return w.VBox([layer_pick, w.HBox([diagram, w.VBox([artifact_pick, text])])])


def _layer_of(artifact_key: str) -> str:
    return PRODUCERS[artifact_key][0]


def _stack_figure(layer: str, modes: dict):
    """The diagram as a bare Figure, which pyplot and the inline backend never see.

    Made with pyplot inside a widget callback (a comm message, not a cell), the figure's
    PNG came out partly drawn in JupyterLab (two boxes, or blank; JupyterLab 4.6,
    ipykernel 7.4, matplotlib 3.11) while the same code in a cell was fine;
    tests/test_browser.py checks the redrawn diagram.
    """
    from matplotlib.figure import Figure

    from .plots import stack_diagram  # heavy: matplotlib, only for this widget

    fig = Figure(figsize=(6.5, 5))
    stack_diagram(layer, modes, ax=fig.subplots())
    return fig


def timing_explorer(sorts: dict[str, Callable], n_values: list[int], start: int,
                    repeats: int = 3):
    """Notebooks 01 and 02: choose n, press the button, time each sort at that n.

    Every result is validated against ``np.sort`` before its time is shown.
    """
    n_pick = w.SelectionSlider(options=n_values, value=start, description="n")
    go = w.Button(description="Measure", button_style="primary")
    out = w.Output()

    def measure(_=None):
        n = n_pick.value
        keys = random_keys(n, seed=n)
        out.clear_output(wait=True)
        with out:
            print(f"n = {n:,} random int32 keys on {machine_label()}")
            for label, sort in sorts.items():
                check_sorted(f"random n={n}", keys, sort(keys), what=label)
                print(f"  {time_cpu(sort, keys, repeats=repeats, label=label, n=n)}")

    go.on_click(measure)
    measure()
    return w.VBox([w.HBox([n_pick, go]), out])


def side_by_side(left: tuple[str, str], right: tuple[str, str]) -> HTML:
    """Two listings (title, text) next to each other, for comparing compiler output."""
    cols = "".join(
        f"<td style='vertical-align:top; text-align:left'><b>{escape(title)}</b>"
        f"<pre style='font-size:11px'>{escape(text)}</pre></td>"
        for title, text in (left, right))
    return HTML(f"<table><tr>{cols}</tr></table>")


def show_source(path) -> Code:
    """A kernel file, syntax-highlighted (notebooks show files; they never paste them)."""
    path = Path(path)
    language = {".cu": "cuda", ".c": "c", ".py": "python", ".ptx": "text"}.get(path.suffix, "text")
    return Code(path.read_text(), language=language)


def gpu_explorer(n_values=(64, 256, 512, 4096, 16384), threads_values=(32, 128, 256, 1024)):
    """Notebook 03: pick a version, n and block size; validate it, and time it on a GPU.

    Without a GPU, versions run on CPU threads (CUDA C) or in Numba's simulator at
    n <= 512 and are only checked: their times would say nothing about a GPU.
    """
    live = has_gpu()
    keys_of = {k: f"{rung(k).number}. {rung(k).title}" for k in DEVICE_SORTS
               if k in {r.key for r in rungs(device="gpu")}}
    version = w.Dropdown(options=[(v, k) for k, v in keys_of.items()], value="odd_even_shared",
                         description="version")
    n_pick = w.SelectionSlider(options=list(n_values), value=n_values[1], description="n")
    threads = w.SelectionSlider(options=list(threads_values), value=128, description="block")
    go = w.Button(description="check" + (" and time" if live else ""))
    out = w.Output()

    def run(_=None):
        out.clear_output()
        key, n, t = version.value, n_pick.value, threads.value
        keys = random_keys(n, seed=n)
        with out:
            if live:
                import cupy as cp

                d = cp.asarray(keys)
                work = cp.empty_like(d)
                kwargs = {} if key == "cupy_sort" else {"threads": t}
                work[...] = d
                DEVICE_SORTS[key](work, **kwargs)
                check_sorted(f"random n={n}", keys, cp.asnumpy(work), what=keys_of[key])

                def again():
                    work[...] = d
                    DEVICE_SORTS[key](work, **kwargs)

                print("✓ sorted;", time_gpu(again, repeats=10, label=key, n=n))
                return
            if n > 512:
                print(f"n = {n} is too large for CPU threads; without a GPU pick n <= 512.")
                return
            if key == "odd_even_numba":
                got = odd_even_numba(keys, threads=t)
                where = "Numba's simulator" if numba_simulated() else "the GPU"
            elif key in SCHEDULES:
                got = emulate_on_cpu(key, keys, threads=t)
                where = "CPU threads"
            else:
                print(f"{keys_of[key]} needs a GPU to run (it is compiled, not emulated, here).")
                return
            check_sorted(f"random n={n}", keys, got, what=keys_of[key])
            print(f"✓ {keys_of[key]} sorted {n} keys with blocks of {t} threads on {where} "
                  f"(no GPU here: checked, not timed).")

    go.on_click(run)
    run()
    return w.VBox([version, w.HBox([n_pick, threads, go]), out])


def interference_explorer(timings, extra: dict, machine: str):
    """Notebook 05: pick a stream variant and a point of the measured grid -- a chunk size
    of the sweep, or a victim working set -- and see that cell sample by sample.

    It only shows what was measured (live or recorded, on ``machine``): nothing runs.
    """
    sweep = extra.get("sweep_victim_bytes")
    keys = [v.key for v in VARIANTS if cells(timings, v.key, sweep) or size_cells(timings, v.key)]
    if not keys:
        return HTML("<i>No interference measurements to explore.</i>")
    variant = w.Dropdown(options=keys, value=keys[-1], description="stream")
    axis = w.ToggleButtons(options=[("chunk size", "chunk"), ("victim working set", "size")],
                           value="chunk", description="vary")
    point = w.SelectionSlider(options=[("-", 0)], description="at")
    out = w.Output()

    def grid() -> dict:
        if axis.value == "chunk":
            return cells(timings, variant.value, sweep)
        return size_cells(timings, variant.value, SIZE_CHUNK)

    def show(_=None):
        out.clear_output(wait=True)
        c = grid().get(point.value)
        with out:
            print(describe_cell(timings, variant.value, c, machine) if c else "not measured")

    def regrid(_=None):
        options = [(size_bytes(b), b) for b in grid()]
        keep = point.value if point.value in dict(options).values() else None
        point.options = options or [("-", 0)]
        point.value = keep if keep is not None else options[-1][1] if options else 0
        show()

    variant.observe(regrid, names="value")
    axis.observe(regrid, names="value")
    point.observe(show, names="value")
    regrid()
    return w.VBox([w.HBox([variant, axis]), point, out])
