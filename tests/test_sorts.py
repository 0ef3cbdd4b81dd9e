"""Every CPU rung sorts every standard case, leaves its input alone, and refuses non-int32 keys;
checks.validate / check_sorted say which input failed and where."""

from __future__ import annotations

import numpy as np
import pytest

from py2ptx import banks, checks, gpusorts, ladder
from py2ptx.checks import INT32_MAX, INT32_MIN, SortInputError, WrongResult
from py2ptx.cuda_on_cpu import run_schedule_on_cpu
from py2ptx.kernels import KERNELS

CPU_RUNGS = [r for r in ladder.RUNGS if r.device == "cpu"]
RUNG_IDS = [r.key for r in CPU_RUNGS]
CASES = checks.standard_cases()


def test_there_are_cpu_rungs_to_test():
    assert len(CPU_RUNGS) >= 5
    assert {"python_bubble", "c_bubble_vectorized", "c_bubble_scalar", "numba_bubble",
            "numpy_sort"} <= set(RUNG_IDS)


def test_standard_cases_cover_the_usual_bugs():
    cases = checks.standard_cases()
    assert cases["empty"].size == 0
    assert cases["one element"].size == 1
    dup = cases["duplicates"]
    assert np.unique(dup).size < dup.size
    assert (cases["negatives"] < 0).all()
    extremes = cases["int32 extremes"]
    assert INT32_MIN in extremes and INT32_MAX in extremes
    assert (np.diff(cases["already sorted"]) > 0).all()
    assert (np.diff(cases["reversed"]) < 0).all()
    assert cases["random, odd length"].size % 2 == 1
    for name, keys in cases.items():
        assert keys.dtype == np.int32, name
        assert keys.ndim == 1, name


def test_standard_cases_are_reproducible():
    a, b = checks.standard_cases(), checks.standard_cases()
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("rung", CPU_RUNGS, ids=RUNG_IDS)
def test_rung_sorts_case_and_leaves_input_unchanged(rung, case):
    sort = rung.load()
    keys = CASES[case].copy()
    before = keys.copy()
    got = sort(keys)
    np.testing.assert_array_equal(keys, before, err_msg=f"{rung.key} changed its input {case!r}")
    assert isinstance(got, np.ndarray)
    assert got.dtype == np.int32
    assert got.shape == before.shape
    np.testing.assert_array_equal(got, np.sort(before), err_msg=f"{rung.key} on {case!r}")
    if keys.size:
        assert not np.shares_memory(got, keys), f"{rung.key} returned its input, not a copy"


@pytest.mark.parametrize("rung", CPU_RUNGS, ids=RUNG_IDS)
def test_rung_passes_validate(rung):
    assert checks.validate(rung.load(), what=rung.title) == len(CASES)


@pytest.mark.parametrize("rung", CPU_RUNGS, ids=RUNG_IDS)
def test_rung_sorts_a_strided_view_and_a_larger_random_input(rung):
    sort = rung.load()
    keys = checks.random_keys(600, seed=7)
    view = keys[::2]  # not contiguous: C rungs must sort a contiguous copy
    assert not view.flags.c_contiguous
    np.testing.assert_array_equal(sort(view), np.sort(view))
    np.testing.assert_array_equal(view, keys[::2])
    np.testing.assert_array_equal(sort(keys[:301]), np.sort(keys[:301]))


BAD_INPUTS = {
    "int64": (np.array([3, 1, 2], dtype=np.int64), ("int64", "astype(np.int32)")),
    "float64": (np.array([3.0, 1.0, 2.0]), ("float64", "astype(np.int32)")),
    "list": ([3, 1, 2], ("list", "np.int32")),
    "2-D int32": (np.array([[3, 1, 2], [6, 5, 4]], dtype=np.int32), ("1-D", "(2, 3)")),
    "2-D float64": (np.zeros((2, 3)), ("float64", "astype(np.int32)")),
}


@pytest.mark.parametrize("bad", list(BAD_INPUTS))
@pytest.mark.parametrize("rung", CPU_RUNGS, ids=RUNG_IDS)
def test_rung_rejects_non_int32_input(rung, bad):
    value, phrases = BAD_INPUTS[bad]
    with pytest.raises(SortInputError) as info:
        rung.load()(value)
    message = str(info.value)
    for phrase in phrases:
        assert phrase in message, f"{rung.key} on {bad}: {message!r} lacks {phrase!r}"


def test_sort_input_error_is_a_type_error():
    assert issubclass(SortInputError, TypeError)
    with pytest.raises(TypeError):
        checks.as_int32_keys(np.array([1], dtype=np.uint32))


def test_as_int32_keys_returns_the_same_array_unconverted():
    keys = np.array([5, -1], dtype=np.int32)
    assert checks.as_int32_keys(keys) is keys


def test_random_keys():
    a = checks.random_keys(50, seed=3)
    assert a.dtype == np.int32 and a.shape == (50,)
    np.testing.assert_array_equal(a, checks.random_keys(50, seed=3))
    assert not np.array_equal(a, checks.random_keys(50, seed=4))


# --------------------------------------------------------------------------- first_mismatch


@pytest.mark.parametrize(
    ("got", "expected", "index"),
    [
        ([], [], None),
        ([1, 2, 3], [1, 2, 3], None),
        ([9, 2, 3], [1, 2, 3], 0),
        ([1, 2, 4], [1, 2, 3], 2),
        ([1, 5, 2, 3], [1, 2, 3, 5], 1),
        ([1, 2], [1, 2, 3], 2),  # shorter: the first missing index
        ([1, 2, 3, 4], [1, 2, 3], 3),  # longer
        ([], [1], 0),
    ],
)
def test_first_mismatch(got, expected, index):
    got_a, expected_a = np.array(got, dtype=np.int32), np.array(expected, dtype=np.int32)
    assert checks.first_mismatch(got_a, expected_a) == index


def test_first_mismatch_returns_a_python_int():
    i = checks.first_mismatch(np.array([1, 3], np.int32), np.array([1, 2], np.int32))
    assert type(i) is int and i == 1


# --------------------------------------------------------------------------- check_sorted / validate


def test_check_sorted_accepts_a_right_answer():
    keys = np.array([3, 1, 2], dtype=np.int32)
    assert checks.check_sorted("mine", keys, np.array([1, 2, 3], dtype=np.int32)) is None
    assert checks.check_sorted("mine", keys, [1, 2, 3]) is None  # any array-like


def test_check_sorted_names_input_and_first_bad_index():
    keys = np.array([3, 1, 2], dtype=np.int32)
    with pytest.raises(WrongResult) as info:
        checks.check_sorted("my input", keys, np.array([1, 3, 2], dtype=np.int32), what="my sort")
    message = str(info.value)
    assert "my sort" in message
    assert "'my input'" in message
    assert "[3, 1, 2]" in message  # the input itself
    assert "wrong at index 1" in message
    assert "got 3, expected 2" in message


def test_check_sorted_reports_wrong_length():
    keys = np.array([3, 1, 2], dtype=np.int32)
    with pytest.raises(WrongResult, match=r"'short'.*returned 2 keys, expected 3"):
        checks.check_sorted("short", keys, np.array([1, 2], dtype=np.int32))


def test_check_sorted_shows_long_inputs_truncated():
    keys = np.arange(20, 0, -1, dtype=np.int32)
    got = np.sort(keys)
    got[15], got[16] = got[16], got[15]
    with pytest.raises(WrongResult) as info:
        checks.check_sorted("long", keys, got)
    message = str(info.value)
    assert "wrong at index 15" in message
    assert "(n=20)" in message and ", ...]" in message
    assert "from index 13" in message


def test_wrong_result_is_an_assertion_error():
    assert issubclass(WrongResult, AssertionError)


def test_validate_names_the_input_and_index_of_a_deliberately_wrong_sort():
    def unsigned_sort(a):  # a classic: compares the keys as unsigned integers
        return np.sort(a.view(np.uint32)).view(np.int32)

    with pytest.raises(WrongResult) as info:
        checks.validate(unsigned_sort, what="the unsigned sort")
    message = str(info.value)
    # The first case with negative and non-negative keys together.
    assert "the unsigned sort on input 'int32 extremes'" in message
    assert "wrong at index 0" in message
    assert f"got 0, expected {INT32_MIN}" in message


def test_validate_reports_an_off_by_one():
    def drops_last_pass(a):  # forgets to compare the last pair
        out = a.copy()
        if out.size > 1:
            out[:-1] = np.sort(out[:-1])
        return out

    with pytest.raises(WrongResult, match=r"on input 'two, reversed' \[2, 1\].*wrong at index 0"):
        checks.validate(drops_last_pass)


def test_validate_refuses_a_sort_that_changes_its_input():
    def in_place(a):
        a.sort()
        return a

    with pytest.raises(WrongResult, match=r"changed its input 'two, reversed'.*copy"):
        checks.validate(in_place)


def test_validate_on_custom_cases_counts_them():
    cases = {"a": np.array([2, 1], np.int32), "b": np.array([], np.int32)}
    assert checks.validate(np.sort, cases) == 2
    with pytest.raises(WrongResult, match="'a'"):
        checks.validate(lambda k: k.copy(), cases)


def test_validate_says_when_a_sort_returns_none():
    def forgets_return(a):
        np.sort(a)

    with pytest.raises(WrongResult) as info:
        checks.validate(forgets_return)
    message = str(info.value)
    assert "None" in message
    assert "returned 1 keys" not in message


# --------------------------------------------------------------------------- near the limit: 7c, 8c, 8d, 9b on CPU threads
# The kernels of issue 12, run from their own files on CPU threads (py2ptx.cuda_on_cpu):
# the same launches as on a GPU, at small n. Never timed here.

NEAR_LIMIT = ["odd_even_temporal", "odd_even_registers", "merge_split_interleaved",
              "bitonic_registers"]


def _edge_cases(n: int = 150) -> dict[str, np.ndarray]:
    cases = checks.standard_cases(n)  # empty, one, duplicates, negatives, INT_MIN/INT_MAX ...
    rng = np.random.default_rng(12)
    cases[f"odd, not a power of two ({2 * n + 33})"] = checks.random_keys(2 * n + 33, seed=12)
    cases["INT_MAX and INT_MIN among duplicates"] = rng.choice(
        np.array([INT32_MIN, INT32_MAX, -1, 0, 5], np.int32), size=n + 51)
    cases["all INT_MAX (the padding's value)"] = np.full(37, INT32_MAX, np.int32)
    return cases


@pytest.mark.parametrize("key", NEAR_LIMIT)
def test_near_limit_variants_sort_on_cpu_threads(key):
    v = ladder.version(key)
    assert v.without_gpu is ladder.WithoutGPU.CPU_THREADS
    cases = _edge_cases(60 if key == "odd_even_temporal" else 150)  # 7c: n / 64 launches
    assert checks.validate(v.on_cpu_threads, cases, what=f"{v.label} on CPU threads") == len(cases)


@pytest.mark.parametrize("phases", [0, 1, 2, 5, 16, 17, 150, 299])
def test_register_odd_even_is_the_same_algorithm_phase_by_phase(phases):
    # 8c stopped after `phases` phases equals the NumPy reference after as many: the same
    # n phases of the same neighbour compare-and-exchange as rungs 7 and 8.
    keys = checks.random_keys(300, seed=phases)
    work = keys.copy()
    launch = gpusorts.odd_even_registers_launch(keys.size, phases)
    run_schedule_on_cpu(KERNELS / "cuda/8c_odd_even_registers.cu", [launch], work)
    np.testing.assert_array_equal(work, gpusorts.odd_even_phases(keys)[phases])


def test_register_odd_even_launch_shape():
    launch = gpusorts.odd_even_registers_launch(2**14)
    assert (launch.grid, launch.block, launch.shared_mem) == (1, 1024, 16 * 1024)
    assert [int(s) for s in launch.scalars] == [2**14, 2**14]
    assert gpusorts.odd_even_registers_launch(1000).block == 63  # ceil(1000 / 16)
    with pytest.raises(ValueError, match=r"1025 threads.*at most 1024 \(16384 keys\).*rung 8"):
        gpusorts.odd_even_registers_launch(2**14 + 1)


def test_merge_split_interleaved_uses_whole_warps():
    for n in (2, 40, 1000, 2**14):
        launch = gpusorts.merge_split_interleaved_launch(n)
        p, m = launch.block, int(launch.scalars[1])
        assert p % 32 == 0 and p * m >= n and launch.shared_mem == 8 * p * m
    assert gpusorts.merge_split_interleaved_launch(2**14).block == 1024


@pytest.mark.parametrize("n, threads, launches", [
    (100, None, 1),      # padded to one warp's 512 keys: one launch
    (2**14, None, 1),    # one tile of 1,024 threads x 16 keys
    (2**15, None, 3),    # tiles; the merge's steps across tiles; the steps inside tiles
    (2**16, None, 5),    # + merge 2^16: one launch across 4 tiles, one inside
    (2000, 32, 5),       # tiles of 512: as 2^16 with tiles of 2^14
])
def test_block_bitonic_launches(n, threads, launches):
    size, out = gpusorts.bitonic_registers_schedule(n, threads)
    assert size == max(512, gpusorts.padded_size(n)) and len(out) == launches
    assert out[0].kernel == "bitonic_block" and int(out[0].scalars[0]) == 0
    merges = [x for x in out if x.kernel == "bitonic_merge_tiles"]
    assert [x.kernel for x in out[1:]] == ["bitonic_merge_tiles", "bitonic_block"] * len(merges)
    tile = out[0].block * gpusorts.REGISTER_KEYS
    for i, x in enumerate(merges):  # log2(tile), log2(tiles in the merge): 2, 4, ...
        assert [int(v) for v in x.scalars] == [tile.bit_length() - 1, i + 1]
        assert x.grid * x.block == size // (2 << (i + 1))  # a column and its mirror each
    with pytest.raises(ValueError, match="power-of-two block of 32"):
        gpusorts.bitonic_registers_launches(1024, threads=16)


def test_block_bitonic_falls_back_to_a_launch_per_step_above_its_merge_span():
    out = gpusorts.bitonic_registers_launches(2**16, merge_span=2)
    names = [x.kernel for x in out]
    # merge 2^15 (2 tiles): one launch across tiles; merge 2^16 (4 tiles): flip + j = 2^14.
    assert names == ["bitonic_block", "bitonic_merge_tiles", "bitonic_block",
                     "bitonic_global_step", "bitonic_global_step", "bitonic_block"]
    assert [int(v) for v in out[3].scalars] == [2**15, 1]
    assert [int(v) for v in out[4].scalars] == [2**14, 0]
    # 2^20 keys, 64 tiles: merges of 2..16 tiles take 2 launches each; of 32 tiles, the
    # flip + 4 half-cleaners + the tile launch; of 64 tiles, the flip + 5 + the tile launch.
    assert len(gpusorts.bitonic_registers_launches(2**20)) == 1 + 2 * 4 + (1 + 4 + 1) + (
        1 + 5 + 1)


@pytest.mark.parametrize("n, merge_span", [(513, 16), (2000, 16), (3000, 16), (5000, 16),
                                           (2000, 1), (3000, 2)])
def test_block_bitonic_across_tiles_on_cpu_threads(n, merge_span):
    # Blocks of 32 threads make tiles of 512 keys: the cross-tile launches run at small n
    # (merges of 2 to 16 tiles in one launch; merge_span 1 and 2: a launch per step).
    keys = checks.random_keys(n, seed=n)
    keys[:: 7] = INT32_MAX  # real INT_MAX keys beside the INT_MAX padding
    keys[3:: 11] = INT32_MIN
    size = gpusorts.bitonic_registers_size(n)
    work = np.full(size, INT32_MAX, np.int32)
    work[:n] = keys
    launches = gpusorts.bitonic_registers_launches(size, 32, merge_span)
    run_schedule_on_cpu(KERNELS / "cuda/9b_bitonic_registers.cu", launches, work)
    np.testing.assert_array_equal(work[:n], np.sort(keys))


# --------------------------------------------------------------------------- bank conflicts (a model, on CPU threads)
# py2ptx.banks counts each warp request's wavefronts from the kernel's own shared-memory
# accesses on CPU threads: the model Nsight Compute's counters check on a GPU.


def _bank_report(file_or_text, launch, n, seed=1):
    keys = checks.random_keys(n, seed=seed)
    report = banks.bank_conflicts(file_or_text, launch.kernel, launch.grid, launch.block, keys,
                                  *launch.scalars, shared_mem=launch.shared_mem)
    np.testing.assert_array_equal(keys, np.sort(checks.random_keys(n, seed=seed)))
    return report


def test_merge_split_before_and_after_bank_conflicts():
    # 1,024 keys: 64 threads, runs of m = 16, for both. 8b's contiguous runs put a warp's
    # 32 lanes in 2 banks (its merged keys are stored 16-way); 8d's interleaved runs keep
    # lane t in bank t, and its one load a step comes from bank t or t +- 1.
    n = 1024
    before = _bank_report("8b_merge_split_shared.cu", gpusorts.merge_split_launch(n), n)
    after = _bank_report("8d_merge_split_interleaved.cu",
                         gpusorts.merge_split_interleaved_launch(n), n)
    assert gpusorts.merge_split_launch(n).block == gpusorts.merge_split_interleaved_launch(
        n).block == 64
    assert before.worst.degree == 16.0 and before.degree > 8
    assert max(s.degree for s in after.sites) <= 2.0 and after.degree < 1.5
    stores = [s for s in before.sites if s.kind == "store" and "mine[i" in s.text]  # merges
    assert stores and all(s.degree == 16.0 for s in stores)


def test_register_odd_even_mailbox_is_conflict_free():
    n = 1024
    report = _bank_report("8c_odd_even_registers.cu", gpusorts.odd_even_registers_launch(n), n)
    assert len(report.sites) == 4 and report.degree == 1.0  # 2 posts, 2 reads, 1 wavefront each


def test_block_bitonic_padding_removes_its_bank_conflicts():
    # One tile of 2,048 keys on 128 threads: the steps between warps go through shared
    # memory. Thread t's keys t*16 + r, padded, fall in 32 banks; unpadded, in 2.
    n = 2048
    (launch,) = gpusorts.bitonic_registers_launches(n, 128)
    padded = _bank_report("9b_bitonic_registers.cu", launch, n)
    text = (KERNELS / "cuda/9b_bitonic_registers.cu").read_text()
    unpadded = _bank_report("#define PAD(i) (i)\n" + text, launch, n)
    assert padded.degree == 1.0
    strided = [s for s in unpadded.sites if "t * K + r" in s.text]
    assert strided and all(s.degree == 16.0 for s in strided)


@pytest.mark.parametrize("n, tile, halo", [(150, 32, 16), (97, 16, 5), (64, 64, 7)])
def test_temporal_blocking_matches_the_phase_by_phase_reference_after_every_launch(n, tile,
                                                                                    halo):
    # 7c: after each launch the buffer it wrote holds exactly the keys that many phases
    # of rung 7 would have made -- the halos recompute, they never change the algorithm.
    keys = checks.random_keys(n, seed=n)
    keys[::9] = INT32_MAX
    reference = gpusorts.odd_even_phases(keys)
    launches = gpusorts.odd_even_temporal_launches(n, tile, halo)
    assert len(launches) % 2 == 0 and sum(int(x.scalars[5]) for x in launches) == n
    assert all(int(x.scalars[5]) <= halo for x in launches)
    work = np.zeros(2 * n, np.int32)
    work[:n] = keys
    for launch in launches:
        _, _, _, src, done, phases = (int(x) for x in launch.scalars)
        run_schedule_on_cpu(KERNELS / "cuda/7c_odd_even_temporal.cu", [launch], work)
        wrote = work[n - src: 2 * n - src]
        np.testing.assert_array_equal(wrote, reference[done + phases],
                                      err_msg=f"after phase {done + phases}")
    np.testing.assert_array_equal(work[:n], np.sort(keys))


def test_temporal_blocking_launches_at_2_14():
    launches = gpusorts.odd_even_temporal_launches(2**14)
    assert len(launches) == 64  # 2^14 / 256 phases a launch
    first = launches[0]
    assert (first.grid, first.block, first.shared_mem) == (32, 512, 4 * 1024)
    assert [int(x.scalars[3]) for x in launches[:3]] == [0, 2**14, 0]  # the buffers in turn
    with pytest.raises(ValueError, match="halo >= 1"):
        gpusorts.odd_even_temporal_launches(100, 64, 0)
