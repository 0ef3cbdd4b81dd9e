"""Notebook 05's picture of the set-up: which SMs stream, which run the victim, and the one
L2 and HBM they share (drawn from a run's ``extra["setup"]``, or the H200's numbers)."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

#: The H200 the course recorded on: 132 SMs, 20 of them streaming, a 60 MiB L2.
H200_SETUP = {"sms": 132, "stream_sms": 20, "l2_bytes": 60 * 2**20}


def setup_diagram(setup: dict | None = None, ax=None):
    """20 stream SMs and 112 victim SMs (one block each) above one shared L2 and HBM.

    ``setup`` is a run's ``extra["setup"]`` (``sms``, ``stream_sms``, ``l2_bytes``);
    without one, the H200's. Which physical SM each block lands on is the hardware's
    choice: the run records it (%smid), the picture only counts them.
    """
    s = dict(H200_SETUP, **(setup or {}))
    sms, stream = int(s["sms"]), int(s["stream_sms"])
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.2))
    cols = 22
    rows = -(-sms // cols)
    for i in range(sms):
        r, c = divmod(i, cols)
        ax.add_patch(plt.Rectangle((c * 1.0, 6.5 + (rows - 1 - r) * 1.0), 0.85, 0.85,
                                   color="#d62728" if i < stream else "#1f77b4"))
    top = 6.5 + rows
    ax.text(0, top + 0.3, f"{stream} SMs: the stream (stand-in for communication), "
            f"one block each", color="#d62728", fontsize=10)
    ax.text(0, top + 1.2, f"{sms - stream} SMs: the victim (stand-in for computation), "
            f"one block each", color="#1f77b4", fontsize=10)
    ax.add_patch(FancyBboxPatch((0, 3.4), cols - 0.15, 1.8, boxstyle="round,pad=0.1",
                                fc="#f2e6ff", ec="#6a3d9a"))
    ax.text(cols / 2, 4.3, f"L2, {s['l2_bytes'] / 2**20:.0f} MiB, shared by every SM: "
            f"the stream's lines and the victim's share it", ha="center", va="center")
    ax.add_patch(FancyBboxPatch((0, 0.4), cols - 0.15, 1.8, boxstyle="round,pad=0.1",
                                fc="#e8e8e8", ec="#555555"))
    ax.text(cols / 2, 1.3, "HBM (DRAM): the stream's source and destination, and the "
            "victim's data when L2 loses it", ha="center", va="center")
    for x in (3, cols - 4):
        ax.annotate("", xy=(x, 3.3), xytext=(x, 6.4), arrowprops={"arrowstyle": "<->"})
        ax.annotate("", xy=(x, 0.3 + 1.9), xytext=(x, 3.3), arrowprops={"arrowstyle": "<->"})
    ax.set_xlim(-0.5, cols + 0.5)
    ax.set_ylim(0, top + 2)
    ax.set_axis_off()
    ax.set_title("Notebook 05's experiment on one GPU")
    return ax
