"""The C builder: C source -> shared library -> a Python-callable function.

Taught in notebook 02 (C and Numba); notebook 00 uses :func:`asm_for`.

A C file (or a string a student typed) is compiled by the system C compiler into a
shared library kept in a per-user cache, keyed by the source, the flags and the
compiler's version, so a notebook re-run costs nothing. The cache lives under the
user's own cache directory with mode 0700; a directory that other users could write
to is refused, because whoever can write there could make you load their code.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .kernels import KERNELS, read_source, strip_comments

KERNELS_C = KERNELS / "c"

#: ctypes type for "a writable, C-contiguous int32 NumPy array" (``int32_t *``).
INT32_ARRAY = np.ctypeslib.ndpointer(dtype=np.int32, flags="C_CONTIGUOUS,WRITEABLE")


class CCompileError(RuntimeError):
    """The C compiler rejected the source; the message is the compiler's own."""

    def __init__(self, message: str, log: str = "", errors: Sequence[CError] = ()):
        super().__init__(message)
        self.log = log
        #: Each error in the student's own file and line (:func:`compile_errors`).
        self.errors = list(errors)


class UnsafeCacheDir(RuntimeError):
    """The cache directory could be written by another user."""


# --------------------------------------------------------------------------- cache


def cache_dir() -> Path:
    """This user's compile cache: ``$XDG_CACHE_HOME/py2ptx`` (default ``~/.cache/py2ptx``).

    ``PY2PTX_CACHE`` overrides the location (tests use it). Created with mode 0700;
    refused if it belongs to someone else or is writable by group or others.
    """
    override = os.environ.get("PY2PTX_CACHE")
    if override:
        path = Path(override)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(base) / "py2ptx"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_uid != os.getuid():
        raise UnsafeCacheDir(
            f"The compile cache {path} belongs to another user (uid {info.st_uid}). "
            f"Loading a library from it could run their code. Set PY2PTX_CACHE to a "
            f"folder of your own, e.g. PY2PTX_CACHE=~/.cache/py2ptx."
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeCacheDir(
            f"The compile cache {path} can be written by other users "
            f"(mode {stat.filemode(info.st_mode)}). Loading a library from it could run "
            f"their code. Fix it with `chmod 700 {path}` or set PY2PTX_CACHE to a "
            f"private folder."
        )
    return path


# --------------------------------------------------------------------------- compiler


def compiler() -> str:
    """The system C compiler: ``$CC``, else ``cc``, else ``gcc``."""
    for name in (os.environ.get("CC"), "cc", "gcc"):
        if name and shutil.which(name):
            return shutil.which(name)
    raise CCompileError(
        "No C compiler was found (tried $CC, cc, gcc). On Debian/Ubuntu: "
        "`sudo apt-get install gcc`; with conda: `conda install -c conda-forge c-compiler`."
    )


@functools.cache
def compiler_version() -> str:
    out = subprocess.run([compiler(), "--version"], capture_output=True, text=True, timeout=60)
    return out.stdout.splitlines()[0] if out.stdout else "unknown"


class FlagsError(TypeError):
    """Compiler flags given as something other than a list of strings."""


def _flags(flags) -> tuple[str, ...]:
    """``flags`` as a tuple of strings; one string (``"-O2 -fno-tree-vectorize"``) is
    refused with the list to write, since ``tuple("-O2")`` would be ``('-', 'O', '2')``."""
    if isinstance(flags, str):
        raise FlagsError(f"flags must be a list of strings, one flag each: {flags.split()!r}, "
                         f"not the string {flags!r}")
    flags = tuple(flags)
    if len(flags) > 1 and all(isinstance(f, str) and len(f) == 1 for f in flags):
        text = "".join(flags)  # a string that went through tuple() on its way here
        raise FlagsError(f"flags must be a list of strings, one flag each: {text.split()!r}, "
                         f"not the string {text!r}")
    bad = [f for f in flags if not isinstance(f, str)]
    if bad:
        raise FlagsError(f"every flag must be a string, like '-O2'; got {bad[0]!r}")
    return flags


def _source(source: str | os.PathLike, name: str | None) -> tuple[str, str]:
    return read_source(source, ".c", name)


def _run_compiler(args: list[str], text: str, display: str, flags: Sequence[str]) -> None:
    """Compile ``text`` (written as ``display`` in a private temp dir) with ``args``."""
    # A text with `#line` directives (the CPU runner's prelude, then the student's file) is
    # written under another name: gcc would otherwise quote the prelude's lines as the
    # student's, since it reads a quoted line from the file the directive names.
    file = f"py2ptx-prelude-{display}" if _LINE_DIRECTIVE.search(text) else display
    with tempfile.TemporaryDirectory(prefix="py2ptx-", dir=cache_dir()) as tmp:
        src = Path(tmp) / file
        src.write_text(text)
        run = subprocess.run(
            [compiler(), *args, str(src)],
            capture_output=True, text=True, cwd=tmp, timeout=120,
            env={**os.environ, "LC_ALL": "C"},  # 'for', not the locale's typographic quotes
        )
    if run.returncode != 0:
        # The compiler names the file by its temporary path; students know it by its name.
        log = run.stderr.replace(str(src), file).replace(f"{tmp}/", "").strip()
        errors = compile_errors(log, text, file)
        where = f" ({errors[0].summary()})" if errors else ""
        raise CCompileError(
            f"{Path(compiler()).name} could not compile {display} with "
            f"{' '.join(flags) or 'no flags'}{where}\n\n{render_errors(errors) or log}",
            log, errors,
        )


_LINE_DIRECTIVE = re.compile(r'^#line\s+(\d+)\s+"([^"]+)"', re.MULTILINE)
_DIAGNOSTIC = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?:(?P<col>\d+):)?\s*"
                         r"(?P<kind>(?:fatal )?error|warning|note):\s*(?P<message>.*)$",
                         re.MULTILINE)
#: gcc's notes that say nothing about the student's line.
_NOISE = ("each undeclared identifier is reported only once",)


@dataclass(frozen=True)
class CError:
    """One compiler error, placed in the student's own file and line."""

    file: str
    line: int
    message: str
    quote: str  # the student's line, as they wrote it ('' where it is not theirs)
    fix: str = ""  # one sentence, where the error has a usual cause

    def summary(self) -> str:
        fix = f" -- {self.fix[:1].lower()}{self.fix[1:]}" if self.fix else ""
        return f"line {self.line}: {self.message}{fix}"


def source_lines(text: str, file: str) -> dict[str, dict[int, str]]:
    """file name -> {line number: line} as the compiler numbers them: ``#line N "name"``
    directives start a new file's numbering; lines before the first belong to ``file``."""
    out: dict[str, dict[int, str]] = {}
    current, number = file, 1
    for line in text.splitlines():
        directive = _LINE_DIRECTIVE.match(line)
        if directive:
            current, number = directive.group(2), int(directive.group(1))
            continue
        out.setdefault(current, {})[number] = line
        number += 1
    return out


_EXPECTED_BEFORE = re.compile(r"expected (.+?) before '(.+?)'")


def _missing_before(message: str, line: int, lines: dict[int, str]) -> str:
    """"expected ';' before 'for'" with 'for' first on its line: the ';' belongs at the
    end of the line before, which is where the student should look."""
    match = _EXPECTED_BEFORE.search(message)
    if not match or not lines.get(line, "").strip().startswith(match.group(2)):
        return ""
    previous = max((n for n in lines if n < line and lines[n].strip()), default=None)
    if previous is None:
        return ""
    wanted = "';'" if "';'" in match.group(1) else match.group(1).split(" or ")[-1]
    return (f"The {wanted} is probably missing at the end of line {previous}: "
            f"`{lines[previous].strip()}`")


def compile_errors(log: str, text: str, file: str) -> list[CError]:
    """The errors in a gcc log, each with the student's line quoted from ``text``.

    Errors in lines the student did not write (a prelude before a ``#line`` directive,
    named ``py2ptx-prelude-...``) keep their message but get no quote.
    """
    lines = source_lines(text, file)
    out = []
    for m in _DIAGNOSTIC.finditer(log):
        if m.group("kind") == "warning" or any(n in m.group("message") for n in _NOISE):
            continue
        name, number = m.group("file"), int(m.group("line"))
        if m.group("kind") == "note":
            if out and out[-1].file == name:  # gcc's own suggestion, e.g. a header to include
                last = out[-1]
                out[-1] = CError(last.file, last.line, last.message, last.quote,
                                 last.fix or _capital(m.group("message").rstrip(".")))
            continue
        if any(e.file == name and e.line == number and e.message == m.group("message")
               for e in out):
            continue  # gcc says it again for the second use on the same line
        theirs = lines.get(name, {}) if not name.startswith("py2ptx-prelude-") else {}
        out.append(CError(name, number, m.group("message"), theirs.get(number, "").rstrip(),
                          _missing_before(m.group("message"), number, theirs)))
    return out


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def render_errors(errors: Sequence[CError], limit: int = 4) -> str:
    """The first errors, each with the student's line under it; later ones are usually
    consequences of the first, so only their number is given."""
    parts = []
    for e in errors[:limit]:
        parts.append(f"{e.file}:{e.line}: error: {e.message}")
        if e.quote:
            parts.append(f"  {e.line:>4} | {e.quote}")
        if e.fix:
            parts.append(f"       {e.fix}")
    if len(errors) > limit:
        parts.append(f"... and {len(errors) - limit} more (often consequences of the first: "
                     f"fix it and compile again)")
    return "\n".join(parts)


# --------------------------------------------------------------------------- building


class CLibrary:
    """A compiled shared library and the source and flags it came from."""

    def __init__(self, path: Path, source: str, name: str, flags: tuple[str, ...]):
        self.path, self.source, self.name, self.flags = path, source, name, flags
        self._dll = ctypes.CDLL(str(path))

    def function(self, symbol: str, argtypes: Sequence, restype=None):
        """The C function ``symbol`` with NumPy/ctypes-typed arguments.

        ``argtypes`` are ctypes types; :data:`INT32_ARRAY` stands for ``int32_t *``
        and makes ctypes refuse arrays of any other dtype -- with a one-line fix
        (:class:`CFunction`) instead of ctypes' own ``ArgumentError``.
        """
        try:
            fn = getattr(self._dll, symbol)
        except AttributeError:
            found = ", ".join(c_functions(self.source)) or "none"
            raise AttributeError(
                f"{self.name} has no function {symbol!r} (the functions it defines: "
                f"{found}); did you spell it as in the C source, and is it not `static`?"
            ) from None
        fn.argtypes, fn.restype = list(argtypes), restype
        return CFunction(fn, symbol, c_functions(self.source).get(symbol, []))

    def __repr__(self) -> str:
        return f"CLibrary({self.name}, flags={' '.join(self.flags)!r})"


class CArgumentError(ctypes.ArgumentError, TypeError):
    """A Python value that the C function's parameter cannot take; the message says the fix."""


class CFunction:
    """A ctypes function whose wrong-type errors say which parameter and how to fix it."""

    def __init__(self, fn, name: str, params: Sequence[str] = ()):
        self._fn, self.name, self.params = fn, name, list(params)
        self.argtypes, self.restype = fn.argtypes, fn.restype

    def __call__(self, *args):
        try:
            return self._fn(*args)
        except ctypes.ArgumentError as err:
            raise CArgumentError(self._explain(err, args)) from None

    def _explain(self, err: ctypes.ArgumentError, args) -> str:
        match = re.match(r"argument (\d+)", str(err))
        i = int(match.group(1)) - 1 if match else 0
        value = args[i] if i < len(args) else None
        param = self.params[i] if i < len(self.params) else f"argument {i + 1}"
        what = (f"a NumPy array of {value.dtype}" if isinstance(value, np.ndarray)
                else f"a {type(value).__name__}")
        if isinstance(value, np.ndarray) and value.dtype != np.int32:
            fix = (f"C reads the memory as 32-bit ints, so {value.dtype} keys would be "
                   f"misread, not converted: pass keys.astype(np.int32) (after checking the "
                   f"values fit)")
        elif isinstance(value, np.ndarray) and not value.flags.writeable:
            fix = "it is read-only and C sorts in place: pass a copy, keys.copy()"
        elif isinstance(value, np.ndarray):
            fix = ("it is not contiguous (a slice with a step?) and C walks one block of "
                   "memory: pass np.ascontiguousarray(keys)")
        elif isinstance(value, list | tuple):
            fix = "pass np.asarray(keys, dtype=np.int32): C takes a NumPy array, not a list"
        else:
            fix = f"ctypes says: {err}"
        return f"{self.name}: parameter {i + 1} (`{param}`) got {what}; {fix}."

    def __repr__(self) -> str:
        return f"CFunction({self.name}({', '.join(self.params)}))"


_C_FUNCTION = re.compile(r"(?:^|[;}])\s*((?:static\s+|inline\s+|extern\s+)*)"
                         r"[A-Za-z_][\w\s\*]*?[\s\*](\w+)\s*\(([^()]*)\)\s*\{")


def c_functions(text: str) -> dict[str, list[str]]:
    """The functions a C source defines, each with its parameters as written
    (``{"bubble_sort": ["int32_t *a", "int32_t n"]}``); ``static`` ones are left out,
    since a library does not export them."""
    text = strip_comments(text)
    text = re.sub(r"^\s*#.*$", "", text, flags=re.MULTILINE)
    out = {}
    for m in _C_FUNCTION.finditer(text):
        if m.group(2) in ("if", "for", "while", "switch", "return", "sizeof") \
                or "static" in m.group(1):
            continue
        params = [" ".join(p.split()) for p in m.group(3).split(",") if p.strip()]
        out[m.group(2)] = [] if params == ["void"] else params
    return out


def _key(text: str, flags: Sequence[str], extra: str = "") -> str:
    h = hashlib.sha256()
    for part in (compiler_version(), " ".join(flags), extra, text):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:20]


def _compile_cached(text: str, display: str, flags: tuple[str, ...],
                    mode: tuple[str, ...], suffix: str) -> Path:
    """Compile once per (source, flags, mode, compiler) into the cache; return the output."""
    out = cache_dir() / f"{Path(display).stem}-{_key(text, flags, ' '.join(mode))}{suffix}"
    if not out.exists():
        fd, tmp_name = tempfile.mkstemp(suffix=suffix, dir=cache_dir())
        os.close(fd)
        try:
            _run_compiler([*flags, *mode, "-o", tmp_name], text, display, flags)
            os.replace(tmp_name, out)  # atomic: a half-written library is never loaded
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
    return out


def build_c(
    source: str | os.PathLike, flags: Sequence[str] = ("-O2",), name: str | None = None
) -> CLibrary:
    """Compile C ``source`` (a path, a file name under kernels/c, or C text) to a shared library.

    The result is cached per user, keyed by source, flags and compiler version.
    A compile error raises :class:`CCompileError` with the compiler's message.
    """
    text, display = _source(source, name)
    flags = _flags(flags)
    lib_path = _compile_cached(text, display, flags, ("-shared", "-fPIC"), ".so")
    return CLibrary(lib_path, text, display, flags)


_ASM_NOISE = re.compile(r"^\s*\.(cfi_|file|ident|section|size|type|p2align|text|globl|loc)\b")


def asm_for(
    source: str | os.PathLike,
    flags: Sequence[str] = ("-O2",),
    function: str | None = None,
    name: str | None = None,
) -> str:
    """The x86 assembly the C compiler makes of ``source`` (AT&T syntax), trimmed of
    assembler bookkeeping; with ``function``, only that function's body."""
    text, display = _source(source, name)
    flags = _flags(flags)
    asm_path = _compile_cached(text, display, flags,
                               ("-S", "-fno-asynchronous-unwind-tables"), ".s")
    lines = [ln for ln in asm_path.read_text().splitlines() if not _ASM_NOISE.match(ln)]
    if function is not None:
        start = next((i for i, ln in enumerate(lines) if ln.startswith(f"{function}:")), None)
        if start is None:
            raise ValueError(f"no function {function!r} in the assembly of {display}")
        end = next((i for i in range(start + 1, len(lines))
                    if re.match(r"^[A-Za-z_]\w*:", lines[i])), len(lines))
        lines = lines[start:end]
    return "\n".join(lines)
