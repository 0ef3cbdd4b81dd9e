"""The CPU runner (py2ptx.cuda_on_cpu): warp-level CUDA, dynamic shared memory, speed of
reused threads. The checks built on its trace of memory accesses are tested in
tests/test_cuda_on_cpu_checks.py; bank conflicts in tests/test_banks.py."""

import numpy as np
import pytest

from py2ptx.cuda_on_cpu import run_on_cpu

HEAD = 'extern "C" __global__ void k(int *out, float *f, int n)\n{\n'


def _run(body: str, threads: int = 64, blocks: int = 1, shared_mem: int = 0):
    out = np.full(blocks * threads, -7, np.int32)
    f = np.arange(blocks * threads, dtype=np.float32) * 0.5
    run_on_cpu(HEAD + body + "}\n", "k", blocks, threads, out, f, np.int32(out.size),
               shared_mem=shared_mem)
    return out, f


def _lanes(threads=64):
    t = np.arange(threads)
    return t, t % 32


@pytest.mark.parametrize("width", [32, 16, 8])
def test_shfl_sync_reads_the_source_lane_within_its_width(width):
    out, _ = _run(f"    int t = threadIdx.x;\n"
                  f"    out[t] = __shfl_sync(0xffffffffu, t * 10, 3, {width});\n")
    t, lane = _lanes()
    expected = (t - lane + (lane - lane % width) + 3) * 10
    np.testing.assert_array_equal(out, expected)


def test_shfl_sync_default_width_is_the_warp():
    out, _ = _run("    out[threadIdx.x] = __shfl_sync(0xffffffffu, (int)threadIdx.x, 5);\n")
    t, lane = _lanes()
    np.testing.assert_array_equal(out, t - lane + 5)


@pytest.mark.parametrize("width", [32, 8])
def test_shfl_up_and_down_keep_their_own_value_at_the_segment_edge(width):
    up, _ = _run(f"    out[threadIdx.x] = __shfl_up_sync(0xffffffffu, (int)threadIdx.x, 2, {width});\n")
    down, _ = _run(f"    out[threadIdx.x] = __shfl_down_sync(0xffffffffu, (int)threadIdx.x, 3, {width});\n")
    t, lane = _lanes()
    seg = lane % width
    np.testing.assert_array_equal(up, np.where(seg < 2, t, t - 2))
    np.testing.assert_array_equal(down, np.where(seg + 3 >= width, t, t + 3))


def test_shfl_xor_is_a_butterfly_and_a_warp_sum_reduces():
    out, _ = _run("    int v = threadIdx.x;\n"
                  "    for (int d = 16; d > 0; d >>= 1) v += __shfl_xor_sync(0xffffffffu, v, d);\n"
                  "    out[threadIdx.x] = v;\n")
    t, lane = _lanes()
    np.testing.assert_array_equal(out, np.where(t < 32, sum(range(32)), sum(range(32, 64))))
    swap, _ = _run("    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, (int)threadIdx.x, 1);\n")
    np.testing.assert_array_equal(swap, t ^ 1)


def test_shfl_of_floats_and_unsigned_keeps_the_type():
    _, f = _run("    float v = f[threadIdx.x];\n    unsigned u = 4000000000u + threadIdx.x;\n"
                "    unsigned w = __shfl_down_sync(0xffffffffu, u, 1);\n"
                "    __syncthreads();\n"
                "    f[threadIdx.x] = __shfl_down_sync(0xffffffffu, v, 1) + (w == u + 1u || (threadIdx.x % 32) == 31 ? 0.0f : 1000.0f);\n")
    t, lane = _lanes()
    np.testing.assert_array_equal(f, np.where(lane == 31, t, t + 1) * 0.5)


def test_ballot_activemask_and_syncwarp():
    out, _ = _run("    unsigned b = __ballot_sync(0xffffffffu, threadIdx.x % 3 == 0);\n"
                  "    __syncwarp();\n"
                  "    out[threadIdx.x] = (int)(b ^ __activemask());\n", threads=40)
    t = np.arange(40)
    b0 = sum(1 << lane for lane in range(32) if lane % 3 == 0)
    b1 = sum(1 << lane for lane in range(8) if (32 + lane) % 3 == 0)
    expected = np.where(t < 32, b0 ^ 0xFFFFFFFF, b1 ^ 0xFF).astype(np.uint32).view(np.int32)
    np.testing.assert_array_equal(out, expected)


def test_lanes_that_return_early_do_not_block_a_shuffle():
    out, _ = _run("    if (threadIdx.x % 32 >= 16) return;\n"
                  "    out[threadIdx.x] = __shfl_xor_sync(0x0000ffffu, (int)threadIdx.x, 1);\n")
    t, lane = _lanes()
    np.testing.assert_array_equal(out, np.where(lane < 16, t ^ 1, -7))


def test_dynamic_shared_memory_takes_the_launch_size():
    out, _ = _run("    extern __shared__ int s[];\n"
                  "    s[threadIdx.x] = threadIdx.x * 2;\n    __syncthreads();\n"
                  "    out[threadIdx.x] = s[blockDim.x - 1 - threadIdx.x];\n",
                  threads=64, shared_mem=64 * 4)
    np.testing.assert_array_equal(out, (63 - np.arange(64)) * 2)


def test_the_cpp_advice_comes_only_with_a_cpp_error():
    from py2ptx.cbuild import CCompileError

    missing_semicolon = ('extern "C" __global__ void k(int *a, int n) { int i = threadIdx.x\n'
                         ' if (i < n) a[i] = 1; }')
    reference = 'extern "C" __global__ void k(int *a, int n) { int &r = a[0]; r = n; }'
    with pytest.raises(CCompileError) as err:
        run_on_cpu(missing_semicolon, "k", 1, 1, np.zeros(4, np.int32), np.int32(4))
    assert "probably missing at the end of line 1" in str(err.value)
    assert "C++-only" not in str(err.value)
    with pytest.raises(CCompileError, match="C\\+\\+-only features"):
        run_on_cpu(reference, "k", 1, 1, np.zeros(4, np.int32), np.int32(4))
