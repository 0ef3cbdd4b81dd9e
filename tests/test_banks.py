"""Bank conflicts computed on CPU threads (py2ptx.banks), checked on the ladder's kernels
against the degrees the recorded H200 run is consistent with
(results/20261128T194029Z-nvidia-h200-gpu-ladder.json and the wavefront model of notebook 03:
version 3 is 2-way, merge-split with contiguous runs 16-way)."""

import numpy as np
import pytest

from py2ptx.banks import BankReport, Site, bank_conflicts, bank_picture
from py2ptx.cpu_trace import checks_available

pytestmark = pytest.mark.skipif(not checks_available()[0], reason=checks_available()[1])


@pytest.fixture(scope="module")
def odd_even():
    keys = np.random.default_rng(0).integers(0, 100, 64).astype(np.int32)
    report = bank_conflicts("8_odd_even_shared.cu", "odd_even_shared", 1, 32, keys,
                            np.int32(64), shared_mem=64 * 4)
    assert (keys == np.sort(keys)).all()  # it ran, and sorted
    return report


@pytest.fixture(scope="module")
def merge_split():
    n, p, m = 512, 32, 16
    keys = np.random.default_rng(1).integers(0, 1000, n).astype(np.int32)
    report = bank_conflicts("8b_merge_split_shared.cu", "merge_split_shared", 1, p, keys,
                            np.int32(n), np.int32(m), shared_mem=2 * p * m * 4)
    assert (keys == np.sort(keys)).all()
    return report


def _site(report: BankReport, text: str, kind: str) -> Site:
    return next(s for s in report.sites if text in s.text and s.kind == kind)


def test_odd_even_shared_is_a_two_way_conflict(odd_even):
    phase_loads = _site(odd_even, "int left = keys[i], right = keys[i + 1];", "load")
    assert phase_loads.degree == 2.0
    assert odd_even.worst.degree == 2.0
    # the copies in and out (keys[i] = a[i], a[i] = keys[i]) are conflict-free
    assert _site(odd_even, "keys[i] = a[i];", "store").degree == 1.0
    assert 1.8 < odd_even.degree < 2.0


def test_the_two_way_request_pairs_lanes_p_and_p_plus_16(odd_even):
    lanes = odd_even.request(_site(odd_even, "int left = keys[i]", "load"), 0)
    for p in range(16):
        (bank_a, word_a), (bank_b, word_b) = lanes[p], lanes[p + 16]
        assert bank_a == bank_b and word_a != word_b


def test_merge_split_with_contiguous_runs_is_sixteen_way(merge_split):
    load_run = _site(merge_split, "cur[t * m + k] = t * m + k < n", "store")
    assert load_run.degree == 16.0
    assert _site(merge_split, "a[t * m + k] = cur[t * m + k];", "load").degree == 16.0
    assert merge_split.worst.degree == 16.0
    assert merge_split.total_wavefronts > 4 * merge_split.total_requests


def test_a_broadcast_is_free_and_a_stride_of_32_is_the_worst():
    src = ('extern "C" __global__ void k(int *a, int n)\n{\n'
           '    __shared__ int s[1024];\n'
           '    s[threadIdx.x * 32] = threadIdx.x;\n'
           '    __syncthreads();\n'
           '    a[threadIdx.x] = s[0];\n}\n')
    report = bank_conflicts(src, "k", 1, 32, np.zeros(32, np.int32), np.int32(32))
    assert _site(report, "s[threadIdx.x * 32]", "store").degree == 32.0
    assert _site(report, "a[threadIdx.x] = s[0];", "load").degree == 1.0


def test_bank_picture_draws_the_worst_request(odd_even):
    import matplotlib
    matplotlib.use("Agg")
    ax = bank_picture(odd_even)
    assert "2-way" in ax.get_title()
    assert len(ax.lines) == 32
    ax2 = bank_picture(odd_even.request(odd_even.sites[0]))
    assert "1-way" in ax2.get_title()
