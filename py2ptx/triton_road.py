"""Triton: the other road to PTX (notebook 04's last section; variant 9t of the ladder).

Taught in notebook 04. The stack picture (notebook 00) lists Triton beside CUDA C: a
Python-embedded language whose compiler lowers a kernel through its own stages --
TTIR (Triton IR), TTGIR (the same with GPU layouts: which thread holds which element),
LLVM IR, PTX -- and then hands the PTX to ptxas, as NVRTC does, for a cubin (SASS).
This module compiles ``kernels/triton/sort_tile.py`` for sm_90 on the CPU
(``triton.compile`` needs no GPU) and returns every stage, beside the CUDA C rungs'
PTX and SASS from :mod:`py2ptx.cudatools`.

Triton is an optional extra (``make triton`` / ``pip install -e .[triton]``; about 1 GB).
Without it, :func:`road` returns the **recorded** stages in ``kernels/triton/recorded/``,
made by ``tools/record_triton.py`` with the Triton version, date and commit in
``manifest.json``. What differs between machines is taken out of the recorded text:
absolute paths become ``<kernels>/`` and ``<triton>/`` (:func:`normalise`), and SASS is
kept as :func:`py2ptx.cudatools.compact_sass` prints it (no encodings).

On a GPU, :func:`triton_sort_device` runs the Triton kernels as rung 9's plan (tiles,
then one launch per global merge step) on a CuPy array. Triton's launcher takes any
object with ``data_ptr()`` and ``dtype`` as a pointer (triton/runtime/jit.py), so no
PyTorch tensor is made here; Triton's own runtime may still import PyTorch to find the
current device and stream (Triton 3.6 does), which is why the GPU machine has it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import cudatools
from .cbuild import cache_dir
from .gpusorts import INT32_MAX, on_gpu, padded_size
from .kernels import KERNELS, load_python
from .machine import require_gpu
from .results import provenance

#: The kernel file, relative to kernels/.
KERNEL_FILE = "triton/sort_tile.py"
#: Where tools/record_triton.py writes the recorded stages.
RECORDED = KERNELS / "triton" / "recorded"
#: Keys per tile (rung 9's tile: 2 x 512 threads) and pairs per merge-step program.
TILE = 1024
PAIRS = 512
#: The compute capability compiled for: the course's recorded H200 (sm_90).
CAPABILITY = 90
#: The stages in the order the compiler makes them, and each recorded file's suffix.
STAGES = {"ttir": ".ttir", "ttgir": ".ttgir", "llir": ".ll", "ptx": ".ptx", "sass": ".sass"}
#: Each kernel's signature and compile-time constants, as ``triton.compile`` takes them.
SIGNATURES = {
    "sort_tiles": ({"keys": "*i32", "k": "i32", "TILE": "constexpr"}, {"TILE": TILE}),
    "merge_step": ({"keys": "*i32", "k": "i32", "j": "i32", "PAIRS": "constexpr"},
                   {"PAIRS": PAIRS}),
}
INSTALL_HINT = ("Triton is an optional extra (about 1 GB): `make triton` in the course's "
                "folder, or `pip install -e .[triton]`")


class TritonMissing(ImportError):
    """Triton is not installed here, and something needed it live."""


def triton_version() -> str | None:
    """The version of the Triton this Python imports, or None (then the recorded stages
    are shown). Importing it, rather than asking pip, also catches a broken install."""
    try:
        return _triton().__version__
    except TritonMissing:
        return None


def _triton():
    try:
        import triton
    except ImportError as err:
        raise TritonMissing(f"Triton cannot be imported ({err}). {INSTALL_HINT}.") from err
    return triton


@functools.cache
def kernels():
    """The module ``kernels/triton/sort_tile.py`` (its ``@triton.jit`` functions)."""
    _triton()
    return load_python(KERNEL_FILE)


# --------------------------------------------------------------------------- the road


@dataclass
class Road:
    """Every stage of both Triton kernels, live from this machine or recorded."""

    stages: dict[str, dict[str, str]]  # kernel -> stage -> text
    triton: str
    live: bool
    ptxas: str = "unknown"  # the ptxas Triton ran (its own copy, in its wheel)
    manifest: dict = field(default_factory=dict)

    def describe(self) -> str:
        """One line saying what is shown: a live compile, or the recording's provenance."""
        if self.live:
            return (f"live: compiled on this machine by Triton {self.triton} for sm_"
                    f"{CAPABILITY} (no GPU needed); its ptxas: {self.ptxas}")
        m = self.manifest
        dirty = " (uncommitted changes)" if m.get("dirty") else ""
        return (f"recorded: Triton is not installed here, so these are the stages "
                f"tools/record_triton.py saved on {m.get('recorded_utc')} at commit "
                f"{(m.get('commit') or 'unknown')[:12]}{dirty} with Triton {self.triton} (its ptxas: "
                f"{self.ptxas}). "
                f"{INSTALL_HINT} to compile them live.")

    def stage(self, kernel: str, stage: str) -> str:
        if kernel not in self.stages:
            raise KeyError(f"no kernel {kernel!r}; these are: {', '.join(self.stages)}")
        if stage not in STAGES:
            raise KeyError(f"no stage {stage!r}; the stages are: {', '.join(STAGES)}")
        return self.stages[kernel][stage]


def normalise(text: str) -> str:
    """Compiler output without this machine's paths: ``<kernels>/`` and ``<triton>/``."""
    text = text.replace(str(KERNELS.resolve()), "<kernels>").replace(str(KERNELS), "<kernels>")
    # Triton's compile cache is keyed by the source's content, so a PTX compiled in another
    # checkout of the course names that checkout's path: any .../py2ptx/kernels is ours.
    text = re.sub(r'[^\s"]*/py2ptx/kernels(?=/)', "<kernels>", text)
    try:
        triton_dir = Path(_triton().__file__).parent
    except TritonMissing:
        return text
    for form in {str(triton_dir.resolve()), str(triton_dir)}:
        text = text.replace(form, "<triton>")
    return text


@contextlib.contextmanager
def _course_cache():
    """Triton's compile cache inside the course's (py2ptx.cbuild.cache_dir), unless the
    user chose one with TRITON_CACHE_DIR: one cache to clear, and none outside a test's."""
    if os.environ.get("TRITON_CACHE_DIR"):
        yield
        return
    os.environ["TRITON_CACHE_DIR"] = str(cache_dir() / "triton")
    try:
        yield
    finally:
        del os.environ["TRITON_CACHE_DIR"]


@functools.cache
def compile_live(capability: int = CAPABILITY) -> Road:
    """Compile both kernels with this machine's Triton; no GPU needed (cached per process;
    Triton also keeps its own cache, so a second process takes well under a second)."""
    triton = _triton()
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    module = kernels()
    stages: dict[str, dict[str, str]] = {}
    for name, (signature, constexprs) in SIGNATURES.items():
        with warnings.catch_warnings(), _course_cache():
            # A Triton 3.9 notice about floating-point fusion; these kernels have no floats.
            warnings.filterwarnings("ignore", message=".*TRITON_DEFAULT_FP_FUSION")
            compiled = triton.compile(ASTSource(getattr(module, name), signature, constexprs),
                                      target=GPUTarget("cuda", capability, 32))
        out = {s: normalise(compiled.asm[s]) for s in ("ttir", "ttgir", "llir", "ptx")}
        out["sass"] = cudatools.compact_sass(cudatools.sass_for(compiled.asm["cubin"]))
        stages[name] = out
    return Road(stages, triton.__version__, live=True, ptxas=_triton_ptxas(capability))


def _triton_ptxas(capability: int) -> str:
    """The version of the ptxas Triton's NVIDIA backend runs for this capability."""
    try:  # not a public API (triton/backends/nvidia/compiler.py); Triton 3.6 to 3.9 have it
        from triton.backends.nvidia.compiler import get_ptxas

        tool = get_ptxas(capability)
        return f"{tool.version}, {Path(tool.path).name} from Triton's wheel"
    except Exception as err:  # a Triton whose internals moved: say so, do not fail
        return f"unknown ({type(err).__name__})"


def kernel_sha256() -> str:
    """The kernel file's hash: a recording made from another version of it is stale."""
    return hashlib.sha256((KERNELS / KERNEL_FILE).read_bytes()).hexdigest()


def recorded(directory: Path = RECORDED) -> Road:
    """The stages tools/record_triton.py saved, checked against their manifest."""
    manifest_path = Path(directory) / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(f"no recorded Triton stages in {directory} (no manifest.json); "
                                f"make them with `python tools/record_triton.py` ({INSTALL_HINT})")
    manifest = json.loads(manifest_path.read_text())
    stages: dict[str, dict[str, str]] = {}
    for name in SIGNATURES:
        stages[name] = {}
        for stage, suffix in STAGES.items():
            path = Path(directory) / f"{name}{suffix}"
            text = path.read_text()
            expected = manifest["files"][path.name]
            if hashlib.sha256(text.encode()).hexdigest() != expected:
                raise ValueError(f"{path} does not match the sha256 in {manifest_path}: it "
                                 f"was edited by hand; rerun `python tools/record_triton.py`")
            stages[name][stage] = text
    return Road(stages, manifest["triton"], live=False, ptxas=manifest.get("ptxas", "unknown"),
                manifest=manifest)


def road(live: bool | None = None) -> Road:
    """Live stages where Triton is installed, else the recorded ones (``live`` forces one)."""
    if live is None:
        live = triton_version() is not None
    return compile_live() if live else recorded()


def record(directory: Path = RECORDED) -> dict:
    """Compile live and write every stage plus ``manifest.json`` (tools/record_triton.py)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    live = compile_live()
    files = {}
    for name, stages in live.stages.items():
        for stage, suffix in STAGES.items():
            path = directory / f"{name}{suffix}"
            path.write_text(stages[stage])
            files[path.name] = hashlib.sha256(stages[stage].encode()).hexdigest()
    where = provenance()
    manifest = {
        "triton": live.triton,
        "recorded_utc": where["recorded_utc"],
        "commit": where["commit"],
        "dirty": where["dirty"],
        "target": f"cuda sm_{CAPABILITY} (triton.compile on the CPU, no GPU)",
        "ptxas": live.ptxas,
        "kernel_file": f"py2ptx/kernels/{KERNEL_FILE}",
        "kernel_sha256": kernel_sha256(),
        "constexprs": {name: consts for name, (_, consts) in SIGNATURES.items()},
        "sass_by": f"cuobjdump {cudatools.find_tool('cuobjdump').version} "
                   f"(py2ptx.cudatools.compact_sass)",
        "normalised": "absolute paths replaced by <kernels>/ and <triton>/",
        "files": files,
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def stale_stages(directory: Path = RECORDED) -> list[str]:
    """Recorded files that differ from what this machine's Triton makes now ([] if current)."""
    old, new = recorded(directory), compile_live()
    return [f"{name}{STAGES[stage]}" for name in SIGNATURES for stage in STAGES
            if _without_dwarf(old.stages[name][stage]) != _without_dwarf(new.stages[name][stage])]


def _without_dwarf(text: str) -> str:
    """PTX without its DWARF sections, whose byte counts encode the checkout's path."""
    return re.sub(r"^\s*\.section\s+\.debug_\w+\s*\{.*?^\s*\}", "", text,
                  flags=re.DOTALL | re.MULTILINE)


# --------------------------------------------------------------------------- comparing


def ptx_functions(ptx: str) -> dict[str, str]:
    """A PTX module split per kernel (``.entry``): name -> its text."""
    entries = list(re.finditer(r"^[ \t]*(?:\.visible[ \t]+)?\.entry[ \t]+(\w+)", ptx,
                               re.MULTILINE))
    ends = [m.start() for m in entries[1:]] + [len(ptx)]
    return {m.group(1): ptx[m.start():end] for m, end in zip(entries, ends, strict=True)}


def inline_asm_blocks(ptx: str) -> list[str]:
    """The text between each ``// begin inline asm`` and ``// end inline asm`` marker."""
    return re.findall(r"// begin inline asm\n(.*?)// end inline asm", ptx, re.DOTALL)


def _ptx_count(ptx: str, op: str) -> int:
    return len(re.findall(rf"^\s*(?:@%p\d+\s+)?{re.escape(op)}\b", ptx, re.MULTILINE))


#: SASS opcode families counted side by side (an opcode counts where it starts with one).
SASS_FAMILIES = {"VIMNMX/IMNMX": ("VIMNMX", "IMNMX"), "SEL": ("SEL",), "ISETP": ("ISETP",),
                 "SHFL": ("SHFL",), "BAR": ("BAR",), "LDS/STS": ("LDS", "STS"),
                 "LDG/STG": ("LDG", "STG")}


def counts(ptx: str, sass: list[str]) -> dict[str, int]:
    """What the comparison counts in one kernel's PTX text and SASS instructions."""
    asm = "\n".join(inline_asm_blocks(ptx))
    row = {"PTX min.s32+max.s32": _ptx_count(ptx, "min.s32") + _ptx_count(ptx, "max.s32"),
           "of them in inline asm": _ptx_count(asm, "min.s32") + _ptx_count(asm, "max.s32"),
           "PTX setp+selp": sum(len(re.findall(rf"^\s*(?:@%p\d+\s+)?{op}\.", ptx, re.MULTILINE))
                                for op in ("setp", "selp"))}
    opcodes = [cudatools.sass_opcode(i) for i in sass]
    for family, prefixes in SASS_FAMILIES.items():
        row[f"SASS {family}"] = sum(op.startswith(prefixes) for op in opcodes)
    row["SASS instructions"] = len(opcodes)
    return row


def _sass_lines(compact: str) -> dict[str, list[str]]:
    """compact_sass text -> kernel name -> instructions."""
    out: dict[str, list[str]] = {}
    name = None
    for line in compact.splitlines():
        if line.startswith("Function :"):
            name = line.split(":", 1)[1].strip()
            out[name] = []
        elif name is not None and "*/" in line:
            out[name].append(line.split("*/", 1)[1].strip())
    return out


#: The CUDA C kernels each Triton kernel is set beside: (rung label, file, kernel).
CUDA_C_TWINS = (
    ("9", "9_bitonic.cu", "bitonic_sort_tile"),  # rung 9's tile sort: a branchy compare-exchange
    ("9", "9_bitonic.cu", "bitonic_merge_global"),  # rung 9's global merge step
    ("11", "11_odd_even_inline_ptx.cu", "odd_even_shared_ptx"),  # rung 11's inline-PTX min/max
)


def comparison(the_road: Road | None = None) -> dict[str, dict[str, int]]:
    """``"<label> <kernel>"`` -> :func:`counts`, for both Triton kernels (9t) and their
    CUDA C twins, all for sm_90."""
    the_road = the_road or road()
    rows: dict[str, dict[str, int]] = {}
    for name in SIGNATURES:
        sass = _sass_lines(the_road.stage(name, "sass"))[name]
        rows[f"9t {name}"] = counts(the_road.stage(name, "ptx"), sass)
    for label, file, kernel in CUDA_C_TWINS:
        ptx = ptx_functions(cudatools.ptx_for(file))[kernel]
        sass = cudatools.sass_by_kernel(cudatools.sass_for(file))[kernel]
        rows[f"{label} {kernel}"] = counts(ptx, sass)
    return rows


def comparison_table(rows: dict[str, dict[str, int]]) -> str:
    """:func:`comparison` as a Markdown table, one column per kernel."""
    names = list(rows)
    head = "| count | " + " | ".join(names) + " |\n|---|" + "---|" * len(names) + "\n"
    keys = list(next(iter(rows.values())))
    return head + "\n".join(f"| {k} | " + " | ".join(str(rows[n][k]) for n in names) + " |"
                            for k in keys)


def stage_counts(the_road: Road, kernel: str) -> dict[str, int]:
    """Where tl.sort's min/max first appears: selects and min/max counted at each stage."""
    text = {s: the_road.stage(kernel, s) for s in STAGES}
    return {
        "TTIR arith.select": text["ttir"].count("arith.select"),
        "TTIR arith.minsi/maxsi": len(re.findall(r"arith\.(?:min|max)si\b", text["ttir"])),
        "TTGIR arith.minsi/maxsi": len(re.findall(r"arith\.(?:min|max)si\b", text["ttgir"])),
        "LLVM IR smin/smax calls": len(re.findall(r"call i32 @llvm\.s(?:min|max)\.i32",
                                                  text["llir"])),
        "PTX min.s32/max.s32": _ptx_count(text["ptx"], "min.s32") + _ptx_count(text["ptx"],
                                                                               "max.s32"),
    }


def findings(the_road: Road, rows: dict[str, dict[str, int]]) -> list[str]:
    """What the comparison shows, each sentence computed from the counts beside it."""
    merge, tile = rows["9t merge_step"], rows["9t sort_tiles"]
    rung11, rung9 = rows["11 odd_even_shared_ptx"], rows["9 bitonic_sort_tile"]
    out = []
    mm, in_asm, vimnmx = (merge["PTX min.s32+max.s32"], merge["of them in inline asm"],
                          merge["SASS VIMNMX/IMNMX"])
    verdict = ("so ptxas made VIMNMX of Triton's inline PTX, as it did of rung 11's asm"
               if mm and in_asm == mm and vimnmx and rung11["SASS VIMNMX/IMNMX"]
               else "so this is NOT the same path as rung 11's asm: read the stages above")
    out.append(f"merge_step: {mm} min.s32/max.s32 in its PTX, {in_asm} of them inside the "
               f"inline-asm markers; {vimnmx} VIMNMX in its SASS (rung 11: "
               f"{rung11['of them in inline asm']} in asm, {rung11['SASS VIMNMX/IMNMX']} "
               f"VIMNMX) -- {verdict}.")
    where = stage_counts(the_road, "sort_tiles")
    first = next((k for k, v in where.items() if "min" in k and v), None)
    out.append("sort_tiles (tl.sort, no asm): " + ", ".join(f"{k} {v}" for k, v in where.items())
               + (f" -- min/max first appear in the {first.rsplit(' ', 2)[0]}: Triton's own "
                  f"IRs have only selects (tl.sort's where), so the lowering to LLVM or LLVM's "
                  f"optimizer made min/max of some of them"
                  if first and not first.startswith("TT") else "")
               + f"; {tile['SASS VIMNMX/IMNMX']} VIMNMX in its SASS.")
    ratio = tile["SASS instructions"] / max(1, rung9["SASS instructions"])
    out.append(f"sort_tiles is {tile['SASS instructions']:,} SASS instructions against rung "
               f"9's bitonic_sort_tile {rung9['SASS instructions']:,} (x{ratio:.0f}): TILE is a "
               f"compile-time constant and tl.sort's stages are static_range loops "
               f"(triton/language/standard.py), unrolled when compiled; rung 9 loops at run "
               f"time. It has "
               f"{tile['SASS SHFL']} SHFL and {tile['SASS BAR']} BAR against rung 9's "
               f"{rung9['SASS SHFL']} and {rung9['SASS BAR']}: consistent with partners in one "
               f"warp meeting by shuffles and the rest through shared memory "
               f"({tile['SASS LDS/STS']} LDS/STS).")
    return out


def excerpt(text: str, pattern: str, before: int = 3, after: int = 6) -> str:
    """The lines around the first line matching ``pattern`` (regex), for reading a stage."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.search(pattern, line):
            return "\n".join(lines[max(0, i - before): i + after + 1])
    raise ValueError(f"no line matches {pattern!r}")


# --------------------------------------------------------------------------- on a GPU


def launches(size: int, tile: int = TILE, pairs: int = PAIRS) -> list[tuple[str, int, tuple]]:
    """The sort's launches on ``size`` keys (a power of two >= tile): (kernel, grid, (k[, j])).

    Rung 9's plan with Triton kernels: sort every tile (directions alternate, k = tile);
    then for each merge size k: one merge_step per j = k/2 ... tile, and one sort_tiles
    pass, whose tl.sort of a tile finishes the merge (a tile then holds a bitonic run).
    """
    if size < tile or size & (size - 1):
        raise ValueError(f"the Triton sort needs a power of two >= {tile} keys, not {size}")
    out = [("sort_tiles", size // tile, (tile,))]
    k = 2 * tile
    while k <= size:
        j = k // 2
        while j >= tile:
            out.append(("merge_step", size // 2 // pairs, (k, j)))
            j //= 2
        out.append(("sort_tiles", size // tile, (k,)))
        k *= 2
    return out


class _Pointer:
    """A CuPy array as Triton's launcher takes a pointer: ``data_ptr()`` and ``dtype``."""

    def __init__(self, array):
        self.array, self.dtype = array, array.dtype

    def data_ptr(self) -> int:
        return self.array.data.ptr


def triton_sort_device(d) -> None:
    """Variant 9t: the Triton bitonic sort of sort_tile.py, in place on a CuPy int32 array
    (pads to a power of two >= TILE with INT_MAX)."""
    cp = require_gpu("the Triton sort (variant 9t)")
    module = kernels()
    n = d.size
    if n < 2:
        return
    if d.dtype != np.int32:
        raise TypeError(f"the Triton sort takes int32 keys, not {d.dtype}")
    size = max(TILE, padded_size(n))
    work = d
    if size != n:  # INT_MAX padding sorts to the end and is cut off afterwards
        work = cp.full(size, INT32_MAX, dtype=np.int32)
        work[:n] = d
    keys = _Pointer(work)
    for name, grid, scalars in launches(size):
        if name == "sort_tiles":
            module.sort_tiles[(grid,)](keys, *scalars, TILE=TILE)
        else:
            module.merge_step[(grid,)](keys, *scalars, PAIRS=PAIRS)
    if work is not d:
        d[:] = work[:n]


triton_sort = on_gpu(triton_sort_device)
