"""The labs' self-checks: right answers pass with a ✓, stubs raise NotImplementedError naming
the exercise, and wrong answers fail with a message that says which input and what is wrong."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from py2ptx.cbuild import CCompileError
from py2ptx.checks import standard_cases
from py2ptx.cudatools import CudaCompileError
from py2ptx.exercises import ExerciseFailed, count_inversions, lab01, lab02, lab05

# --------------------------------------------------------------------------- answers


def bubble_sort_early_exit(a):
    """A right answer to lab 01's first exercise."""
    n, passes, swaps = len(a), 0, 0
    for end in range(n - 1, 0, -1):
        passes += 1
        swapped = False
        for j in range(end):
            if a[j] > a[j + 1]:
                a[j], a[j + 1] = a[j + 1], a[j]
                swaps += 1
                swapped = True
        if not swapped:
            break
    return passes, swaps


def no_early_exit(a):
    """Sorts and counts swaps right, but always makes n - 1 passes."""
    n, passes, swaps = len(a), 0, 0
    for end in range(n - 1, 0, -1):
        passes += 1
        for j in range(end):
            if a[j] > a[j + 1]:
                a[j], a[j + 1] = a[j + 1], a[j]
                swaps += 1
    return passes, swaps


def counts_comparisons(a):
    """Sorts, but counts every comparison as a swap."""
    n, passes, swaps = len(a), 0, 0
    for end in range(n - 1, 0, -1):
        passes += 1
        swapped = False
        for j in range(end):
            swaps += 1
            if a[j] > a[j + 1]:
                a[j], a[j + 1] = a[j + 1], a[j]
                swapped = True
        if not swapped:
            break
    return passes, swaps


def skips_last_pair(a):
    """Off by one: the inner loop stops one pair early."""
    n, passes, swaps = len(a), 0, 0
    for end in range(n - 1, 0, -1):
        passes += 1
        for j in range(end - 1):
            if a[j] > a[j + 1]:
                a[j], a[j + 1] = a[j + 1], a[j]
                swaps += 1
    return passes, swaps


def stub(*args):
    raise NotImplementedError()


C_RIGHT = """\
#include <stdint.h>

void bubble_sort(int32_t *a, int32_t n)
{
    for (int end = n - 1; end > 0; --end)
        for (int j = 0; j < end; ++j)
            if (a[j] > a[j + 1]) {
                int32_t t = a[j];
                a[j] = a[j + 1];
                a[j + 1] = t;
            }
}
"""

C_OFF_BY_ONE = C_RIGHT.replace("j < end;", "j < end - 1;")

C_SYNTAX_ERROR = """\
#include <stdint.h>

void bubble_sort(int32_t *a, int32_t n)
{
    for (int end = n - 1; end > 0; --end)
        for (int j = 0; j < end; ++j)
            if (a[j] > a[j + 1] {
                int32_t t = a[j];
                a[j] = a[j + 1];
                a[j + 1] = t;
            }
}
"""


def _checked(exercise, answer, capsys) -> str:
    exercise.check(answer)
    return capsys.readouterr().out


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize("keys", [[], [1], [1, 2], [2, 1], [3, 2, 1], [1, 1, 1], [2, 1, 2, 1],
                                  [5, -1, 3, 3, 0, -7, 2]])
def test_count_inversions_counts_bubble_sort_swaps(keys):
    brute = sum(1 for i in range(len(keys)) for j in range(i + 1, len(keys))
                if keys[i] > keys[j])
    assert count_inversions(keys) == brute
    assert bubble_sort_early_exit(list(keys))[1] == brute


def test_every_exercise_names_its_lab_and_task():
    for lab, exercises in (("Lab 01", lab01), ("Lab 02", lab02), ("Lab 05", lab05)):
        for exercise in vars(exercises).values():
            assert exercise.lab == lab
            assert exercise.name and exercise.task


def test_exercise_failed_is_an_assertion_error():
    assert issubclass(ExerciseFailed, AssertionError)


# --------------------------------------------------------------------------- lab 01


def test_lab01_early_exit_right_answer_passes(capsys):
    out = _checked(lab01.early_exit, bubble_sort_early_exit, capsys)
    assert out.startswith("✓ Lab 01, early exit and swap counter:")


def test_lab01_swaps_reversed_right_answer_passes(capsys):
    out = _checked(lab01.swaps_reversed, lambda n: n * (n - 1) // 2, capsys)
    assert out.startswith("✓ Lab 01, swaps on a reversed input:")


@pytest.mark.parametrize("exercise", [lab01.early_exit, lab01.swaps_reversed],
                         ids=["early_exit", "swaps_reversed"])
def test_lab01_stub_raises_not_implemented_naming_the_exercise(exercise, capsys):
    with pytest.raises(NotImplementedError) as info:
        exercise.check(stub)
    message = str(info.value)
    assert "Lab 01" in message
    assert repr(exercise.name) in message
    assert "not solved yet" in message
    assert "✓" not in capsys.readouterr().out


def test_lab01_wrong_swap_count_says_which_input():
    with pytest.raises(AssertionError) as info:
        lab01.early_exit.check(counts_comparisons)
    message = str(info.value)
    assert "on input 'duplicates' (n=60)" in message
    assert "swaps" in message
    want = count_inversions(standard_cases(60)["duplicates"])
    assert f"bubble sort makes exactly {want} here" in message


def test_lab01_no_early_exit_is_caught_on_sorted_input():
    with pytest.raises(AssertionError) as info:
        lab01.early_exit.check(no_early_exit)
    message = str(info.value)
    assert "'already sorted'" in message
    assert "59 passes" in message
    assert "early exit" in message


def test_lab01_wrong_sort_names_input_and_index():
    with pytest.raises(AssertionError) as info:
        lab01.early_exit.check(skips_last_pair)
    message = str(info.value)
    assert message.startswith("Lab 01, early exit and swap counter:")
    assert "input 'two, reversed'" in message
    assert "wrong at index 0" in message


def test_lab01_answer_must_return_a_pair():
    def returns_list(a):
        a.sort()
        return [0, 0]

    with pytest.raises(AssertionError, match=r"on input 'empty'.*tuple of two ints"):
        lab01.early_exit.check(returns_list)


@pytest.mark.parametrize(("formula", "n", "got", "want"), [
    (lambda n: n * n // 2, 2, 2, 1),
    (lambda n: n * (n + 1) // 2, 1, 1, 0),
    (lambda n: n - 1 if n else 0, 3, 2, 3),
])
def test_lab01_wrong_formula_says_for_which_n(formula, n, got, want):
    with pytest.raises(AssertionError) as info:
        lab01.swaps_reversed.check(formula)
    message = str(info.value)
    assert f"for n={n} you predict {got} swaps" in message
    assert f"bubble sort makes {want}" in message


# --------------------------------------------------------------------------- lab 02


def test_lab02_c_source_right_answer_passes(capsys):
    out = _checked(lab02.c_source, lambda: C_RIGHT, capsys)
    assert out.startswith("✓ Lab 02, bubble sort in C:")
    assert "-O1 and -O2" in out


def test_lab02_c_source_off_by_one_names_input_and_index():
    with pytest.raises(AssertionError) as info:
        lab02.c_source.check(lambda: C_OFF_BY_ONE)
    message = str(info.value)
    assert message.startswith("Lab 02, bubble sort in C:")
    assert "your C bubble_sort at -O1" in message
    assert "input 'two, reversed'" in message
    assert "wrong at index 0" in message
    assert "got 2, expected 1" in message


def test_lab02_c_source_syntax_error_raises_ccompileerror():
    with pytest.raises(CCompileError) as info:
        lab02.c_source.check(lambda: C_SYNTAX_ERROR)
    message = str(info.value)
    assert "lab02_bubble_sort.c:7" in message
    assert "-O1" in message


def test_lab02_c_source_missing_function_is_reported():
    with pytest.raises(ExerciseFailed, match=r"defines no function bubble_sort that a library "
                                             r"exports; the functions it defines: bubblesort\. "
                                             r"The check calls `void bubble_sort\(int \*a, int "
                                             r"n\)`"):
        lab02.c_source.check(lambda: C_RIGHT.replace("void bubble_sort", "void bubblesort"))


def test_lab02_scalar_flags_right_answer_passes(capsys):
    out = _checked(lab02.scalar_flags, lambda: ["-fno-tree-slp-vectorize"], capsys)
    assert out.startswith("✓ Lab 02, flags that keep the swap scalar:")
    assert "-O2 -fno-tree-slp-vectorize" in out


@pytest.mark.parametrize("flags", [["-O1"], ["-O3"], ["-fno-tree-slp-vectorize", "-O1"], ["-Os"]])
def test_lab02_scalar_flags_refuses_another_optimization_level(flags):
    with pytest.raises(AssertionError) as info:
        lab02.scalar_flags.check(lambda: flags)
    message = str(info.value)
    assert "keep -O2" in message
    assert next(f for f in flags if f.startswith("-O")) in message


def test_lab02_scalar_flags_that_leave_xmm_in_the_loop_are_refused():
    with pytest.raises(AssertionError) as info:
        lab02.scalar_flags.check(lambda: [])
    message = str(info.value)
    assert "vector" in message
    assert "%xmm" in message
    assert "with -O2 " in message


def test_lab02_scalar_flags_irrelevant_flag_is_refused():
    with pytest.raises(AssertionError, match="vector"):
        lab02.scalar_flags.check(lambda: ["-fno-inline"])


@pytest.mark.parametrize("stubbed", [lab02.c_source, lab02.scalar_flags, lab02.why_slower],
                         ids=["c_source", "scalar_flags", "why_slower"])
def test_lab02_stub_raises_not_implemented_naming_the_exercise(stubbed):
    with pytest.raises(NotImplementedError) as info:
        stubbed.check(stub)
    message = str(info.value)
    assert "Lab 02" in message and repr(stubbed.name) in message


def test_lab02_why_slower_right_answer_passes(capsys):
    out = _checked(lab02.why_slower, lambda: " B ", capsys)
    assert out.startswith("✓ Lab 02, why the vectorized loop is slower:")
    assert "store" in out


@pytest.mark.parametrize(("answer", "hint"), [("a", "sorted input"), ("c", "count the "),
                                              ("d", "same branch")])
def test_lab02_why_slower_wrong_letter_gets_a_hint(answer, hint):
    with pytest.raises(AssertionError) as info:
        lab02.why_slower.check(lambda: answer)
    message = str(info.value)
    assert f"not ({answer})" in message
    assert hint in message


def test_lab02_why_slower_needs_one_letter():
    with pytest.raises(AssertionError, match="one letter"):
        lab02.why_slower.check(lambda: "store forwarding")



# --------------------------------------------------------------------------- lab 05

DEEPEP_LD = "ld.global.nc.L1::no_allocate.L2::256B.v4.s32"

STREAM_HELPERS = r"""
__device__ __forceinline__ int4 load_streaming(const int4 *p)
{
    int4 v;
    asm("ld.global.nc.L1::no_allocate.L2::256B.v4.s32 {%0, %1, %2, %3}, [%4];"
        : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
        : "l"(p));
    return v;
}

__device__ __forceinline__ void store_streaming(int4 *p, int4 v)
{
    *p = v;
}
"""

REPO = Path(__file__).resolve().parent.parent


def _lab05_given(name: str) -> str:
    """A string the lab hands the student (its solution notebook is the single source)."""
    import json

    cells = json.loads((REPO / "solutions" / "05-lab-deepseek.ipynb").read_text())["cells"]
    for cell in cells:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and f"\n{name} = " in f"\n{source}":
            namespace: dict = {}
            exec(source, namespace)
            return namespace[name]
    raise AssertionError(f"lab 05 no longer gives {name}")


STREAM_KERNEL = _lab05_given("STREAM_KERNEL")

STREAM_RIGHT = STREAM_HELPERS + STREAM_KERNEL


@pytest.fixture
def no_gpu(monkeypatch):
    """The CPU path of lab 05's first check, also on a machine with a GPU."""
    from py2ptx import doctor

    monkeypatch.setattr(doctor, "has_gpu", lambda: False)


def _lab05_fails(source: str) -> str:
    with pytest.raises(ExerciseFailed) as info:
        lab05.streaming_source.check(lambda: source)
    message = str(info.value)
    assert message.startswith("Lab 05, a cache-hinted load in inline PTX: ")
    return message


def test_lab05_streaming_right_answer_passes_and_says_it_did_not_run(no_gpu, capsys):
    out = _checked(lab05.streaming_source, lambda: STREAM_RIGHT, capsys)
    assert out.startswith("✓ Lab 05, a cache-hinted load in inline PTX: compiles for sm_90")
    assert "LDG.E.NA.LTC256B.128.CONSTANT" in out
    assert "No GPU here: compiled and read only, not run" in out


def test_lab05_plain_load_names_every_missing_qualifier(no_gpu):
    message = _lab05_fails(STREAM_RIGHT.replace(DEEPEP_LD, "ld.global.v4.s32"))
    assert "stream_hinted loads with `LDG.E.128` in SASS" in message
    for part, qualifier in (("CONSTANT", ".nc"), ("NA", ".L1::no_allocate"),
                            ("LTC256B", ".L2::256B")):
        assert f"{part}, which {qualifier} gives" in message


@pytest.mark.parametrize(("load", "sass", "missing"), [
    ("ld.global.nc.L1::no_allocate.v4.s32", "LDG.E.NA.128.CONSTANT", "LTC256B, which .L2::256B"),
    ("ld.global.L1::no_allocate.L2::256B.v4.s32", "LDG.E.NA.LTC256B.128", "CONSTANT, which .nc"),
    ("ld.global.nc.L2::256B.v4.s32", "LDG.E.LTC256B.128.CONSTANT", "NA, which .L1::no_allocate"),
], ids=["no L2::256B", "no nc", "no L1::no_allocate"])
def test_lab05_one_missing_qualifier_is_named_alone(no_gpu, load, sass, missing):
    message = _lab05_fails(STREAM_RIGHT.replace(DEEPEP_LD, load))
    assert f"`{sass}`" in message
    assert f"Missing: {missing} gives" in message
    assert message.count(", which ") == 1


def test_lab05_a_128_byte_prefetch_is_told_apart(no_gpu):
    message = _lab05_fails(STREAM_RIGHT.replace(DEEPEP_LD, DEEPEP_LD.replace("256B", "128B")))
    assert "LTC128B comes from .L2::128B" in message


def test_lab05_ptx_typo_points_at_the_students_asm_line(no_gpu):
    source = STREAM_RIGHT.replace("no_allocate", "no_alocate")
    line = source.splitlines().index(next(ln for ln in source.splitlines() if "asm(" in ln)) + 1
    with pytest.raises(CudaCompileError) as info:
        lab05.streaming_source.check(lambda: source)
    message = str(info.value)
    assert f"cell.cu line {line}: ptxas rejected this inline PTX:" in message
    assert 'asm("ld.global.nc.L1::no_alocate.L2::256B.v4.s32' in message
    assert "Unknown modifier '.L1::no_alocate'" in message


def test_lab05_store_left_out_is_caught(no_gpu):
    message = _lab05_fails(STREAM_RIGHT.replace("*p = v;", ""))
    assert "no STG (global store) and no LDG (global load) either" in message
    assert "Is the store left out" in message


@pytest.mark.parametrize("mistake", [
    ('"=r"(v.x), "=r"(v.y)', '"=r"(v.y), "=r"(v.x)'),
    ("*p = v;", "*p = make_int4(v.x, v.y, v.z, v.x);"),
], ids=["outputs swapped", "word repeated"])
def test_lab05_a_wrong_copy_is_caught_in_the_ptx(no_gpu, mistake):
    message = _lab05_fails(STREAM_RIGHT.replace(*mistake))
    assert "the copy swaps, drops or repeats words" in message


def test_lab05_the_load_must_be_inline_ptx(no_gpu):
    in_c = STREAM_HELPERS.split("__device__ __forceinline__ void")[1]
    source = ("__device__ __forceinline__ int4 load_streaming(const int4 *p) { return __ldg(p); }"
              "\n__device__ __forceinline__ void" + in_c + STREAM_KERNEL)
    assert "write the load in inline PTX" in _lab05_fails(source)


def test_lab05_the_kernel_signature_is_checked(no_gpu):
    message = _lab05_fails(STREAM_RIGHT.replace("int chunk_vec,", "long long chunk_vec,"))
    assert "yours takes (int4 *src, int4 *dst, long long n_vec, long long chunk_vec" in message


@pytest.mark.parametrize("stubbed", [lab05.streaming_source, lab05.best_chunk, lab05.why_stale],
                         ids=["streaming_source", "best_chunk", "why_stale"])
def test_lab05_stub_raises_not_implemented_naming_the_exercise(stubbed):
    with pytest.raises(NotImplementedError) as info:
        stubbed.check(stub)
    message = str(info.value)
    assert "Lab 05" in message and repr(stubbed.name) in message


def _stream_stand_ins(hinted_copies_all=True):
    """Python stand-ins for the fake GPU (CPU threads cannot run inline PTX). The student's
    stream_hinted either copies everything or skips the partial last chunk."""
    def stream(grid, block, args, shared_mem, whole=True):
        src, dst, n_vec, chunk_vec, done = args
        n = int(n_vec) if whole else int(n_vec) // int(chunk_vec) * int(chunk_vec)
        dst[:4 * n] = src[:4 * n]
        done[0] += -(-int(n_vec) // int(chunk_vec))

    def skips_partial_chunk(grid, block, args, shared_mem):
        stream(grid, block, args, shared_mem, whole=False)

    def victim(grid, block, args, shared_mem):
        args[4][:] = (0, 1_500_000, 0, 1_000_000)

    from py2ptx.deepseek import VARIANTS

    return {**{v.kernel: stream for v in VARIANTS}, "victim": victim,
            "stream_hinted": stream if hinted_copies_all else skips_partial_chunk}


def test_lab05_on_a_gpu_copies_then_prints_the_victims_slowdown(fake_gpu, monkeypatch, capsys):
    import importlib

    import fake_cupy

    exercises = importlib.import_module("py2ptx.exercises.lab05")  # the module, not lab05's exercises

    monkeypatch.setattr(fake_cupy, "PYTHON_KERNELS", _stream_stand_ins())
    monkeypatch.setattr(exercises, "_GPU_STREAM_BYTES", 2**22)
    out = _checked(lab05.streaming_source, lambda: STREAM_RIGHT, capsys)
    assert "beside your stream_hinted" in out and "beside stream_plain" in out
    assert "on the GPU it copies exactly (poisoned output, a partial last chunk)" in out
    assert "No GPU here" not in out


def test_lab05_on_a_shared_gpu_copies_but_measures_nothing(fake_gpu, monkeypatch, capsys):
    import fake_cupy

    monkeypatch.setattr(fake_cupy, "PYTHON_KERNELS", _stream_stand_ins())
    monkeypatch.setenv("PY2PTX_SHARED_GPU", "1")
    out = _checked(lab05.streaming_source, lambda: STREAM_RIGHT, capsys)
    assert out.startswith("PY2PTX_SHARED_GPU is set")
    assert "beside stream_plain" not in out
    assert "on the GPU it copies exactly" in out


def test_lab05_on_a_gpu_a_partial_last_chunk_left_unwritten_is_caught(fake_gpu, monkeypatch):
    import fake_cupy

    monkeypatch.setattr(fake_cupy, "PYTHON_KERNELS", _stream_stand_ins(hinted_copies_all=False))
    message = _lab05_fails(STREAM_RIGHT)
    assert "on the GPU at chunk 1024 bytes" in message
    assert "the last chunk partial" in message
    assert "(never written: dst was filled with -1)" in message


# The auto-tuner: the right rule and the usual wrong ones.


def _fast(cells, key="bandwidth_with", within=0.9):
    best = max(c[key] for c in cells.values())
    return [k for k, c in cells.items() if c[key] >= within * best]


def tuner_right(cells):
    fast = _fast(cells)
    return min(fast, key=lambda k: (cells[k]["slowdown"], -cells[k]["bandwidth_with"]))


def tuner_fastest(cells):
    return max(cells, key=lambda k: cells[k]["bandwidth_with"])


def tuner_gentlest(cells):
    return min(cells, key=lambda k: cells[k]["slowdown"])


def tuner_wrong_side(cells):
    best = max(c["bandwidth_with"] for c in cells.values())
    fast = [k for k, c in cells.items() if best <= 1.1 * c["bandwidth_with"]]
    return min(fast, key=lambda k: (cells[k]["slowdown"], -cells[k]["bandwidth_with"]))


def tuner_first_on_tie(cells):
    fast = _fast(cells)
    return min(fast, key=lambda k: cells[k]["slowdown"])


def tuner_alone(cells):
    fast = _fast(cells, "bandwidth_alone")
    return min(fast, key=lambda k: (cells[k]["slowdown"], -cells[k]["bandwidth_alone"]))


def test_lab05_best_chunk_right_answer_passes(capsys):
    from py2ptx import deepseek

    out = _checked(lab05.best_chunk, tuner_right, capsys)
    assert out.startswith("✓ Lab 05, the chunk auto-tuner: agrees with the rule on 6 synthetic")
    if deepseek.recorded() is not None:
        assert "and on the recorded" in out and "all_hints" in out


def test_lab05_best_chunk_without_a_recorded_run_says_so(monkeypatch, capsys):
    from py2ptx import deepseek

    monkeypatch.setattr(deepseek, "recorded", lambda: None)
    out = _checked(lab05.best_chunk, tuner_right, capsys)
    assert "no recorded run of the experiment in results/" in out


@pytest.mark.parametrize(("rule", "case", "got", "want", "hint"), [
    (tuner_fastest, "the fastest chunk hurts the victim most", "4,194,304", "262,144",
     "picking the best bandwidth alone"),
    (tuner_gentlest, "the gentlest chunk is far too slow", "1,024", "1,048,576",
     "picking the least slowdown alone"),
    (tuner_wrong_side, "a chunk at 90.5% of the best bandwidth", "262,144", "65,536",
     "measured on the wrong side"),
    (tuner_first_on_tie, "two chunks slow the victim equally", "65,536", "262,144",
     "the faster stream wins"),
    (tuner_alone, "bandwidth beside the victim, not alone", "4,194,304", "1,048,576",
     "bandwidth_with"),
], ids=["max bandwidth", "min slowdown", "wrong side of 10%", "tie", "bandwidth alone"])
def test_lab05_each_wrong_tuner_rule_gets_its_case(rule, case, got, want, hint):
    with pytest.raises(ExerciseFailed) as info:
        lab05.best_chunk.check(rule)
    message = str(info.value)
    assert message.startswith(f"Lab 05, the chunk auto-tuner: case {case!r}: ")
    assert f"you picked {got} bytes, the rule picks {want} bytes" in message
    assert hint in message


def test_lab05_best_chunk_must_return_the_chunk_alone():
    from py2ptx import deepseek

    with pytest.raises(ExerciseFailed, match=r"return the chunk size alone .* not a tuple"):
        lab05.best_chunk.check(deepseek.pick_chunk)


def test_lab05_best_chunk_must_not_modify_the_cells():
    def pops(cells):
        chunk = tuner_right(cells)
        cells.pop(chunk)
        return chunk

    with pytest.raises(ExerciseFailed, match="changed the cells it was given"):
        lab05.best_chunk.check(pops)


def test_lab05_why_stale_right_answer_passes(capsys):
    out = _checked(lab05.why_stale, lambda: "b", capsys)
    assert out.startswith("✓ Lab 05, why .nc reads can be stale:")
    assert "L1" in out


@pytest.mark.parametrize(("answer", "hint"), [("a", "slower load"), ("c", "has no .L2::256B"),
                                              ("d", "passes through its L2")])
def test_lab05_why_stale_wrong_letter_gets_a_hint(answer, hint):
    with pytest.raises(ExerciseFailed) as info:
        lab05.why_stale.check(lambda: answer)
    message = str(info.value)
    assert f"not ({answer})" in message and hint in message


# --------------------------------------------------------------------------- what a failure shows

SHELL = """
import re
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
shell.run_cell("from py2ptx.exercises import lab01")
shell.run_cell("lab01.swaps_reversed.check(lambda n: n)")
"""


def _ipython_shows(monkeypatch, **env) -> str:
    """What IPython prints for a failed self-check (ANSI colours removed)."""
    import os
    import re
    import subprocess
    import sys

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    run = subprocess.run([sys.executable, "-c", SHELL], capture_output=True, text=True,
                         timeout=120, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    return re.sub(r"\x1b\[[0-9;]*m", "", run.stdout + run.stderr)


def test_a_failed_check_shows_its_message_not_the_traceback(monkeypatch):
    monkeypatch.delenv("PY2PTX_FULL_TRACEBACK", raising=False)
    shown = _ipython_shows(monkeypatch)
    assert ("ExerciseFailed: Lab 01, swaps on a reversed input: for n=1 you predict 1 swaps"
            in shown), shown
    assert "Traceback" not in shown and "core.py" not in shown, shown
    assert len(shown.strip().splitlines()) == 1, shown


def test_py2ptx_full_traceback_shows_the_frames_and_the_checkers_error(monkeypatch):
    shown = _ipython_shows(monkeypatch, PY2PTX_FULL_TRACEBACK="1")
    assert "Traceback" in shown, shown
    assert "lab01.py" in shown and "_check_swaps_formula" in shown, shown  # the chained cause
    assert "ExerciseFailed: Lab 01, swaps on a reversed input: for n=1" in shown


def test_render_traceback_is_there_only_without_the_full_traceback(monkeypatch):
    monkeypatch.delenv("PY2PTX_FULL_TRACEBACK", raising=False)
    with pytest.raises(ExerciseFailed) as info:
        lab01.swaps_reversed.check(lambda n: n)
    err = info.value
    assert err._render_traceback_() == [f"ExerciseFailed: {err}"]
    assert err.__cause__ is None and err.__suppress_context__
    monkeypatch.setenv("PY2PTX_FULL_TRACEBACK", "1")
    assert not hasattr(err, "_render_traceback_")  # IPython falls back to its traceback
    with pytest.raises(ExerciseFailed) as info:
        lab01.swaps_reversed.check(lambda n: n)
    assert isinstance(info.value.__cause__, ExerciseFailed)  # the checker's own error


def test_a_multiline_message_renders_line_by_line():
    lines = ExerciseFailed("first\nsecond")._render_traceback_()
    assert lines == ["ExerciseFailed: first", "second"]


# --------------------------------------------------------------------------- answers kept hidden

EXERCISES_SOURCE = "\n".join(p.read_text() for p in
                             sorted((REPO / "py2ptx" / "exercises").glob("*.py")))


@pytest.mark.parametrize(("question", "right"), [(lab02.why_slower, "b"), (lab05.why_stale, "b")],
                         ids=["why_slower", "why_stale"])
def test_multiple_choice_answers_are_salted_hashes_and_sealed(question, right, capsys):
    from py2ptx.exercises import MultipleChoice
    from py2ptx.exercises.core import digest, unseal

    choice = question.checker
    assert isinstance(choice, MultipleChoice)
    assert set(choice.responses) == {digest(choice.salt, letter) for letter in choice.options}
    opened = {letter: unseal(choice.salt, letter, choice.responses[digest(choice.salt, letter)])
              for letter in choice.options}
    assert [letter for letter, text in opened.items() if text.startswith("right ")] == [right]
    assert all(text.startswith(("right ", "wrong ")) for text in opened.values())
    assert len({len(text) for text in opened.values()}) == 1  # no size tells the right one
    for text in opened.values():  # neither hint nor explanation is in the source in clear
        assert text.split(" ", 1)[1].rstrip()[:40] not in EXERCISES_SOURCE
    assert digest("another salt", right) not in choice.responses


def test_no_answer_letter_or_formula_in_the_clear():
    import re

    assert not re.search(r"""[!=]=\s*["'][a-d]["']""", EXERCISES_SOURCE)  # answer != "b"
    for formula in ("n * (n - 1)", "n(n-1)", "n * (n-1)", "(n - 1) * n", "sum(range(n))"):
        assert formula not in EXERCISES_SOURCE, formula
    assert "fno-tree-slp-vectorize" not in EXERCISES_SOURCE


# --------------------------------------------------------------------------- hints


_HINTED_LABS = ("01", "02", "03", "04", "05")


@pytest.mark.parametrize("number", _HINTED_LABS)
def test_every_exercise_has_hints_that_stay_closed_until_asked(number):
    import json  # reason: only the notebooks' JSON is read here

    for folder in ("solutions", "labs"):
        path = next((REPO / folder).glob(f"{number}-*.ipynb"))
        cells = json.loads(path.read_text())["cells"]
        exercises = [i for i, c in enumerate(cells) if c["cell_type"] == "code"
                     and "".join(c["source"]).startswith("# Exercise")]
        assert exercises, path
        for i in exercises:
            hint = cells[i - 1]
            text = "".join(hint["source"])
            assert hint["cell_type"] == "markdown" and "hints" in hint["metadata"]["tags"], \
                f"{path.name}, cell {i}: no hints cell just before the exercise"
            # <details> without `open`: collapsed until the student clicks its summary
            assert text.count("<details><summary><b>Hint ") >= 1
            assert not re.search(r"<details[^>]*\bopen\b", text)
            assert text.count("<details>") == text.count("</details>")
            assert "BEGIN SOLUTION" not in text
