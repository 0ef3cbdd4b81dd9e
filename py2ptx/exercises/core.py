"""What every lab's self-checks share: the exercise object, its failure, the time budget,
multiple-choice questions whose answers are not in the source, and a GPU kernel from text.

A failed check shows its message alone: :class:`ExerciseFailed` and :class:`TimeBudgetExceeded`
give IPython a ``_render_traceback_``, which it prints instead of the traceback (a student
needs the message, not forty frames of py2ptx). ``PY2PTX_FULL_TRACEBACK=1`` brings the full
traceback back -- with the error inside the checker chained below -- for whoever debugs a check.

Students receive this package, so a multiple-choice answer is kept only as a salted hash,
and what the check says after each answer is sealed with that answer (XOR with a SHA-256
keystream): reading the source gives neither the letter nor the explanation that would
point at it. To change what a check says, open the response with its letter and seal the
new text: ``seal(_SALT, letter, "right ...", width)`` (``right `` or ``wrong `` first, and the
width of the question's other responses), and paste it.
"""

from __future__ import annotations

import base64
import hashlib
import linecache
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .. import doctor
from ..cbuild import CArgumentError, CCompileError
from ..checks import WrongResult
from ..cudatools import CudaCompileError, cubin_for, ptx_for
from ..gpu import KernelArgumentError, LaunchShapeError, kernel_params, load_module
from ..gpu_errors import GPUError
from ..sandbox import SandboxError, reporting

#: Set to 1 (or any value but 0) for full tracebacks from failed self-checks and budgets.
FULL_TRACEBACK_VAR = "PY2PTX_FULL_TRACEBACK"


def full_traceback() -> bool:
    """``PY2PTX_FULL_TRACEBACK=1``: show the full traceback of a failed check."""
    return os.environ.get(FULL_TRACEBACK_VAR, "0") not in ("", "0")


class _MessageOnly:
    """An error a student caused and can fix: IPython prints its message, not its frames."""

    @property
    def _render_traceback_(self):
        # IPython calls value._render_traceback_() where hasattr(value, ...) is true; raising
        # AttributeError here makes hasattr false, and IPython prints the usual traceback.
        if full_traceback():
            raise AttributeError("_render_traceback_")
        return self._message_lines

    def _message_lines(self) -> list[str]:
        first, *rest = str(self).splitlines() or [""]
        return [f"{type(self).__name__}: {first}", *rest]


class ExerciseFailed(_MessageOnly, AssertionError):
    """The answer is wrong; the message says how."""


class TimeBudgetExceeded(_MessageOnly, TimeoutError):
    """A cell ran past its time budget; the message says what to look for."""


class StudentCCompileError(_MessageOnly, CCompileError):
    """gcc rejected the student's C in a self-check: shown as its message alone."""


class StudentCudaCompileError(_MessageOnly, CudaCompileError):
    """NVRTC or ptxas rejected the student's CUDA C in a self-check: its message alone."""


class StudentArgumentError(_MessageOnly, CArgumentError):
    """A self-check's C call got a value of the wrong type: its message alone."""


#: What a self-check re-raises a compiler's or a C call's error as: the same kind (code
#: that catches CCompileError still does), shown to the student without the traceback.
_AS_MESSAGE = ((CCompileError, StudentCCompileError), (CudaCompileError, StudentCudaCompileError),
               (CArgumentError, StudentArgumentError))


#: Errors a student's code causes inside a self-check that keep their own kind (code that
#: catches OutOfBounds or DataRace still does) but are shown as their message alone: the
#: CPU runner's memory, race, barrier and time-out findings, a GPU's launch errors.
_SHOWN_AS_IS = (SandboxError, GPUError, KernelArgumentError, LaunchShapeError)
_MESSAGE_KINDS: dict[type, type] = {}


def message_only(err: BaseException) -> BaseException:
    """``err`` as an exception of a subclass of its own kind, with the same name and
    message, that IPython shows as the message alone (:class:`_MessageOnly`)."""
    if isinstance(err, _MessageOnly):
        return err
    kind = type(err)
    shown = _MESSAGE_KINDS.get(kind)
    if shown is None:
        shown = type(kind.__name__, (_MessageOnly, kind),
                     {"__module__": kind.__module__, "__qualname__": kind.__qualname__,
                      "__doc__": kind.__doc__})
        _MESSAGE_KINDS[kind] = shown
    copy = shown.__new__(shown, *err.args)
    copy.args = err.args
    copy.__dict__.update(getattr(err, "__dict__", {}))
    return copy


def source_text(source_fn, what: str = "the kernel's source") -> str:
    """What a lab's ``..._source()`` function returned, checked to be text: a function that
    prints the source, or forgets ``return``, gets the fix instead of a TypeError."""
    source = source_fn() if callable(source_fn) else source_fn
    if isinstance(source, str):
        return source
    if source is None:
        raise ExerciseFailed(f"your function returned None, not {what}: it must `return r''' ... "
                             f"'''` the source text (printing it is not enough)")
    raise ExerciseFailed(f"your function returned a {type(source).__name__}, not {what}: "
                         f"return the source as one string, `return r''' ... '''`")


class _OverBudget(BaseException):
    """Raised by the alarm; a BaseException, so that ``except Exception`` cannot swallow it."""

    def __init__(self, budget: time_budget):
        super().__init__()
        self.budget = budget


#: How long a budget's alarm waits, again and again, while a stopped child is reported.
_DEFER_S = 0.05


class time_budget:  # noqa: N801 -- a context manager, named as contextlib names its own
    """``with time_budget(60, "what to do"):`` stops the block after 60 s with that advice.

    SIGALRM interrupts Python code, in the main thread of a process that has SIGALRM (Linux,
    macOS), which is where notebooks run their cells; elsewhere the block runs without a
    budget. C called through ctypes is interrupted only when it returns to Python (untrusted
    C runs in :mod:`py2ptx.sandbox` instead). An alarm already set that rings sooner (an
    outer budget, pytest-timeout) stays in charge; one that rings later is set again, for
    the time it has left, when the block ends.
    """

    def __init__(self, seconds: float, message: str, *, what: str = "This cell",
                 error: type[Exception] = TimeBudgetExceeded):
        self.seconds, self.message, self.what, self.error = seconds, message, what, error
        self.armed = False

    def __enter__(self):
        if not (hasattr(signal, "SIGALRM")
                and threading.current_thread() is threading.main_thread()):
            return self
        self.outer_left = signal.getitimer(signal.ITIMER_REAL)[0]
        if self.outer_left and self.outer_left <= self.seconds:
            return self
        self.previous = signal.signal(signal.SIGALRM, self._alarm)
        self.start = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        self.armed = True
        return self

    def _alarm(self, signum, frame):
        if reporting():  # a child that ran out of time is being reported: its message first
            signal.setitimer(signal.ITIMER_REAL, _DEFER_S)
            return
        raise _OverBudget(self)

    def __exit__(self, kind, err, tb):
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            # None: the handler before was not set from Python; the default is what it did.
            signal.signal(signal.SIGALRM, signal.SIG_DFL if self.previous is None
                          else self.previous)
            self.armed = False
            if self.outer_left:
                left = self.outer_left - (time.monotonic() - self.start)
                signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3))
        if isinstance(err, _OverBudget) and err.budget is self:
            stopped = self.error(f"{self.what} was stopped after {self.seconds:g} s. "
                                 f"{self.message}")
            raise stopped from (err if full_traceback() else None)
        return False


_CHECK_TOO_LONG = ("Its inputs are small (at most a few hundred keys), and the reference answer "
                   "takes well under a second: look for a loop that never ends (a `while` whose "
                   "condition never changes, an index that never moves) or a loop inside a loop "
                   "too many.")


@dataclass(frozen=True)
class Exercise:
    """One exercise: what to do, and the one call that checks an answer."""

    lab: str
    name: str
    task: str  # one line: what the student must do
    checker: Callable  # answer -> summary line; raises ExerciseFailed / WrongResult
    #: Seconds the whole self-check may take; the reference answer needs a small fraction.
    budget_s: float = 30.0
    #: What to say when the check runs past ``budget_s`` (default: look for an endless loop).
    too_long: str = ""

    def check(self, answer) -> None:
        """Print a ✓ line, or raise with a message that says which input failed and how.

        An exercise not yet attempted raises ``NotImplementedError`` -- nothing else -- so
        an unsolved lab fails exactly at its exercises.
        """
        cause = full_traceback()
        try:
            with time_budget(self.budget_s, self.too_long or _CHECK_TOO_LONG, error=ExerciseFailed,
                             what=f"{self.lab}, {self.name}: the self-check"):
                summary = self.checker(answer)
        except NotImplementedError as err:
            raise NotImplementedError(
                f"{self.lab}, exercise {self.name!r} is not solved yet: {self.task} "
                f"(replace `raise NotImplementedError()` with your code)."
            ) from (err if cause else None)
        except (WrongResult, ExerciseFailed) as err:
            message = str(err)
            if not message.startswith(f"{self.lab}, "):
                message = f"{self.lab}, {self.name}: {message}"
            raise ExerciseFailed(message) from (err if cause else None)
        except (CCompileError, CudaCompileError, CArgumentError) as err:
            if isinstance(err, _MessageOnly):
                raise
            kind = next(mine for theirs, mine in _AS_MESSAGE if isinstance(err, theirs))
            shown = kind(f"{self.lab}, {self.name}: {err}", *_extra(err))
            raise shown from (err if cause else None)
        except _SHOWN_AS_IS as err:
            if cause or isinstance(err, _MessageOnly):
                raise
            shown = message_only(err)
            if not str(shown).startswith(f"{self.lab}, "):
                shown.args = (f"{self.lab}, {self.name}: {shown.args[0]}", *shown.args[1:]) \
                    if shown.args and isinstance(shown.args[0], str) else shown.args
            raise shown from None
        except Exception as err:
            where = _student_frame(err)
            if cause or where is None:
                raise
            raise ExerciseFailed(f"{self.lab}, {self.name}: {_raised_in_student_code(err, where)}"
                                 ) from None
        print(f"✓ {self.lab}, {self.name}: {summary}")


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_LIBRARIES = tuple({os.path.abspath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})

#: What to add when a student's own code raises one of these inside a self-check.
_RAISED_HINTS = {
    IndexError: "An index past the end: with n items the last valid index is n - 1, so "
                "`a[j + 1]` needs j < n - 1 (check each loop's range).",
    ZeroDivisionError: "A division by a value that can be 0: what is it for n = 0 or 1?",
    RecursionError: "A function that calls itself without end.",
    TypeError: "A value of the wrong type: check what each name holds at that line.",
    NameError: "A name used before it is defined: define it in the cell, or run the cell "
               "that defines it first.",
}


def _student_frame(err: BaseException):
    """The innermost frame of ``err``'s traceback that is the student's code -- called by
    the check, not py2ptx and not a library -- or None (then the error is the check's)."""
    tb, in_check, found = err.__traceback__, False, None
    while tb is not None:
        name = os.path.abspath(tb.tb_frame.f_code.co_filename)
        ours = name.startswith(_PACKAGE + os.sep)
        library = name.startswith(_LIBRARIES) or name.startswith("<frozen")
        if ours:
            in_check = True
        elif in_check and not library:
            found = tb
        tb = tb.tb_next
    return found


def _raised_in_student_code(err: BaseException, tb) -> str:
    code = tb.tb_frame.f_code
    line = linecache.getline(code.co_filename, tb.tb_lineno).strip()
    shown = f": `{line}`" if line else ""
    hint = next((h for kind, h in _RAISED_HINTS.items() if isinstance(err, kind)), "")
    return (f"your {code.co_name} raised {type(err).__name__}: {err} (line {tb.tb_lineno} "
            f"of its cell{shown}). {hint}").rstrip()


def _extra(err: Exception) -> tuple:
    """The arguments besides the message that ``err``'s kind takes (its log, its errors)."""
    if isinstance(err, CCompileError):
        return err.log, err.errors
    return (err.log,) if isinstance(err, CudaCompileError) else ()


# --------------------------------------------------------------------------- answers kept hidden


def digest(salt: str, answer: str) -> str:
    """The salted hash an answer is stored as."""
    return hashlib.sha256(f"{salt}:answer:{answer}".encode()).hexdigest()[:24]


def _xor(salt: str, answer: str, data: bytes) -> bytes:
    """``data`` XOR a SHA-256 keystream of ``answer``: sealing and unsealing are one step."""
    blocks = (hashlib.sha256(f"{salt}:seal:{answer}:{i}".encode()).digest()
              for i in range(len(data) // 32 + 1))
    return bytes(a ^ b for a, b in zip(data, b"".join(blocks)[:len(data)], strict=True))


def seal(salt: str, answer: str, text: str, width: int = 0) -> str:
    """``text`` made readable only with ``answer`` (see :func:`unseal`), padded with spaces
    to ``width`` bytes: one question's responses have one length, so that the right one
    cannot be told by its size."""
    return base64.b64encode(_xor(salt, answer, text.encode().ljust(width))).decode()


def unseal(salt: str, answer: str, sealed: str) -> str:
    """The text :func:`seal` sealed with ``answer``."""
    return _xor(salt, answer, base64.b64decode(sealed)).decode()


@dataclass(frozen=True)
class MultipleChoice:
    """A checker for a question with lettered options, its answer kept as a salted hash.

    ``responses`` maps :func:`digest` of each letter to what the check says for it, sealed
    with that letter: ``right <explanation>`` for the answer, ``wrong <hint>`` for the
    others. ``more`` adds a computed clause after the right answer's explanation.
    """

    options: dict[str, str]  # letter -> the option, as the lab shows it
    salt: str
    responses: dict[str, str]
    more: Callable[[], str] | None = None

    def __call__(self, answer_fn: Callable[[], str]) -> str:
        answer = str(answer_fn()).strip().lower()
        sealed = self.responses.get(digest(self.salt, answer))
        if answer not in self.options or sealed is None:
            raise ExerciseFailed(f"answer with one letter of {', '.join(self.options)}; "
                                 f"got {answer!r}")
        verdict, _, say = unseal(self.salt, answer, sealed).rstrip().partition(" ")
        if verdict != "right":
            raise ExerciseFailed(f"not ({answer}). Hint: {say}")
        return say + (self.more() if self.more else "")


# --------------------------------------------------------------------------- GPU kernels


def _kinds(params) -> list[tuple[str, bool]]:
    """Parameters as what a launch passes: (type, pointer?); names do not matter."""
    return [({"unsigned": "unsigned int"}.get(p.ctype, p.ctype), p.pointer) for p in params]


def require_params(source: str, kernel: str, expected: list[str], declaration: str,
                   why: str = "") -> None:
    """Refuse a kernel whose parameters' types are not those of ``expected``
    (``["int *a", "int n"]``; the names may differ), naming the ``declaration`` to write
    and the parameters the student's kernel has."""
    try:
        params = kernel_params(source, kernel)
    except KeyError as err:
        raise ExerciseFailed(f"{err.args[0]}. The check launches {declaration}") from None
    want = kernel_params(f"__global__ void {kernel}({', '.join(expected)})", kernel)
    if _kinds(params) != _kinds(want):
        raise ExerciseFailed(f"the kernel must be {declaration}{why}; "
                             f"yours takes ({', '.join(map(str, params))})")


def compile_for_both(source: str) -> str:
    """A cubin for the H200 (sm_90) and the T4 (sm_75); raises with NVRTC's log.
    Returns what was done, in the words a ✓ line uses."""
    for arch in ("sm_90", "sm_75"):
        cubin_for(source, arch)
    return "compiled to cubins for sm_90 and sm_75"


def require_exported(source: str, kernel: str) -> None:
    """Refuse a kernel that a GPU launch could not find by its name: without ``extern "C"``
    NVCC-style C++ name mangling exports ``odd_even_shared`` as ``_Z15odd_even_sharedPii``,
    and ``RawModule.get_function("odd_even_shared")`` fails -- on a GPU only, so read the
    PTX's ``.entry`` names here, where there is none."""
    entries = re.findall(r"^\s*\.(?:visible\s+)?\.entry\s+([\w$]+)", ptx_for(source, "sm_90"),
                         re.MULTILINE)
    if kernel in entries:
        return
    mangled = [e for e in entries if e.startswith(f"_Z{len(kernel)}{kernel}")]
    if mangled:
        raise ExerciseFailed(
            f"your kernel is exported as `{mangled[0]}` (C++ name mangling), so a GPU launch "
            f"that asks for {kernel!r} (RawModule.get_function) would not find it: write "
            f'`extern "C"` before `__global__ void {kernel}(...)`')
    raise ExerciseFailed(f"no kernel {kernel!r} in the compiled PTX; its kernels: "
                         f"{', '.join(entries) or 'none'}")


def gpu_name() -> str:
    """The GPU a check ran on, as its ✓ line names it."""
    return doctor.probe().gpu.get("name", "a GPU")


def where_run(ran_on_cpu: str, gpu: str | None) -> str:
    """The end of a ✓ line: what ran where, and that nothing ran on a GPU when none did."""
    if gpu is not None:
        return f"{ran_on_cpu}, and {gpu}" if ran_on_cpu else gpu
    tail = "not run on a GPU: there is none here"
    return f"{ran_on_cpu}; {tail}" if ran_on_cpu else tail


def gpu_kernel(source: str, name: str):
    """``(cupy, kernel)``: kernel ``name`` of the CUDA C ``source``, loaded on this machine's
    GPU -- or None where there is no GPU (the check then says it ran on the CPU only)."""
    if not doctor.has_gpu():
        return None
    import cupy  # optional, and only importable where there is a GPU

    return cupy, load_module(source).kernel(name)
