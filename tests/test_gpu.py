"""The GPU half without a GPU: kernel files compile to cubins, typed arguments and launch
shapes are checked before launch, the simulator and the CPU-thread emulator sort.

Tests marked ``gpu`` run the same rungs on a real GPU (``make gpu-check``).
"""

from __future__ import annotations

import numpy as np
import pytest

from py2ptx import bench, cudatools, deepseek, gpu, gpusorts, ladder
from py2ptx.checks import random_keys, standard_cases, validate
from py2ptx.cuda_on_cpu import EmulationError, run_on_cpu

CUDA_DIR = cudatools.KERNELS / "cuda"
CU_FILES = sorted(p.name for p in CUDA_DIR.glob("*.cu"))
ARCHS = ("sm_90", "sm_75")  # the recorded H200, and the T4 of free cloud notebooks


class FakeDeviceArray:
    """Stands in for a CuPy array where only the argument check is under test."""

    def __init__(self, dtype):
        self.dtype, self.shape = np.dtype(dtype), (4,)
        self.__cuda_array_interface__ = {}


def small_cases(n: int = 40) -> dict[str, np.ndarray]:
    return standard_cases(n)


# --------------------------------------------------------------------------- compilation


def test_every_cuda_rung_names_a_kernel_file_or_numba_module():
    gpu_rungs = ladder.rungs(device="gpu")
    assert [r.number for r in gpu_rungs] == list(range(6, 12))
    assert {p.name for p in CUDA_DIR.iterdir() if p.suffix in (".cu", ".py", ".ptx")} >= {
        "6_odd_even_numba.py", "7_odd_even_global.cu", "8_odd_even_shared.cu",
        "8b_merge_split_shared.cu", "9_bitonic.cu", "11_odd_even_inline_ptx.cu",
        "special_registers.cu",
        "7b_odd_even_step.ptx"}


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("name", CU_FILES)
def test_every_cu_file_compiles_to_a_cubin(name, arch):
    # A cubin, not just PTX: bad inline PTX only fails when ptxas assembles it.
    cubin = cudatools.cubin_for(name, arch)
    assert cubin[:4] == b"\x7fELF"
    sass = cudatools.sass_for(cubin)
    variants = {v.kernel for v in deepseek.VARIANTS}
    for kernel in gpu._KERNEL_RE.findall((CUDA_DIR / name).read_text()):
        if name == deepseek.KERNEL_FILE and kernel[0] in variants - _built_for(arch):
            assert kernel[0] not in sass  # behind #if __CUDA_ARCH__ >= 800: absent, not faked
        elif name != deepseek.KERNEL_FILE or kernel[0] in variants | {"victim"}:
            assert kernel[0] in sass


def _built_for(arch: str) -> set[str]:
    runnable, _ = deepseek.split_by_arch((int(arch[3:-1]), int(arch[-1])))
    return {v.kernel for v in runnable} | {"victim"}


@pytest.mark.parametrize("name", CU_FILES)
def test_every_cu_file_opens_with_what_changed(name):
    head = (CUDA_DIR / name).read_text()[:1500]
    assert head.startswith(f"/* {name}")
    assert "What changed from the previous version" in head


@pytest.mark.parametrize("arch", ARCHS)
def test_hand_written_ptx_assembles_for_both_archs(arch):
    text = (CUDA_DIR / "7b_odd_even_step.ptx").read_text()
    assert cudatools.ptx_version(text) == "7.8"
    assert "odd_even_step_ptx" in cudatools.sass_for(cudatools.assemble_ptx(text, arch))


def test_inline_ptx_and_c_min_max_give_the_same_sass():
    # Same operations in the same order; at most the registers of two loads differ.
    for arch in ARCHS:
        by_kernel = cudatools.sass_by_kernel(cudatools.sass_for("11_odd_even_inline_ptx.cu", arch))
        ptx, c = by_kernel["odd_even_shared_ptx"], by_kernel["odd_even_shared_minmax"]
        assert list(map(cudatools.sass_opcode, ptx)) == list(map(cudatools.sass_opcode, c))
        assert len(cudatools.sass_diff(ptx, c).splitlines()) <= 12
        assert any(cudatools.sass_opcode(i).startswith(("VIMNMX", "IMNMX")) for i in ptx)


def test_special_registers_reach_sass():
    sass = cudatools.sass_for("special_registers.cu")
    for register in ("SR_VIRTUALSMID", "SR_LANEID", "SR_VIRTID", "SR_GLOBALTIMER"):
        assert register in sass, register


def test_bad_inline_ptx_fails_at_ptxas_with_the_line(tmp_path):
    bad = ('extern "C" __global__ void k(int *a)\n{\n    int r;\n'
           '    asm("mni.s32 %0, %1, %1;" : "=r"(r) : "r"(a[0]));\n    a[0] = r;\n}\n')
    cudatools.ptx_for(bad)  # PTX text is produced: it proves nothing
    with pytest.raises(cudatools.CudaCompileError, match="mni"):
        cudatools.cubin_for(bad)


# --------------------------------------------------------------------------- typed arguments


def test_kernel_params_reads_every_kernel_signature():
    text = (CUDA_DIR / "9_bitonic.cu").read_text()
    assert [str(p) for p in gpu.kernel_params(text, "bitonic_merge_global")] == [
        "int *a", "unsigned k", "unsigned j"]
    text = (CUDA_DIR / "special_registers.cu").read_text()
    params = gpu.kernel_params(text, "whoami")
    assert params[1].ctype == "unsigned long long" and params[1].pointer
    assert params[-1].ctype == "long long" and not params[-1].pointer
    with pytest.raises(KeyError, match="bitonic_sort_tile"):
        gpu.kernel_params((CUDA_DIR / "9_bitonic.cu").read_text(), "bitonic")


def test_a_python_int_for_an_int_parameter_is_refused_naming_np_int32():
    params = gpu.kernel_params((CUDA_DIR / "7_odd_even_global.cu").read_text(), "odd_even_step")
    with pytest.raises(gpu.KernelArgumentError) as err:
        gpu.check_args("odd_even_step", params, (FakeDeviceArray(np.int32), 100, np.int32(0)))
    message = str(err.value)
    assert "argument 2 of odd_even_step (int n)" in message
    assert "np.int32(100)" in message and "long long" in message


def test_a_python_float_for_a_float_parameter_is_refused_naming_np_float32():
    params = gpu.kernel_params('extern "C" __global__ void s(float *x, float a) {}', "s")
    with pytest.raises(gpu.KernelArgumentError, match=r"np\.float32\(0\.5\)"):
        gpu.check_args("s", params, (FakeDeviceArray(np.float32), 0.5))
    with pytest.raises(gpu.KernelArgumentError, match=r"np\.float64.*np\.float32"):
        gpu.check_args("s", params, (FakeDeviceArray(np.float32), np.float64(0.5)))


def test_host_arrays_wrong_dtypes_and_counts_are_refused():
    params = gpu.kernel_params((CUDA_DIR / "7_odd_even_global.cu").read_text(), "odd_even_step")
    with pytest.raises(gpu.KernelArgumentError, match="cupy.asarray"):
        gpu.check_args("odd_even_step", params, (np.zeros(4, np.int32), np.int32(4), np.int32(0)))
    with pytest.raises(gpu.KernelArgumentError, match="int64.*astype\\(np.int32\\)"):
        gpu.check_args("odd_even_step", params,
                       (FakeDeviceArray(np.int64), np.int32(4), np.int32(0)))
    with pytest.raises(gpu.KernelArgumentError, match="takes 3 arguments"):
        gpu.check_args("odd_even_step", params, (FakeDeviceArray(np.int32), np.int32(4)))
    gpu.check_args("odd_even_step", params, (FakeDeviceArray(np.int32), np.int32(4), np.int32(1)))


@pytest.mark.parametrize("grid, block, shared, message", [
    (1, 2048, 0, "at most 1024"),
    (0, 256, 0, "below 1"),
    ((1, 2, 3, 4), 32, 0, "1 to 3 ints"),
    (1, 32, 64 * 1024, "at most 49152"),
    (1.5, 32, 0, "int or a tuple"),
])
def test_launch_shapes_the_gpu_cannot_run_are_refused(grid, block, shared, message):
    with pytest.raises(gpu.LaunchShapeError, match=message):
        gpu.check_launch(grid, block, shared)


def test_launch_shapes_are_normalised():
    assert gpu.check_launch(4, (32, 2)) == ((4, 1, 1), (32, 2, 1))


def test_without_a_gpu_require_gpu_says_what_happens_instead():
    if gpu.cupy_or_none() is not None:
        pytest.skip("this machine has a GPU")
    with pytest.raises(gpu.NoGPU, match="recorded GPU run"):
        gpu.require_gpu("this test")


# --------------------------------------------------------------------------- schedules


@pytest.mark.parametrize("size, threads, expected", [
    (2, 512, 1),          # one tile holds everything
    (1024, 512, 1),
    (2048, 512, 3),       # tile sort; k = 2048: a global step (j = 1024) and a merge_tile
    (4096, 512, 6),       # + k = 4096: global steps j = 2048, 1024 and a merge_tile
    (1 << 20, 512, 1 + sum(1 + (k - 10) for k in range(11, 21))),
])
def test_bitonic_launch_counts(size, threads, expected):
    assert len(gpusorts.bitonic_launches(size, threads)) == expected


def test_bitonic_needs_a_power_of_two():
    with pytest.raises(ValueError, match="power of two"):
        gpusorts.bitonic_launches(1000)
    with pytest.raises(ValueError, match="block of 96 threads"):
        gpusorts.bitonic_launches(1024, threads=96)
    assert gpusorts.padded_size(1000) == 1024 and gpusorts.padded_size(2) == 2


def test_odd_even_global_launches_once_per_phase():
    launches = gpusorts.odd_even_global_launches(1000, 256)
    assert len(launches) == 1000
    assert launches[0].grid == 2 and [int(x.scalars[1]) for x in launches[:3]] == [0, 1, 0]


# --------------------------------------------------------------------------- simulator


def test_numba_kernels_run_in_the_simulator_without_a_gpu():
    if gpu.cupy_or_none() is not None:
        pytest.skip("this machine has a GPU: numba.cuda is the real one")
    assert gpu.numba_simulated()


@pytest.mark.parametrize("threads", [32, 128])
def test_odd_even_numba_sorts_in_the_simulator(threads):
    cases = {k: v for k, v in small_cases(40).items()}
    cases["random, n = 100"] = random_keys(100, seed=7)
    assert validate(lambda k: gpusorts.odd_even_numba(k, threads), cases,
                    what="odd_even_numba") == len(cases)


# --------------------------------------------------------------------------- CPU threads


@pytest.mark.parametrize("key", sorted(ladder.SCHEDULES))
def test_cuda_c_rungs_sort_on_cpu_threads(key):
    cases = small_cases(40)
    cases["random, n = 200"] = random_keys(200, seed=3)
    assert validate(lambda k: ladder.emulate_on_cpu(key, k), cases, what=key) == len(cases)


@pytest.mark.parametrize("threads", [1, 2, 32])
def test_bitonic_on_cpu_threads_with_small_blocks(threads):
    # Small blocks mean small tiles: every kind of launch (tile, global, merge) runs.
    keys = random_keys(300, seed=threads)
    np.testing.assert_array_equal(ladder.emulate_on_cpu("bitonic", keys, threads),
                                  np.sort(keys))


def test_emulator_refuses_inline_ptx_and_says_how_to_check_it():
    with pytest.raises(EmulationError, match="line 2[0-9].*inline PTX.*cubin_for"):
        run_on_cpu("11_odd_even_inline_ptx.cu", "odd_even_shared_ptx", 1, 32,
                   np.zeros(8, np.int32), np.int32(8), shared_mem=32)


def test_emulator_stops_a_kernel_that_waits_at_a_barrier_for_ever():
    src = ('extern "C" __global__ void k(int *a, int n)\n{\n'
           '    if (threadIdx.x == 0) { __syncthreads(); }\n'
           '    else { while (1) { __syncthreads(); } }\n}\n')
    with pytest.raises(EmulationError, match="did not finish.*__syncthreads"):
        run_on_cpu(src, "k", 1, 4, np.zeros(4, np.int32), np.int32(4), timeout=2, check=False)


def test_emulator_reports_a_crash_without_dying():
    src = ('extern "C" __global__ void k(int *a, int n)\n{\n'
           '    a[threadIdx.x * 100000000LL] = 1;\n}\n')
    with pytest.raises(EmulationError, match="crashed.*SIGSEGV.*outside"):
        run_on_cpu(src, "k", 1, 4, np.zeros(4, np.int32), np.int32(4))


def test_emulator_checks_arguments_like_a_gpu_launch():
    with pytest.raises(gpu.KernelArgumentError, match=r"np\.int32\(8\)"):
        run_on_cpu("7_odd_even_global.cu", "odd_even_step", 1, 4, np.zeros(8, np.int32), 8,
                   np.int32(0))


def test_emulator_compile_errors_name_the_students_line():
    src = 'extern "C" __global__ void k(int *a, int n)\n{\n    a[0] = undefined_thing;\n}\n'
    with pytest.raises(Exception, match=r"cell\.cu:3"):
        run_on_cpu(src, "k", 1, 1, np.zeros(1, np.int32), np.int32(1))


def test_emulator_shared_memory_starts_as_garbage():
    # Reading shared memory nobody wrote must not give a lucky zero.
    src = ('extern "C" __global__ void k(int *a, int n)\n{\n'
           '    extern __shared__ int s[];\n    a[threadIdx.x] = s[threadIdx.x];\n}\n')
    out = np.zeros(4, np.int32)
    run_on_cpu(src, "k", 1, 4, out, np.int32(4), shared_mem=16)
    assert (out != 0).all()


# --------------------------------------------------------------------------- timing, fake GPU


def _wrong_once_timed(monkeypatch, name: str, right_calls: int = 1):
    """Kernel ``name`` (one block, keys in a[0:n]) sorts right ``right_calls`` times, then
    writes the keys reversed: a kernel that passes the check before timing only."""
    import fake_cupy

    calls = []

    def kernel(grid, block, args, shared):
        a, n = args[0], int(args[1])
        calls.append(n)
        a[:n] = np.sort(a[:n]) if len(calls) <= right_calls else np.sort(a[:n])[::-1]

    monkeypatch.setitem(fake_cupy.PYTHON_KERNELS, name, kernel)
    return calls


def test_a_kernel_wrong_only_when_timed_never_reaches_a_plot(fake_gpu, monkeypatch):
    from py2ptx import bench
    from py2ptx.checks import WrongResult

    calls = _wrong_once_timed(monkeypatch, "odd_even_shared")
    with pytest.raises(WrongResult, match="the output of the last timed sample"):
        bench.measure("odd_even_shared", 64, repeats=2)
    assert len(calls) > 2  # validated once, right; then warm-up and samples, wrong


def test_measure_times_both_columns_on_fresh_copies(fake_gpu, monkeypatch):
    from py2ptx import bench

    seen = []

    def kernel(grid, block, args, shared):  # records what each sample was given
        a, n = args[0], int(args[1])
        seen.append(a[:n].copy())
        a[:n] = np.sort(a[:n])

    import fake_cupy

    monkeypatch.setitem(fake_cupy.PYTHON_KERNELS, "odd_even_shared", kernel)
    t = bench.measure("odd_even_shared", 64, repeats=3)
    assert t.where == "gpu" and len(t.samples) == 3 and len(t.device_samples) == 3
    assert t.host_fraction is not None and "device_method" in t.meta
    keys = random_keys(64, seed=0)
    assert len(seen) >= 1 + 1 + 3 + 3  # validation, warm-up, 3 end to end, 3 device only
    assert all((s == keys).all() for s in seen)  # every sample sorted the unsorted input


def _odd_even_step(grid, block, args, shared):
    """odd_even_step in NumPy (one phase), so a 64-launch sort is quick on the fake."""
    a, n, phase = args[0], int(args[1]), int(args[2])
    i = np.arange(phase, n - 1, 2)
    low, high = np.minimum(a[i], a[i + 1]), np.maximum(a[i], a[i + 1])
    a[i], a[i + 1] = low, high


def test_rung_7_replays_as_a_cuda_graph_on_fresh_copies(fake_gpu, monkeypatch):
    import fake_cupy

    from py2ptx import bench

    monkeypatch.setitem(fake_cupy.PYTHON_KERNELS, "odd_even_step", _odd_even_step)
    t = bench.graph_replay("odd_even_global", 64, repeats=2)
    assert t.label == "odd_even_global@graph" and t.meta["launches"] == 64
    assert t.meta["of"] == "odd_even_global" and len(t.device_samples) == 2


def test_a_graph_that_replays_wrong_is_caught(fake_gpu, monkeypatch):
    from py2ptx import bench
    from py2ptx.checks import WrongResult

    _wrong_once_timed(monkeypatch, "odd_even_shared", right_calls=2)
    with pytest.raises(WrongResult, match="last graph replay"):
        bench.graph_replay("odd_even_shared", 64, repeats=2)


def test_capture_records_launches_and_replay_runs_them(fake_gpu):
    import fake_cupy

    d_in = fake_cupy.asarray(np.arange(8, 0, -1, dtype=np.int32))
    work = fake_cupy.zeros(8, dtype=np.int32)
    stream = fake_cupy.Stream(non_blocking=True)
    with stream:
        stream.begin_capture()
        fake_cupy.copyto(work, d_in)
        gpusorts.odd_even_shared_device(work)
        graph = stream.end_capture()
    assert (np.asarray(work) == 0).all()  # captured, not run
    graph.launch()
    np.testing.assert_array_equal(fake_cupy.asnumpy(work), np.arange(1, 9))


def test_run_plan_adds_graph_replays_and_records_both_columns(fake_gpu, results_dir,
                                                              monkeypatch):
    from py2ptx import bench, results, timing

    monkeypatch.setattr(timing, "MAX_SPIN_S", 60.0)  # CPU threads launch slowly: spin longer

    timings = bench.run_plan({"odd_even_global": ((32,), 1), "bitonic": ((64,), 2)},
                             progress=False, graphs={"odd_even_global": ((32,), 1)})
    labels = [(t.label, t.n) for t in timings]
    assert ("odd_even_global@graph", 32) in labels and ("h2d", 64) in labels
    assert ("h2d", 32) in labels and ("odd_even_global@graph", 64) not in labels
    run = results.load_run(results.record_run(bench.GPU_RUN, timings))
    bitonic = run.timing("bitonic", 64)
    assert bitonic.device_median is not None and bitonic.host_fraction is not None
    h2d = run.timing("h2d", 64)
    assert h2d.device_median is None and h2d.host_fraction is not None
    both = bench.series(run.timings, "bitonic", "h2d", device=True)
    assert list(both) == ["9. bitonic (GPU)", "9. bitonic (GPU), device only", "h2d"]
    assert both["9. bitonic (GPU), device only"][0].median == bitonic.device_median
    assert list(bench.series(run.timings, "bitonic")) == ["9. bitonic (GPU)"]


def test_cached_schedules_are_checked_once_and_still_refuse_a_new_mistake(fake_gpu):
    import fake_cupy

    launches = gpusorts.odd_even_global_launches(16)
    assert launches is gpusorts.odd_even_global_launches(16)  # cached, not rebuilt
    d = fake_cupy.asarray(random_keys(16, seed=4))
    gpusorts.run_launches("7_odd_even_global.cu", launches, d)
    np.testing.assert_array_equal(fake_cupy.asnumpy(d), np.sort(random_keys(16, seed=4)))
    with pytest.raises(gpu.KernelArgumentError, match="int64"):  # another dtype: checked again
        gpusorts.run_launches("7_odd_even_global.cu", launches,
                              fake_cupy.asarray(np.arange(16, dtype=np.int64)))


# --------------------------------------------------------------------------- on a GPU


@pytest.mark.gpu
@pytest.mark.parametrize("r", ladder.rungs(device="gpu"), ids=lambda r: r.key)
def test_gpu_rung_sorts_on_the_gpu(r):
    cases = standard_cases(1000)
    cases["random, n = 5000"] = random_keys(5000, seed=5)
    if r.key == "odd_even_numba":
        cases = standard_cases(200)
    assert validate(r.load(), cases, what=r.key) == len(cases)


@pytest.mark.gpu
def test_merge_split_sorts_on_the_gpu():
    cases = standard_cases(1000)
    cases["random, n = 16384"] = random_keys(16384, seed=6)
    assert validate(gpusorts.merge_split, cases, what="merge_split") == len(cases)


@pytest.mark.gpu
def test_hand_written_ptx_runs_through_the_driver():
    keys = random_keys(999, seed=9)
    np.testing.assert_array_equal(gpusorts.odd_even_handwritten_ptx(keys), np.sort(keys))


@pytest.mark.gpu
def test_a_python_int_is_refused_on_a_real_launch():
    import cupy as cp

    step = gpusorts._kernel("7_odd_even_global.cu", "odd_even_step")
    d = cp.arange(8, dtype=cp.int32)
    with pytest.raises(gpu.KernelArgumentError, match="np.int32"):
        step(1, 4, d, 8, np.int32(0))


@pytest.mark.gpu
def test_ptx_newer_than_the_driver_is_explained(tmp_path):
    text = (CUDA_DIR / "7b_odd_even_step.ptx").read_text().replace(".version 7.8", ".version 99.9")
    path = tmp_path / "too_new.ptx"
    path.write_text(text)
    with pytest.raises(cudatools.CudaCompileError, match="accepts PTX up to"):
        gpu.load_ptx(path)


@pytest.mark.gpu
def test_both_columns_and_the_graph_replay_work_on_the_gpu():
    from py2ptx import bench

    t = bench.measure("odd_even_shared", 4096, repeats=3)  # validated, last sample too
    assert t.device_samples is not None and len(t.device_samples) == 3, t.meta
    assert t.host_fraction is not None
    g = bench.graph_replay("odd_even_global", 1024, repeats=2)  # validated after replay
    assert g.meta["launches"] == 1024 and g.device_samples is not None, g.meta


@pytest.mark.gpu
def test_shared_memory_sort_uses_the_opt_in_limit():
    keys = random_keys(16384, seed=1)  # 64 KB: above the 48 KB default on every GPU
    np.testing.assert_array_equal(gpusorts.odd_even_shared(keys), np.sort(keys))


def test_gpu_check_without_a_gpu_says_so_and_records_nothing(results_dir):
    import subprocess
    import sys

    if gpu.cupy_or_none() is not None:
        pytest.skip("this machine has a GPU")
    run = subprocess.run([sys.executable, str(cudatools.KERNELS.parents[1] / "tools" /
                                              "gpu_check.py")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2
    assert "needs one. Nothing was run or recorded." in run.stdout
    assert "How each rung runs on this machine" in run.stdout
    assert list(results_dir.iterdir()) == []


def test_launch_checks_run_once_per_shape_and_types_but_still_refuse_new_mistakes():
    calls = []

    class Raw:
        max_dynamic_shared_size_bytes = 0

        def __call__(self, grid, block, args, shared_mem=0):
            calls.append((grid, block))

    params = gpu.kernel_params((CUDA_DIR / "7_odd_even_global.cu").read_text(), "odd_even_step")
    kernel = gpu.Kernel(Raw(), "odd_even_step", params)
    d = FakeDeviceArray(np.int32)
    for phase in range(3):
        kernel(4, 256, d, np.int32(8), np.int32(phase))
    assert calls == [((4, 1, 1), (256, 1, 1))] * 3 and len(kernel._checked) == 1
    with pytest.raises(gpu.KernelArgumentError, match="np.int32"):
        kernel(4, 256, d, 8, np.int32(0))
    with pytest.raises(gpu.LaunchShapeError):
        kernel(4, [2048], d, np.int32(8), np.int32(0))


# --------------------------------------------------------------------------- issue 12's kernels on a GPU

_NEAR_LIMIT_SIZES = {"odd_even_temporal": (2**10, 2**12, 2**14),
                     "odd_even_registers": (2**10, 2**12, 2**14),  # one block of <= 1,024 x 16
                     "merge_split_interleaved": (2**10, 2**12, 2**14),
                     "bitonic_registers": (2**10, 2**12, 2**14, 2**15, 2**16)}


@pytest.mark.gpu
@pytest.mark.parametrize("key", sorted(_NEAR_LIMIT_SIZES))
def test_near_limit_variants_sort_on_the_gpu(key):
    # 7c, 8c, 8d, 9b: the edge cases, and random keys at every size the GPU check times,
    # plus a size that is not a power of two (padding).
    v = ladder.version(key)
    cases = standard_cases(1000)
    for n in _NEAR_LIMIT_SIZES[key]:
        cases[f"random, n = {n}"] = random_keys(n, seed=n)
        cases[f"random, n = {n - 3}"] = random_keys(n - 3, seed=n + 1)
    assert validate(v.load(), cases, what=key) == len(cases)


@pytest.mark.gpu
def test_register_odd_even_matches_the_phase_by_phase_reference_on_the_gpu():
    cp = gpu.require_gpu("this test")
    keys = random_keys(2000, seed=12)
    reference = gpusorts.odd_even_phases(keys)
    kernel = gpusorts._kernel("8c_odd_even_registers.cu", "odd_even_registers")
    for phases in (1, 2, 999, 2000):
        d = cp.asarray(keys)
        launch = gpusorts.odd_even_registers_launch(keys.size, phases)
        kernel(launch.grid, launch.block, d, *launch.scalars, shared_mem=launch.shared_mem)
        np.testing.assert_array_equal(cp.asnumpy(d), reference[phases])


@pytest.mark.parametrize("key", sorted(_NEAR_LIMIT_SIZES))
def test_near_limit_variants_host_code_on_the_fake_gpu(fake_gpu, key):
    # The device sorts' host side (padding, the launches, the >48 KB opt-in at 9b's
    # 16,384-key tile) run against tests/fake_cupy.py, kernels on CPU threads.
    cases = standard_cases(40)
    # 520: two of 7c's 512-key tiles, the second almost empty; no power of two (padding)
    cases["random, n = 520"] = random_keys(520, seed=13)
    assert validate(ladder.version(key).load(), cases, what=key) == len(cases)


def test_block_bitonic_asks_for_more_than_48_kb_at_a_full_tile():
    (launch,) = gpusorts.bitonic_registers_launches(2**14)
    assert (launch.grid, launch.block) == (1, 1024)
    assert launch.shared_mem == 4 * (2**14 + 2**14 // 32) > gpu.DEFAULT_SHARED_BYTES


@pytest.mark.gpu
def test_temporal_blocking_matches_the_phase_by_phase_reference_on_the_gpu():
    cp = gpu.require_gpu("this test")
    keys = random_keys(3000, seed=7)
    reference = gpusorts.odd_even_phases(keys)
    kernel = gpusorts._kernel("7c_odd_even_temporal.cu", "odd_even_temporal")
    work = cp.zeros(2 * keys.size, dtype=np.int32)
    work[:keys.size] = cp.asarray(keys)
    for launch in gpusorts.odd_even_temporal_launches(keys.size, 512, 256):
        kernel(launch.grid, launch.block, work, *launch.scalars, shared_mem=launch.shared_mem)
        n, _, _, src, done, phases = (int(x) for x in launch.scalars)
        np.testing.assert_array_equal(cp.asnumpy(work[n - src: 2 * n - src]),
                                      reference[done + phases])


def test_the_gpu_check_measures_issue_12s_variants_on_the_fake_gpu(fake_gpu):
    # A rehearsal of the GPU check's plan entries for 7c, 8c, 8d, 9b at small n: each is
    # validated, then timed (CPU threads here: the times mean nothing and are not kept).
    keys = ["odd_even_temporal", "odd_even_registers", "merge_split_interleaved",
            "bitonic_registers"]
    assert all(k in bench.GPU_PLAN for k in keys)
    timings = bench.run_plan({k: ((200,), 1) for k in keys}, progress=False, transfers=False)
    assert sorted(t.label for t in timings) == sorted(keys)
    assert all(t.where == "gpu" and t.n == 200 for t in timings)


@pytest.mark.gpu
def test_triton_sort_variant_9t_sorts_on_the_gpu():
    pytest.importorskip("triton", reason="variant 9t needs Triton, an optional extra: make triton")
    from py2ptx import triton_road

    cases = standard_cases(1000)
    cases["random, n = 5000"] = random_keys(5000, seed=5)  # pads to 8192: two merges
    cases["random, n = 2^16"] = random_keys(2**16, seed=16)
    assert validate(triton_road.triton_sort, cases, what="triton_bitonic") == len(cases)


# --------------------------------------------------------------------------- what CuPy really passes

_ECHO = r'''
extern "C" __global__ void echo_int(int x, long long *out) { *out = x; }
extern "C" __global__ void echo_float(float x, float *out) { *out = x; }
extern "C" __global__ void echo_long(long long x, long long *out) { *out = x; }
'''


@pytest.mark.gpu
@pytest.mark.parametrize("kernel, value, expected", [
    # int n fed a Python int: the low 4 bytes of CuPy's int64 -- n itself on a little-endian host
    ("echo_int", 100, 100),
    ("echo_int", -7, -7),
    # ... wrapped from 2**31 up
    ("echo_int", 2**31 + 5, -(2**31) + 5),
    # float x fed a Python float: the low 4 bytes of a double -- garbage
    ("echo_float", 0.1, float(np.frombuffer(np.float64(0.1).tobytes()[:4], np.float32)[0])),
    ("echo_float", 0.5, 0.0),
    # long long fed np.int32: 8 bytes read from a 4-byte value (the low half is the value;
    # the high half is whatever CuPy's scalar buffer holds past it: printed, not assumed)
    ("echo_long", np.int32(5), None),
    ("echo_long", np.int32(-1), None),
])
def test_what_mismatched_scalars_really_pass(kernel, value, expected):
    """Issue 13, item 1: each argument trap launched *unchecked* (CuPy's RawKernel, not
    py2ptx.gpu.Kernel), so what the kernel read is recorded, and the reason
    gpu.check_args gives is tested against the GPU."""
    import cupy

    out_type = np.float32 if kernel == "echo_float" else np.int64
    out = cupy.zeros(1, dtype=out_type)
    cupy.RawKernel(_ECHO, kernel)((1,), (1,), (value, out))
    got = out.get()[0].item()
    print(f"{kernel}({value!r}) read {got!r}")
    if expected is None:
        assert got & 0xFFFFFFFF == int(value) & 0xFFFFFFFF  # the 4 bytes that were stored
    else:
        assert got == expected
    params = gpu.kernel_params(_ECHO, kernel)
    with pytest.raises(gpu.KernelArgumentError):  # and the launcher refuses every one of them
        gpu.check_args(kernel, params, (value, FakeDeviceArray(out_type)))


@pytest.mark.parametrize("ctype, value, says", [
    ("int", 2**31, r"would read -2147483648.*does not fit in int"),
    ("int", 100, r"8-byte long long.*low 4 of 8 bytes, which is 100 only because"),
    ("float", 0.5, r"8-byte double.*would read 0\.0, not 0\.5.*np\.float32\(0\.5\)"),
    ("long long", np.int32(5), r"np\.int32; pass np\.int64.*4 of them from past the end"),
])
def test_a_refused_scalar_is_told_what_the_kernel_would_read(ctype, value, says):
    params = gpu.kernel_params(f'extern "C" __global__ void k(int *a, {ctype} x) {{}}', "k")
    with pytest.raises(gpu.KernelArgumentError, match=says):
        gpu.check_args("k", params, (FakeDeviceArray(np.int32), value))


def test_a_python_scalar_of_exactly_the_parameters_type_passes():
    params = gpu.kernel_params('extern "C" __global__ void k(long long n, double x) {}', "k")
    gpu.check_args("k", params, (7, 0.5))  # CuPy's int64 and float64: the parameters' own types
    assert gpu.cupy_scalar_dtype(2**63) == np.uint64 and gpu.cupy_scalar_dtype("x") is None
