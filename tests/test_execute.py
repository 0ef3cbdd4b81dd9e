"""tools/execute.py: the course's notebook client polls its channels in steps, so a missed
wake-up (jupyter/nbclient#312) costs at most a step, and a wait with a limit still ends."""

from __future__ import annotations

import asyncio
import time
from queue import Empty

import execute  # tools/
import nbformat


def _missed_wakeup(arrives_after: float):
    """A channel's get_msg whose message is in the socket after ``arrives_after`` s but whose
    wait is never woken for it: only the end of the wait finds it (pyzmq's final look)."""
    start = time.monotonic()

    async def get_msg(timeout=None):
        assert timeout is not None, "the course never waits on a channel without a limit"
        await asyncio.sleep(timeout)
        if time.monotonic() - start >= arrives_after:
            return {"msg_type": "execute_reply"}
        raise Empty

    return get_msg


def test_a_missed_wakeup_costs_one_step_not_the_whole_timeout():
    late = []
    get_msg = execute._stepped(_missed_wakeup(0.05), late, step=0.1)
    start = time.monotonic()
    msg = asyncio.run(get_msg(timeout=30))
    assert msg == {"msg_type": "execute_reply"}
    assert time.monotonic() - start < 1.0  # not 30 s
    assert late == ["execute_reply"]


def test_a_wait_with_a_limit_still_ends_with_empty_and_one_without_keeps_stepping():
    get_msg = execute._stepped(_missed_wakeup(1e9), [], step=0.05)
    start = time.monotonic()
    try:
        asyncio.run(get_msg(timeout=0.2))
    except Empty:
        pass
    else:
        raise AssertionError("a wait past its limit must raise Empty")
    assert 0.15 < time.monotonic() - start < 1.0
    forever = execute._stepped(_missed_wakeup(0.12), [], step=0.05)
    assert asyncio.run(forever(timeout=None)) == {"msg_type": "execute_reply"}


def test_the_course_client_runs_a_notebook_with_its_channels_stepped(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print('ran')")]
    execute.execute_notebook(nb, tmp_path, timeout=60)
    assert nb.cells[0].outputs[0]["text"] == "ran\n"
    assert "cell 0 did not finish within 60 s" in execute.timeout_message("x.ipynb", nb, 60)
