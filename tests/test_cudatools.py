"""The CUDA toolchain on the CPU, from this environment's NVIDIA wheels: no GPU, no nvcc."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from py2ptx import cudatools
from py2ptx.cudatools import CudaCompileError

SYSTEM_CUDA = Path("/usr/local/cuda").resolve()

MIN_KERNEL = """\
extern "C" __global__ void k(int *out, int a, int b)
{
    int x;
    asm volatile("{op} %0, %1, %2;" : "=r"(x) : "r"(a), "r"(b));
    *out = x;
}
"""


def _inline(op: str) -> str:
    return MIN_KERNEL.replace("{op}", op)


@pytest.fixture(scope="module")
def compare_swap_ptx() -> str:
    return cudatools.ptx_for("7_odd_even_global.cu")


# --------------------------------------------------------------------------- where the tools are


def test_toolchain_has_the_four_tools():
    assert [t.name for t in cudatools.toolchain()] == ["nvrtc", "ptxas", "nvdisasm", "cuobjdump"]


@pytest.mark.parametrize("name", ["nvrtc", "ptxas", "nvdisasm", "cuobjdump"])
def test_every_tool_comes_from_this_environment(name):
    tool = {t.name: t for t in cudatools.toolchain()}[name]
    prefix = cudatools.environment_prefix()
    path = Path(tool.path).resolve()
    assert tool.from_environment, f"{tool.name} came from {tool.origin}: {tool.path}"
    assert tool.origin.startswith("pip wheel")
    assert path.is_relative_to(prefix), f"{tool.name} at {path} is outside {prefix}"
    assert not path.is_relative_to(SYSTEM_CUDA), f"{tool.name} is the system CUDA's: {path}"
    assert not str(tool.path).startswith("/usr/local/cuda")
    assert path.exists()
    assert tool.version


def test_environment_prefix_is_this_python():
    import sys

    assert cudatools.environment_prefix() == Path(sys.prefix).resolve()


def test_nvrtc_is_release_13_0():
    nvrtc = cudatools.find_nvrtc()
    assert nvrtc.version.startswith("13.0"), nvrtc.version
    assert "libnvrtc" in nvrtc.path.name


def test_ptxas_is_release_13_0():
    # The assembler must come from the same release as NVRTC (see pyproject.toml).
    assert cudatools.find_tool("ptxas").version.startswith("13.0")


def test_system_cuda_is_only_a_fallback():
    tool = cudatools.Tool("ptxas", Path("/usr/local/cuda/bin/ptxas"), "system CUDA", "12.0")
    assert not tool.from_environment


def test_supported_archs_include_the_course_targets():
    archs = cudatools.supported_archs()
    assert "sm_90" in archs and "sm_75" in archs


# --------------------------------------------------------------------------- PTX


def test_ptx_of_compare_swap(compare_swap_ptx):
    ptx = compare_swap_ptx
    assert re.search(r"^\.version 9\.0$", ptx, re.M)
    assert re.search(r"^\.target sm_90$", ptx, re.M)
    assert cudatools.ptx_version(ptx) == "9.0"
    assert ".entry odd_even_step" in ptx
    assert "ld.global" in ptx
    assert "st.global" in ptx
    assert "\0" not in ptx


def test_ptx_for_sm_75_targets_sm_75():
    ptx = cudatools.ptx_for("7_odd_even_global.cu", arch="sm_75")
    assert re.search(r"^\.target sm_75$", ptx, re.M)


def test_ptx_for_accepts_a_path_and_text():
    path = cudatools.KERNELS / "cuda" / "7_odd_even_global.cu"
    from_path = cudatools.ptx_for(path)
    from_text = cudatools.ptx_for(path.read_text())
    assert ".entry odd_even_step" in from_path and ".entry odd_even_step" in from_text


def test_ptx_version_of_non_ptx_raises():
    with pytest.raises(ValueError, match="not PTX"):
        cudatools.ptx_version("int main() {}")


# --------------------------------------------------------------------------- cubin and SASS


@pytest.mark.parametrize("arch", ["sm_90", "sm_75"])
def test_cubin_for_real_architectures(arch):
    cubin = cudatools.cubin_for("7_odd_even_global.cu", arch)
    assert isinstance(cubin, bytes)
    assert cubin[:4] == b"\x7fELF"  # a cubin is an ELF file


def test_sass_for_sm_90_has_the_loads_compare_and_stores():
    sass = cudatools.sass_for("7_odd_even_global.cu", "sm_90")
    instructions = cudatools.sass_instructions(sass)
    assert instructions, "no instructions parsed from the cuobjdump listing"
    ops = {i.split()[0].lstrip("@!P0123456789 ") for i in instructions}
    opcodes = " ".join(instructions)
    assert "LDG" in sass and "STG" in sass and "ISETP" in sass
    assert any(op.startswith("LDG") for op in ops)
    assert any(op.startswith("STG") for op in ops)
    assert "ISETP" in opcodes
    assert "odd_even_step" in sass


def test_sass_for_a_cubin_matches_sass_for_source():
    cubin = cudatools.cubin_for("7_odd_even_global.cu", "sm_75")
    from_cubin = cudatools.sass_instructions(cudatools.sass_for(cubin))
    from_source = cudatools.sass_instructions(cudatools.sass_for("7_odd_even_global.cu", "sm_75"))
    assert from_cubin == from_source


def test_compact_sass_has_no_nops_and_keeps_the_work():
    sass = cudatools.sass_for("7_odd_even_global.cu")
    assert "NOP" in sass, "cuobjdump pads with NOPs; the test expects some to remove"
    compact = cudatools.compact_sass(sass)
    lines = compact.splitlines()
    assert lines[0].startswith("Function : odd_even_step")
    assert not any(re.search(r"\bNOP\b", ln) for ln in lines)
    assert "/* 0x" not in compact  # no encodings
    assert any("LDG" in ln for ln in lines) and any("STG" in ln for ln in lines)
    assert lines[-1].strip().endswith("EXIT")


# --------------------------------------------------------------------------- errors


def test_cuda_syntax_error_names_cell_cu_and_the_line():
    source = 'extern "C" __global__ void k(int *a)\n{\n    a[0] = ;\n}\n'
    with pytest.raises(CudaCompileError) as info:
        cudatools.ptx_for(source)
    message = str(info.value)
    assert "cell.cu(3)" in message
    assert "error" in message
    assert "cell.cu(3)" in info.value.log


def test_cuda_syntax_error_also_fails_cubin_for():
    with pytest.raises(CudaCompileError, match=r"cell\.cu\(1\)"):
        cudatools.cubin_for('extern "C" __global__ void k(int *a) { a[0] = ; }\n', "sm_75")


@pytest.mark.parametrize("arch", ["hopper", "90", "sm90", "sm_", ""])
def test_bad_arch_string_raises_value_error(arch):
    with pytest.raises(ValueError, match="sm_90"):
        cudatools.ptx_for("7_odd_even_global.cu", arch=arch)
    with pytest.raises(ValueError):
        cudatools.cubin_for("7_odd_even_global.cu", arch=arch)


# --------------------------------------------------------------------------- ptxas


def test_assemble_ptx_returns_a_cubin(compare_swap_ptx):
    cubin = cudatools.assemble_ptx(compare_swap_ptx)
    assert isinstance(cubin, bytes) and cubin[:4] == b"\x7fELF"
    assert "odd_even_step" in cudatools.sass_for(cubin)


def test_assemble_broken_ptx_mentions_ptxas(compare_swap_ptx):
    broken = compare_swap_ptx.replace("ld.global", "ld.glbal", 1)
    assert broken != compare_swap_ptx
    with pytest.raises(CudaCompileError) as info:
        cudatools.assemble_ptx(broken)
    message = str(info.value)
    assert "ptxas" in message
    assert "kernel.ptx" in message and "line" in message
    assert "glbal" in info.value.log


# --------------------------------------------------------------------------- inline PTX


@pytest.mark.parametrize("arch", ["sm_75", "sm_90"])
def test_valid_inline_ptx_compiles_to_cubin(arch):
    source = _inline("min.s32")
    assert "min.s32" in cudatools.ptx_for(source, arch)
    cubin = cudatools.cubin_for(source, arch)
    assert cubin[:4] == b"\x7fELF"
    assert "IMNMX" in cudatools.sass_for(cubin) or "VIMNMX" in cudatools.sass_for(cubin)


@pytest.mark.parametrize("op", ["mín.s32", "foo.s32"])
@pytest.mark.parametrize("arch", ["sm_75", "sm_90"])
def test_invalid_inline_ptx_passes_ptx_but_fails_cubin(op, arch):
    """The lesson: NVRTC pastes inline asm into the PTX unchecked; only ptxas checks it."""
    source = _inline(op)
    ptx = cudatools.ptx_for(source, arch)  # no error: PTX-only compilation proves nothing
    assert op in ptx
    with pytest.raises(CudaCompileError) as info:
        cudatools.cubin_for(source, arch)
    message = str(info.value)
    assert "ptxas" in message
    assert arch in message


def test_invalid_inline_ptx_also_fails_assemble_ptx():
    ptx = cudatools.ptx_for(_inline("foo.s32"))
    with pytest.raises(CudaCompileError, match="ptxas"):
        cudatools.assemble_ptx(ptx)


_STEP = r'''
extern "C" __global__ void odd_even_step(int *a, int n, int phase)
{
    int i = 2 * (blockIdx.x * blockDim.x + threadIdx.x) + phase;
    if (i + 1 < n) {
        int low, high;
        asm("min.s32 %0, %2, %3;\n\t"
            "LAST"
            : "=r"(low), "=r"(high)
            : "r"(a[i]), "r"(a[i + 1]));
        a[i] = low;
        a[i + 1] = high;
    }
}
'''


@pytest.mark.parametrize(("last", "says"), [
    ("max.s32 %1, %2 %3;", "ptxas says: Parsing error near '%r13': syntax error"),
    ("max.s32 %1, %2, %3", "the last instruction of your asm string probably lacks its ';'"),
], ids=["fatal parsing error", "missing final semicolon"])
def test_ptxas_fatal_errors_point_at_the_students_asm_line(last, says):
    with pytest.raises(cudatools.CudaCompileError) as info:
        cudatools.cubin_for(_STEP.replace("LAST", last), "sm_90")
    message = str(info.value)
    # line 8 of the source: the string that holds max.s32, not the asm's first line
    assert f'cell.cu line 8: ptxas rejected this inline PTX:\n    "{last}"' in message
    assert says in message


def test_assemble_ptx_quotes_the_ptx_line_ptxas_names():
    text = (cudatools.KERNELS / "cuda" / "7b_odd_even_step.ptx").read_text()
    number = next(i for i, ln in enumerate(text.splitlines(), 1)
                  if ln.strip().startswith("min.s32"))
    broken = text.replace("        min.s32", "        mni.s32", 1)
    with pytest.raises(cudatools.CudaCompileError) as info:
        cudatools.assemble_ptx(broken, "sm_90", name="mine.ptx")
    message = str(info.value)
    assert message.startswith("ptxas could not assemble mine.ptx for sm_90:\n"
                              f"mine.ptx line {number}: Not a name of any known instruction: "
                              f"'mni'\n  {number:>4} | mni.s32")
