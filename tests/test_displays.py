"""What a student sees: the reports as rendered tables, the plots' titles and pictures, and
the widgets' panes, dropdowns, busy buttons and sliders (py2ptx.reports, plots, widgets)."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from py2ptx import gpusorts, plots, reports, widgets  # noqa: E402
from py2ptx.timing import Timing  # noqa: E402


def _t(label, median, n=4096, where="cpu", **fields):
    if fields:  # a timing with the fields the timing helper adds (device time, host share)
        return SimpleNamespace(label=label, n=n, median=median, spread=median / 10, repeats=5,
                               where=where, **fields)
    return Timing((median * 0.95, median, median * 1.05), label=label, where=where, n=n)


LADDER = {"python_bubble": _t("python_bubble", 0.5), "c_bubble_scalar": _t("c_bubble_scalar", 0.01),
          "numpy_sort": _t("numpy_sort", 1e-5)}


def test_the_ladder_is_a_rendered_table_whose_numbers_do_not_break():
    md = reports.ladder_markdown(LADDER, {"bitonic": "needs a GPU: none here"})
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + len(LADDER)
    nowrap = "<span style='white-space:nowrap'>{}</span>".format
    assert nowrap("× rung 1") in rows[0]  # the header cannot break between × and rung
    assert f"| 1 | Bubble sort in Python | CPU | {nowrap('baseline')} |" in rows[1]
    assert nowrap("500 ms") in rows[1] and nowrap("×50") in rows[2]
    assert "* 9\\. `bitonic`: needs a GPU: none here" in md
    assert "Where the speedup comes from" in md


def test_a_run_becomes_a_version_by_n_table_with_the_course_titles():
    timings = [_t("odd_even_shared", 1e-3, 1024, "gpu"), _t("odd_even_shared", 2e-3, 4096, "gpu"),
               _t("merge_split", 5e-4, 4096, "gpu"), _t("h2d", 1e-5, 1024, "gpu")]
    md = reports.version_table(timings)
    lines = md.splitlines()
    nowrap = "<span style='white-space:nowrap'>{}</span>".format
    assert lines[0] == (f"| version | device | {nowrap('n = 1,024')} | {nowrap('n = 4,096')} "
                        f"| repeats |")
    assert lines[2].startswith(f"| 8. Odd-even sort, CUDA C, one block, shared memory | GPU | "
                               f"{nowrap('1 ms')}")
    assert lines[3].startswith("| 8b. ") and "|  |" in lines[3]  # not measured at n = 1,024
    assert lines[4].startswith("| copy host → device")
    assert "device" not in md.split("\n\n")[1]  # no device-only figures, so no such note


def test_device_only_and_host_bound_figures_are_shown_when_the_timings_carry_them():
    timings = [_t("bitonic", 1e-4, 1024, "gpu", device_median=2e-5, host_fraction=0.8,
                  host_bound=True)]
    md = reports.version_table(timings)
    assert "<span style='white-space:nowrap'>device 20 µs</span>" in md
    assert "**host-bound** <small>80%</small>" in md
    assert "*device*: the GPU's own time" in md


def test_the_host_cpu_of_a_recorded_run_is_named_over_its_cpu_rungs():
    run = SimpleNamespace(provenance={"machine": {"cpu": "TEST CPU", "gpu": "TEST GPU"}})
    assert reports.host_cpu(SimpleNamespace(run=run)) == "TEST CPU"
    mixed = {**LADDER, "cupy_sort": _t("cupy_sort", 3e-5, where="gpu")}
    fig = plots.speedup_ladder(mixed, "recorded run on TEST GPU", host="TEST CPU")
    title = fig.axes[0].get_title().replace("\n", " ")
    assert "GPU rungs: recorded run on TEST GPU; CPU rungs on its host CPU, TEST CPU" in title
    assert any(label.get_text().endswith("(CPU)") for label in fig.axes[0].get_yticklabels())
    fig = plots.time_vs_n({"c": [_t("c", 1e-3, 1024), _t("c", 4e-3, 2048)]}, "TEST GPU",
                          host="TEST CPU")
    assert "TEST CPU" in fig.axes[0].get_title().replace("\n", " ")


def _schedule(per_sm=6, places=2, sms=4):
    blocks = per_sm * sms
    b = np.arange(blocks)
    wave = b // (places * sms)
    return {"blocks": blocks, "threads": 1024, "sms": sms, "spin_cycles": 100,
            "block_sm": (b % sms).tolist(), "block_start_ns": (wave * 1000).tolist(),
            "block_end_ns": (wave * 1000 + 990).tolist()}


def test_the_block_schedule_finds_the_places_and_the_waves():
    got = gpusorts.block_residency(_schedule())
    assert (got["most_at_once"], got["waves"], got["start_spread_us"]) == (2, 3, 2.0)
    assert sorted(set(got["slot"])) == [0, 1]
    one_wave = gpusorts.block_residency(_schedule(per_sm=4, places=4))
    assert (one_wave["most_at_once"], one_wave["waves"]) == (4, 1)


def test_the_block_schedule_has_a_short_title_a_colour_bar_and_its_launch_below():
    fig = plots.block_schedule(_schedule(), "TEST GPU, live")
    ax, bar = fig.axes
    assert ax.get_title() == "Which SM ran each block, and when"
    assert "blockIdx.x" in bar.get_ylabel()
    below = " ".join(t.get_text() for t in ax.texts).replace("\n", " ")
    assert "24 blocks of 1,024 threads on 4 SMs" in below and "3 waves" in below
    assert "TEST GPU, live" in below
    assert "started in 3 waves" in below  # the caption, computed, under the picture


def test_the_odd_even_diagram_draws_every_phase_and_marks_the_swaps():
    keys = np.array([3, 1, 2, 0], dtype=np.int32)
    rows = gpusorts.odd_even_phases(keys)
    swaps = sum(int(before[i] > before[i + 1]) for p, before in enumerate(rows[:-1])
                for i in range(p & 1, keys.size - 1, 2))
    fig = plots.odd_even_diagram(keys)
    ax = fig.axes[0]
    assert len(ax.patches) == keys.size * len(rows)
    red = [line for line in ax.lines if line.get_color() == "#d62728"]
    assert len(red) == swaps > 0
    assert plots.store_to_load_forwarding().axes[0].get_title().startswith("Store-to-load")


def test_a_dropdown_is_as_wide_as_its_longest_label():
    layout = widgets._fit(["short", "a label of thirty characters!!"], "version")
    assert layout.width == f"{30 + len('version') + 8}ch"


def test_a_busy_button_ignores_clicks_until_its_work_is_done():
    button, out = widgets.w.Button(description="Measure", icon="play"), widgets.w.Output()
    started, release, runs = threading.Event(), threading.Event(), []

    def work(say):
        runs.append(1)
        started.set()
        release.wait(10)
        say("done")

    widgets._busy_button(button, out, work)
    button.click()
    assert started.wait(10)
    assert (button.disabled, button.description, button.icon) == (True, "Measuring…",
                                                                  "hourglass-half")
    button.click()  # a double click: ignored while busy
    release.set()
    for _ in range(200):
        if not button.disabled:
            break
        threading.Event().wait(0.05)
    assert (button.disabled, button.description, button.icon) == (False, "Measure", "play")
    assert runs == [1]
    assert out.outputs == ({"output_type": "stream", "name": "stdout", "text": "done\n"},)
    button.click()  # a second measurement replaces the first's lines
    for _ in range(200):
        if len(runs) == 2 and not button.disabled:
            break
        threading.Event().wait(0.05)
    assert out.outputs == ({"output_type": "stream", "name": "stdout", "text": "done\n"},)


def test_a_busy_buttons_error_is_shown_beside_it_and_the_first_view_raises():
    button, out = widgets.w.Button(description="Measure"), widgets.w.Output()

    def work(say):
        raise ValueError("keys not sorted at index 3")

    first = widgets._busy_button(button, out, work)
    with pytest.raises(ValueError, match="index 3"):
        first()
    button.click()
    for _ in range(200):
        if not button.disabled and out.outputs:
            break
        threading.Event().wait(0.05)
    assert out.outputs[-1]["text"] == "ValueError: keys not sorted at index 3\n"


def test_without_a_gpu_the_explorer_offers_only_sizes_that_run_here(monkeypatch):
    monkeypatch.setattr(widgets, "has_gpu", lambda: False)
    box = widgets.gpu_explorer(n_values=(64, 512, 4096, 16384))
    slider = box.children[1].children[0]
    assert list(slider.options) == [64, 512]
    assert "✓" in out_text(box.children[2])
    with pytest.raises(ValueError, match="up to 512"):
        widgets.gpu_explorer(n_values=(4096,))


def out_text(out) -> str:
    return "".join(o.get("text", "") for o in out.outputs)


def test_each_recorded_run_says_which_notebook_shows_it():
    from py2ptx import results

    recorded = Path(__file__).resolve().parent.parent / "results"  # the repository's runs
    runs = results.load_runs(gpu=True, directory=recorded)
    assert len({r.name for r in runs}) >= 3
    lines = reports.recorded_runs(runs)
    assert len(lines) == len(runs)
    shown = [line for line in lines if "-> shown by" in line]
    assert len(shown) == len({r.name for r in runs})  # the newest of each name, once
    for run in runs:
        newest = results.latest_run(run.name, directory=recorded)
        line = lines[runs.index(run)]
        assert ("-> shown by" in line) == (newest.path == run.path), line
    assert any("'gpu-ladder'" in line and "notebooks 03" in line for line in shown)


def test_the_schedule_caption_is_computed_from_the_record_it_describes():
    waves = gpusorts.schedule_caption(_schedule(per_sm=6, places=2, sms=4))
    assert waves.startswith("Each SM held at most 2 blocks at once, so the 24 blocks started "
                            "in 3 waves over 2 µs")
    old = {**_schedule(per_sm=4, places=4, sms=4), "threads": 128}
    text = gpusorts.schedule_caption(old)
    assert text.startswith("All 16 blocks were resident at once (up to 4 per SM)")
    assert "is not yet recorded on a GPU" in text
    current = {**_schedule(per_sm=6, places=6, sms=4)}  # today's launch, one wave: no such note
    assert "not yet recorded" not in gpusorts.schedule_caption(current)


def test_a_collapsed_figure_is_hidden_under_its_summary():
    html = widgets.collapsed(plots.store_to_load_forwarding(), "The answer, as a picture").data
    assert html.startswith("<details><summary><b>The answer, as a picture</b></summary><img src='data:image/png;base64,")
    assert html.endswith("</details>")
