"""The hardware-software stack, and the real artifact of one compare-and-swap at each layer.

Taught in notebook 00. :data:`LAYERS` (kept in :mod:`py2ptx.layers`, a leaf that the
rung registry can import) is the one description of the stack: the diagram in
:mod:`py2ptx.plots` and the ladder's ``layer`` field use it.
:func:`artifact` produces, *on this machine*, what each layer makes of the same
three-line step: Python bytecode, x86 assembly from gcc, optimized LLVM IR from Numba, the
CUDA C source, the PTX NVRTC emits and the SASS ptxas assembles from it.

PTX is not one language for every GPU: each file says which PTX ISA it is written in
(``.version``, which a driver must know to JIT it) and which GPU it needs at least
(``.target sm_XX``). :func:`ptx_header` reads both; :func:`assembles_for` shows that a
qualifier such as ``.L2::256B`` needs sm_80 or later. PTX for a plain target runs on
later GPUs through the driver's JIT (forward compatibility); PTX for an arch-specific
target such as ``sm_90a`` does not (PTX ISA, "Target ISA notes": such code "cannot be
run on later generation devices").

:func:`inner_loop_bytecodes` finds one trip round bubble sort's inner loop in CPython's
bytecode, on Python 3.10 (``JUMP_ABSOLUTE``) and 3.11+ (``JUMP_BACKWARD``) alike.
"""

from __future__ import annotations

import dis
import inspect
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .cbuild import asm_for, compiler_version
from .cudatools import (  # the CCCL search reuses cudatools' wheel and toolkit roots
    KERNELS,
    CudaCompileError,
    _system_roots,
    _wheel_roots,
    compact_sass,
    cubin_for,
    find_nvrtc,
    find_tool,
    ptx_for,
    sass_by_kernel,
    sass_for,
)
from .doctor import probe
from .kernels import bubble_python
from .layers import LAYERS, Layer  # noqa: F401 -- the stack's layers, taught here


@dataclass(frozen=True)
class Artifact:
    """What one layer made of the compare-and-swap step, and who made it."""

    key: str
    title: str
    layer: str
    made_by: str  # the tool that produced it, on this machine
    language: str  # for syntax highlighting
    text: str


# --------------------------------------------------------------------------- producers


def _python_source() -> tuple[str, str, str]:
    return ("you", "python", inspect.getsource(bubble_python.compare_swap))


def _bytecode() -> tuple[str, str, str]:
    buf = io.StringIO()
    dis.dis(bubble_python.compare_swap, file=buf)
    return ("CPython (dis)", "text", buf.getvalue())


def _x86() -> tuple[str, str, str]:
    flags = ("-O2",)
    asm = asm_for("compare_swap.c", flags, function="compare_swap")
    return (f"{compiler_version()} {' '.join(flags)}", "gas", asm)


def _llvm() -> tuple[str, str, str]:
    from .kernels import bubble_numba  # heavy: imports Numba and compiles the sort

    bubble_numba.compare_swap(np.zeros(2, dtype=np.int32), 0)  # compile for (int32[:], int64)
    sig = bubble_numba.compare_swap.signatures[0]
    ir = bubble_numba.compare_swap.inspect_llvm(sig)
    # Numba also emits a CPython wrapper and helpers; keep the function itself.
    blocks = re.findall(r"^define .*?^}", ir, re.MULTILINE | re.DOTALL)
    body = next(
        b
        for b in blocks
        if "compare_swap" in b.split("(")[0]
        and "cpython" not in b.split("(")[0]
        and "cfunc" not in b.split("(")[0]
    )
    import numba

    return (f"Numba {numba.__version__}", "llvm", body)


def _cuda_c() -> tuple[str, str, str]:
    return ("you (input to NVRTC)", "cuda", (KERNELS / "cuda" / "7_odd_even_global.cu").read_text())


def _ptx() -> tuple[str, str, str]:
    return (
        f"NVRTC {find_nvrtc().version} ({find_nvrtc().origin})",
        "text",
        ptx_for("7_odd_even_global.cu"),
    )


def _sass() -> tuple[str, str, str]:
    return (
        f"NVRTC's ptxas, disassembled by cuobjdump {find_tool('cuobjdump').version}",
        "text",
        compact_sass(sass_for("7_odd_even_global.cu")),
    )


def _runtime() -> tuple[str, str, str]:
    report = probe()
    return ("py2ptx doctor", "text", report.section_text("GPU"))


def _hardware() -> tuple[str, str, str]:
    report = probe()
    text = report.section_text("Machine") + "\n" + report.section_text("GPU")
    return ("py2ptx doctor", "text", text)


#: key -> (layer, title, producer), in teaching order down the stack.
PRODUCERS = {
    "python": ("application", "Python source", _python_source),
    "bytecode": ("compilers", "CPython bytecode", _bytecode),
    "x86": ("compilers", "x86-64 assembly (gcc)", _x86),
    "llvm": ("compilers", "LLVM IR after optimization (Numba)", _llvm),
    "cuda": ("compilers", "CUDA C (input to NVRTC)", _cuda_c),
    "runtime": ("runtime", "CUDA runtime and driver on this machine", _runtime),
    "ptx": ("ptx", "PTX, .target sm_90 (NVRTC)", _ptx),
    "sass": ("sass", "SASS for sm_90 (ptxas, via NVRTC)", _sass),
    "hardware": ("hardware", "The hardware this notebook runs on", _hardware),
}


def artifact(key: str) -> Artifact:
    """Produce one artifact of the compare-and-swap step, now, on this machine.

    If the tool behind it is missing, the artifact's text says what is missing and
    how to get it, instead of raising (notebook 00 must run everywhere).
    """
    if key not in PRODUCERS:
        raise KeyError(f"no artifact {key!r}; choose from {', '.join(PRODUCERS)}")
    layer, title, produce = PRODUCERS[key]
    try:
        made_by, language, text = produce()
    except Exception as err:  # a missing tool must not stop the lesson
        made_by, language = "nothing: the tool is missing", "text"
        text = f"Could not produce this on this machine:\n  {type(err).__name__}: {err}"
    return Artifact(key, title, layer, made_by, language, text)


def artifacts_for_layer(layer: str) -> list[str]:
    """The artifact keys that belong to one layer, in teaching order."""
    if layer not in LAYERS:
        raise KeyError(f"no layer {layer!r}; choose from {', '.join(LAYERS)}")
    return [key for key, (where, _, _) in PRODUCERS.items() if where == layer]


# --------------------------------------------------------------------------- PTX is versioned


def ptx_header(ptx: str) -> dict[str, str]:
    """``{'version': '9.0', 'target': 'sm_90'}`` from PTX text (its ``.version`` and
    ``.target`` directives)."""
    found = {}
    for key in ("version", "target"):
        m = re.search(rf"^\s*\.{key}\s+(\S+)", ptx, re.MULTILINE)
        if m is None:
            raise ValueError(f"this PTX has no .{key} directive")
        found[key] = m.group(1)
    return found


#: A load with an L2 prefetch-size qualifier, inline; ``{q}`` is the qualifier.
_QUALIFIED_LOAD = (
    'extern "C" __global__ void qualified_load(const int *src, int *dst) {{\n'
    '    int v;\n'
    '    asm volatile("ld.global{q}.s32 %0, [%1];" : "=r"(v) : "l"(src + threadIdx.x));\n'
    '    dst[threadIdx.x] = v;\n'
    '}}\n')


def assembles_for(qualifier: str, archs=("sm_75", "sm_80", "sm_90")) -> dict[str, str]:
    """Assemble a load carrying ``qualifier`` (say ``.L2::256B``) for each arch:
    ``{arch: 'ok'}`` or ``{arch: ptxas's complaint}`` (notebook 00)."""
    source = _QUALIFIED_LOAD.format(q=qualifier)
    result = {}
    for arch in archs:
        try:
            cubin_for(source, arch)
            result[arch] = "ok"
        except CudaCompileError as err:
            complaint = [ln.strip() for ln in err.log.splitlines() if "error" in ln.lower()]
            result[arch] = complaint[0] if complaint else str(err).splitlines()[0]
    return result


# --------------------------------------------------------------------------- bytecode


#: The opcode that closes a loop: JUMP_BACKWARD from Python 3.11, JUMP_ABSOLUTE before.
LOOP_JUMPS = ("JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT", "JUMP_ABSOLUTE")


def inner_loop_bytecodes(instructions) -> list:
    """The instructions of one trip round the innermost loop (when it swaps): from the
    second ``FOR_ITER`` to the jump back that closes that loop, CACHE entries left out.

    ``instructions`` is ``dis.get_instructions(fn)`` (or anything with ``opname``).
    Python 3.11+ closes a loop with ``JUMP_BACKWARD``; 3.10 with ``JUMP_ABSOLUTE``.
    """
    ops = list(instructions)
    starts = [i for i, op in enumerate(ops) if op.opname == "FOR_ITER"]
    if len(starts) < 2:
        raise ValueError("expected two nested for loops (two FOR_ITER)")
    inner = ops[starts[1]:]
    end = next((i for i, op in enumerate(inner) if op.opname in LOOP_JUMPS), None)
    if end is None:
        raise ValueError(f"no loop jump ({' / '.join(LOOP_JUMPS)}) after the inner FOR_ITER")
    return [op for op in inner[: end + 1] if op.opname != "CACHE"]


# --------------------------------------------------------------------------- what C++ can say


#: How CUDA C++ spells a load's cache behaviour without writing PTX by hand (notebooks 00,
#: 04, 06): name -> (kernel body over ``src``/``dst`` int4 pointers, needs CCCL headers).
CACHE_HINTS = {
    "__ldg": ("dst[i] = __ldg(src + i);", False),
    "__ldcs / __stcs": ("__stcs(dst + i, __ldcs(src + i));", False),
    "__ldcg": ("dst[i] = __ldcg(src + i);", False),
    "cuda::annotated_ptr<int4, cuda::access_property::streaming>":
        ("cuda::annotated_ptr<const int4, cuda::access_property::streaming> s(src);"
         " dst[i] = s[i];", True),
    "cuda::ptx::ld_nc_L1_no_allocate_L2_256B":
        ("dst[i] = cuda::ptx::ld_nc_L1_no_allocate_L2_256B(cuda::ptx::space_global, src + i);",
         True),
}


def cccl_include() -> Path | None:
    """The CCCL headers (``cuda/annotated_ptr``, ``cuda/ptx``): the ``nvidia-cuda-cccl``
    wheel's ``include/cccl``, or a CUDA toolkit's; None when neither is installed."""
    for root in [*_wheel_roots(), *_system_roots()]:
        if (root / "include" / "cccl" / "cuda" / "annotated_ptr").exists():
            return root / "include" / "cccl"
    return None


def cache_hint_sass(arch: str = "sm_90") -> dict[str, dict]:
    """Compile each of :data:`CACHE_HINTS` (NVRTC, then ptxas) and return, per spelling,
    its global ``ptx`` loads/stores and ``sass`` LDG/STG lines, or ``missing`` with the
    reason (no CCCL headers on this machine)."""
    cccl = cccl_include()
    out = {}
    for i, (name, (body, needs_cccl)) in enumerate(CACHE_HINTS.items()):
        if needs_cccl and cccl is None:
            out[name] = {"missing": "needs the CCCL headers: pip install nvidia-cuda-cccl"}
            continue
        head = "#include <cuda/annotated_ptr>\n#include <cuda/ptx>\n" if needs_cccl else ""
        source = (f'{head}extern "C" __global__ void hint{i}(const int4 *src, int4 *dst)'
                  f' {{ int i = threadIdx.x; {body} }}\n')
        options = (f"-I{cccl}", f"-I{cccl.parent}") if needs_cccl else ()
        ptx = ptx_for(source, arch, options)
        sass = sass_by_kernel(sass_for(source, arch, options))[f"hint{i}"]
        out[name] = {
            "ptx": [ln.strip() for ln in ptx.splitlines()
                    if re.search(r"\b(ld|st)\.global|createpolicy", ln)],
            "sass": [ln for ln in sass if re.match(r"(LDG|STG)\b", ln)
                     or re.match(r"UMOV UR5, 0x", ln)],
        }
    return out
