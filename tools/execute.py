"""Execute a notebook the way every part of the course does: never waiting forever.

    from execute import execute_notebook   # tests/test_notebooks.py, tools/slides.py --execute

Two limits, both with a message: nbclient's own per cell (:data:`CELL_TIMEOUT`; a cell that
runs past it is stopped and named, :func:`timeout_message`), and the polling below.

**Why not a plain NotebookClient.** Notebook 00 hung after its ``widgets.stack_explorer``
cell in 3 of 31 executions under Python 3.13 (consistent with jupyter/nbclient#312). Reproduced
on this project's CPU machine (Python 3.13.0, nbclient 0.11.0, jupyter_client 8.10.0, pyzmq
27.3.0, ipykernel 7.4.0; notebook 00 executed in a loop, a plain NotebookClient): in 5 of the
first 33 executions one cell -- the stack explorer's, where the debug log was on -- took
exactly the client's timeout (60.0 s with ``timeout=60``, 30.0 s with 30) and then *passed*.
The kernel had sent ``status: idle`` and its ``execute_reply`` within half a second (their own
timestamps), and the client logged the idle on IOPub at once; only its wait on the shell
channel did not end until the timeout fired, and then returned the reply, which had been in
the socket all along. That is pyzmq's asyncio ``poll``: its timeout handler looks at the socket
once more and finds the message the event loop was never woken for (a missed wake-up on
ZeroMQ's edge-triggered descriptor). With no timeout (``timeout=None``, nbconvert's default)
that wait is forever: the hang. The rate varies: a later loop of 30 executions, same set-up,
saw none. That the widget cell is where it shows (about 30 ``comm_open``/``comm_msg`` on IOPub
within milliseconds) is consistent with the issue's report, not proven by it.

So :class:`CourseClient` never asks a channel to wait longer than :data:`POLL_STEP` at a
time: each step ends with pyzmq's own final look at the socket, so a missed wake-up costs at
most a step, never the cell's timeout and never forever (tests/test_execute.py simulates one).
A message that only the end of a full step returned is counted in ``CourseClient.late``. With
it, 40 executions of the same loop had no slow cell and nothing late.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from queue import Empty

from nbclient import NotebookClient

#: Seconds per cell: a whole notebook stays well under a minute at scale 1. Below pytest's
#: limit per test (pyproject.toml, 300 s), so a cell that waits forever is stopped and named
#: here rather than by pytest-timeout's thread dump.
CELL_TIMEOUT = 150
#: The longest one wait on a kernel channel lasts before the socket is looked at again.
POLL_STEP = 0.5


def _stepped(get_msg, late: list, step: float = POLL_STEP):
    """``get_msg(timeout)`` as a series of waits of at most ``step`` seconds each; a message
    that a full step's wait returned (found by the step's final look, most likely: a missed
    wake-up) is counted in ``late``."""

    async def get_msg_in_steps(timeout: float | None = None, **kwargs):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            wait = step if left is None else max(0.0, min(step, left))
            start = time.monotonic()
            try:
                msg = await get_msg(timeout=wait, **kwargs)
            except Empty:
                if left is not None and left <= step:
                    raise
                continue
            if wait > 0 and time.monotonic() - start >= 0.98 * wait:
                late.append(msg.get("msg_type"))
            return msg

    return get_msg_in_steps


class CourseClient(NotebookClient):
    """A NotebookClient whose channels are polled in steps (see the module's docstring).

    ``late``: the type of each message that arrived only at the end of a full step."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.late: list[str] = []

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        for channel in (kc.shell_channel, kc.iopub_channel):
            channel.get_msg = _stepped(channel.get_msg, self.late)
        return kc


def execute_notebook(nb, folder: Path, timeout: int = CELL_TIMEOUT, **kwargs):
    """Run ``nb`` (an nbformat notebook) in ``folder`` with this environment's kernel (ahead
    of any user-wide "python3", as tools/lab.py does), in place."""
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        p for p in (str(Path(sys.prefix) / "share" / "jupyter"), os.environ.get("JUPYTER_PATH", ""))
        if p)
    client = CourseClient(nb, timeout=timeout, kernel_name="python3",
                          resources={"metadata": {"path": str(folder)}}, **kwargs)
    client.execute()
    return nb


def timeout_message(name: str, nb, timeout: int = CELL_TIMEOUT) -> str:
    """Which cell of notebook ``name`` ran past ``timeout``, and what usually causes it."""
    started = [i for i, c in enumerate(nb.cells)
               if c.cell_type == "code" and c.get("execution_count") is not None]
    index = started[-1] if started else None
    source = nb.cells[index].source if index is not None else ""
    head = "\n".join("    " + line for line in source.splitlines()[:6])
    return (f"{name}: cell {index} did not finish within {timeout} s and was stopped "
            f"(nbclient's limit per cell):\n{head}\n"
            f"At PY2PTX_SCALE=1 every cell of the course finishes in seconds; one that waits "
            f"is usually a kernel that never returns (a __syncthreads() some threads never "
            f"reach, a loop that never ends) or a GPU busy with someone else's work.")
