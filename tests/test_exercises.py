"""The labs' self-checks: right answers pass with a ✓, stubs raise NotImplementedError naming
the exercise, and wrong answers fail with a message that says which input and what is wrong."""

from __future__ import annotations

import pytest

from py2ptx.cbuild import CCompileError
from py2ptx.checks import standard_cases
from py2ptx.exercises import ExerciseFailed, count_inversions, lab01, lab02

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
    for lab, exercises in (("Lab 01", lab01), ("Lab 02", lab02)):
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
    with pytest.raises(AttributeError, match="'bubble_sort'"):
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
