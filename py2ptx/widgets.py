"""The notebooks' interactive pieces (ipywidgets).

Each widget also works when nobody clicks: it renders its default view once, so a
notebook executed top to bottom (CI, nbconvert, a student's "Run all") shows it.

What a student sees: listings and tables scroll sideways rather than wrap mid-token
(:data:`NO_WRAP`), panes sit side by side where there is room and below one another where
there is not, a dropdown is as wide as its longest label (:func:`_fit`), a button that
measures says it is busy and ignores clicks until it is done (:func:`_busy_button`), and a
slider offers only the sizes that can run on this machine.
"""

from __future__ import annotations

import base64
import io
import threading
import traceback
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
    labels = [PRODUCERS[k][1] for k in PRODUCERS]
    artifact_pick = w.Dropdown(description="Artifact:", layout=_fit(labels, "Artifact:"))
    # The diagram at its own width; the listing beside it takes the rest, at least enough
    # for a line of assembly, and goes below the diagram on a narrow screen.
    diagram = w.Output(layout=w.Layout(flex="0 1 660px", max_width="100%"))
    text = w.Output(layout=w.Layout(flex="1 1 480px", min_width="480px", overflow="auto"))

    def show_artifact(change=None):
        if artifact_pick.value is None:
            return
        art = artifact(artifact_pick.value)
        text.clear_output(wait=True)
        with text:
            display(HTML(f"<b>{escape(art.title)}</b> &mdash; made on this machine by "
                         f"<i>{escape(art.made_by)}</i><pre style='font-size:11px; "
                         f"max-height:420px; {NO_WRAP}'>{escape(art.text)}</pre>"))

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
    right = w.VBox([artifact_pick, text], layout=w.Layout(flex="1 1 480px", min_width="480px"))
    return w.VBox([layer_pick, w.HBox([diagram, right], layout=w.Layout(flex_flow="row wrap"))])


#: CSS for a listing or a table: it scrolls sideways instead of breaking a line mid-token.
NO_WRAP = "white-space:pre; overflow-x:auto"


def _fit(labels, description: str = "") -> w.Layout:
    """A dropdown's width: its longest label in full, beside its description."""
    longest = max((len(str(label)) for label in labels), default=10)
    return w.Layout(width=f"{longest + len(description) + 8}ch")


def _busy_button(button: w.Button, out: w.Output, work: Callable[[Callable[[str], None]], None],
                 busy: str = "Measuring…"):
    """Run ``work(say)`` when ``button`` is clicked, on a thread, so that the kernel stays free
    to hear the next click -- and ignore it: while the work runs the button is disabled,
    says ``busy`` and shows an hourglass. ``say(line)`` appends a line to ``out``; an
    exception is shown there too, never lost with the thread. Returns ``first()``, which
    does the work at once in the caller's thread, raising what it raises (the default view
    a notebook shows when executed top to bottom, where an error must fail the cell)."""
    idle = (button.description, button.icon)
    lock = threading.Lock()
    lines: list[str] = []

    # The Output's state is set directly, never through `with out:` or clear_output(): from a
    # thread those are sent with whatever message the kernel last handled as their parent,
    # and JupyterLab can put them elsewhere (seen: an old result kept, a new one lost).
    def show(stderr: str = "") -> None:
        text = [{"output_type": "stream", "name": "stdout", "text": "".join(lines)}] if lines else []
        if stderr:
            text.append({"output_type": "stream", "name": "stderr", "text": stderr})
        out.outputs = tuple(text)

    def say(line: str) -> None:
        lines.append(line + "\n")
        show()

    def first() -> None:
        lines.clear()
        show()
        work(say)

    def finish() -> None:
        try:
            lines.clear()
            show()
            work(say)
        except Exception as err:  # shown beside the button: a thread has no cell to fail in
            detail = "" if isinstance(err, (ValueError, RuntimeError, AssertionError)) else \
                traceback.format_exc()
            show(f"{type(err).__name__}: {err}\n{detail}")
        finally:
            button.description, button.icon, button.disabled = *idle, False
            lock.release()

    def clicked(_=None) -> None:
        if not lock.acquire(blocking=False):
            return  # a click while busy, sent before the button showed it
        button.description, button.icon, button.disabled = busy, "hourglass-half", True
        threading.Thread(target=finish, daemon=True, name=f"py2ptx {idle[0]}").start()

    button.on_click(clicked)
    return first


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
    go = w.Button(description="Measure", button_style="primary", icon="play")
    out = w.Output(layout=w.Layout(overflow="auto"))

    def measure(say):
        n = n_pick.value
        keys = random_keys(n, seed=n)
        say(f"n = {n:,} random int32 keys on {machine_label()}")
        for label, sort in sorts.items():
            check_sorted(f"random n={n}", keys, sort(keys), what=label)
            say(f"  {time_cpu(sort, keys, repeats=repeats, label=label, n=n)}")

    _busy_button(go, out, measure)()
    return w.VBox([w.HBox([n_pick, go]), out])


def side_by_side(left: tuple[str, str], right: tuple[str, str]) -> HTML:
    """Two listings (title, text) next to each other, for comparing compiler output."""
    cols = "".join(
        f"<div style='flex:1 1 420px; min-width:0'><b>{escape(title)}</b>"
        f"<pre style='font-size:11px; {NO_WRAP}'>{escape(text)}</pre></div>"
        for title, text in (left, right))
    # Side by side where there is room, one under the other where there is not; a line of
    # assembly scrolls rather than wraps.
    return HTML(f"<div style='display:flex; flex-wrap:wrap; gap:1em'>{cols}</div>")


def collapsed(fig, summary: str) -> HTML:
    """A figure folded away under ``summary`` until a click opens it: a picture that answers
    a lab's question (notebook 02) stays hidden until the student asks for it."""
    import matplotlib.pyplot as plt

    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)  # shown here only, not again by the inline backend
    data = base64.b64encode(png.getvalue()).decode("ascii")
    return HTML(f"<details><summary><b>{escape(summary)}</b></summary>"
                f"<img src='data:image/png;base64,{data}' style='max-width:100%'></details>")


def show_source(path) -> Code:
    """A kernel file, syntax-highlighted (notebooks show files; they never paste them)."""
    path = Path(path)
    language = {".cu": "cuda", ".c": "c", ".py": "python", ".ptx": "text"}.get(path.suffix, "text")
    return Code(path.read_text(), language=language)


#: The largest n gpu_explorer offers without a GPU: CPU threads replay a launch thread by
#: thread, and Numba's simulator runs every thread as a Python thread.
CPU_THREADS_MAX_N = 512


def gpu_explorer(n_values=(64, 256, 512, 4096, 16384), threads_values=(32, 128, 256, 1024)):
    """Notebook 03: pick a version, n and block size; validate it, and time it on a GPU.

    Without a GPU, versions run on CPU threads (CUDA C) or in Numba's simulator, at the
    sizes up to :data:`CPU_THREADS_MAX_N` only (the slider offers no other), and are only
    checked: their times would say nothing about a GPU.
    """
    live = has_gpu()
    keys_of = {k: f"{rung(k).number}. {rung(k).title}" for k in DEVICE_SORTS
               if k in {r.key for r in rungs(device="gpu")}}
    version = w.Dropdown(options=[(v, k) for k, v in keys_of.items()], value="odd_even_shared",
                         description="version", layout=_fit(keys_of.values(), "version"))
    sizes = [n for n in n_values if live or n <= CPU_THREADS_MAX_N]
    if not sizes:
        raise ValueError(f"gpu_explorer: no n in {list(n_values)} runs without a GPU; "
                         f"offer sizes up to {CPU_THREADS_MAX_N}")
    n_pick = w.SelectionSlider(options=sizes, value=sizes[min(1, len(sizes) - 1)],
                               description="n")
    threads = w.SelectionSlider(options=list(threads_values), value=128, description="block")
    go = w.Button(description="check" + (" and time" if live else ""), button_style="primary",
                  icon="play")
    out = w.Output(layout=w.Layout(overflow="auto"))

    def run(say):
        key, n, t = version.value, n_pick.value, threads.value
        keys = random_keys(n, seed=n)
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

            say(f"✓ sorted; {time_gpu(again, repeats=10, label=key, n=n)}")
            return
        if n > CPU_THREADS_MAX_N:
            say(f"n = {n} is too large for CPU threads; without a GPU pick "
                f"n <= {CPU_THREADS_MAX_N}.")
            return
        if key == "odd_even_numba":
            got = odd_even_numba(keys, threads=t)
            where = "Numba's simulator" if numba_simulated() else "the GPU"
        elif key in SCHEDULES:
            got = emulate_on_cpu(key, keys, threads=t)
            where = "CPU threads"
        else:
            say(f"{keys_of[key]} needs a GPU to run (it is compiled, not emulated, here).")
            return
        check_sorted(f"random n={n}", keys, got, what=keys_of[key])
        # Two short lines: JupyterLab wraps a long printed line anywhere, even mid-word.
        say(f"✓ {keys_of[key]}: sorted {n} keys, blocks of {t} threads,")
        say(f"  on {where} (no GPU here: checked, not timed).")

    _busy_button(go, out, run, busy="Checking…")()
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
    variant = w.Dropdown(options=keys, value=keys[-1], description="stream",
                         layout=_fit(keys, "stream"))
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
