"""Issue 13: the claims of notebooks 00, 01, 02, 04 and 06 stay true.

Compiler facts are checked by compiling on the CPU (NVRTC, ptxas, cuobjdump from the
wheels); measured conclusions are computed by :mod:`py2ptx.conclusions` and checked here
against the recorded runs the notebooks name; the prose is checked for the words the
review found wrong.
"""

from __future__ import annotations

import dis
import inspect
import json
import re
import sys
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

from py2ptx import conclusions, cudatools, doctor, ladder, plots, reports, results, stack
from py2ptx.kernels import bubble_python
from py2ptx.layers import LAYERS
from py2ptx.speedups import speedup_split
from py2ptx.timing import Timing, time_cpu

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
MINE = ("00-the-stack", "01-python-bubble-sort", "02-c-and-numba", "04-ptx", "06-the-whole-ladder")


def recorded(name: str):
    """The newest recorded run ``name`` in the repository's results/ (the one the notebooks
    show without a GPU), or skip."""
    runs = results.load_runs(name, gpu=True, directory=results.REPO / "results")
    if not runs:
        pytest.skip(f"no recorded {name} run in results/")
    return max(runs, key=lambda r: r.provenance["recorded_utc"])


def notebook_text(stem: str) -> str:
    nb = json.loads((NOTEBOOKS / f"{stem}.ipynb").read_text())
    return "\n".join("".join(c["source"]) for c in nb["cells"])


def cell(stem: str, cell_id: str) -> str:
    nb = json.loads((NOTEBOOKS / f"{stem}.ipynb").read_text())
    return next("".join(c["source"]) for c in nb["cells"] if c.get("id") == cell_id)


# --------------------------------------------------------------------------- item 2: what C++ can say


@pytest.fixture(scope="module")
def hints():
    return stack.cache_hint_sass("sm_90")


def test_cuda_cpp_cache_intrinsics_become_the_qualified_loads_the_notebooks_name(hints):
    assert any(i.startswith("LDG.E.128.CONSTANT") for i in hints["__ldg"]["sass"])
    assert any(i.startswith("LDG.E.EF.128") for i in hints["__ldcs / __stcs"]["sass"])
    assert any(i.startswith("STG.E.EF.128") for i in hints["__ldcs / __stcs"]["sass"])
    assert any(i.startswith("LDG.E.128.STRONG.GPU") for i in hints["__ldcg"]["sass"])
    assert any(".cs." in p for p in hints["__ldcs / __stcs"]["ptx"])


def test_cccl_reaches_the_l2_policy_and_deepseeks_exact_load(hints):
    if stack.cccl_include() is None:
        pytest.skip("no CCCL headers here (pip install nvidia-cuda-cccl): nothing to compile")
    annotated = hints["cuda::annotated_ptr<int4, cuda::access_property::streaming>"]
    assert any(".L2::cache_hint" in p for p in annotated["ptx"])
    assert "UMOV UR5, 0x12f00000" in annotated["sass"]
    deepep = hints["cuda::ptx::ld_nc_L1_no_allocate_L2_256B"]
    assert any("ld.global.nc.L1::no_allocate.L2::256B" in p for p in deepep["ptx"])
    assert any(i.startswith("LDG.E.NA.LTC256B.128.CONSTANT") for i in deepep["sass"])


def test_a_handwritten_evict_first_policy_builds_annotated_ptrs_descriptor():
    source = r'''
extern "C" __global__ void k(const int4 *src, int4 *dst) {
    int i = threadIdx.x; unsigned long long pol; int4 v;
    asm("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(pol));
    asm volatile("ld.global.L2::cache_hint.v4.s32 {%0,%1,%2,%3}, [%4], %5;"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(src + i), "l"(pol));
    dst[i] = v;
}'''
    sass = "\n".join(cudatools.sass_by_kernel(cudatools.sass_for(source))["k"])
    # ptxas folds the policy into the load's descriptor with uniform ops:
    # UR4 = 0xf0 >> 4; UR5 = (0x120 | (0xf & UR4)) << 20
    lo = int(re.search(r"UMOV UR4, (0x[0-9a-f]+)", sass).group(1), 16)
    hi = int(re.search(r"UMOV UR5, (0x[0-9a-f]+)", sass).group(1), 16)
    shift_r = int(re.search(r"USHF\.R\.U32 UR4, UR4, (0x[0-9a-f]+)", sass).group(1), 16)
    shift_l = int(re.search(r"USHF\.L\.U32 UR5, UR5, (0x[0-9a-f]+)", sass).group(1), 16)
    assert "ULOP3.LUT UR5, UR5, 0xf, UR4, 0xf8" in sass  # 0xf8: UR5 | (0xf & UR4)
    assert ((hi | (0xF & (lo >> shift_r))) << shift_l) == 0x12F00000


def test_the_notebooks_no_longer_say_c_has_no_words_for_the_qualifiers():
    for stem in ("00-the-stack", "04-ptx", "06-the-whole-ladder"):
        text = notebook_text(stem)
        assert "C has no words" not in text, stem
        assert "instructions C does not expose" not in text, stem
    assert "__ldcs" in notebook_text("04-ptx") and "cuda::ptx" in notebook_text("00-the-stack")


# --------------------------------------------------------------------------- item 3: PTX is versioned


def test_l2_256b_needs_sm80_while_128b_assembles_for_sm75():
    verdict = stack.assembles_for(".L2::256B", ("sm_75", "sm_80", "sm_90"))
    assert "sm_80" in verdict["sm_75"] and verdict["sm_80"] == verdict["sm_90"] == "ok"
    assert stack.assembles_for(".L2::128B", ("sm_75",)) == {"sm_75": "ok"}


def test_ptx_names_its_isa_version_and_its_target():
    ptx90 = cudatools.ptx_for("7_odd_even_global.cu", "sm_90")
    assert stack.ptx_header(ptx90) == {"version": cudatools.ptx_version(ptx90), "target": "sm_90"}
    assert stack.ptx_header(cudatools.ptx_for("7_odd_even_global.cu", "sm_90a"))["target"] == "sm_90a"
    with pytest.raises(ValueError, match=".target"):
        stack.ptx_header(".version 9.0\n")


def test_nothing_says_ptx_is_the_same_for_every_generation():
    text = notebook_text("00-the-stack").replace("\n", " ")
    assert "it is the same for every GPU generation" not in text
    assert "not the same for every GPU generation" in text
    assert "stable across GPU generations" not in LAYERS["ptx"].summary
    assert ".version" in LAYERS["ptx"].summary and "sm_90a" in LAYERS["ptx"].summary


# --------------------------------------------------------------------------- item 6: the stack picture


def test_the_stack_picture_draws_the_code_and_the_control_path():
    fig = plots.stack_diagram(modes=doctor.probe().layers)
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "code path" in texts and "control path" in texts
    for api in ("OpenCL", "Vulkan", "DirectX"):
        assert api in texts
    assert "JIT" in texts and "launch" in texts


def test_the_doctor_never_says_a_gpu_runs_ptx():
    mode, why = doctor.probe().layers["ptx"]
    assert mode != "runs" and "runs it" not in why


# --------------------------------------------------------------------------- item 7: the IR


def test_notebook_00_calls_numbas_ir_optimized_and_numba_returns_the_final_module():
    from numba.core import codegen

    assert "optimized" in cell("00-the-stack", "c15")
    assert "_final_module" in inspect.getsource(codegen.CPUCodeLibrary.get_llvm_str)


def test_the_select_is_in_compare_swap_but_not_in_bubble_sort():
    from py2ptx.kernels import bubble_numba

    a = np.arange(8, dtype=np.int32)[::-1].copy()
    bubble_numba.bubble_sort(a)
    bubble_numba.compare_swap(np.zeros(2, dtype=np.int32), 0)
    sort_ir = bubble_numba.bubble_sort.inspect_llvm(bubble_numba.bubble_sort.signatures[0])
    step_ir = bubble_numba.compare_swap.inspect_llvm(bubble_numba.compare_swap.signatures[0])
    assert conclusions.numba_ir_facts(sort_ir)["select"] == 0
    assert conclusions.numba_ir_facts(step_ir)["select"] > 0
    assert "notebook 00's LLVM IR has a hint" not in notebook_text("02-c-and-numba")


# --------------------------------------------------------------------------- item 9: Python 3.10

Op = namedtuple("Op", "opname")

#: dis of bubble_python.bubble_sort's inner loop on CPython 3.10 (BINARY_ADD, ROT_TWO,
#: JUMP_ABSOLUTE: the 3.10 opcodes that 3.11 replaced by BINARY_OP, SWAP, JUMP_BACKWARD).
PY310_INNER = ("FOR_ITER STORE_FAST LOAD_FAST LOAD_FAST BINARY_SUBSCR LOAD_FAST LOAD_FAST LOAD_CONST "
               "BINARY_ADD BINARY_SUBSCR COMPARE_OP POP_JUMP_IF_FALSE LOAD_FAST LOAD_FAST LOAD_CONST "
               "BINARY_ADD BINARY_SUBSCR LOAD_FAST LOAD_FAST BINARY_SUBSCR ROT_TWO LOAD_FAST LOAD_FAST "
               "STORE_SUBSCR LOAD_FAST LOAD_FAST LOAD_CONST BINARY_ADD STORE_SUBSCR JUMP_ABSOLUTE").split()
PY310_BEFORE = "LOAD_GLOBAL LOAD_FAST CALL_FUNCTION GET_ITER FOR_ITER STORE_FAST LOAD_GLOBAL".split()
PY310_AFTER = "JUMP_ABSOLUTE LOAD_CONST RETURN_VALUE".split()


def test_the_inner_loop_is_found_on_python_3_10():
    ops = [Op(o) for o in PY310_BEFORE + ["LOAD_FAST", "CALL_FUNCTION", "GET_ITER"]
           + PY310_INNER + PY310_AFTER]
    inner = stack.inner_loop_bytecodes(ops)
    assert [op.opname for op in inner] == PY310_INNER


def test_the_inner_loop_is_found_on_this_python():
    inner = stack.inner_loop_bytecodes(dis.get_instructions(bubble_python.bubble_sort))
    assert inner[0].opname == "FOR_ITER"
    want = "JUMP_ABSOLUTE" if sys.version_info < (3, 11) else "JUMP_BACKWARD"
    assert inner[-1].opname.startswith(want)
    assert all(op.opname != "CACHE" for op in inner)
    with pytest.raises(ValueError, match="two nested"):
        stack.inner_loop_bytecodes([Op("FOR_ITER"), Op("RETURN_VALUE")])
    assert "JUMP_BACKWARD\"))" not in cell("01-python-bubble-sort", "c10")  # the helper finds it


# --------------------------------------------------------------------------- item 10: one vocabulary


def test_one_vocabulary_for_the_two_kinds():
    pair = cell("00-the-stack", "c25")
    assert "**low-level optimization** = **`same-algorithm`**" in pair
    assert "**co-optimization** = **`algorithm-change`**" in pair
    assert "labelled with them" not in pair
    assert set(ladder.KINDS) == {"baseline", "same-algorithm", "algorithm-change"}
    table = ladder.markdown_table()
    assert "same-algorithm" in table and "algorithm-change" in table and "co-optim" not in table
    for stem in ("02-c-and-numba", "06-the-whole-ladder"):
        text = notebook_text(stem)
        assert "`same-algorithm`" in text and "`algorithm-change`" in text, stem


def test_notebook_01_asks_about_the_size_it_prints_first():
    assert "n = 256 takes the time printed first" not in notebook_text("01-python-bubble-sort")
    ts = [Timing((0.01,), n=128), Timing((0.16,), n=512)]
    assert conclusions.quadratic_prediction(ts).startswith("From n = 128")


def test_the_prose_that_the_numbers_contradicted_is_gone():
    assert "most of the gap disappears" not in notebook_text("02-c-and-numba")
    assert "Same SASS should mean the same time, within the spread" not in notebook_text("04-ptx")
    assert "nearly all of it happens at one layer" not in notebook_text("06-the-whole-ladder")


# --------------------------------------------------------------------------- recorded runs


def test_notebook_04s_answer_matches_the_recorded_gpu_run():
    run = recorded("gpu-ladder")
    lines = conclusions.same_sass_times(run.timings)
    big = [ln for ln in lines if ln.startswith("n = 16,384")]
    assert any("same SASS" in ln and "within the noise" in ln for ln in big)
    by = {(t.label, t.n): t for t in run.timings}
    r = conclusions.ratio(by[("odd_even_minmax", 16384)], by[("odd_even_shared", 16384)])
    # "a few percent faster than both branch-free kernels at n = 16,384", beyond the noise
    assert r.sure and 1.01 < r.value < 1.15
    r2 = conclusions.ratio(by[("odd_even_inline_ptx", 16384)], by[("odd_even_shared", 16384)])
    assert r2.sure and 1.01 < r2.value < 1.15
    assert "a few percent *faster* than both branch-free kernels at n = 16,384" in notebook_text("04-ptx")


def test_notebook_06s_answers_match_the_recorded_ladder():
    run = recorded("ladder")
    there = reports.recorded_ladder(run)
    text = conclusions.headline(there)
    assert "quartile range" in text
    split = speedup_split(there)
    if ladder.rung(split.same).device != ladder.rung(split.best).device:
        assert "also changes device" in text
    answer = conclusions.layer_answer(there)
    assert "biggest step: the compilers layer" in answer  # "the big step is at languages and compilers"
    assert "recorded run" in cell("06-the-whole-ladder", "08e877e6")
    assert "range" in conclusions.beside_leiserson(there)


# --------------------------------------------------------------------------- the mechanism


def test_noisy_timings_say_so_with_the_fastest_sample():
    quiet, noisy = Timing((1.0, 1.01, 0.99, 1.0)), Timing((1.0, 1.0, 2.0, 3.0, 1.0, 2.5))
    assert not quiet.noisy and quiet.noise_note() == ""
    assert noisy.noisy and "NOISY" in str(noisy) and "fastest 1 s" in str(noisy)
    assert noisy.quartiles[0] <= noisy.median <= noisy.quartiles[1]


def test_time_cpu_takes_more_samples_when_noisy():
    import time

    calls = []

    def jittery():  # alternately fast and slow: IQR far above 20 % of the median
        calls.append(1)
        time.sleep(0.03 if len(calls) % 2 else 0.0)

    t = time_cpu(jittery, repeats=4, max_repeats=10, min_sample_s=0.0, warmup=0)
    assert t.noisy and t.repeats == 10 and t.meta["extra_repeats"] == 6
    with pytest.raises(ValueError, match="max_repeats"):
        time_cpu(jittery, repeats=4, max_repeats=2)


def test_ratios_and_noise_verdicts():
    a, b = Timing((2.0, 2.1, 1.9)), Timing((1.0, 1.05, 0.95))
    r = conclusions.ratio(a, b)
    assert r.low < r.value < r.high and r.sure and not conclusions.within_noise(a, b)
    assert "slower, beyond the noise" in conclusions.compare("a", a, "b", b)
    c = Timing((1.0, 1.5, 0.8))
    assert conclusions.within_noise(b, c) and "within the noise" in conclusions.compare("b", b, "c", c)


def test_the_store_experiment_says_what_remains():
    rv, rs = Timing((4.0, 4.1, 3.9)), Timing((1.0, 1.02, 0.98))
    sv, ss = Timing((2.0, 2.05, 1.95)), Timing((1.0, 1.02, 0.98))
    text = conclusions.store_experiment(rv, rs, sv, ss)
    assert "67% of it comes with the stores" in text and "does not explain" in text
    gone = conclusions.store_experiment(rv, rs, Timing((1.0, 1.02, 0.98)), ss)
    assert "gap is gone" in gone
    faster = conclusions.store_experiment(rv, rs, Timing((0.6, 0.61, 0.59)), ss)
    assert "even faster" in faster and "remains" not in faster


def test_every_notebook_of_issue_13_computes_its_conclusions():
    for stem in MINE:
        assert "conclusions." in notebook_text(stem) or stem == "00-the-stack", stem


def test_notebook_00s_same_ptx_differs_only_in_its_target():
    ptx_75, ptx_90 = (cudatools.ptx_for("7_odd_even_global.cu", a) for a in ("sm_75", "sm_90"))
    differ = [(a, b) for a, b in zip(ptx_75.splitlines(), ptx_90.splitlines(), strict=True) if a != b]
    assert differ == [(".target sm_75", ".target sm_90")]


def test_notebook_00s_reading_of_the_two_sass_listings_holds():
    # "sm_90 moves arguments into uniform registers; its loads carry a memory descriptor and
    # 64-bit addresses; sm_75's say .SYS"
    sass_75, sass_90 = (cudatools.sass_for("7_odd_even_global.cu", arch=a)
                        for a in ("sm_75", "sm_90"))
    assert "ULDC" in sass_90 and "ULDC" not in sass_75
    assert "desc[UR" in sass_90 and ".64" in sass_90
    assert "LDG.E.SYS" in sass_75 and "desc[" not in sass_75


def test_the_instructions_notebooks_00_and_04_name_are_in_the_compiler_output():
    ptx = cudatools.ptx_for("7_odd_even_global.cu")
    for word in ("ld.global.u32", "setp.le.s32", "@%p2 bra", "st.global.u32"):
        assert word in ptx, word
    sass = cudatools.compact_sass(cudatools.sass_for("7_odd_even_global.cu"))
    for word in ("LDG.E", "ISETP.GT", "STG.E", "@!P0 EXIT", "LEA", "IMAD.WIDE"):
        assert word in sass, word
    x86 = stack.artifact("x86").text
    assert "pshufd" in x86 and "%xmm" in x86
    by = cudatools.sass_by_kernel(cudatools.sass_for("11_odd_even_inline_ptx.cu"))
    diff = cudatools.sass_diff(by["odd_even_shared_minmax"], by["odd_even_shared_ptx"])
    changed = [ln for ln in diff.splitlines()
               if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    assert changed and all(ln[1:].startswith("LDS ") for ln in changed)  # "only which register"


def test_notebook_02s_reading_of_the_recorded_cpu_rungs_holds():
    there = reports.recorded_ladder(recorded("ladder"))
    numba, c = there["numba_bubble"], there["c_bubble_scalar"]
    r = conclusions.ratio(numba, c)
    assert not conclusions.within_noise(numba, c) and 1.0 < r.value < 1.03  # "2 % slower, just clear"
    assert f"{(r.value - 1) * 100:.0f} % slower" in notebook_text("02-c-and-numba")
    assert f"{numba.median * 1e3:.1f} ms against {c.median * 1e3:.1f} ms" in notebook_text(
        "02-c-and-numba").replace("\n", " ")


# --------------------------------------------------------------------------- the review of 2026-12-02


def test_the_quadratic_prediction_gives_a_verdict_computed_from_its_numbers():
    # n = 128 -> 2048 is x256 the work: 1 ms predicts 256 ms.
    follows = conclusions.quadratic_prediction([Timing((1e-3,), n=128), Timing((0.25,), n=2048)])
    assert "n² describes this machine's times" in follows
    # A busy machine: the medians stray (x3), the fastest samples do not.
    busy = conclusions.quadratic_prediction(
        [Timing((1e-3, 1e-3, 1e-3), n=128), Timing((0.75, 0.26, 0.8), n=2048)])
    assert "the fastest samples follow it" in busy and "consistent with other work" in busy
    # Off n² even at its fastest: the line says so and does not guess the cause.
    off = conclusions.quadratic_prediction([Timing((1e-3,), n=128), Timing((0.75,), n=2048)])
    assert "the fastest samples too" in off and "does not tell which" in off


def test_the_store_experiment_does_not_conclude_from_noise():
    rv, rs = Timing((4.0, 4.1, 3.9)), Timing((1.0, 1.02, 0.98))
    noisy = conclusions.store_experiment(rv, rs, Timing((1.3, 0.6, 2.0, 1.5)),
                                         Timing((1.3, 0.5, 2.2, 1.0)))
    assert "too noisy" in noisy and "gap is gone" not in noisy


def test_fitted_exponents_say_when_a_line_is_off_n_squared():
    quiet = [Timing((1e-3,), n=100), Timing((4e-3,), n=200)]
    busy = [Timing((1e-3,), n=100), Timing((8e-3, 4e-3), n=200)]
    bent = [Timing((1e-3,), n=100), Timing((8e-3,), n=200)]
    a, b, c = conclusions.exponents({"a": quiet, "b": busy, "c": bent})
    assert a.endswith("close to n²") and "medians were disturbed" in b
    assert "off n² even from the fastest samples" in c
    assert "conclusions.exponents(series)" in notebook_text("02-c-and-numba")


def test_fwrapv_makes_the_same_scalar_loop_notebook_02_says_it_does():
    from py2ptx import cbuild

    try:
        wrapv = cbuild.asm_for("bubble_sort.c", ["-O2", "-fwrapv"], function="bubble_sort")
        scalar = cbuild.asm_for("bubble_sort.c", ["-O2", "-fno-tree-slp-vectorize"],
                                function="bubble_sort")
    except Exception as err:  # no C compiler here
        pytest.skip(f"no C compiler: {err}")
    assert "xmm" not in wrapv
    text = notebook_text("02-c-and-numba")
    assert "keeps the swap scalar too" in text and "same_loop = (" in text  # the cell compares
    assert "xmm" not in scalar  # whether the two are identical, the cell prints (gcc's choice)
    assert "does it too: gcc can then no longer prove" not in text


def test_notebook_02_names_the_host_cpu_of_the_recorded_cpu_rungs():
    run = recorded("ladder")
    assert "Xeon" in run.provenance["machine"]["cpu"]
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", notebook_text("02-c-and-numba")).replace("\n", " ")
    assert "recorded H200 machine's run" not in text and "host CPU, an Intel Xeon" in text


def test_the_branchy_kernels_if_became_predicated_stores():
    sass = cudatools.sass_by_kernel(cudatools.sass_for("8_odd_even_shared.cu"))["odd_even_shared"]
    assert len([i for i in sass if re.match(r"@!?P\d STS\b", i)]) >= 2
    text = notebook_text("04-ptx")
    assert "*predicated* stores, `@P2 STS`" in text and '"6_... inline PTX' not in text


def test_the_driver_jit_is_not_said_to_be_the_same_ptxas():
    text = notebook_text("00-the-stack")
    assert "or that the driver runs when it JIT-compiles PTX" not in text
    assert "the driver carries its own copy" in text


def test_co_optimization_is_defined_as_the_registry_defines_it():
    text = notebook_text("00-the-stack")
    assert "together with the hardware it runs on" not in text
    assert "n(n−1)/2" in text and "py2ptx/ladder.py" in text
    assert "n(n-1)/2" in ladder.__doc__


def test_notebook_06s_crossover_reads_the_recorded_host_share():
    there = reports.recorded_ladder(recorded("ladder"))
    fastest_gpu = min((k for k in there if ladder.rung(k).device == "gpu"),
                      key=lambda k: there[k].median)
    t = there[fastest_gpu]
    assert t.host_fraction is not None or t.meta.get("cpu_median_s")
    text = notebook_text("06-the-whole-ladder")
    assert "host's own time for the call" in text and "A bigger GPU does not help" not in text
    assert "rung 10's reorganization" not in text and "their version 5's" in text


def test_numbas_loop_touches_no_vector_register_but_the_stack():
    # Notebook 02: "these instructions only zero a register and copy a small structure on the
    # stack around the call; none is in the sorting loop" -- the cell counts, this checks.
    from py2ptx.kernels import bubble_numba

    bubble_numba.bubble_sort(np.zeros(3, dtype=np.int32))
    asm = bubble_numba.bubble_sort.inspect_asm(bubble_numba.bubble_sort.signatures[0])
    vector = [ln.strip() for ln in asm.splitlines() if "xmm" in ln or "ymm" in ln]
    zeroing = ("vxorps", "xorps", "pxor", "vpxor")
    elsewhere = [ln for ln in vector if "%rsp" not in ln and not (
        ln.split()[0] in zeroing and len(set(ln.split(None, 1)[1].replace(" ", "").split(","))) == 1)]
    assert elsewhere == []
    assert "the line counts, it does not assume" in notebook_text("02-c-and-numba")
