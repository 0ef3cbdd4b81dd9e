"""The student mistakes of issue 15, one parametrized case each: the message must name the
problem, the student's own line (where there is one) and the fix -- and a check that passes
must say exactly what it did ("compiled ..., not run on a GPU: there is none here").

Each case is ``(mistake, the call, the exception, phrases the message must hold)``. The
phrases are the message's own words, so a reworded message fails here first: update the
phrase and the report that quotes it together.
"""

from __future__ import annotations

import ctypes
import dataclasses
import importlib
import json
from pathlib import Path

import numpy as np
import pytest

from py2ptx import bench, cbuild, cudatools
from py2ptx.cpu_trace import DataRace, OutOfBounds
from py2ptx.exercises import ExerciseFailed, lab01, lab02, lab03, lab04

REPO = Path(__file__).resolve().parent.parent


def _solution(lab: str, name: str):
    """A function defined in a solution notebook's exercise cells (the reference answer)."""
    nb = json.loads(next((REPO / "solutions").glob(f"{lab}-*.ipynb")).read_text())
    namespace: dict = {}
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and source.startswith("# Exercise") \
                and "@cuda.jit" not in source:
            exec(source, namespace)
    return namespace[name]


C_SORT = _solution("02", "bubble_sort_source")()
PTX_STEP = _solution("04", "ptx_step_source")()
SHARED = _solution("03", "shared_source")()
GUARD = "if (i + 1 < n)"
SECOND_INPUT = '"r"(a[i + 1])'
PTX_LAST = '"max.s32 %1, %2, %3;"'
assert GUARD in PTX_STEP and PTX_LAST in PTX_STEP and 'extern "C" ' in SHARED


def _one_too_far(a: list) -> tuple[int, int]:
    """Lab 01's bubble sort with its inner loop one step too long."""
    passes = swaps = 0
    for end in range(len(a) - 1, 0, -1):
        passes += 1
        for j in range(end + 1):
            if a[j] > a[j + 1]:
                a[j], a[j + 1] = a[j + 1], a[j]
                swaps += 1
    return passes, swaps


def _line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


def _numba_kernel(body: str):
    """A @cuda.jit kernel odd_even_step(a, phase) with ``body``, its source kept as IPython
    keeps a cell's (in linecache, with no file behind it): what numba_ptx_problem reads."""
    import linecache  # reason: only these kernels play notebook cells

    from py2ptx.gpu import numba_cuda  # reason: the simulator is chosen where there is no GPU

    cuda = numba_cuda()
    name = f"<cell {abs(hash(body))}>"
    text = "from numba import cuda\n\n\ndef odd_even_step(a, phase):\n" + body
    linecache.cache[name] = (len(text), None, text.splitlines(keepends=True), name)
    namespace = {"cuda": cuda}
    exec(compile(text, name, "exec"), namespace)
    return cuda.jit(namespace["odd_even_step"])


_NUMBA_RETURN = ("    i = 2 * cuda.grid(1) + phase\n    if i + 1 < a.shape[0]:\n"
                 "        if a[i] > a[i + 1]:\n            a[i], a[i + 1] = a[i + 1], a[i]\n"
                 "    return i\n")
_NUMBA_LIST = ("    i = 2 * cuda.grid(1) + phase\n    if i + 1 < a.shape[0]:\n"
               "        pair = [a[i], a[i + 1]]\n"
               "        a[i], a[i + 1] = min(pair[0], pair[1]), max(pair[0], pair[1])\n")

C_NO_SEMICOLON = C_SORT.replace("int32_t t = a[j];", "int32_t t = a[j]")
CU_NO_SEMICOLON = ('extern "C" __global__ void k(int *a, int n)\n{\n'
                   "    int i = threadIdx.x\n    if (i < n) a[i] = 1;\n}\n")


def _cpu_runner_compile_error():
    from py2ptx.cuda_on_cpu import run_on_cpu  # reason: only this case runs CUDA C on the CPU

    run_on_cpu(CU_NO_SEMICOLON, "k", 1, 4, np.zeros(4, np.int32), np.int32(4))


def _float64_to_c():
    fn = cbuild.build_c(C_SORT, name="mine.c").function(
        "bubble_sort", [cbuild.INT32_ARRAY, ctypes.c_int32])
    fn(np.array([3.0, 1.0, 2.0]), np.int32(3))


def _bad_ptx_file():
    text = (cudatools.KERNELS / "cuda" / "7b_odd_even_step.ptx").read_text()
    cudatools.assemble_ptx(text.replace("        min.s32", "        mni.s32", 1), name="mine.ptx")


def _counting_swaps(n: int) -> int:
    keys = list(range(n, 0, -1))
    swaps = 0
    for end in range(n - 1, 0, -1):
        for j in range(end):
            if keys[j] > keys[j + 1]:
                keys[j], keys[j + 1] = keys[j + 1], keys[j]
                swaps += 1
    return swaps


MISTAKES = [
    ("C: a ';' missing at the end of a line",
     lambda: lab02.c_source.check(lambda: C_NO_SEMICOLON), cbuild.CCompileError,
     [f"line {_line_of(C_NO_SEMICOLON, 'a[j] = a[j + 1];')}: expected ',' or ';' before 'a'",
      f"the ';' is probably missing at the end of line {_line_of(C_NO_SEMICOLON, 't = a[j]')}:"
      f" `int32_t t = a[j]`"]),
    ("CUDA C on CPU threads: a ';' missing, quoted from the student's line, not the prelude",
     _cpu_runner_compile_error, cbuild.CCompileError,
     ["cell.cu:4: error: expected ',' or ';' before 'if'", "   4 |     if (i < n) a[i] = 1;",
      "the ';' is probably missing at the end of line 3: `int i = threadIdx.x`"]),
    ("C: bubble_sort(long *a, long n)",
     lambda: lab02.c_source.check(lambda: C_SORT.replace("int32_t *a, int32_t n",
                                                         "long *a, long n")),
     ExerciseFailed, ["bubble_sort must be `void bubble_sort(int *a, int n)`",
                      "yours takes (long *a, long n)", "long is 64 bits here"]),
    ("C: the function misnamed",
     lambda: lab02.c_source.check(lambda: C_SORT.replace("void bubble_sort", "void bubblesort")),
     ExerciseFailed, ["defines no function bubble_sort", "the functions it defines: bubblesort",
                      "`void bubble_sort(int *a, int n)`"]),
    ("C: the function static",
     lambda: lab02.c_source.check(lambda: C_SORT.replace("void bubble_sort",
                                                         "static void bubble_sort")),
     ExerciseFailed, ["yours is `static`: remove that word"]),
    ("C flags: one string instead of a list",
     lambda: lab02.scalar_flags.check(lambda: "-fno-tree-slp-vectorize"), ExerciseFailed,
     ["return a list of flags, one string each, e.g. ['-fno-tree-slp-vectorize']",
      "got the string '-fno-tree-slp-vectorize'"]),
    ("C: float64 keys to a C function", _float64_to_c, ctypes.ArgumentError,
     ["bubble_sort: parameter 1 (`int32_t *a`) got a NumPy array of float64",
      "pass keys.astype(np.int32)"]),
    ("CUDA C: no extern \"C\" (lab 03)",
     lambda: lab03.shared_source.check(lambda: SHARED.replace('extern "C" ', "")),
     ExerciseFailed, ["exported as `_Z15odd_even_sharedPii` (C++ name mangling)",
                      "write `extern \"C\"` before `__global__ void odd_even_shared(...)`"]),
    ("Numba: a kernel that returns a value",
     lambda: lab03.numba_kernel.check(_numba_kernel(_NUMBA_RETURN)), ExerciseFailed,
     ["compiling your kernel for sm_90 as it would for a GPU, refused it: a kernel cannot return a "
      "value (line 9: `return i`)", "end the kernel without `return <value>`"]),
    ("Numba: a Python list inside a kernel",
     lambda: lab03.numba_kernel.check(_numba_kernel(_NUMBA_LIST)), ExerciseFailed,
     ["refused it (line 7: `pair = [a[i], a[i + 1]]`)", "a Python list",
      "Use plain variables: `x, y = a[i], a[i + 1]`"]),
    ("inline PTX: no bounds guard",
     lambda: lab04.ptx_step.check(lambda: PTX_STEP.replace(GUARD, "if (1)")), ExerciseFailed,
     ["on CPU threads (your asm replaced by its exact C twin), your kernel read a[77], past "
      "the end of the array (n = 77", "at line 7:", "must do nothing: `if (i + 1 < n)`"]),
    ("inline PTX: the guard off by one",
     lambda: lab04.ptx_step.check(lambda: PTX_STEP.replace(GUARD, "if (i < n)")),
     ExerciseFailed, ["a[77], past the end of the array", "`if (i + 1 < n)`"]),
    ("inline PTX: a comma missing (a ptxas fatal parsing error)",
     lambda: lab04.ptx_step.check(lambda: PTX_STEP.replace(PTX_LAST, '"max.s32 %1, %2 %3;"')),
     cudatools.CudaCompileError,
     [f"cell.cu line {_line_of(PTX_STEP, PTX_LAST)}: ptxas rejected this inline PTX:\n"
      f'    "max.s32 %1, %2 %3;"', "Parsing error near '%r"]),
    ("inline PTX: the last instruction without its ';'",
     lambda: lab04.ptx_step.check(lambda: PTX_STEP.replace(PTX_LAST, '"max.s32 %1, %2, %3"')),
     cudatools.CudaCompileError,
     [f"cell.cu line {_line_of(PTX_STEP, PTX_LAST)}: ptxas rejected this inline PTX",
      "the last instruction of your asm string probably lacks its ';'"]),
    ("inline PTX: a misspelled instruction",
     lambda: lab04.ptx_step.check(lambda: PTX_STEP.replace('"max.s32 %1', '"mxa.s32 %1')),
     cudatools.CudaCompileError,
     [f"cell.cu line {_line_of(PTX_STEP, PTX_LAST)}: ptxas rejected this inline PTX",
      "Not a name of any known instruction: 'mxa'"]),
    ("inline PTX: no extern \"C\" (lab 04)",
     lambda: lab04.ptx_step.check(lambda: PTX_STEP.replace('extern "C" ', "")), ExerciseFailed,
     ["exported as `_Z13odd_even_stepPiii`", "write `extern \"C\"`"]),
    ("C: <stdint.h> not included",
     lambda: lab02.c_source.check(lambda: C_SORT.replace("#include <stdint.h>", "")),
     cbuild.CCompileError,
     ["(line 4: unknown type name 'int32_t' -- 'int32_t' is defined in header '<stdint.h>'; "
      "did you forget to '#include <stdint.h>'?)"]),
    ("CUDA C: the kernel misnamed",
     lambda: lab03.shared_source.check(lambda: SHARED.replace("void odd_even_shared",
                                                              "void odd_even_sort")),
     ExerciseFailed, ["no kernel named 'odd_even_shared' in this source; its kernels are: "
                      "odd_even_sort. The check launches `extern \"C\" __global__ void "
                      "odd_even_shared(int *a, int n)`"]),
    ("CUDA C: a ';' missing (NVRTC names the next line)",
     lambda: lab03.shared_source.check(lambda: SHARED.replace("keys[i] = a[i];",
                                                              "keys[i] = a[i]")),
     cudatools.CudaCompileError,
     [f"cell.cu line {_line_of(SHARED, 'keys[i] = a[i]') + 1}: expected a \";\" -- the ';' is "
      f"probably missing at the end of line {_line_of(SHARED, 'keys[i] = a[i]')}: "
      f"`keys[i] = a[i]`"]),
    ("inline PTX: an operand number past the last operand",
     lambda: lab04.ptx_step.check(lambda: PTX_STEP.replace(PTX_LAST, '"max.s32 %1, %2, %4;"')),
     cudatools.CudaCompileError,
     [f"cell.cu line {_line_of(PTX_STEP, 'asm(')}: an operand %N in your asm names no operand",
      "the operands are %0 ... %(k+m-1), outputs first"]),
    ("inline PTX: a 64-bit constraint for a 32-bit value",
     lambda: lab04.ptx_step.check(lambda: PTX_STEP.replace('"r"(a[i + 1])', '"l"(a[i + 1])')),
     cudatools.CudaCompileError,
     [f"cell.cu({_line_of(PTX_STEP, SECOND_INPUT)}): error: asm operand type size(4) does "
      f"not match type/size implied by constraint 'l'"]),
    ("C: a size_t count",
     lambda: lab02.c_source.check(lambda: C_SORT.replace("int32_t n", "size_t n")),
     ExerciseFailed, ["yours takes (int32_t *a, size_t n), and size_t is 64 bits here: the "
                      "32-bit count would arrive with an undefined upper half"]),
    ("inline PTX: unsigned min/max for signed keys",
     lambda: lab04.ptx_step.check(lambda: PTX_STEP.replace(".s32", ".u32")), ExerciseFailed,
     ["use the PTX instructions min.s32 and max.s32 in your asm: .u32 compares the bits as "
      "unsigned, so a negative key would count as larger than every positive one"]),
    ("Python: a formula answered by counting (too slow for n = 65,536)",
     lambda: dataclasses.replace(lab01.swaps_reversed, budget_s=0.5).check(_counting_swaps),
     ExerciseFailed, ["the self-check was stopped after 0.5 s",
                      "a formula in n answers at once", "Write the answer in n alone"]),
    ("CUDA C: the barrier in the phase loop left out (a race on CPU threads)",
     lambda: lab03.shared_source.check(lambda: SHARED.replace(
         "        }\n        __syncthreads();\n    }", "        }\n    }")),
     DataRace, ["Lab 03, odd-even sort in shared memory, CUDA C: data race on shared memory keys[",
                "with no __syncthreads()", "Put a __syncthreads() between"]),
    ("CUDA C: the load loop reads a[n]",
     lambda: lab03.shared_source.check(lambda: SHARED.replace("i < n; i += blockDim.x)\n"
                                                              "        keys[i] = a[i];",
                                                              "i <= n; i += blockDim.x)\n"
                                                              "        keys[i] = a[i];")),
     OutOfBounds, ["past the end of argument 1", f"at line {_line_of(SHARED, 'keys[i] = a[i]')}",
                   "Guard the index"]),
    ("CUDA C: the source printed, not returned",
     lambda: lab03.shared_source.check(lambda: print("...")), ExerciseFailed,
     ["your function returned None, not the kernel's source", "printing it is not enough"]),
    ("Python: an inner loop one step too far (IndexError in the student's own code)",
     lambda: lab01.early_exit.check(_one_too_far), ExerciseFailed,
     ["your _one_too_far raised IndexError: list index out of range (line",
      "`if a[j] > a[j + 1]:`", "`a[j + 1]` needs j < n - 1"]),
    ("Python: the swap formula with / (a float)",
     lambda: lab01.swaps_reversed.check(lambda n: n * (n - 1) / 2), ExerciseFailed,
     ["your formula gives the float 0.0", "divide with `//`"]),
    ("C: the inner loop reads and swaps a[n]",
     lambda: lab02.c_source.check(lambda: C_SORT.replace("j < end", "j <= end")), ExerciseFailed,
     ["on input 'two, reversed' (n=2) wrote a[2], past the end of the array (its indices are "
      "0 to 1)", "a[j + 1] needs j < n - 1"]),
    ("inline PTX: min and max stored the wrong way round (sorts descending)",
     lambda: lab04.ptx_step.check(lambda: PTX_STEP.replace('"=r"(low), "=r"(high)',
                                                           '"=r"(high), "=r"(low)')),
     ExerciseFailed, ["Your result is sorted the other way round, largest first: the smaller "
                      "key of a pair must end up at the lower index"]),
    ("a notebook helper: bench.measure with n = 100.5",
     lambda: bench.measure("numpy_sort", 100.5), TypeError,
     ["n (the number of keys) must be a whole number, e.g. 4096 or 2**12; got 100.5 (float)"]),
    ("a notebook helper: bench.measure with repeats = 0",
     lambda: bench.measure("numpy_sort", 64, repeats=0), ValueError,
     ["repeats must be at least 1; got 0"]),
    ("a .ptx file with a misspelled instruction", _bad_ptx_file, cudatools.CudaCompileError,
     ["mine.ptx line", "Not a name of any known instruction: 'mni'", "| mni.s32"]),
]


@pytest.mark.parametrize(("call", "kind", "phrases"), [m[1:] for m in MISTAKES],
                         ids=[m[0] for m in MISTAKES])
def test_a_student_mistake_gets_the_problem_the_line_and_the_fix(call, kind, phrases):
    with pytest.raises(kind) as info:
        call()
    message = str(info.value)
    for phrase in phrases:
        assert phrase in message, f"{phrase!r} not in:\n{message}"
    assert "Traceback" not in message and "/tmp/" not in message


_BY_NAME = {m[0]: m[1] for m in MISTAKES}


@pytest.mark.parametrize("call", [_BY_NAME["C: a ';' missing at the end of a line"],
                                  _BY_NAME["inline PTX: a misspelled instruction"],
                                  _BY_NAME["CUDA C: a ';' missing (NVRTC names the next line)"],
                                  _BY_NAME["CUDA C: the barrier in the phase loop left out "
                                           "(a race on CPU threads)"],
                                  _BY_NAME["CUDA C: the load loop reads a[n]"]],
                         ids=["gcc", "ptxas", "nvrtc", "race", "out-of-bounds"])
def test_a_compile_error_in_a_self_check_shows_as_its_message_alone(call):
    with pytest.raises(Exception) as info:
        call()
    lines = info.value._render_traceback_()  # what IPython prints instead of the frames
    assert lines[0].startswith(f"{type(info.value).__name__}: Lab 0")
    assert "Traceback" not in "\n".join(lines)


# --------------------------------------------------------------------------- honest ✓ lines


def test_the_checks_say_what_they_did_without_a_gpu(capsys):
    lab04.ptx_step.check(lambda: PTX_STEP)
    lab03.shared_source.check(lambda: SHARED)
    lab04.whoami.check(_solution("04", "whoami_source"))
    said = capsys.readouterr().out
    assert ("✓ Lab 04, compare-and-swap in inline PTX: compiled to cubins for sm_90 and sm_75 "
            "(ptxas assembled your PTX and made min/max instructions of it); its bounds guard "
            "and sort ran on CPU threads with your asm replaced by its exact C twin (n = 77, "
            "3 blocks x 32 threads, 77 launches; nothing written past a[76]); not run on a "
            "GPU: there is none here") in said
    assert ("✓ Lab 03, odd-even sort in shared memory, CUDA C: compiled to cubins for sm_90 "
            "and sm_75, exported as odd_even_shared; sorted every input on CPU threads (n up "
            "to 41, 1 block of 32 and of 8 threads); not run on a GPU: there is none here"
            ) in said
    assert ("not run on CPU threads (a CPU has no %smid); not run on a GPU: there is none "
            "here") in said


def test_asm_without_an_exact_c_twin_is_said_not_run():
    # add.s32 has a C twin in principle, but not in this translation: the ✓ must say so.
    source = PTX_STEP.replace(
        PTX_LAST, '"max.s32 %1, %2, %3;\\n\\tadd.s32 %0, %0, 0;"')
    message = lab04.ptx_step.checker(lambda: source)
    assert ("not run on CPU threads: the instruction `add.s32 %0, %0, 0` has no exact C twin "
            "here (min.s32, max.s32 and mov have), so the bounds guard was not checked"
            ) in message


def test_kernel_parameters_may_have_other_names(capsys):
    renamed = SHARED.replace("int *a, int n", "int *keys_in, int count").replace(
        "a[i]", "keys_in[i]").replace("< n", "< count")
    lab03.shared_source.check(lambda: renamed)
    assert "✓ Lab 03, odd-even sort in shared memory" in capsys.readouterr().out
    with pytest.raises(ExerciseFailed, match=r"yours takes \(int \*a, long long n\)"):
        lab03.shared_source.check(lambda: SHARED.replace("int n)", "long long n)"))


def test_a_numba_kernel_that_calls_a_helper_from_another_cell_is_not_failed():
    kernel = _numba_kernel("    i = 2 * cuda.grid(1) + phase\n    if i + 1 < a.shape[0]:\n"
                           "        swap_pair(a, i)\n")

    def swap_pair(a, i):  # what a helper @cuda.jit(device=True) in another cell does
        if a[i] > a[i + 1]:
            a[i], a[i + 1] = a[i + 1], a[i]

    kernel.py_func.__globals__["swap_pair"] = swap_pair
    module = importlib.import_module("py2ptx.exercises.lab03")  # lab03 is the exercises
    problem, done = module.numba_ptx_problem(kernel)
    assert problem is None
    assert done == ("not compiled to PTX here: it uses swap_pair, defined in another cell, "
                    "which this check does not carry over")


def test_a_numba_kernel_that_compiles_says_so(capsys):
    body = ("    i = 2 * cuda.grid(1) + phase\n    if i + 1 < a.shape[0]:\n"
            "        if a[i] > a[i + 1]:\n            a[i], a[i + 1] = a[i + 1], a[i]\n")
    lab03.numba_kernel.check(_numba_kernel(body))
    said = capsys.readouterr().out
    assert ("compiled to PTX for sm_90 by numba; sorts every input in Numba's CUDA simulator "
            "(Python threads, n up to 70, blocks of 16); not run on a GPU: there is none "
            "here") in said


# --------------------------------------------------------------------------- graded variants


def _descending_c() -> str:
    return C_SORT.replace("if (a[j] > a[j + 1])", "if (a[j] < a[j + 1])")


def test_graded_variants_refuse_the_shipped_answers_and_take_descending_ones():
    shipped = cbuild.read_source("bubble_sort.c", ".c")[0]
    with pytest.raises(ExerciseFailed, match=r"sorted descending: largest first"):
        lab02.c_source_descending.check(lambda: shipped)
    lab02.c_source_descending.check(_descending_c)
    with pytest.raises(ExerciseFailed, match=r"sorted descending"):
        lab04.ptx_step_descending.check(lambda: PTX_STEP)
    swapped = PTX_STEP.replace("min.s32 %0", "max.s32 %0").replace('"max.s32 %1',
                                                                   '"min.s32 %1')
    lab04.ptx_step_descending.check(lambda: swapped)
    with pytest.raises(ExerciseFailed, match=r"sorted descending"):
        lab03.shared_source_descending.check(lambda: SHARED)
    lab03.shared_source_descending.check(
        lambda: SHARED.replace("keys[i] > keys[i + 1]", "keys[i] < keys[i + 1]"))


def test_lab01_graded_variants():
    with pytest.raises(ExerciseFailed, match=r"sorted descending"):
        lab01.early_exit_descending.check(_solution("01", "bubble_sort_early_exit"))
    with pytest.raises(ExerciseFailed, match=r"for n=3 you predict 3 swaps on the two halves "
                                             r"swapped; bubble sort makes 2"):
        lab01.swaps_halves.check(_solution("01", "swaps_reversed"))
    lab01.swaps_halves.check(lambda n: (n // 2) * (n - n // 2))
