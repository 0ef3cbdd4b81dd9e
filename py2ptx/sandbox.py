"""Run code that may crash or hang in a child process, so the notebook's kernel survives.

Used wherever the course runs code a student wrote in C or CUDA C on the CPU: the
C bubble sort of lab 02 (:mod:`py2ptx.exercises`) and every kernel run on CPU threads
(:mod:`py2ptx.cuda_on_cpu`). A wrong pointer in C does not raise an exception -- it
kills the process, and in Jupyter that process is the kernel, with every variable
the student had. Here it kills a forked copy instead:

* the arrays the code works on are copied into memory shared with the child, and
  copied back only if it finished;
* a crash (SIGSEGV, SIGBUS, SIGABRT...) becomes an exception naming the signal;
* a hang is stopped after ``timeout`` seconds and becomes an exception too.
Linux and macOS only (``os.fork``), like the rest of the course's C tooling.
"""

from __future__ import annotations

import faulthandler
import mmap
import os
import signal
import time
from collections.abc import Callable

import numpy as np


class SandboxError(RuntimeError):
    """The code crashed, hung, or failed in its child process."""


def run_in_child(fn: Callable[[list[np.ndarray]], int | None], arrays: list[np.ndarray],
                 timeout: float, what: str, *, hang_hint: str = "", crash_hint: str = "",
                 error: type[Exception] = SandboxError) -> int:
    """Call ``fn(views)`` in a forked child and return its exit code (its return value).

    ``views`` are copies of ``arrays`` in shared memory; after a clean exit they are
    copied back into ``arrays``. Raises ``error`` if the child is killed by a signal,
    runs past ``timeout`` seconds, or raises.
    """
    offsets = np.cumsum([0] + [a.nbytes + 64 for a in arrays]).tolist()
    shared = mmap.mmap(-1, max(1, offsets[-1]))
    try:
        views = [np.frombuffer(shared, dtype=a.dtype, count=a.size, offset=off)
                 for a, off in zip(arrays, offsets, strict=False)]
        for a, v in zip(arrays, views, strict=True):
            v[:] = a.ravel()
        pid = os.fork()
        if pid == 0:  # the child: run, leave, and never return into the caller's code

            faulthandler.disable()  # the parent reports a crash in words, not as a dump
            code = 4
            try:
                code = int(fn(views) or 0)
            except BaseException as err:  # noqa: BLE001 -- reported through the exit code
                os.write(2, f"{type(err).__name__}: {err}\n".encode())
            finally:
                os._exit(code)
        status = _wait(pid, timeout)
        if status is None:
            raise error(f"{what} did not finish within {timeout:g} s and was stopped. "
                        f"{hang_hint}".rstrip())
        if os.WIFSIGNALED(status):
            sig = signal.Signals(os.WTERMSIG(status)).name
            raise error(f"{what} crashed ({sig}). {crash_hint}".rstrip())
        code = os.WEXITSTATUS(status)
        if code == 4:
            raise error(f"{what} raised an exception in its child process (see above).")
        for a, v in zip(arrays, views, strict=True):
            a.ravel()[:] = v
        return code
    finally:
        views = None
        try:
            shared.close()
        except BufferError:  # a view is still referenced somewhere; the GC frees it
            pass


def _wait(pid: int, timeout: float) -> int | None:
    """The child's wait status, or None after killing it at the deadline."""
    deadline = time.monotonic() + timeout
    delay = 0.0005
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(delay)
        delay = min(delay * 2, 0.01)
