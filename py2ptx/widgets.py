"""The notebooks' interactive pieces (ipywidgets).

Each widget also works when nobody clicks: it renders its default view once, so a
notebook executed top to bottom (CI, nbconvert, a student's "Run all") shows it.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

import ipywidgets as w
from IPython.display import HTML, display

from .stack import LAYERS, PRODUCERS, artifact, artifacts_for_layer


def stack_explorer(start: str = "ptx"):
    """Notebook 00: pick a layer of the stack, see what it makes of compare-and-swap.

    The diagram is coloured by what this machine can do at each layer (from the
    doctor); the artifact is produced live, on this machine, when chosen.
    """
    from .doctor import probe

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

    from .plots import stack_diagram

    fig = Figure(figsize=(6.5, 5))
    stack_diagram(layer, modes, ax=fig.subplots())
    return fig


def timing_explorer(sorts: dict[str, Callable], n_values: list[int], start: int,
                    repeats: int = 3):
    """Notebooks 01 and 02: choose n, press the button, time each sort at that n.

    Every result is validated against ``np.sort`` before its time is shown.
    """
    from .checks import check_sorted, random_keys
    from .doctor import machine_label
    from .timing import time_cpu

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
