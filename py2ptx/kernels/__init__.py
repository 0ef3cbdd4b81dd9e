"""The sorts themselves: Python and Numba modules here, C in c/, CUDA C in cuda/."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path

#: The kernel folder: c/ (C files) and cuda/ (CUDA C, PTX, numba.cuda kernels).
KERNELS = Path(__file__).parent


def read_source(source: str | os.PathLike, suffix: str, name: str | None = None) -> tuple[str, str]:
    """(text, display name) of a kernel given as a path, a file name, or source text.

    A path-like, or a one-line string ending in ``suffix`` (``.c``, ``.cu``), names a file:
    as given, else under ``kernels/<c|cuda>/``. Anything else is the source text itself
    (a student's cell), shown as ``cell<suffix>``.
    """
    if isinstance(source, os.PathLike) or (
        isinstance(source, str) and "\n" not in source and source.endswith(suffix)
    ):
        path = Path(source)
        folder = KERNELS / ("c" if suffix == ".c" else "cuda")
        if not path.exists() and (folder / path).exists():
            path = folder / path
        if not path.exists():
            raise FileNotFoundError(f"kernel source {source} does not exist (looked in {folder} too)")
        return path.read_text(), name or path.name
    return str(source), name or f"cell{suffix}"


_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
_ASM = re.compile(r"\basm\s*(?:volatile\s*)?\(")


def strip_comments(text: str) -> str:
    """C/CUDA source without its comments, every line kept where it was."""
    return _COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text)


def asm_lines(text: str) -> list[int]:
    """The 0-based line of every inline-PTX ``asm(...)`` statement, comments ignored."""
    code = strip_comments(text)
    return [code[: m.start()].count("\n") for m in _ASM.finditer(code)]


def load_python(relative: str):
    """Import a kernel module by its file name, e.g. ``cuda/6_odd_even_numba.py``.

    The numbered file names read like a table of contents but are not valid module
    names, so they are loaded from their path (once; later calls return the same module).
    """
    path = KERNELS / relative
    name = "py2ptx.kernels._" + path.stem.replace("-", "_")
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or not path.exists():
            raise FileNotFoundError(f"no kernel module {relative} in {KERNELS}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
