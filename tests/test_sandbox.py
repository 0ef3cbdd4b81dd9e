"""Every exit path of py2ptx.sandbox (and the CPU runner on top of it) kills and reaps its
child: a budget's exception, Ctrl-C, the timeout, a crash. After each, no child process of
this test process remains (read from /proc), and the specific message wins over the
generic budget advice."""

import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from py2ptx.cuda_on_cpu import DivergentBarrier, EmulationError, run_on_cpu
from py2ptx.exercises.core import TimeBudgetExceeded, time_budget
from py2ptx.sandbox import SandboxError, run_in_child

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="reads child processes from /proc")


def children() -> list[int]:
    """This process's children, zombies included (a child not reaped is left behind)."""
    me, found = os.getpid(), []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:
            found.append(int(stat.parent.name))
    return found


def hang(views):
    while True:
        views[0][0] += 1


@pytest.fixture
def no_children_after():
    before = set(children())
    yield
    deadline = time.monotonic() + 2
    while set(children()) - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert set(children()) - before == set(), "a child process outlived its call"


def test_timeout_kills_and_reaps(no_children_after):
    a = np.zeros(1, np.int64)
    with pytest.raises(SandboxError, match=r"the loop did not finish within 0.5 s"):
        run_in_child(hang, [a], 0.5, "the loop")
    assert a[0] == 0  # not copied back


def test_crash_is_reported_and_reaped(no_children_after):
    def crash(views):
        os.kill(os.getpid(), signal.SIGSEGV)

    with pytest.raises(SandboxError, match=r"crashed \(SIGSEGV\)"):
        run_in_child(crash, [np.zeros(1)], 10, "the crash")


def test_an_exception_in_the_child_is_reported_and_reaped(no_children_after):
    def fails(views):
        raise ValueError("no")

    with pytest.raises(SandboxError, match="raised an exception"):
        run_in_child(fails, [np.zeros(1)], 10, "it")


def _raise_soon(sig: int, after: float) -> threading.Timer:
    timer = threading.Timer(after, os.kill, (os.getpid(), sig))
    timer.start()
    return timer


def test_ctrl_c_while_waiting_kills_and_reaps(no_children_after):
    _raise_soon(signal.SIGINT, 0.3)
    with pytest.raises(KeyboardInterrupt):
        run_in_child(hang, [np.zeros(1, np.int64)], 30, "the loop")


def test_a_budget_exception_while_waiting_kills_and_reaps(no_children_after):
    class Budget(Exception):
        pass

    def ring(signum, frame):
        raise Budget("over budget")

    previous = signal.signal(signal.SIGALRM, ring)
    try:
        _raise_soon(signal.SIGALRM, 0.3)  # an alarm the sandbox could not see coming
        with pytest.raises(Budget):
            run_in_child(hang, [np.zeros(1, np.int64)], 30, "the loop")
    finally:
        signal.signal(signal.SIGALRM, previous)


def test_the_specific_hang_message_wins_over_the_budget_advice(no_children_after):
    with time_budget(2, "GENERIC ADVICE about Python loops"):
        with pytest.raises(SandboxError) as err:
            run_in_child(hang, [np.zeros(1, np.int64)], 30, "the kernel",
                         hang_hint="SPECIFIC HINT")
    assert not isinstance(err.value, TimeBudgetExceeded)
    assert "what was left of the time budget" in str(err.value)
    assert "SPECIFIC HINT" in str(err.value) and "GENERIC" not in str(err.value)


def test_a_budget_that_rings_while_the_child_is_reported_waits_for_its_message(
        no_children_after):
    def slow_inspect(views, how):  # a report slower than the budget's margin (a loaded hub)
        time.sleep(1.0)

    with time_budget(2, "GENERIC ADVICE about Python loops"):
        with pytest.raises(SandboxError) as err:
            run_in_child(hang, [np.zeros(1, np.int64)], 30, "the kernel",
                         hang_hint="SPECIFIC HINT", inspect=slow_inspect)
    assert not isinstance(err.value, TimeBudgetExceeded)
    assert "SPECIFIC HINT" in str(err.value)


HANGS = ('extern "C" __global__ void k(int *a, int n)\n{\n'
         '    while (a[0] == 0) { }\n}\n')


def test_a_hanging_kernel_under_a_budget_gets_the_kernels_message(no_children_after):
    with time_budget(3, "GENERIC ADVICE"):
        with pytest.raises(EmulationError) as err:
            run_on_cpu(HANGS, "k", 1, 2, np.zeros(1, np.int32), np.int32(1), check=False)
    assert "k did not finish" in str(err.value) and "GENERIC" not in str(err.value)


def test_a_divergent_barrier_is_reported_at_once_under_a_budget(no_children_after):
    src = ('extern "C" __global__ void k(int *a, int n)\n{\n'
           '    if (threadIdx.x == 0) { __syncthreads(); }\n'
           '    else { while (1) { __syncthreads(); } }\n}\n')
    t0 = time.monotonic()
    with time_budget(20, "GENERIC ADVICE"):
        with pytest.raises(DivergentBarrier, match="met at different __syncthreads"):
            run_on_cpu(src, "k", 1, 4, np.zeros(4, np.int32), np.int32(4))
    assert time.monotonic() - t0 < 20


def test_a_crashing_kernel_is_reaped(no_children_after):
    src = ('extern "C" __global__ void k(int *a, int n)\n{\n'
           '    a[threadIdx.x * 100000000LL] = 1;\n}\n')
    with pytest.raises(EmulationError, match="crashed"):
        run_on_cpu(src, "k", 1, 4, np.zeros(4, np.int32), np.int32(4))


def test_strided_arrays_are_copied_back_in_place(no_children_after):
    base = np.zeros((4, 6), np.int64)
    view = base[:, ::2]  # not contiguous

    def fill(views):
        views[0][:] = np.arange(views[0].size)

    run_in_child(fill, [view], 10, "fill")
    np.testing.assert_array_equal(view, np.arange(12).reshape(4, 3))
    assert base[:, 1::2].sum() == 0
