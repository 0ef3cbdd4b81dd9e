"""The doctor, the ladder of rungs, the stack and its artifacts, the plots and the settings."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from html import escape

import matplotlib
import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

from py2ptx import cudatools, doctor, ladder, plots, settings, stack
from py2ptx.timing import Timing

CPU_RUNGS = [r for r in ladder.RUNGS if r.device == "cpu"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --------------------------------------------------------------------------- doctor


def test_python_m_py2ptx_doctor_runs():
    run = subprocess.run([sys.executable, "-m", "py2ptx", "doctor"], capture_output=True,
                         text=True, timeout=120, env={**os.environ})
    assert run.returncode == 0, run.stderr
    out = run.stdout
    for section in ("== Machine", "== Packages", "== CUDA tools on the CPU", "== GPU",
                    "== Layers of the stack on this machine",
                    "== How each rung runs on this machine"):
        assert section in out, section
    for r in ladder.RUNGS:
        assert r.title in out, r.title
    for tool in ("nvrtc", "ptxas", "nvdisasm", "cuobjdump"):
        assert tool in out
    assert "Traceback" not in run.stderr


def test_python_m_py2ptx_without_a_command_fails():
    run = subprocess.run([sys.executable, "-m", "py2ptx"], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode != 0
    assert "doctor" in run.stderr


def test_probe_has_a_mode_for_every_rung_and_cpu_rungs_run_live():
    report = doctor.probe()
    assert set(report.modes) == {r.key for r in ladder.RUNGS}
    for r in ladder.RUNGS:
        mode, reason = report.modes[r.key]
        assert mode in ("live", "simulator", "cpu-threads", "compile-only", "recorded",
                        "unavailable")
        assert reason
    for r in CPU_RUNGS:
        assert report.modes[r.key][0] == "live", (r.key, report.modes[r.key])


def test_probe_has_every_layer_of_the_stack():
    report = doctor.probe()
    assert list(report.layers) == list(stack.LAYERS)
    for key, (mode, why) in report.layers.items():
        assert mode in ("runs", "produced", "absent", "CPU only"), key
        assert why
    assert report.layers["application"][0] == "runs"


def test_probe_finds_the_c_compiler_and_the_cuda_tools():
    report = doctor.probe()
    tools = [r for r in report.rows if r.section == "CUDA tools on the CPU"]
    assert {r.item for r in tools} >= {"nvrtc", "ptxas", "nvdisasm", "cuobjdump",
                                       "PTX NVRTC emits"}
    assert all(r.ok for r in tools), [(r.item, r.value) for r in tools if not r.ok]
    assert "pip wheel" in report.value("nvrtc")
    assert ".version 9.0" in report.value("PTX NVRTC emits")
    assert next(r.ok for r in report.rows if r.item == "C compiler")


def test_report_html_lists_every_rung_and_layer():
    html = doctor.probe()._repr_html_()
    assert html.startswith("<table>") and html.endswith("</table>")
    for r in ladder.RUNGS:
        assert escape(r.title) in html
    for layer in stack.LAYERS.values():
        assert escape(layer.title) in html


def test_a_missing_tool_becomes_a_row_not_an_exception(monkeypatch):
    def missing(name):
        raise cudatools.ToolNotFound(f"{name} was not found (test)")

    monkeypatch.setattr(cudatools, "find_tool", missing)
    report = doctor.Report()
    doctor._probe_cuda_tools(report)
    row = next(r for r in report.rows if r.item == "ptxas")
    assert row.ok is False and "not found" in row.value
    assert "✗" in report.section_text("CUDA tools on the CPU")


def test_without_a_c_compiler_the_c_rungs_are_unavailable():
    report = doctor.Report()
    report.add("Machine", "C compiler", "none", False)
    doctor._rung_modes(report)
    for r in CPU_RUNGS:
        expected = "unavailable" if r.tool == "gcc" else "live"
        assert report.modes[r.key][0] == expected, r.key


@pytest.mark.parametrize(("cuda", "isa"), [((13, 0), "9.0"), ((12, 4), "8.4"), ((12, 6), "8.5"),
                                           ((12, 8), "8.7"), ((11, 0), "7.0"), ((10, 0), None),
                                           ((10, 2), None)])
def test_highest_ptx_isa(cuda, isa):
    assert cudatools.highest_ptx_isa(cuda) == isa


def test_highest_ptx_isa_accepts_a_list():
    assert cudatools.highest_ptx_isa([13, 0]) == "9.0"


# --------------------------------------------------------------------------- ladder


def test_rung_numbers_are_consecutive_from_one():
    assert [r.number for r in ladder.RUNGS] == list(range(1, len(ladder.RUNGS) + 1))


def test_rung_keys_and_titles_are_unique():
    keys = [r.key for r in ladder.RUNGS]
    assert len(set(keys)) == len(keys)
    titles = [r.title for r in ladder.RUNGS]
    assert len(set(titles)) == len(titles)


@pytest.mark.parametrize("r", ladder.RUNGS, ids=lambda r: r.key)
def test_rung_fields_are_valid(r):
    assert r.layer in stack.LAYERS
    assert r.kind in ladder.KINDS
    assert r.device in ("cpu", "gpu")
    assert r.tool and r.notebook and r.title
    assert r.complexity.startswith("O(n")
    # Low-level optimization keeps bubble sort's O(n^2) work; only a new algorithm changes it.
    assert (r.complexity == "O(n^2)") == (r.kind != "algorithm-change")
    assert callable(r.load())


def test_exactly_one_baseline_and_it_is_rung_one():
    baselines = [r for r in ladder.RUNGS if r.kind == "baseline"]
    assert len(baselines) == 1
    assert baselines[0].number == 1


def test_rung_lookup_by_key_and_number():
    assert ladder.rung(3).key == "c_bubble_scalar"
    assert ladder.rung("c_bubble_scalar").number == 3
    for r in ladder.RUNGS:
        assert ladder.rung(r.key) is r and ladder.rung(r.number) is r


@pytest.mark.parametrize("missing", ["no_such_rung", 0, 99])
def test_unknown_rung_raises_key_error_listing_the_rungs(missing):
    with pytest.raises(KeyError) as info:
        ladder.rung(missing)
    message = str(info.value)
    assert repr(missing) in message
    for r in ladder.RUNGS:
        assert f"{r.number} {r.key}" in message


def test_rungs_filters():
    assert ladder.rungs() == list(ladder.RUNGS)
    assert ladder.rungs(device="cpu") == CPU_RUNGS
    assert all(r.notebook == "02-c-and-numba" for r in ladder.rungs(notebook="02-c-and-numba"))
    assert ladder.rungs(notebook="no-such-notebook") == []


def test_markdown_table_has_one_row_per_rung():
    table = ladder.markdown_table()
    lines = table.splitlines()
    assert lines[0].startswith("| # | rung |")
    rows = lines[2:]
    assert len(rows) == len(ladder.RUNGS)
    for line, r in zip(rows, ladder.RUNGS, strict=True):
        assert line.startswith(f"| {r.number} | {r.title} | {stack.LAYERS[r.layer].title} |")
        assert f"| {r.kind} |" in line


def test_markdown_table_of_a_selection():
    selection = [ladder.rung(2), ladder.rung(3)]
    rows = ladder.markdown_table(selection).splitlines()[2:]
    assert len(rows) == 2
    assert ladder.rung(1).title not in ladder.markdown_table(selection)


def test_markdown_table_of_an_empty_selection_has_no_rows():
    assert ladder.markdown_table([]).splitlines()[2:] == []


# --------------------------------------------------------------------------- stack


@pytest.mark.parametrize("key", list(stack.PRODUCERS))
def test_every_artifact_is_produced_on_this_machine(key):
    art = stack.artifact(key)
    assert art.key == key
    assert art.layer in stack.LAYERS
    assert art.layer == stack.PRODUCERS[key][0]
    assert art.text.strip()
    assert "Could not produce" not in art.text, art.text
    assert not art.made_by.startswith("nothing")


def test_artifacts_show_the_same_step():
    assert "def compare_swap" in stack.artifact("python").text
    assert "compare_swap:" in stack.artifact("x86").text
    assert stack.artifact("llvm").text.startswith("define")
    assert "__global__" in stack.artifact("cuda").text
    assert ".version" in stack.artifact("ptx").text
    assert "Function : odd_even_step" in stack.artifact("sass").text


def test_a_failing_producer_becomes_a_message(monkeypatch):
    def broken():
        raise FileNotFoundError("ptxas (test)")

    monkeypatch.setitem(stack.PRODUCERS, "ptx", ("ptx", "PTX", broken))
    art = stack.artifact("ptx")
    assert "Could not produce" in art.text and "ptxas (test)" in art.text
    assert art.made_by.startswith("nothing")


def test_unknown_artifact_and_layer_raise_key_error():
    with pytest.raises(KeyError, match="python"):
        stack.artifact("nope")
    with pytest.raises(KeyError, match="application"):
        stack.artifacts_for_layer("nope")


def test_artifacts_for_layer_cover_every_artifact_exactly_once():
    seen = Counter(k for layer in stack.LAYERS for k in stack.artifacts_for_layer(layer))
    assert seen == Counter(list(stack.PRODUCERS))
    assert all(count == 1 for count in seen.values())
    assert stack.artifacts_for_layer("application") == ["python"]


def test_layers_are_keyed_by_their_own_key():
    assert list(stack.LAYERS) == ["application", "compilers", "runtime", "ptx", "sass",
                                  "hardware"]
    for key, layer in stack.LAYERS.items():
        assert layer.key == key and layer.title and layer.members and layer.summary


# --------------------------------------------------------------------------- plots


def test_matplotlib_uses_a_non_interactive_backend():
    assert matplotlib.get_backend().lower() == "agg"


def test_stack_diagram_returns_a_figure():
    fig = plots.stack_diagram(highlight="ptx", modes=doctor.probe().layers)
    assert isinstance(fig, Figure)
    texts = [t.get_text() for t in fig.axes[0].texts]
    for layer in stack.LAYERS.values():
        assert layer.title in texts
    assert any(t.startswith("this machine:") for t in texts)


def test_stack_diagram_without_modes():
    fig = plots.stack_diagram()
    assert isinstance(fig, Figure)
    assert not any(t.get_text().startswith("this machine:") for t in fig.axes[0].texts)


def _ladder_timings(n=1000):
    return {"python_bubble": Timing((1.0, 1.1, 0.9), n=n),
            "c_bubble_scalar": Timing((0.01, 0.011), n=n),
            "numpy_sort": Timing((1e-5,), n=n)}


def test_speedup_ladder_returns_a_log_scale_figure():
    fig = plots.speedup_ladder(_ladder_timings(), machine="the test machine")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert "the test machine" in ax.get_title()
    assert "n = 1,000" in ax.get_title()
    # Rung 1 at the top, then down the ladder.
    ticks = sorted(ax.get_yticklabels(), key=lambda t: -t.get_position()[1])
    assert [t.get_text() for t in ticks] == [
        f"{ladder.rung(k).number}. {ladder.rung(k).title} (CPU)"  # where each bar ran
        for k in ("python_bubble", "c_bubble_scalar", "numpy_sort")]
    timings = _ladder_timings()
    base = timings["python_bubble"].median
    widths = sorted(p.get_width() for p in ax.patches)
    assert widths[:3] == pytest.approx(sorted(base / t.median for t in timings.values()))
    assert widths[0] == pytest.approx(1.0)  # the baseline over itself
    bar_texts = [t.get_text() for t in ax.texts]
    assert bar_texts[0].startswith("×1 ") and "IQR" in bar_texts[0]


def test_speedup_ladder_labels_every_bar_with_time_and_spread():
    fig = plots.speedup_ladder(_ladder_timings(), machine="m")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == 3
    for text in texts:
        assert "IQR" in text and text.endswith(")"), text


def test_speedup_ladder_refuses_mixed_n():
    timings = _ladder_timings()
    timings["numpy_sort"] = Timing((1e-5,), n=2000)
    with pytest.raises(ValueError, match="one n"):
        plots.speedup_ladder(timings, machine="m")


def test_speedup_ladder_needs_the_baseline():
    timings = _ladder_timings()
    del timings["python_bubble"]
    with pytest.raises(ValueError, match="baseline"):
        plots.speedup_ladder(timings, machine="m")


def test_time_vs_n_returns_a_log_log_figure_with_a_fit():
    series = {"python": [Timing((1e-9 * n**2,), n=n) for n in (256, 512, 1024)],
              "numba": [Timing((1e-11 * n**2, 1.1e-11 * n**2), n=n) for n in (1024, 256, 512)]}
    fig = plots.time_vs_n(series, machine="the test machine")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "the test machine" in ax.get_title()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(text.startswith("python") and "n^2.00" in text for text in legend), legend
    assert any(text.startswith("numba") and "n^2.00" in text for text in legend), legend
    assert sum("n^2.00" in text for text in legend) == 2


def test_time_vs_n_without_fit():
    fig = plots.time_vs_n({"one": [Timing((1.0,), n=8)]}, machine="m", fit=False)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["one"]
    assert not any("n^" in t for t in legend)


def _layer_ladder(n=100, where="cpu"):
    return {"python_bubble": Timing((1.0,), n=n), "c_bubble_scalar": Timing((1e-2,), n=n),
            "numpy_sort": Timing((1e-5,), n=n),
            "odd_even_inline_ptx": Timing((1e-3,), label="odd_even_inline_ptx", where=where, n=n)}


def test_speedup_by_layer_stacks_the_two_kinds_per_layer_and_names_each_machine():
    only_cpu = {k: t for k, t in _layer_ladder().items() if k != "odd_even_inline_ptx"}
    fig = plots.speedup_by_layer({"machine A": only_cpu, "machine B": _layer_ladder()})
    a, b = fig.axes
    assert "measured on machine A" in a.get_title() and "n = 100" in a.get_title()
    assert "measured on machine B" in b.get_title()
    assert b.get_xscale() == "log"
    ticks = sorted(b.get_yticklabels(), key=lambda t: -t.get_position()[1])
    assert [t.get_text() for t in ticks] == [  # top to bottom, down the stack
        "Application\n(rung 1)", "Languages and compilers\n(rungs 3, 5; not run: 2, 4, 6, 7, 8, 9, 10)",
        "PTX (virtual ISA)\n(rung 11)"]
    # Each panel names the rungs that ran on its own machine: A ran no rung 11.
    a_ticks = sorted(a.get_yticklabels(), key=lambda t: -t.get_position()[1])
    assert a_ticks[-1].get_text() == "PTX (virtual ISA)\n(not run: 11)"
    # On B, the PTX layer: blue from 1 to x1000 (rung 11), red on to x100,000 (np.sort).
    blue, red = [p for p in b.patches if p.get_y() < 0.5][:2]
    assert (blue.get_x(), blue.get_x() + blue.get_width()) == pytest.approx((1, 1000))
    assert (red.get_x(), red.get_x() + red.get_width()) == pytest.approx((1000, 1e5))
    texts = [t.get_text() for t in a.texts]
    assert any("none of its rungs ran here (11. odd_even_inline_ptx)" in t for t in texts)
    assert any(t.endswith("×100,000 in all") for t in [t.get_text() for t in b.texts])


def test_speedup_by_layer_refuses_simulator_times_mixed_n_and_no_rung_1():
    with pytest.raises(ValueError, match="simulator"):
        plots.speedup_by_layer({"m": _layer_ladder(where="simulator")})
    mixed = _layer_ladder()
    mixed["numpy_sort"] = Timing((1e-5,), n=200)
    with pytest.raises(ValueError, match="one n"):
        plots.speedup_by_layer({"m": mixed})
    with pytest.raises(ValueError, match="rung 1"):
        plots.speedup_by_layer({"m": {"numpy_sort": Timing((1e-5,), n=100)}})
    with pytest.raises(ValueError, match="at least one"):
        plots.speedup_by_layer({})


# --------------------------------------------------------------------------- settings


def test_scale_defaults_to_one(monkeypatch):
    monkeypatch.delenv("PY2PTX_SCALE", raising=False)
    assert settings.scale() == 1
    assert settings.sizes(100, 200) == [100, 200]


def test_scale_reads_the_environment(monkeypatch):
    monkeypatch.setenv("PY2PTX_SCALE", "4")
    assert settings.scale() == 4
    assert settings.sizes(100, 200) == [400, 800]


@pytest.mark.parametrize("bad", ["0", "abc", "-2", "1.5"])
def test_scale_rejects_bad_values(monkeypatch, bad):
    monkeypatch.setenv("PY2PTX_SCALE", bad)
    with pytest.raises(ValueError, match="PY2PTX_SCALE must be a positive integer"):
        settings.scale()
