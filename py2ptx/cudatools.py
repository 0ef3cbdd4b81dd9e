"""The CUDA toolchain on the CPU: CUDA C -> PTX -> cubin -> SASS, with no GPU.

Taught in notebook 00 (the stack) and used by every GPU notebook after it.

Everything here runs on a machine without a GPU or a driver. The tools come from
NVIDIA's pip wheels installed in this Python environment (``nvidia-cuda-nvrtc``,
``nvidia-cuda-nvcc`` for ptxas, ``nvidia-cuda-nvdisasm``, ``nvidia-cuda-cuobjdump``);
a system CUDA (``$CUDA_HOME``, ``/usr/local/cuda``) is only a fallback, and
:func:`toolchain` says which one was used.

NVRTC is called through ``ctypes`` rather than a binding package so that the one
library this module loads is exactly the one :func:`find_nvrtc` reports.
"""

from __future__ import annotations

import ctypes
import difflib
import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .kernels import KERNELS, asm_lines, read_source  # noqa: F401 -- KERNELS: the notebooks' path

DEFAULT_ARCH = "sm_90"  # Hopper (H100/H200), the course's recorded GPU


# PTX ISA version introduced by each CUDA release (NVIDIA, PTX ISA "Release History").
# A driver accepts PTX up to the version of the CUDA release it ships with.
PTX_ISA_FOR_CUDA = {
    (11, 0): "7.0", (11, 1): "7.1", (11, 2): "7.2", (11, 3): "7.3", (11, 4): "7.4",
    (11, 5): "7.5", (11, 6): "7.6", (11, 7): "7.7", (11, 8): "7.8",
    (12, 0): "8.0", (12, 1): "8.1", (12, 2): "8.2", (12, 3): "8.3", (12, 4): "8.4",
    (12, 5): "8.5", (12, 6): "8.5", (12, 8): "8.7", (12, 9): "8.8",
    (13, 0): "9.0", (13, 1): "9.1", (13, 2): "9.2", (13, 3): "9.3", (13, 4): "9.4",
    (13, 5): "9.5",
}


def highest_ptx_isa(cuda_version: tuple[int, int]) -> str | None:
    """The newest PTX ``.version`` a driver of this CUDA version loads (None if unknown)."""
    known = [v for v in PTX_ISA_FOR_CUDA if v <= tuple(cuda_version)]
    return PTX_ISA_FOR_CUDA[max(known)] if known else None


class ToolNotFound(RuntimeError):
    """A CUDA tool is neither in this environment's NVIDIA wheels nor on the system."""


class CudaCompileError(RuntimeError):
    """NVRTC or ptxas rejected a source; the message carries the compiler's log."""

    def __init__(self, message: str, log: str = ""):
        super().__init__(message)
        self.log = log


@dataclass(frozen=True)
class Tool:
    """Where one CUDA tool was found and where it came from."""

    name: str
    path: Path
    origin: str  # "pip wheel (this environment)" or "system CUDA"
    version: str

    @property
    def from_environment(self) -> bool:
        return self.origin.startswith("pip wheel")


# --------------------------------------------------------------------------- finding


def _wheel_roots() -> list[Path]:
    """The folders NVIDIA's CUDA wheels install into, for this Python only."""
    try:
        import nvidia  # namespace package made by the nvidia-* wheels
    except ImportError:
        return []
    roots: list[Path] = []
    for base in map(Path, getattr(nvidia, "__path__", [])):
        # CUDA 13 wheels share nvidia/cu13/{bin,lib}; CUDA 12 wheels use one folder each.
        roots += sorted(base.glob("cu1[0-9]")) + sorted(base.glob("cuda_*"))
    return roots


def _system_roots() -> list[Path]:
    roots = [os.environ.get(v) for v in ("CUDA_HOME", "CUDA_PATH")] + ["/usr/local/cuda"]
    return [Path(r) for r in roots if r and Path(r).is_dir()]


def _search(relative_globs: list[str]) -> tuple[Path, str] | None:
    for origin, roots in (
        ("pip wheel (this environment)", _wheel_roots()),
        ("system CUDA", _system_roots()),
    ):
        for root in roots:
            for pattern in relative_globs:
                hits = sorted(root.glob(pattern))
                if hits:
                    return hits[0], origin
    return None


@functools.cache
def find_tool(name: str) -> Tool:
    """Locate ``ptxas``, ``nvdisasm`` or ``cuobjdump``: this environment's wheels first."""
    found = _search([f"bin/{name}"])
    if found is None and shutil.which(name):
        found = (Path(shutil.which(name)), "system CUDA")
    if found is None:
        raise ToolNotFound(
            f"{name} was not found. It comes with the pip wheel "
            f"nvidia-cuda-{'nvcc' if name == 'ptxas' else name}; run `make lab` or "
            f"`pip install -e .` in the course folder to install it."
        )
    path, origin = found
    out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=60)
    match = re.search(r"release (\d+\.\d+), V([\d.]+)", out.stdout)
    version = match.group(2) if match else out.stdout.strip().splitlines()[-1:][0]
    return Tool(name, path, origin, version)


@functools.cache
def find_nvrtc() -> Tool:
    """Locate libnvrtc: this environment's ``nvidia-cuda-nvrtc`` wheel first."""
    found = _search(["lib/libnvrtc.so.1[0-9]", "lib/libnvrtc.so", "lib64/libnvrtc.so"])
    if found is None:
        raise ToolNotFound(
            "libnvrtc was not found. It comes with the pip wheel nvidia-cuda-nvrtc; "
            "run `make lab` or `pip install -e .` in the course folder to install it."
        )
    path, origin = found
    lib = ctypes.CDLL(str(path))
    major, minor = ctypes.c_int(), ctypes.c_int()
    lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor))
    return Tool("nvrtc", path, origin, f"{major.value}.{minor.value}")


def toolchain() -> list[Tool]:
    """Every tool the course uses on the CPU, found or raising :class:`ToolNotFound`."""
    return [find_nvrtc()] + [find_tool(t) for t in ("ptxas", "nvdisasm", "cuobjdump")]


# --------------------------------------------------------------------------- NVRTC


@functools.cache
def _nvrtc() -> ctypes.CDLL:
    path = find_nvrtc().path
    # libnvrtc dlopen()s its builtins by bare name at compile time; loading the copy
    # beside it first makes that find this environment's file, not a system one.
    for builtins in sorted(path.parent.glob("libnvrtc-builtins.so*")):
        if ".alt." not in builtins.name:
            ctypes.CDLL(str(builtins), mode=ctypes.RTLD_GLOBAL)
    lib = ctypes.CDLL(str(path))
    lib.nvrtcGetErrorString.restype = ctypes.c_char_p
    return lib


def _check(result: int, what: str) -> None:
    if result != 0:
        msg = _nvrtc().nvrtcGetErrorString(result).decode()
        raise CudaCompileError(f"NVRTC {what} failed: {msg}")


def supported_archs() -> list[str]:
    """The real architectures (``sm_XX``) this NVRTC can compile for."""
    lib = _nvrtc()
    count = ctypes.c_int()
    _check(lib.nvrtcGetNumSupportedArchs(ctypes.byref(count)), "GetNumSupportedArchs")
    archs = (ctypes.c_int * count.value)()
    _check(lib.nvrtcGetSupportedArchs(archs), "GetSupportedArchs")
    return [f"sm_{a}" for a in archs]


def _compile(source, arch: str, options: tuple[str, ...], want: str) -> bytes:

    text, name = read_source(source, ".cu")
    return _compile_text(text, name, arch, options, want)


@functools.lru_cache(maxsize=64)
def _compile_text(text: str, name: str, arch: str, options: tuple[str, ...], want: str) -> bytes:
    """Compile once per (source text, arch, options): the doctor and notebook 00 share results."""
    arch_number = re.fullmatch(r"(?:sm|compute)_(\d+[a-z]?)", arch)
    if arch_number is None:
        raise ValueError(f"arch must look like 'sm_90' or 'sm_75', not {arch!r}")
    # PTX is requested for the virtual architecture, a cubin for the real one.
    target = f"compute_{arch_number.group(1)}" if want == "ptx" else f"sm_{arch_number.group(1)}"
    lib = _nvrtc()
    prog = ctypes.c_void_p()
    _check(
        lib.nvrtcCreateProgram(ctypes.byref(prog), text.encode(), name.encode(), 0, None, None),
        "CreateProgram",
    )
    try:
        opts = [f"--gpu-architecture={target}", "--std=c++17", *options]
        c_opts = (ctypes.c_char_p * len(opts))(*[o.encode() for o in opts])
        result = lib.nvrtcCompileProgram(prog, len(opts), c_opts)
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(prog, log)
        log_text = log.value.decode(errors="replace").strip()
        if result != 0:
            where = _nvrtc_hints(text, name, log_text)
            if want == "cubin" and "ptxas" in log_text:
                where += _inline_ptx_culprit(text, name, arch, options, log_text)
            raise CudaCompileError(
                f"NVRTC {find_nvrtc().version} could not compile {name} for {target}:\n"
                f"{where}{log_text}",
                log_text,
            )
        getter = "PTX" if want == "ptx" else "CUBIN"
        _check(getattr(lib, f"nvrtcGet{getter}Size")(prog, ctypes.byref(size)), getter)
        buf = ctypes.create_string_buffer(size.value)
        _check(getattr(lib, f"nvrtcGet{getter}")(prog, buf), getter)
        return buf.raw
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(prog))


_NVRTC_ERROR = re.compile(r"^(?P<file>[^\s(]+)\((?P<line>\d+)\): error: (?P<message>.*)$",
                          re.MULTILINE)


def _nvrtc_hints(text: str, name: str, log: str) -> str:
    """A sentence for the NVRTC errors whose cause is elsewhere than their line says:
    a ';' missing at the end of the line before, an asm operand that names no operand."""
    lines = text.splitlines()
    out = []
    for m in _NVRTC_ERROR.finditer(log):
        number, message = int(m.group("line")), m.group("message")
        if m.group("file") != name:
            continue
        if message.strip() == 'expected a ";"':
            before = [k for k in range(1, min(number, len(lines) + 1))
                      if lines[k - 1].strip()]
            # NVRTC names the line of the token it met; the ';' belongs after the line
            # before, unless that line ends a statement or a block already.
            if before and not lines[before[-1] - 1].rstrip().endswith((";", "{", "}", ",")):
                k = before[-1]
                out.append(f"{name} line {number}: expected a \";\" -- the ';' is probably "
                           f"missing at the end of line {k}: `{lines[k - 1].strip()}`")
        elif "asm operand index requested is larger" in message:
            out.append(f"{name} line {number}: an operand %N in your asm names no operand: with "
                       f"k outputs and m inputs the operands are %0 ... %(k+m-1), outputs first")
    return "\n".join(out) + ("\n\n" if out else "")


_PTXAS_LINE = re.compile(r"ptxas[^\n]*?, line (\d+); (?:error|fatal)\s*:\s*(.*)")
_PTXAS_HINT = ("Check the instruction and its operands against the PTX ISA (type suffix, number "
               "of operands, register kinds: \"r\" 32-bit, \"l\" 64-bit; every instruction "
               "ends with ';').")


def ptxas_errors(log: str) -> list[tuple[int, str]]:
    """ptxas's ``error`` and ``fatal`` lines that name a PTX line: (line, message). The
    closing ``Ptx assembly aborted due to errors`` names none and says nothing new."""
    return [(int(m.group(1)), m.group(2).strip()) for m in _PTXAS_LINE.finditer(log)]


def _inline_ptx_culprit(text: str, name: str, arch: str, options, log: str) -> str:
    """Point a ptxas error at the student's ``asm`` line, not at generated PTX.

    NVRTC emits PTX that compiles, so when ptxas then fails inside a cubin build the
    fault is in inline PTX. The PTX marks each inline block with ``// begin inline
    asm``; the instruction on ptxas's line is looked up among the source's asm
    statements by its name (``mni.s32``), which survives operand substitution, and the
    source line of the statement that holds it is quoted. A parsing error on the first
    line *after* an inline block (``Parsing error near 'st'``) is the block's last
    instruction running on without its ``;``.
    """
    errors = ptxas_errors(log)
    if not errors:
        return ""
    try:
        ptx_lines = _compile_text(text, name, arch, tuple(options), "ptx").decode(
            errors="replace").splitlines()
    except CudaCompileError:
        return ""
    return "".join(_asm_culprit(text, name, ptx_lines, number, said)
                   for number, said in errors[:3])


def _asm_culprit(text: str, name: str, ptx_lines: list[str], number: int, said: str) -> str:
    if not 1 <= number <= len(ptx_lines):
        return ""
    bad = ptx_lines[number - 1].strip()
    before = [ln.strip() for ln in ptx_lines[:number - 1] if ln.strip()]
    inside = any("begin inline asm" in ln for ln in ptx_lines[:number]) and any(
        "end inline asm" in ln for ln in ptx_lines[number:])
    run_on = ""
    if not inside and before and "end inline asm" in before[-1] and "Parsing error" in said:
        # the block's last instruction ran on into NVRTC's next line
        block = before[:-1]
        opened = max((i for i, ln in enumerate(block) if "begin inline asm" in ln), default=-1)
        last = [ln for ln in block[opened + 1:] if not ln.startswith("//")]
        if not last:
            return ""
        bad, inside = last[-1], True
        run_on = (f"  ptxas read on into the next PTX line, `{ptx_lines[number - 1].strip()}`: "
                  f"the last instruction of your asm string probably lacks its ';'.\n")
    if not inside:
        return ""
    mnemonic = bad.split()[0] if bad.split() else ""
    lines = text.splitlines()
    for start in asm_lines(text):
        statement = lines[start:start + 8]
        at = next((start + k for k, ln in enumerate(statement) if mnemonic and mnemonic in ln),
                  None)
        if at is not None:
            return (f"{name} line {at + 1}: ptxas rejected this inline PTX:\n"
                    f"    {lines[at].strip()}\n"
                    f"  which NVRTC turned into the PTX line\n    {bad}\n"
                    f"  ptxas says: {said}\n{run_on}"
                    f"  {_PTXAS_HINT}\n\n")
    return f"ptxas rejected inline PTX (PTX line: {bad}; ptxas says: {said}):\n{run_on}"


def ptx_error_lines(ptx: str, log: str, name: str = "kernel.ptx") -> str:
    """ptxas's errors on a PTX text, each with the PTX line it names quoted under it."""
    lines = ptx.splitlines()
    out = []
    for number, said in ptxas_errors(log)[:4]:
        quote = lines[number - 1].strip() if 1 <= number <= len(lines) else ""
        out.append(f"{name} line {number}: {said}" + (f"\n  {number:>4} | {quote}" if quote
                                                       else ""))
    return "\n".join(out) + ("\n\n" if out else "")


def ptx_for(source: str | os.PathLike, arch: str = DEFAULT_ARCH, options=()) -> str:
    """CUDA C (a ``.cu`` path, a file name under kernels/cuda, or text) -> PTX text."""
    return _compile(source, arch, tuple(options), "ptx").rstrip(b"\0").decode()


def cubin_for(source: str | os.PathLike, arch: str = DEFAULT_ARCH, options=()) -> bytes:
    """CUDA C -> a cubin (machine code for one real GPU architecture), via NVRTC.

    NVRTC runs ptxas internally, so this is also the check that inline PTX is
    valid: PTX text alone proves nothing until it has been assembled.
    """
    return _compile(source, arch, tuple(options), "cubin")


def ptx_version(ptx: str) -> str:
    """The ``.version`` directive of a PTX text (the PTX ISA it needs the driver to know)."""
    match = re.search(r"^\s*\.version\s+(\d+\.\d+)", ptx, re.MULTILINE)
    if match is None:
        raise ValueError("no .version directive: this is not PTX")
    return match.group(1)


# --------------------------------------------------------------------------- SASS


def sass_for(source_or_cubin, arch: str = DEFAULT_ARCH, options=()) -> str:
    """SASS, the GPU's real machine code, of a cubin (bytes) or CUDA C source.

    Disassembled by ``cuobjdump -sass`` from this environment's wheel.
    """
    cubin = (
        source_or_cubin
        if isinstance(source_or_cubin, bytes | bytearray)
        else cubin_for(source_or_cubin, arch, options)
    )
    with tempfile.TemporaryDirectory(prefix="py2ptx-") as tmp:
        path = Path(tmp) / "kernel.cubin"
        path.write_bytes(bytes(cubin))
        out = subprocess.run(
            [str(find_tool("cuobjdump").path), "-sass", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    if out.returncode != 0:
        raise RuntimeError(f"cuobjdump failed: {out.stderr.strip()}")
    return out.stdout


_SASS_LINE = re.compile(r"\s*/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;?\s*(?:/\*.*)?$")


def sass_instructions(sass: str) -> list[str]:
    """Just the instructions of a ``cuobjdump -sass`` listing, one per line."""
    return [m.group(2).rstrip(" ;") for m in map(_SASS_LINE.match, sass.splitlines()) if m]


def sass_by_kernel(sass: str) -> dict[str, list[str]]:
    """A ``cuobjdump -sass`` listing split per kernel: name -> its instructions."""
    out: dict[str, list[str]] = {}
    for block in sass.split("Function : ")[1:]:
        out[block.split()[0]] = sass_instructions(block)
    return out


def sass_opcode(instruction: str) -> str:
    """``'@!P1 BRA 0x260'`` -> ``'BRA'``: the operation, without predicate or operands."""
    words = instruction.split()
    return words[1] if words and words[0].startswith("@") else (words[0] if words else "")


def sass_diff(a: list[str], b: list[str], a_name: str = "a", b_name: str = "b") -> str:
    """A unified diff of two kernels' instructions ('' when they are identical)."""
    return "\n".join(difflib.unified_diff(a, b, a_name, b_name, lineterm="", n=1))


def compact_sass(sass: str) -> str:
    """A ``cuobjdump -sass`` listing for reading: function names and instructions with
    their addresses, without the encodings and the NOP padding after the last EXIT."""
    out: list[str] = []
    for line in sass.splitlines():
        if "Function :" in line:
            out.append(line.strip())
            continue
        match = _SASS_LINE.match(line)
        if match is None:
            continue
        instr = match.group(2).rstrip(" ;")
        if instr == "NOP" or (instr.startswith("BRA ") and out and out[-1].endswith("EXIT")):
            continue  # alignment padding and the self-loop that guards the end
        out.append(f"  /*{match.group(1)}*/  {instr}")
    return "\n".join(out)


def assemble_ptx(ptx: str, arch: str = DEFAULT_ARCH, name: str = "kernel.ptx") -> bytes:
    """PTX text -> cubin with ptxas, the assembler the driver's JIT also uses. An error
    quotes the PTX line ptxas names (``name`` is what the message calls the text)."""
    with tempfile.TemporaryDirectory(prefix="py2ptx-") as tmp:
        src, out = Path(tmp) / "kernel.ptx", Path(tmp) / "kernel.cubin"
        src.write_text(ptx)
        run = subprocess.run(
            [str(find_tool("ptxas").path), f"-arch={arch}", str(src), "-o", str(out)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if run.returncode != 0:
            log = run.stderr.replace(str(src), name).strip()
            raise CudaCompileError(f"ptxas could not assemble {name} for {arch}:\n"
                                   f"{ptx_error_lines(ptx, log, name)}{log}", log)
        return out.read_bytes()


def environment_prefix() -> Path:
    """The Python environment the course runs in (a tool 'from the environment' lives here)."""
    return Path(sys.prefix).resolve()
