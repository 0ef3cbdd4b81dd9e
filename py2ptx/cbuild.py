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
from pathlib import Path

import numpy as np

from .kernels import KERNELS, read_source

KERNELS_C = KERNELS / "c"

#: ctypes type for "a writable, C-contiguous int32 NumPy array" (``int32_t *``).
INT32_ARRAY = np.ctypeslib.ndpointer(dtype=np.int32, flags="C_CONTIGUOUS,WRITEABLE")


class CCompileError(RuntimeError):
    """The C compiler rejected the source; the message is the compiler's own."""

    def __init__(self, message: str, log: str = ""):
        super().__init__(message)
        self.log = log


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


def _source(source: str | os.PathLike, name: str | None) -> tuple[str, str]:
    return read_source(source, ".c", name)


def _run_compiler(args: list[str], text: str, display: str, flags: Sequence[str]) -> None:
    """Compile ``text`` (written as ``display`` in a private temp dir) with ``args``."""
    with tempfile.TemporaryDirectory(prefix="py2ptx-", dir=cache_dir()) as tmp:
        src = Path(tmp) / display
        src.write_text(text)
        run = subprocess.run(
            [compiler(), *args, str(src)], capture_output=True, text=True, cwd=tmp, timeout=120
        )
    if run.returncode != 0:
        # The compiler names the file by its temporary path; students know it by its name.
        log = run.stderr.replace(str(src), display).replace(f"{tmp}/", "").strip()
        first = re.search(rf"{re.escape(display)}:(\d+):(\d+): error: (.*)", log)
        where = f" (line {first.group(1)}: {first.group(3)})" if first else ""
        raise CCompileError(
            f"{Path(compiler()).name} could not compile {display} with "
            f"{' '.join(flags) or 'no flags'}{where}\n\n{log}",
            log,
        )


# --------------------------------------------------------------------------- building


class CLibrary:
    """A compiled shared library and the source and flags it came from."""

    def __init__(self, path: Path, source: str, name: str, flags: tuple[str, ...]):
        self.path, self.source, self.name, self.flags = path, source, name, flags
        self._dll = ctypes.CDLL(str(path))

    def function(self, symbol: str, argtypes: Sequence, restype=None):
        """The C function ``symbol`` with NumPy/ctypes-typed arguments.

        ``argtypes`` are ctypes types; :data:`INT32_ARRAY` stands for ``int32_t *``
        and makes ctypes refuse arrays of any other dtype.
        """
        try:
            fn = getattr(self._dll, symbol)
        except AttributeError:
            raise AttributeError(
                f"{self.name} has no function {symbol!r}; did you spell it as in the C "
                f"source, and is it not `static`?"
            ) from None
        fn.argtypes, fn.restype = list(argtypes), restype
        return fn

    def __repr__(self) -> str:
        return f"CLibrary({self.name}, flags={' '.join(self.flags)!r})"


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
    flags = tuple(flags)
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
    flags = tuple(flags)
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
