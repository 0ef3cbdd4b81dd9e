"""The GPU host code run against a fake CuPy whose kernels run on CPU threads.

CI has no GPU, so without this the launcher, the host side of every GPU rung and the
measuring code would first run on the lent GPU machine, whose minutes are scarce.
These tests run them here; tests/fake_cupy.py says what the fake does and does not show.
"""

from __future__ import annotations

import fake_cupy
import numpy as np
import pytest

from py2ptx import bench, doctor, gpu, gpusorts, ladder, results
from py2ptx.checks import random_keys, standard_cases, validate

# Rung 11's inline PTX cannot run on CPU threads; the fake refuses it like the emulator does.
RUNNABLE = [r for r in ladder.rungs(device="gpu") if r.key != "odd_even_inline_ptx"]


@pytest.mark.parametrize("r", RUNNABLE, ids=lambda r: r.key)
def test_gpu_rung_host_code_sorts(fake_gpu, r):
    assert doctor.has_gpu() and doctor.gpu_info()["name"] == fake_cupy.FAKE_DEVICE_NAME
    cases = standard_cases(40)
    cases["random, n = 150"] = random_keys(150, seed=11)
    assert validate(r.load(), cases, what=r.key) == len(cases)


def test_merge_split_host_code_sorts(fake_gpu):
    cases = standard_cases(40)
    cases["random, n = 500"] = random_keys(500, seed=12)
    assert validate(gpusorts.merge_split, cases, what="merge_split") == len(cases)
    with pytest.raises(ValueError, match="two buffers"):
        gpusorts.merge_split(random_keys(40000))


def test_shared_memory_above_48_kb_opts_in(fake_gpu):
    d = fake_cupy.asarray(random_keys(13000, seed=2))
    kernel = gpusorts._kernel("8_odd_even_shared.cu", "odd_even_shared")
    launch = gpusorts.odd_even_shared_launch(d.size)
    assert launch.shared_mem > gpu.DEFAULT_SHARED_BYTES
    # Too much shared memory for any GPU is refused before launch, with the limit:
    with pytest.raises(gpu.LaunchShapeError, match="at most 232448"):
        kernel(1, 32, d, np.int32(60000), shared_mem=4 * 60000)
    with pytest.raises(ValueError, match="at most 58112 int32 keys"):
        gpusorts.odd_even_shared(random_keys(60000))


def test_a_python_int_is_refused_at_launch(fake_gpu):
    step = gpusorts._kernel("7_odd_even_global.cu", "odd_even_step")
    with pytest.raises(gpu.KernelArgumentError, match=r"np\.int32\(8\)"):
        step(1, 4, fake_cupy.asarray(np.arange(8, dtype=np.int32)), 8, np.int32(0))


def test_missing_extern_c_is_explained(fake_gpu):
    module = gpu.load_module("__global__ void k(int *a) { a[0] = 1; }\n")
    with pytest.raises(KeyError, match='extern "C"'):
        module.kernel("k")


def test_compile_errors_carry_nvrtc_log(fake_gpu):
    with pytest.raises(Exception, match=r"cell\.cu\(2\)"):
        gpu.load_module('extern "C" __global__ void k(int *a)\n{ a[0] = nope; }\n')


def test_measure_validates_then_times_on_the_device(fake_gpu):
    t = bench.measure("bitonic", 300, repeats=3)
    assert (t.label, t.n, t.where, t.repeats) == ("bitonic", 300, "gpu", 3)


def test_run_plan_records_a_run_the_notebooks_can_replay(fake_gpu, results_dir):
    plan = {"python_bubble": ((64, 128), 2), "c_bubble_scalar": ((64, 128), 2),
            "numpy_sort": ((64, 128), 2),
            "odd_even_numba": ((64,), 1), "odd_even_global": ((64,), 1),
            "odd_even_shared": ((64, 128), 2), "merge_split": ((64, 128), 2),
            "bitonic": ((64, 128), 2),
            "cupy_sort": ((64, 128), 2)}
    timings = bench.run_plan(plan, progress=False)
    labels = {(t.label, t.n) for t in timings}
    assert {("h2d", 64), ("d2h", 128), ("bitonic", 128), ("numpy_sort", 64)} <= labels
    path = results.record_run(bench.GPU_RUN, timings)
    assert path.parent == results_dir
    run = results.latest_run(bench.GPU_RUN)
    assert run.device == fake_cupy.FAKE_DEVICE_NAME
    s = bench.series(run.timings, "numpy_sort", "bitonic")
    assert [t.n for t in s["9. bitonic (GPU)"]] == [64, 128]

    # Notebooks 03 and 04 on a machine without a GPU replay this run: every table,
    # plot and ratio cell must work on it. (The executed copies are not kept: their
    # numbers are CPU threads pretending, which no one should ever read as GPU times.)
    from test_notebooks import REPO, _errors, _execute

    for name in ("03-cuda-parallel-sort.ipynb", "04-ptx.ipynb"):
        nb = _execute(REPO / "notebooks" / name)
        assert not _errors(nb), name
        text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                       for o in c.get("outputs", []))
        assert fake_cupy.FAKE_DEVICE_NAME in text, name
        if name.startswith("03"):
            assert "beats the C bubble sort" in text or "never beats" in text
            pngs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                    if "image/png" in o.get("data", {})]
            assert len(pngs) == 4  # the phases, time vs n, the bank pictures (CPU model), the ladder


def test_who_ran_what_host_code_refuses_inline_ptx_on_the_fake(fake_gpu):
    from py2ptx.cuda_on_cpu import EmulationError

    with pytest.raises(EmulationError, match="inline PTX"):
        gpusorts.who_ran_what(blocks=2, threads=32, spin=10)


def test_crossover_and_series():
    from py2ptx.timing import Timing

    cpu = [Timing((1e-3,), "c", n=1024), Timing((16e-3,), "c", n=4096)]
    gpu_t = [Timing((5e-3,), "g", "gpu", n=1024), Timing((6e-3,), "g", "gpu", n=4096)]
    assert bench.crossover(cpu, gpu_t) == 4096
    assert bench.crossover(cpu, gpu_t[:1]) is None



def test_a_ptx_file_newer_than_the_driver_is_explained(fake_gpu, tmp_path):
    from py2ptx import cudatools

    text = (cudatools.KERNELS / "cuda" / "7b_odd_even_step.ptx").read_text()
    path = tmp_path / "too_new.ptx"
    path.write_text(text.replace(".version 7.8", ".version 9.9"))
    # The fake driver is CUDA 13.0 and refuses every PTX file, as an old driver would.
    with pytest.raises(cudatools.CudaCompileError,
                       match=r"too_new.ptx says .version 9.9, but this driver \(CUDA 13.0\) "
                             r"accepts PTX up to .version 9.0"):
        gpu.load_ptx(path)
    with pytest.raises(fake_cupy.CUDADriverError):  # not a version problem: passed on as is
        gpu.load_ptx("7b_odd_even_step.ptx")
