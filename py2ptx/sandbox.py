"""Run code that may crash or hang in a child process, so the notebook's kernel survives.

Used wherever the course runs code a student wrote in C or CUDA C on the CPU: the
C bubble sort of lab 02 (:mod:`py2ptx.exercises`) and every kernel run on CPU threads
(:mod:`py2ptx.cuda_on_cpu`). A wrong pointer in C does not raise an exception -- it
kills the process, and in Jupyter that process is the kernel, with every variable
the student had. Here it kills a forked copy instead:

* the arrays the code works on are copied into memory shared with the child, and
  copied back only if it finished;
* a crash (SIGSEGV, SIGBUS, SIGABRT...) becomes an exception naming the signal;
* a hang is stopped after ``timeout`` seconds and becomes an exception too;
* no child outlives the call: whatever ends it -- a result, a crash, the timeout, or
  an exception raised in the parent while it waits (Ctrl-C, a self-check's time
  budget) -- the child is killed and reaped before the call returns or raises, and
  on Linux a child whose parent dies is killed by the kernel.

A time budget around the call (a SIGALRM interval timer, as the labs' self-checks
in :mod:`py2ptx.exercises` set) shortens ``timeout`` to what the budget has left,
minus a margin: the message that names the code that hung comes first, not the
budget's advice about Python loops.
Linux and macOS only (``os.fork``), like the rest of the course's C tooling.
"""

from __future__ import annotations

import ctypes
import faulthandler
import mmap
import os
import select
import signal
import time
from collections.abc import Callable

import numpy as np

#: Seconds of a time budget kept back for stopping the child and reporting it.
BUDGET_MARGIN_S = 0.5
#: How many run_in_child calls are reporting a stopped child (its kill, its inspection,
#: the message): a time budget whose alarm rings meanwhile waits (:func:`reporting`), so
#: the specific message, not the budget's generic advice, reaches the student.
_REPORTING = [0]


def reporting() -> bool:
    """Whether a child that ran out of time is being stopped and reported right now."""
    return _REPORTING[0] > 0


#: Signals held while the parent forks and while it kills and reaps a child: one arriving
#: in between would raise there and leave the child running.
_HELD = {signal.SIGINT, signal.SIGALRM}


class SandboxError(RuntimeError):
    """The code crashed, hung, or failed in its child process."""


def run_in_child(fn: Callable[[list[np.ndarray]], int | None], arrays: list[np.ndarray],
                 timeout: float, what: str | Callable[[list[np.ndarray]], str], *,
                 hang_hint: str | Callable[[list[np.ndarray]], str] = "",
                 crash_hint: str = "",
                 error: type[Exception] = SandboxError, pad: int = 64, scratch: int = 0,
                 inspect: Callable[[list[np.ndarray], str], Exception | None] | None = None,
                 ) -> int:
    """Call ``fn(views)`` in a forked child and return its exit code (its return value).

    ``views`` are copies of ``arrays`` in shared memory, ``pad`` bytes apart (a red
    zone a memory checker can watch); after a clean exit they are copied back into
    ``arrays``. With ``scratch``, one more view of that many zero bytes ends the
    list: shared with the child, never copied in or out (a trace the child writes).
    Raises ``error`` if the child is killed by a signal, runs past ``timeout``
    seconds, or raises. ``what`` names the code in those messages; it may be a
    function of the views, called once the child has stopped, to say how far the
    child got (which of several launches, say); ``hang_hint`` may be one too (to say
    what the child was doing when it was stopped). ``inspect(views, how)``, called once
    the child has stopped (``how``: "exit" (code 0), "exit N", "crash" or "timeout"),
    may return a more
    specific exception, raised instead of the generic one (and instead of copying
    the arrays back).
    """
    timeout, budgeted = _within_budget(timeout)
    # A red zone before the first array too: inside this mapping, not whatever memory
    # (a thread's stack) the kernel happened to map just below it.
    offsets = np.cumsum([pad] + [a.nbytes + pad for a in arrays]).tolist()
    shared = mmap.mmap(-1, max(1, offsets[-1] + scratch))
    pid = None
    try:
        views = [np.frombuffer(shared, dtype=a.dtype, count=a.size, offset=off)
                 for a, off in zip(arrays, offsets, strict=False)]
        for a, v in zip(arrays, views, strict=False):
            v[:] = a.ravel()
        if scratch:
            views.append(np.frombuffer(shared, dtype=np.uint8, count=scratch,
                                       offset=offsets[-1]))
        parent, prctl = os.getpid(), _libc_prctl()
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
        try:
            pid = os.fork()
            if pid == 0:  # the child: run, leave, and never return into the caller's code
                _child(fn, views, mask, parent, prctl)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        status = _wait(pid, timeout)
        if status is None:
            _REPORTING[0] += 1
            try:
                _kill_and_reap(pid)
                pid = None
                _raise_specific(inspect, views, "timeout")
                within = (f"{timeout:.3g} s (what was left of the time budget)" if budgeted
                          else f"{timeout:g} s")
                raise error(f"{_name(what, views)} did not finish within {within} and was "
                            f"stopped. {_name(hang_hint, views)}".rstrip())
            finally:
                _REPORTING[0] -= 1
        pid = None  # _wait reaped it
        if os.WIFSIGNALED(status):
            _raise_specific(inspect, views, "crash")
            sig = signal.Signals(os.WTERMSIG(status)).name
            raise error(f"{_name(what, views)} crashed ({sig}). {crash_hint}".rstrip())
        code = os.WEXITSTATUS(status)
        _raise_specific(inspect, views, "exit" if code == 0 else f"exit {code}")
        if code == 4:
            raise error(f"{_name(what, views)} raised an exception in its child process "
                        f"(see above).")
        for a, v in zip(arrays, views, strict=False):  # any layout, strided too
            a[...] = v.reshape(a.shape)
        return code
    finally:
        if pid is not None:  # the parent was interrupted while it waited: Ctrl-C, a budget
            _kill_and_reap(pid)
        views = None
        try:
            shared.close()
        except BufferError:  # a view is still referenced somewhere; the GC frees it
            pass


def _raise_specific(inspect, views, how: str) -> None:
    if inspect is not None:
        err = inspect(views, how)
        if err is not None:
            raise err


def _name(what, views) -> str:
    return what(views) if callable(what) else what


def _child(fn, views, mask, parent: int, prctl):
    """The forked child's whole life: run ``fn``, report through the exit code, exit."""
    code = 4
    try:
        faulthandler.disable()  # the parent reports a crash in words, not as a dump
        _die_with(parent, prctl)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        code = int(fn(views) or 0)
    except BaseException as err:  # noqa: BLE001 -- reported through the exit code
        os.write(2, f"{type(err).__name__}: {err}\n".encode())
    finally:
        os._exit(code)


def _libc_prctl():
    """libc's ``prctl``, looked up once in the parent (a lookup in every child costs a
    dlopen per fork), or None where there is none (not Linux)."""
    global _PRCTL
    if _PRCTL is False:
        try:
            _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):  # not Linux: the parent's finally is the only guard
            _PRCTL = None
    return _PRCTL


_PRCTL = False  # not looked up yet


def _die_with(parent: int, prctl) -> None:
    """On Linux, ask the kernel to kill this child if its parent dies (a notebook kernel
    restarted or killed mid-check), so a hung child cannot spin on for ever."""
    if prctl is None:
        return
    prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the request was made
        os._exit(4)


def _within_budget(timeout: float) -> tuple[float, bool]:
    """``timeout``, or what an armed interval timer (a time budget) leaves, if less.

    Returns the timeout and whether the budget shortened it.
    """
    if not hasattr(signal, "getitimer"):
        return timeout, False
    left, _ = signal.getitimer(signal.ITIMER_REAL)
    if left <= 0:
        return timeout, False
    budget = left - min(BUDGET_MARGIN_S, left / 4)
    return (budget, True) if budget < timeout else (timeout, False)


def _wait(pid: int, timeout: float) -> int | None:
    """The child's wait status (it is reaped), or None if it still runs at the deadline."""
    deadline = time.monotonic() + timeout
    try:  # a pidfd wakes the parent the moment the child exits (Linux >= 5.3)
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    delay = 0.0005
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if pidfd is not None:
                select.select([pidfd], [], [], left)
            else:
                time.sleep(min(delay, left))
                delay = min(delay * 2, 0.01)
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _kill_and_reap(pid: int) -> None:
    """SIGKILL the child and wait until it is gone, Ctrl-C and alarms held meanwhile."""
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:  # reaped already (a SIGCHLD handler elsewhere)
            pass
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
