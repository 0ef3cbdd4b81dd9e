"""The CPU runner's checks on its trace of memory accesses (py2ptx.cpu_trace): out of
bounds, data races, divergent barriers -- each message names the threads, the array
element and the student's own line -- and that correct kernels pass untouched."""

import re

import numpy as np
import pytest

from py2ptx import ladder
from py2ptx.cpu_trace import checks_available
from py2ptx.cuda_on_cpu import DataRace, DivergentBarrier, EmulationError, OutOfBounds, run_on_cpu
from py2ptx.exercises.lab03 import lab03
from py2ptx.kernels import read_source

pytestmark = pytest.mark.skipif(not checks_available()[0], reason=checks_available()[1])


def _k(body: str, sig: str = "int *a, int n") -> str:
    return f'extern "C" __global__ void k({sig})\n{{\n{body}}}\n'


def test_a_write_past_the_end_names_thread_element_argument_and_line():
    src = _k("    int i = threadIdx.x;\n    a[i + 1] = i;\n")
    a = np.zeros(64, np.int32)
    with pytest.raises(OutOfBounds) as err:
        run_on_cpu(src, "k", 1, 64, a, np.int32(64))
    msg = str(err.value)
    assert msg.startswith("thread (block 0, thread 63) wrote a[64], past the end of "
                          "argument 1 (n = 64), at line 4"), msg
    assert "a[i + 1] = i;" in msg and "if (i + 1 < n)" in msg
    assert not a.any()  # nothing copied back after a failed check


def test_a_read_before_the_start_is_caught_too():
    src = _k("    int i = threadIdx.x;\n    if (i < n) a[i] = a[i - 1];\n")
    with pytest.raises(OutOfBounds, match=r"thread \(block 0, thread 0\) read a\[-1\], "
                                          r"before the start of argument 1"):
        run_on_cpu(src, "k", 1, 8, np.zeros(8, np.int32), np.int32(8))


def test_a_grid_with_more_threads_than_elements_and_no_guard():
    src = _k("    int i = blockIdx.x * blockDim.x + threadIdx.x;\n    a[i] = 2 * i;\n")
    with pytest.raises(OutOfBounds, match=r"block 1, thread \d+\) wrote a\[(4[0-9]|5[0-9]|"
                                          r"6[0-3])\], past the end of argument 1 \(n = 40\)"):
        run_on_cpu(src, "k", 2, 32, np.zeros(40, np.int32), np.int32(40))


def test_shared_mem_given_in_keys_instead_of_bytes_is_named():
    src = _k("    extern __shared__ int keys[];\n    keys[threadIdx.x] = a[threadIdx.x];\n"
             "    __syncthreads();\n    a[threadIdx.x] = keys[threadIdx.x];\n")
    with pytest.raises(OutOfBounds) as err:
        run_on_cpu(src, "k", 1, 64, np.zeros(64, np.int32), np.int32(64), shared_mem=64)
    msg = str(err.value)
    assert re.search(r"wrote keys\[(1[6-9]|[2-5][0-9]|6[0-3])\], past the end of the dynamic "
                     r"shared memory", msg), msg
    assert "shared_mem is counted in bytes" in msg and "64 * 4 = 256" in msg


def test_a_static_shared_array_too_small():
    src = _k("    __shared__ int tile[32];\n    tile[threadIdx.x] = a[threadIdx.x];\n"
             "    __syncthreads();\n    a[threadIdx.x] = tile[threadIdx.x];\n")
    # the lowest thread that the checker caught within 30 ms: thread 32 unless loaded
    with pytest.raises(OutOfBounds, match=r"wrote tile\[(3[2-9]|[4-6][0-9])\], past the end "
                                          r"of __shared__ tile \(32 ints\), at line 4"):
        run_on_cpu(src, "k", 1, 64, np.zeros(64, np.int32), np.int32(64))


def test_missing_syncthreads_is_a_race_with_both_threads_and_lines():
    src = _k("    extern __shared__ int s[];\n"
             "    s[threadIdx.x] = a[threadIdx.x];\n"
             "    a[threadIdx.x] = s[(threadIdx.x + 1) % blockDim.x];\n")
    a = np.arange(64, dtype=np.int32)
    with pytest.raises(DataRace) as err:
        run_on_cpu(src, "k", 1, 64, a, np.int32(64), shared_mem=256)
    msg = str(err.value)
    assert msg.startswith("data race on shared memory s["), msg
    assert "at line 4" in msg and "at line 5" in msg and "no __syncthreads()" in msg
    assert "s[threadIdx.x] = a[threadIdx.x];" in msg
    np.testing.assert_array_equal(a, np.arange(64))  # left as it was


def test_the_same_kernel_with_the_barrier_passes():
    src = _k("    extern __shared__ int s[];\n"
             "    s[threadIdx.x] = a[threadIdx.x];\n    __syncthreads();\n"
             "    a[threadIdx.x] = s[(threadIdx.x + 1) % blockDim.x];\n")
    a = np.arange(64, dtype=np.int32)
    run_on_cpu(src, "k", 1, 64, a, np.int32(64), shared_mem=256)
    np.testing.assert_array_equal(a, np.roll(np.arange(64), -1))


def test_lanes_of_one_warp_ordered_by_syncwarp_are_not_a_race():
    src = _k("    __shared__ int s[32];\n    s[threadIdx.x] = threadIdx.x;\n    __syncwarp();\n"
             "    a[threadIdx.x] = s[31 - threadIdx.x];\n")
    a = np.zeros(32, np.int32)
    run_on_cpu(src, "k", 1, 32, a, np.int32(32))
    np.testing.assert_array_equal(a, 31 - np.arange(32))
    racy = src.replace("    __syncwarp();\n", "")
    with pytest.raises(DataRace, match=r"no __syncthreads\(\) or __syncwarp\(\)"):
        run_on_cpu(racy, "k", 1, 32, np.zeros(32, np.int32), np.int32(32))


def test_two_blocks_writing_one_global_element_race():
    src = _k("    if (threadIdx.x == 0) a[0] += blockIdx.x;\n")
    with pytest.raises(DataRace, match=r"global memory a\[0\].*blocks never wait"):
        run_on_cpu(src, "k", 2, 32, np.zeros(4, np.int32), np.int32(4))


def test_atomics_are_not_a_race():
    src = _k("    atomicAdd(&a[0], 1);\n")
    a = np.zeros(1, np.int32)
    run_on_cpu(src, "k", 3, 64, a, np.int32(1))
    assert a[0] == 3 * 64


def test_a_barrier_in_a_divergent_if_is_the_hang_it_would_be():
    src = _k("    if (threadIdx.x < 4) {\n"
             "        a[threadIdx.x] += 1;\n"
             "        __syncthreads();\n"
             "    }\n"
             "    __syncthreads();\n")
    with pytest.raises(DivergentBarrier) as err:
        run_on_cpu(src, "k", 1, 8, np.zeros(8, np.int32), np.int32(8))
    msg = str(err.value)
    assert "threads of block 0 met at different __syncthreads()" in msg, msg
    assert re.search(r"line [57]\b.*line [57]\b", msg.splitlines()[0]), msg
    assert "On a GPU this is a hang" in msg and "Take the barrier out of the if" in msg


def test_a_barrier_reached_a_different_number_of_times():
    # threads 0-3 go round the loop twice, 4-7 once: they meet the final barrier early
    src = _k("    for (int i = threadIdx.x; i < 12; i += blockDim.x) {\n"
             "        a[i] += 1;\n"
             "        __syncthreads();\n"
             "    }\n"
             "    __syncthreads();\n")
    with pytest.raises(DivergentBarrier, match="met at different __syncthreads"):
        run_on_cpu(src, "k", 1, 8, np.zeros(12, np.int32), np.int32(12))


_HANGS = [
    ("some threads wait at a barrier the others never reach",
     "    if (threadIdx.x < 3) {\n        __syncthreads();\n    } else {\n"
     "        while (a[0] >= 0) { a[1] = a[0]; }\n    }\n",
     # 3 threads wait, or fewer: on a loaded machine the 29 spinning ones may keep the
     # last of the 3 from getting there within the 2 s
     ["of the block's 32 running threads were waiting at the __syncthreads() of line 4, "
      "and the others never arrived there", "Take the barrier out of the if"]),
    ("a loop around a barrier that never ends",
     "    for (int phase = 0; phase < n; ) {\n        a[threadIdx.x] += 1;\n"
     "        __syncthreads();\n    }\n",
     ["The block was still passing the __syncthreads() of line 5 when it was stopped",
      "a loop around it that never ends"]),
    ("a loop without a barrier that never ends",
     "    int i = threadIdx.x;\n    while (i < n) { a[i] += 1; }\n",
     ["No thread passed a barrier in its last second; the latest memory access was at line 4",
      "|     while (i < n) { a[i] += 1; }"]),
]


@pytest.mark.parametrize(("body", "words"), [h[1:] for h in _HANGS], ids=[h[0] for h in _HANGS])
def test_a_launch_out_of_time_says_what_its_threads_were_doing(body, words):
    a = np.zeros(64, np.int32)
    with pytest.raises(EmulationError) as err:
        run_on_cpu(_k(body), "k", 1, 32, a, np.int32(64), timeout=2)
    msg = str(err.value)
    assert msg.startswith("k did not finish within 2 s and was stopped."), msg
    for w in words:
        assert w in msg, f"{w!r} not in:\n{msg}"
    assert not re.search(r"\b0 of the block's", msg)
    assert not a.any()  # nothing copied back from a launch that was stopped


def test_threads_that_return_early_do_not_trip_the_barrier_check():
    # PTX: an exited thread no longer holds a barrier up -- a common, legal pattern.
    src = _k("    __shared__ int s[64];\n    int i = threadIdx.x;\n    if (i >= n) return;\n"
             "    s[i] = a[i];\n    __syncthreads();\n    a[i] = s[n - 1 - i];\n")
    a = np.arange(40, dtype=np.int32)
    run_on_cpu(src, "k", 1, 64, a, np.int32(40))
    np.testing.assert_array_equal(a, np.arange(40)[::-1])


def test_a_strided_array_is_refused_with_the_fix():
    src = _k("    a[threadIdx.x] = 1;\n")
    base = np.zeros(16, np.int32)
    with pytest.raises(ValueError, match=r"strided view.*np\.ascontiguousarray"):
        run_on_cpu(src, "k", 1, 8, base[::2], np.int32(8))


def test_unchecked_runs_still_run():
    src = _k("    a[threadIdx.x] = threadIdx.x;\n")
    a = np.zeros(8, np.int32)
    run_on_cpu(src, "k", 1, 8, a, np.int32(8), check=False)
    np.testing.assert_array_equal(a, np.arange(8))


@pytest.mark.parametrize("key", sorted(ladder.SCHEDULES))
def test_the_ladders_kernels_pass_every_check(key):
    keys = np.random.default_rng(3).integers(-99, 99, 150).astype(np.int32)
    np.testing.assert_array_equal(ladder.emulate_on_cpu(key, keys, 32), np.sort(keys))


def test_check_errors_are_emulation_errors():
    assert issubclass(OutOfBounds, EmulationError) and issubclass(DataRace, EmulationError)
    assert issubclass(DivergentBarrier, EmulationError)


def test_a_missing_guard_on_shared_memory_is_not_blamed_on_bytes():
    src = _k("    extern __shared__ int s[];\n    s[threadIdx.x + 1] = a[threadIdx.x];\n")
    with pytest.raises(OutOfBounds) as err:
        run_on_cpu(src, "k", 1, 8, np.zeros(8, np.int32), np.int32(8), shared_mem=32)
    assert "wrote s[8], past the end of the dynamic shared memory" in str(err.value)
    assert "Guard the index" in str(err.value) and "bytes, not" not in str(err.value)


LAB_KERNEL = "8_odd_even_shared.cu"


@pytest.mark.parametrize("edit, error, words", [
    (("        __syncthreads();  // every pair", "        // every pair"), DataRace,
     "data race on shared memory keys["),
    (("            if (left > right) {\n",
      "            if (left > right) {\n                __syncthreads();\n"), DivergentBarrier,
     "met at different __syncthreads()"),
    (("2 * p + (phase & 1) + 1 < n", "2 * p + (phase & 1) < n"), OutOfBounds,
     "past the end of the dynamic shared memory"),
    # the barrier kept for three threads only: the others skip it and return at the end,
    # so no thread waits at a different one -- the race is found, and the note says why
    (("        __syncthreads();  // every pair",
      "        if (threadIdx.x < 3) __syncthreads();  // every pair"), DataRace,
     "consistent with a __syncthreads() that some threads skip (inside an if)"),
])
def test_lab_03s_self_check_names_the_mistake(edit, error, words):
    text = read_source(LAB_KERNEL, ".cu")[0]
    assert edit[0] in text
    broken = text.replace(*edit)
    with pytest.raises(error, match=re.escape(words)) as err:
        lab03.shared_source.check(lambda: broken)
    assert re.search(r"line \d+", str(err.value))
    if "some threads skip" not in words:  # the note only where barriers were skipped
        assert "passed different numbers of barriers" not in str(err.value)
