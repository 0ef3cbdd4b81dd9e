"""Plots: the stack diagram, the speedup ladder, time vs n.

Every plot that shows a time says where it was measured (the ``machine`` argument
is required): a number without its machine is not a measurement.
"""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyBboxPatch

from .ladder import RUNGS, rung
from .speedups import layer_split
from .stack import LAYERS
from .timing import Timing, fit_power_law, format_seconds, format_speedup
from .timing import refuse_simulator as _refuse_simulator

KIND_COLORS = {"baseline": "#7f7f7f", "same-algorithm": "#1f77b4",
               "algorithm-change": "#d62728"}
# "CPU only" is the hardware layer of a machine without a GPU: the box names the GPU's parts
# (SMs, L2, HBM), none of which this machine has, so it is drawn as absent, not as running.
MODE_COLORS = {"runs": "#c7e9c0", "produced": "#fde0a0", "absent": "#eeeeee",
               "CPU only": "#eeeeee", None: "#dde8f5"}


def _measured_where(timings, machine: str, host: str) -> str:
    """``measured on …`` for a title: a run of GPU and CPU rungs names the host CPU the CPU
    rungs ran on, so a GPU's name never stands over a CPU's bars."""
    timings = list(timings)
    if host and any(t.where == "cpu" for t in timings):
        if any(t.where == "gpu" for t in timings):
            return f"GPU rungs: {machine}; CPU rungs on its host CPU, {host}"
        return f"{machine}; on its host CPU, {host}"
    return f"measured on {machine}"


def stack_diagram(highlight: str | None = None, modes: dict | None = None, ax=None):
    """The stack as two paths (notebook 00): the **code** path (source -> compilers ->
    PTX -> ptxas -> SASS, offline or JIT in the driver) and the **control** path
    (application -> CUDA runtime -> driver: load, JIT, launch -> GPU), with OpenCL,
    Vulkan and DirectX as other host APIs to the same driver stack.

    ``highlight`` outlines one layer; ``modes`` (the doctor's ``report.layers``)
    colours each layer by what this machine does with it: runs it, only produces it
    (PTX and SASS without a GPU), or lacks it.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(11, 7.2))
    # Drawn for an 11-inch-wide figure; a smaller one (the stack explorer's) scales the text.
    k = min(1.0, ax.figure.get_figwidth() / 11)
    if len(ax.figure.axes) == 1:  # the diagram is the whole figure: use all of it
        ax.figure.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.94)
    ax.set_xlim(0, 12)
    ax.set_ylim(0.55, 10.1)
    ax.axis("off")
    # layer key -> (x, y, width, height): the code path on the left, control on the right
    boxes = {"application": (0.2, 8.0, 11.6, 1.1), "compilers": (0.2, 6.3, 6.0, 1.1),
             "ptx": (0.2, 4.6, 6.0, 1.1), "sass": (0.2, 2.9, 6.0, 1.1),
             "runtime": (6.9, 4.6, 4.9, 2.8), "hardware": (0.2, 1.1, 11.6, 1.1)}
    # The two paths as two panels behind their boxes.
    for x, w, color in ((0.05, 6.3, "#e2ebf6"), (6.75, 5.2, "#f6e6e2")):
        ax.add_patch(FancyBboxPatch((x, 2.75), w, 5.0, boxstyle="round,pad=0.02",
                                    fc=color, ec="none", zorder=0))
    for key, (x, y, w, h) in boxes.items():
        layer = LAYERS[key]
        mode, _ = (modes or {}).get(key, (None, ""))
        chosen = key == highlight
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02",
                                    fc=MODE_COLORS.get(mode, MODE_COLORS[None]),
                                    ec="black" if chosen else "#888888", lw=3 if chosen else 1))
        ax.text(x + 0.2, y + h - 0.3, layer.title, fontsize=11 * k, weight="bold", va="center")
        ax.text(x + 0.2, y + h - 0.68, textwrap.fill(" · ".join(layer.members), 75),
                fontsize=9 * k, va="top")
        if mode:
            ax.text(x + w - 0.15, y + (0.2 if key == "runtime" else h - 0.3),
                    f"this machine: {mode}", fontsize=8 * k,
                    ha="right", va="center", style="italic")
    ax.text(7.1, 6.2, textwrap.fill("The CUDA runtime (here through CuPy or numba.cuda) "
                                    "calls the driver. The driver loads a module's SASS, or "
                                    "JIT-compiles its PTX for the GPU it finds, then "
                                    "launches the kernel.", 48),
            fontsize=8 * k, va="top")
    # other host APIs: beside the CUDA runtime, on top of the same kind of driver stack
    ax.add_patch(FancyBboxPatch((8.0, 2.9), 3.8, 1.1, boxstyle="round,pad=0.02",
                                fc="#f4f4f4", ec="#bbbbbb", ls="--"))
    ax.text(9.9, 3.65, "other host APIs, not used here", fontsize=8 * k, ha="center",
            style="italic")
    ax.text(9.9, 3.25, " · ".join(LAYERS["runtime"].beside), fontsize=9 * k, ha="center")
    ax.text(3.2, 9.75, "code path: what the GPU will run", fontsize=10 * k, ha="center",
            weight="bold", color="#1f5fa8")
    ax.text(9.35, 9.75, "control path: who loads and launches it", fontsize=10 * k,
            ha="center", weight="bold", color="#a8321f")

    def arrow(x0, y0, x1, y1, text="", color="#1f5fa8", ls="-", **kw):
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops={"arrowstyle": "->", "color": color, "lw": 1.6, "ls": ls})
        if text:
            ax.text((x0 + x1) / 2 + 0.1, (y0 + y1) / 2, text, fontsize=8 * k, color=color,
                    va="center", **kw)

    arrow(1.2, 8.0, 1.2, 7.4, "source: CUDA C, Python (Numba), Triton")
    arrow(1.2, 6.3, 1.2, 5.7, "NVCC / NVRTC, NVVM (Numba), Triton emit PTX")
    arrow(1.2, 4.6, 1.2, 4.0, "ptxas assembles (offline: NVCC, NVRTC)")
    arrow(6.2, 5.15, 6.9, 5.15, "", ls="--")
    ax.text(6.25, 5.45, "PTX: JIT", fontsize=7 * k, color="#1f5fa8")
    arrow(6.2, 3.45, 6.9, 4.7, "", ls="--")
    ax.text(6.25, 3.7, "SASS: load", fontsize=7 * k, color="#1f5fa8")
    arrow(9.35, 8.0, 9.35, 7.4, "calls (cudaMalloc, a launch...)", color="#a8321f")
    arrow(7.4, 4.6, 7.4, 2.2, "launch", color="#a8321f")
    ax.text(6.0, 0.75, "Solid blue: compilation, before a launch. Dashed: the driver loads SASS, "
            "or JIT-compiles PTX with its own ptxas for the GPU it finds.", fontsize=8 * k,
            ha="center", style="italic")
    ax.set_title("The stack: two paths from your program to the GPU", fontsize=11 * k)
    return ax.figure


def speedup_ladder(timings: dict[str, Timing], machine: str, baseline: str = "python_bubble",
                   ax=None, note: str = "", host: str = ""):
    """Speedup of each rung over ``baseline`` (log scale), coloured by kind of optimization.

    ``timings`` maps rung keys to Timings measured at the same n; ``note`` is printed
    under the plot (say, which rungs did not run here and why). ``host``: the CPU that
    timed the CPU rungs of a GPU run (:func:`py2ptx.reports.host_cpu`), named in the title.
    """
    if baseline not in timings:
        raise ValueError(f"the baseline rung {baseline!r} must be among the timings")
    _refuse_simulator(timings.values())
    ns = {t.n for t in timings.values()}
    if len(ns) != 1:
        raise ValueError(f"a speedup ladder compares rungs at one n; got n = {sorted(ns)}")
    base = timings[baseline].median
    keys = sorted(timings, key=lambda k: rung(k).number)
    if ax is None:
        _, ax = plt.subplots(figsize=(11, 0.55 * len(keys) + 1.5))
    speedups = [base / timings[k].median for k in keys]
    labels = [f"{rung(k).number}. {rung(k).title} ({timings[k].where.upper()})" for k in keys]
    colors = [KIND_COLORS[rung(k).kind] for k in keys]
    y = range(len(keys))[::-1]
    ax.barh(list(y), speedups, color=colors)
    ax.set_xscale("log")
    ax.set_yticks(list(y), labels)
    for yi, k, s in zip(y, keys, speedups, strict=True):
        t = timings[k]
        ax.text(s * 1.08, yi, f"{format_speedup(s)}  ({format_seconds(t.median)}, "
                f"IQR {format_seconds(t.spread)})", va="center", fontsize=8)
    # Room right of the longest bar for its label: a label is a fixed width in points,
    # and the more decades the axis spans, the fewer points each decade gets.
    # Left: a rung slower than the baseline (a speedup below 1) still shows its bar.
    ax.set_xlim(min(0.5, min(speedups) / 3), max(speedups) * 1000 * max(speedups) ** 0.25)
    ax.set_xlabel(f"speedup over rung {rung(baseline).number} (log scale)")
    n = ns.pop()
    # The title is centred over the axes, right of the long rung names: a long machine
    # name on one line would run off the figure.
    where = textwrap.fill(_measured_where(timings.values(), machine, host), 60)
    ax.set_title(f"Sorting n = {n:,} int32 keys\n{where}", fontsize=10)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in KIND_COLORS.values()]
    # Beside the axes, where no bar or label can run into it.
    ax.legend(handles, list(KIND_COLORS), loc="upper left", bbox_to_anchor=(1.01, 1),
              fontsize=8, frameon=False)
    if note:  # a fixed distance below the axis label, from the figure's left edge
        ax.annotate(note, (0.01, 0), xycoords=("figure fraction", "axes fraction"),
                    xytext=(0, -42), textcoords="offset points", va="top", fontsize=8,
                    style="italic")
    ax.figure.tight_layout()
    return ax.figure


def time_vs_n(series: dict[str, list[Timing]], machine: str, fit: bool = True, ax=None,
              host: str = ""):
    """Time per sort against n, log-log, with the IQR as error bars and a power-law fit.

    ``host`` as in :func:`speedup_ladder`: the CPU of a GPU run's CPU rungs."""
    _refuse_simulator(t for ts in series.values() for t in ts)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    for label, timings in series.items():
        timings = sorted(timings, key=lambda t: t.n)
        ns = [t.n for t in timings]
        med = [t.median for t in timings]
        err = [t.spread / 2 for t in timings]
        if fit and len(timings) >= 2:
            k, c = fit_power_law(timings)
            label = f"{label}; fit t ∝ n^{k:.2f}"
        line = ax.errorbar(ns, med, yerr=err, marker="o", capsize=3, label=label)
        if fit and len(timings) >= 2:
            ax.plot(ns, [c * n**k for n in ns], ls=":", color=line[0].get_color())
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("n (keys)")
    ax.set_ylabel("time per sort (s, median)")
    where = _measured_where((t for ts in series.values() for t in ts), machine, host)
    ax.set_title(textwrap.fill(f"Time vs n, {where}", 80), fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.figure.tight_layout()
    return ax.figure


def block_schedule(data: dict, machine: str, ax=None):
    """Which SM ran each block and when (from gpusorts.who_ran_what), as a timeline.

    One row per SM, split into the places it held blocks in at once
    (:func:`py2ptx.gpusorts.block_residency`); each block a bar from its start to its end,
    coloured by its index (``blockIdx.x``, colour bar). A short title; below the axes, what
    was launched and where, then what the picture shows
    (:func:`py2ptx.gpusorts.schedule_caption`, computed from the same record).
    """
    from matplotlib.collections import LineCollection

    from .gpusorts import block_residency, schedule_caption  # its reading of the same record

    sm = np.asarray(data["block_sm"])
    start = np.asarray(data["block_start_ns"]) / 1e3
    end = np.asarray(data["block_end_ns"]) / 1e3
    residency = block_residency(data)
    slot, places = np.asarray(residency["slot"]), max(1, residency["most_at_once"])
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 5))
    y = sm + (slot + 0.5) / places * 0.9 - 0.45
    segments = np.stack([np.column_stack([start, y]), np.column_stack([end, y])], axis=1)
    bars = LineCollection(segments, array=np.arange(sm.size), cmap="viridis",
                          linewidths=max(0.6, 3.0 / places), capstyle="butt")
    ax.add_collection(bars)
    ax.set_xlim(0, max(end.max(), 1e-3) * 1.02)
    ax.set_ylim(sm.min() - 0.6, sm.max() + 0.6)
    ax.figure.colorbar(bars, ax=ax, pad=0.01, label="block index (blockIdx.x)")
    ax.set_xlabel("time since the first block started (µs, %globaltimer)")
    ax.set_ylabel("SM that ran the block (%smid)")
    ax.set_title("Which SM ran each block, and when", fontsize=11)
    ax.grid(True, alpha=0.3)
    launched = (f"{data['blocks']:,} blocks of {data['threads']:,} threads on {data['sms']} SMs, "
                f"each spinning {data.get('spin_cycles', 0):,} cycles; at most "
                f"{residency['most_at_once']} at once on any SM (as the timestamps show, not "
                f"an occupancy limit), {residency['waves']} "
                f"wave{'s' if residency['waves'] != 1 else ''}; {machine}")
    below = textwrap.fill(launched, 120) + "\n\n" + textwrap.fill(schedule_caption(data), 120)
    ax.annotate(below, (0, 0), xycoords="axes fraction", xytext=(0, -34),
                textcoords="offset points", va="top", fontsize=8, style="italic")
    ax.figure.tight_layout()
    return ax.figure


# --------------------------------------------------------------------------- notebook 05

VARIANT_COLORS = {"plain": "#7f7f7f", "nc_na_256b": "#1f77b4", "evict_first": "#ff7f0e",
                  "all_hints": "#2ca02c"}


def l2_curve(curve: list[Timing], l2_bytes: int, machine: str, ax=None):
    """The victim alone: bytes read per second against its working set, with L2's size."""
    _refuse_simulator(curve)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    curve = sorted(curve, key=lambda t: t.n)
    mib = [t.n / 2**20 for t in curve]
    ax.errorbar(mib, [t.n / t.median / 1e12 for t in curve],
                yerr=[t.n / t.median**2 * t.spread / 2 / 1e12 for t in curve],
                marker="o", capsize=3, color="#555555")
    ax.axvline(l2_bytes / 2**20, ls="--", color="#d62728")
    ax.annotate(f"L2 = {l2_bytes / 2**20:.0f} MiB", (l2_bytes / 2**20, ax.get_ylim()[1]),
                xytext=(4, -14), textcoords="offset points", color="#d62728", fontsize=8)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("victim's working set (MiB, log scale)")
    ax.set_ylabel("victim reads (TB/s, median)")
    ax.set_title(f"The victim alone: at L2 speed while its data fits\nmeasured on {machine}",
                 fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.figure.tight_layout()
    return ax.figure


def interference_by_size(by_variant: dict[str, dict[int, dict]], machine: str, ax=None):
    """Victim slowdown beside the stream, per PTX variant, against the victim's working set.

    ``by_variant`` maps a variant key to :func:`py2ptx.deepseek.size_cells`.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 4))
    sizes = sorted({b for cells in by_variant.values() for b in cells})
    width = 0.8 / max(1, len(by_variant))
    for i, (key, cells) in enumerate(by_variant.items()):
        xs = [sizes.index(b) + (i - (len(by_variant) - 1) / 2) * width for b in cells]
        ax.bar(xs, [c["slowdown"] for c in cells.values()], width,
               yerr=[c["spread"] / 2 for c in cells.values()], capsize=2, label=key,
               color=VARIANT_COLORS.get(key))
    ax.axhline(1, color="black", lw=0.8)
    ax.set_xticks(range(len(sizes)), [f"{b / 2**20:.0f} MiB" for b in sizes])
    ax.set_xlabel("victim's working set")
    ax.set_ylabel("victim time beside the stream / alone")
    ax.set_title(f"How much the stream slows the victim, by the stream's PTX\nmeasured on "
                 f"{machine}", fontsize=10)
    ax.legend(fontsize=8, title="stream variant", title_fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    ax.figure.tight_layout()
    return ax.figure


def chunk_sweep(by_variant: dict[str, dict[int, dict]], picks: dict[str, int], machine: str):
    """Victim slowdown and stream bandwidth against the chunk size, with each pick circled.

    ``by_variant`` maps a variant key to :func:`py2ptx.deepseek.cells` at one working set.
    """
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 6.5), sharex=True)
    for key, cells in by_variant.items():
        chunks = list(cells)
        color = VARIANT_COLORS.get(key)
        top.errorbar(chunks, [c["slowdown"] for c in cells.values()],
                     yerr=[c["spread"] / 2 for c in cells.values()], marker="o", capsize=2,
                     label=key, color=color)
        bottom.plot(chunks, [c["bandwidth_with"] / 1e9 for c in cells.values()], marker="o",
                    label=key, color=color)
        if key in picks and picks[key] in cells:
            c = cells[picks[key]]
            top.plot(picks[key], c["slowdown"], "o", ms=14, mfc="none", color=color)
            bottom.plot(picks[key], c["bandwidth_with"] / 1e9, "o", ms=14, mfc="none",
                        color=color)
    top.axhline(1, color="black", lw=0.8)
    top.set_ylabel("victim slowdown (x)")
    bottom.set_ylabel("stream GB/s beside the victim")
    bottom.set_xscale("log", base=2)
    bottom.set_xlabel("chunk size (bytes, log scale); circled: the auto-tuner's pick")
    top.set_title(f"Chunk size: interference against communication speed\nmeasured on "
                  f"{machine}", fontsize=10)
    for ax in (top, bottom):
        ax.grid(True, which="both", alpha=0.3)
    top.legend(fontsize=8, title="stream variant", title_fontsize=8)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- notebook 06

SPLIT_COLORS = {"same algorithm (low-level optimization)": KIND_COLORS["same-algorithm"],
                "algorithm change on top (co-optimization)": KIND_COLORS["algorithm-change"]}


def speedup_by_layer(panels: dict[str, dict[str, Timing]]):
    """Speedup over rung 1 down the stack, split by kind, one panel per machine (notebook 06).

    ``panels`` maps the machine a ladder was measured on (the panel's title says so) to
    its rung timings at one n. Each layer of the stack that holds a rung gets one bar from
    ×1, using every rung that ran at that layer or above it (:func:`py2ptx.speedups.layer_split`):
    blue up to the best speedup without changing the algorithm, red on top for what the
    algorithm change added. On the log axis the two lengths add up to the total, as the
    two factors multiply to it. A layer none of whose rungs ran is named, not drawn.
    """
    if not panels:
        raise ValueError("speedup_by_layer needs at least one machine's ladder")
    layers = [key for key in LAYERS if any(r.layer == key for r in RUNGS)]
    fig, axes = plt.subplots(len(panels), 1, sharex=True, squeeze=False,
                             figsize=(11, (0.62 * len(layers) + 1.25) * len(panels)))
    top = 1.0
    for ax, (machine, timings) in zip(axes[:, 0], panels.items(), strict=True):
        _refuse_simulator(timings.values())
        ns = {t.n for t in timings.values()}
        if len(ns) != 1:
            raise ValueError(f"{machine}: a ladder compares rungs at one n; got n = {sorted(ns)}")
        if "python_bubble" not in timings:
            raise ValueError(f"{machine}: the speedups are over rung 1, python_bubble, "
                             f"which is not among the timings")
        steps = {s.layer: s for s in layer_split(timings)}
        y = list(range(len(layers)))[::-1]
        for yi, key in zip(y, layers, strict=True):
            step, s = steps[key], steps[key].split
            if not step.rungs:
                missing = ", ".join(f"{r.number}. {r.key}" for r in RUNGS if r.layer == key)
                ax.text(1.0, yi, f"  none of its rungs ran here ({missing})", va="center",
                        fontsize=8, style="italic")
                continue
            colors = list(SPLIT_COLORS.values())
            ax.barh(yi, s.same_algorithm - 1, left=1, color=colors[0], height=0.6)
            ax.barh(yi, s.total - s.same_algorithm, left=s.same_algorithm, color=colors[1],
                    height=0.6)
            label = (f"{format_speedup(s.same_algorithm)} ({rung(s.same).number}. {s.same})"
                     if s.best == s.same else
                     f"{format_speedup(s.same_algorithm)} ({rung(s.same).number}. {s.same}), "
                     f"then {format_speedup(s.algorithm_change)} ({rung(s.best).number}. "
                     f"{s.best}): {format_speedup(s.total)} in all")
            ax.text(max(s.total, 1.0) * 1.15, yi, label, va="center", fontsize=8)
            top = max(top, s.total)
        ax.set_yticks(y, [f"{LAYERS[k].title}\n({_rung_numbers(k, timings)})" for k in layers],
                      fontsize=9)
        ax.set_ylim(-0.6, len(layers) - 0.4)
        ax.axvline(1, color="black", lw=0.8)
        ax.set_title(textwrap.fill(f"measured on {machine}; sorting n = {ns.pop():,} int32 "
                                   f"keys", 110), fontsize=9)
        ax.grid(True, axis="x", which="major", alpha=0.3)
        ax.set_axisbelow(True)  # grid lines behind the bars, not across them
    ax = axes[-1, 0]
    ax.set_xscale("log")
    # Room right of the longest bar for its label (a fixed width in points).
    ax.set_xlim(0.7, top * 10**5)
    ax.set_xlabel("speedup over rung 1, using every rung down to that layer (log scale)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in SPLIT_COLORS.values()]
    fig.legend(handles, list(SPLIT_COLORS), loc="lower center", ncol=2, fontsize=8,
               frameon=False, bbox_to_anchor=(0.5, 0))
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def _rung_numbers(layer: str, ran=None) -> str:
    """``"rung 1"`` or ``"rungs 2, 3, 4"``: the rungs written at one layer of the stack; with
    ``ran`` (the keys that ran on this panel's machine), those that did not run are named
    apart, so a machine that ran 2-5 is never labelled with 2-10 (issue 13, item 10)."""
    here = [r for r in RUNGS if r.layer == layer]
    if ran is None or all(r.key in ran for r in here):
        numbers = [str(r.number) for r in here]
        return ("rung " if len(numbers) == 1 else "rungs ") + ", ".join(numbers)
    done = [str(r.number) for r in here if r.key in ran]
    missing = ", ".join(str(r.number) for r in here if r.key not in ran)
    if not done:
        return f"not run: {missing}"
    return (("rung " if len(done) == 1 else "rungs ") + ", ".join(done)
            + f"; not run: {missing}")


# --------------------------------------------------------------------------- diagrams


def odd_even_diagram(keys, ax=None):
    """Notebook 03: odd-even transposition sort, phase by phase, as a picture.

    One row per phase (from :func:`py2ptx.gpusorts.odd_even_phases`, computed here, not
    drawn by hand): each key a box coloured by its value; under each row, the pairs the next
    phase compares, bracketed, in red where that pair was swapped. Even phases
    compare (0,1), (2,3)…; odd phases (1,2), (3,4)…: no two pairs share a key, so each
    pair can have its own thread.
    """
    from .gpusorts import odd_even_phases  # the reference the picture is drawn from

    rows = odd_even_phases(np.asarray(keys))
    n = rows[0].size
    if ax is None:
        _, ax = plt.subplots(figsize=(0.55 * n + 2.6, 0.48 * len(rows) + 0.9))
    norm = plt.Normalize(rows[0].min(), rows[0].max())
    for p, row in enumerate(rows):
        y = len(rows) - 1 - p
        for i, k in enumerate(row):
            ax.add_patch(plt.Rectangle((i + 0.05, y + 0.1), 0.9, 0.8,
                                       color=plt.cm.Blues(0.15 + 0.7 * norm(k))))
            ax.text(i + 0.5, y + 0.5, str(k), ha="center", va="center", fontsize=9,
                    color="white" if norm(k) > 0.6 else "black")
        label = "start" if p == 0 else f"phase {p}: {'even' if p % 2 else 'odd'} pairs"
        ax.text(-0.2, y + 0.5, label, ha="right", va="center", fontsize=8)
        if p:  # the pairs this phase compared, between the row before and this one
            before = rows[p - 1]
            for i in range((p - 1) & 1, n - 1, 2):
                swapped = before[i] > before[i + 1]
                ax.plot([i + 0.3, i + 0.3, i + 1.7, i + 1.7], [y + 1.08, y + 1.0, y + 1.0, y + 1.08],
                        color="#d62728" if swapped else "#999999", lw=1.6 if swapped else 0.8)
    ax.set_xlim(-3.2, n + 0.1)
    ax.set_ylim(-0.1, len(rows) + 0.1)
    ax.axis("off")
    ax.set_title(f"Odd-even transposition sort of {n} keys: one row per phase\n"
                 "brackets under a row: the pairs the next phase compares, all at once "
                 "(red: swapped)",
                 fontsize=9)
    ax.figure.tight_layout()
    return ax.figure


def store_to_load_forwarding(ax=None):
    """Notebook 02: why gcc -O2's 8-byte loads and stores are slow in bubble sort.

    Three iterations' worth of memory, ``a[j]``, ``a[j+1]``, ``a[j+2]`` (4 bytes each):
    above, the vectorized loop's 8-byte store of iteration j and the 8-byte load of
    iteration j+1, which share only ``a[j+1]``; below, the scalar loop's 4-byte store and
    4-byte load of ``a[j+1]``, the same bytes exactly. A schematic, not a measurement:
    x86 cores forward a store to a later load from the store buffer when the load reads
    bytes within that one store; a load that needs bytes of a pending store and bytes
    from elsewhere waits until the store has reached the cache (Intel's and AMD's
    optimization manuals: "store forwarding"; a stall of more than ten cycles).
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.6))
    ax.set_xlim(-3.4, 12.4)
    ax.set_ylim(-0.3, 6.2)
    ax.axis("off")
    for k, name in enumerate(("a[j]", "a[j+1]", "a[j+2]")):
        for y0 in (3.3, 0.0):
            ax.add_patch(plt.Rectangle((4 * k, y0), 4, 0.8, fc="#f4f4f4", ec="#555555"))
            ax.text(4 * k + 2, y0 + 0.4, name, ha="center", va="center", fontsize=9)

    def span(x0, x1, y, color, text):
        ax.add_patch(plt.Rectangle((x0 + 0.08, y), x1 - x0 - 0.16, 0.6, fc=color, ec="none",
                                   alpha=0.85))
        ax.text((x0 + x1) / 2, y + 0.3, text, ha="center", va="center", fontsize=8,
                color="white")

    span(0, 8, 4.25, "#1f77b4", "iteration j: 8-byte store (movq %xmm0, (%rax))")
    span(4, 12, 5.0, "#d62728", "iteration j+1: 8-byte load")
    ax.text(-0.3, 4.9, "gcc -O2\n(vectorized)", ha="right", va="center", fontsize=9,
            weight="bold")
    ax.text(6, 2.75, "the load needs a[j+1] from the store, still in the store buffer, and "
            "a[j+2] from the cache:\nit cannot be forwarded, so it waits for the store to "
            "reach L1", ha="center", va="center", fontsize=8, style="italic", color="#d62728")
    span(4, 8, 0.95, "#1f77b4", "4-byte store")
    span(4, 8, 1.7, "#2ca02c", "4-byte load")
    ax.text(-0.3, 1.6, "-fno-tree-slp-\nvectorize (scalar)", ha="right", va="center",
            fontsize=9, weight="bold")
    ax.text(10, 1.3, "same bytes as the store:\nforwarded from the\nstore buffer at once",
            ha="center", va="center", fontsize=8, style="italic", color="#2ca02c")
    ax.set_title("Store-to-load forwarding in the bubble sort's inner loop (a schematic)",
                 fontsize=10)
    ax.figure.tight_layout()
    return ax.figure
