"""Students' mistakes, one test each: every one ends in a message that says what went
wrong, where, and what to do -- never a bare traceback from deep inside a library, never
a hang, and never a dead notebook kernel.

The GPU-only mistakes (an illegal address, running out of GPU memory) are at the end,
marked ``gpu``: they run in the GPU check, each in its own process, because an illegal
address leaves the process's CUDA context unusable.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from py2ptx import cbuild, cudatools, gpu, machine
from py2ptx.checks import WrongResult, validate
from py2ptx.cuda_on_cpu import run_on_cpu
from py2ptx.exercises import Exercise, ExerciseFailed, lab01, lab02, lab03, lab04
from py2ptx.sandbox import SandboxError, run_in_child

REPO = Path(__file__).resolve().parent.parent


def unsolved(*args):
    """What every exercise cell holds until the student writes it."""
    raise NotImplementedError()


# --------------------------------------------------------------------------- Python


def test_unsolved_exercise_names_itself_and_the_task():
    with pytest.raises(NotImplementedError, match=r"Lab 03, exercise .*is not solved yet: "
                                                  r"shared_source\(\) returns CUDA C"):
        lab03.shared_source.check(unsolved)


def test_wrong_result_names_the_input_and_the_first_mismatch():
    def off_by_one(keys):
        out = np.sort(keys)
        if out.size > 1:
            out[-1] = out[0]
        return out

    with pytest.raises(WrongResult, match=r"on input 'two, reversed' .* wrong at index 1: "
                                          r"got 1, expected 2"):
        validate(off_by_one)


def test_mutating_the_input_when_a_copy_is_expected():
    def sorts_in_place(keys):
        keys.sort()
        return keys

    with pytest.raises(WrongResult, match="changed its input .* must sort a copy"):
        validate(sorts_in_place)


def test_sorting_a_copy_when_the_list_must_be_sorted_in_place():
    def sorts_a_copy(a):
        a = sorted(a)  # noqa: F841 -- the mistake: the caller's list is untouched
        return 1, 0

    with pytest.raises(ExerciseFailed, match=r"^Lab 01, .*list you were given is unchanged: "
                                             r"sort it in place"):
        lab01.early_exit.check(sorts_a_copy)


def test_a_self_check_that_runs_too_long_is_stopped_with_a_message():
    def never_ends(a):
        while True:
            pass

    slow = Exercise("Lab 01", "early exit", "test", lab01.early_exit.checker, budget_s=1.0)
    start = time.monotonic()
    with pytest.raises(ExerciseFailed, match=r"stopped after 1 s.*loop that never ends"):
        slow.check(never_ends)
    assert time.monotonic() - start < 5


def _timing_cells() -> dict[str, str]:
    """Every code cell of the solutions (labs are generated from them) that times code."""
    import json

    cells = {}
    for path in sorted((REPO / "solutions").glob("*.ipynb")):
        for i, cell in enumerate(json.loads(path.read_text())["cells"]):
            source = "".join(cell["source"])
            if cell["cell_type"] == "code" and "timing.time_" in source:
                cells[f"{path.name} cell {i}"] = source
    return cells


def test_every_timing_cell_a_lab_hands_out_runs_under_a_time_budget():
    cells = _timing_cells()
    assert len(cells) >= 2
    for where, source in cells.items():
        assert "with time_budget(" in source, f"{where} times code without a time budget"


def test_an_n_cubed_sort_in_a_labs_timing_cell_is_stopped_with_what_to_do(monkeypatch):
    from py2ptx import exercises

    def restarts_after_every_swap(a):
        """Sorts, but starts again from the front after every swap: O(n^3) steps."""
        swaps, j = 0, 0
        while j < len(a) - 1:
            if a[j] > a[j + 1]:
                a[j], a[j + 1] = a[j + 1], a[j]
                swaps, j = swaps + 1, 0
            else:
                j += 1
        return 1, swaps

    real = exercises.time_budget
    # The cell's own budget, shortened for the test (the message is the cell's).
    monkeypatch.setattr(exercises, "time_budget", lambda seconds, message, **kw:
                        real(min(seconds, 1.0), message, **kw))
    cell = next(s for w, s in _timing_cells().items() if w.startswith("01-"))
    start = time.monotonic()
    with pytest.raises(exercises.TimeBudgetExceeded) as info:
        exec(cell, {"bubble_sort_early_exit": restarts_after_every_swap})
    assert time.monotonic() - start < 10
    message = str(info.value)
    assert message.startswith("This cell was stopped after 1 s. A bubble sort of 1,024 keys")
    assert "start again from the front after every swap" in message
    assert info.value._render_traceback_() == [f"TimeBudgetExceeded: {message}"]


def test_a_time_budget_cannot_be_swallowed_and_leaves_an_outer_alarm_set():
    import signal

    from py2ptx.exercises import TimeBudgetExceeded, time_budget

    outer = signal.getitimer(signal.ITIMER_REAL)[0]  # pytest-timeout's, where it uses one
    with pytest.raises(TimeBudgetExceeded, match=r"^This cell was stopped after 0\.2 s\. Hurry\.$"):
        with time_budget(0.2, "Hurry."):
            while True:
                try:
                    time.sleep(0.01)
                except Exception:  # a student's catch-all must not hide the budget
                    pass
    if outer:
        assert 0 < signal.getitimer(signal.ITIMER_REAL)[0] <= outer
    with time_budget(5, "never"):  # a block that ends in time leaves no alarm behind
        pass
    assert (signal.getitimer(signal.ITIMER_REAL)[0] > 0) == bool(outer)


# --------------------------------------------------------------------------- C


def test_c_compile_error_shows_the_students_line():
    source = "#include <stdint.h>\nvoid bubble_sort(int32_t *a, int32_t n)\n{\n    a[0] = ;\n}\n"
    with pytest.raises(cbuild.CCompileError, match=r"\(line 4: expected expression"):
        lab02.c_source.check(lambda: source)


def test_c_pointer_mistake_crashes_a_child_not_the_notebook():
    source = ("#include <stdint.h>\nvoid bubble_sort(int32_t *a, int32_t n)\n{\n"
              "    for (int32_t j = 1; j <= n; ++j) a[j * 100000000] = 0;\n}\n")
    with pytest.raises(ExerciseFailed, match=r"on input 'one element' \(n=1\) crashed "
                                             r"\(SIGSEGV\)\. Most likely a read or "
                                             r"write outside the array"):
        lab02.c_source.check(lambda: source)
    # Still alive (the crash happened in a child), and C still runs in this process:
    lab02.c_source.check(lambda: cbuild.read_source("bubble_sort.c", ".c")[0])


def test_a_c_loop_that_never_ends_is_stopped():
    lib = cbuild.build_c("#include <stdint.h>\nvoid spin(int32_t *a) { for (;;) a[0]++; }\n")
    spin = lib.function("spin", [cbuild.INT32_ARRAY])
    with pytest.raises(SandboxError, match=r"did not finish within 1 s and was stopped\. "
                                           r"Is a loop"):
        run_in_child(lambda views: spin(views[0]), [np.zeros(1, np.int32)], 1.0, "spin",
                     hang_hint="Is a loop never ending?")


# --------------------------------------------------------------------------- CUDA C


def test_nvrtc_compile_error_shows_the_students_line():
    source = ('extern "C" __global__ void odd_even_shared(int *a, int n)\n{\n'
              '    extern __shared__ int keys[];\n    keys[threadIdx.x] = a[threadIdx.x]\n}\n')
    with pytest.raises(cudatools.CudaCompileError, match=r"cell\.cu\(5\): error: expected a \";\""):
        lab03.shared_source.check(lambda: source)


def test_wrong_launch_shape_is_refused_before_launch():
    with pytest.raises(gpu.LaunchShapeError, match=r"A float\? Divide with //"):
        gpu.check_launch(100 / 32, 32)
    with pytest.raises(gpu.LaunchShapeError, match="at most 1024"):
        run_on_cpu("7_odd_even_global.cu", "odd_even_step", 1, 2048,
                   np.zeros(8, np.int32), np.int32(8), np.int32(0))


@pytest.mark.parametrize("value, ctype, wanted", [
    (100, "int", r"np\.int32\(100\)"),
    (np.float64(0.5), "float", r"np\.float64; pass np\.float32"),
    (0.5, "float", r"np\.float32\(0\.5\)"),
])
def test_python_scalars_are_refused_naming_the_numpy_type(value, ctype, wanted):
    source = f'extern "C" __global__ void k(int *a, {ctype} x) {{ }}\n'
    with pytest.raises(gpu.KernelArgumentError, match=wanted):
        run_on_cpu(source, "k", 1, 1, np.zeros(1, np.int32), value)


def test_wrong_only_when_n_does_not_fill_whole_blocks_is_pointed_out():
    # The classic: n / blockDim.x drops the remainder, so the last keys are never copied.
    source = r'''
extern "C" __global__ void odd_even_shared(int *a, int n)
{
    extern __shared__ int keys[];
    for (int k = 0; k < n / blockDim.x; ++k)
        keys[k * blockDim.x + threadIdx.x] = a[k * blockDim.x + threadIdx.x];
    __syncthreads();
    for (int phase = 0; phase < n; ++phase) {
        for (int p = threadIdx.x; 2 * p + (phase & 1) + 1 < n; p += blockDim.x) {
            int i = 2 * p + (phase & 1);
            if (keys[i] > keys[i + 1]) { int t = keys[i]; keys[i] = keys[i + 1]; keys[i + 1] = t; }
        }
        __syncthreads();
    }
    for (int k = 0; k < n / blockDim.x; ++k)
        a[k * blockDim.x + threadIdx.x] = keys[k * blockDim.x + threadIdx.x];
}
'''
    with pytest.raises(ExerciseFailed, match=r"(?s)sorts correctly for n = 64, 128, 192 .*"
                                             r"partly filled block: a loop bound like "
                                             r"n / blockDim.x"):
        lab03.shared_source.check(lambda: source)


cuda = gpu.numba_cuda()  # module level: the simulator swaps this global inside kernels


def test_a_numba_kernel_without_a_bounds_check_is_explained():
    if not gpu.numba_simulated():
        pytest.skip("only the simulator checks indices")

    @cuda.jit
    def no_bounds_check(a, phase):
        i = 2 * cuda.grid(1) + phase
        if a[i] > a[i + 1]:
            a[i], a[i + 1] = a[i + 1], a[i]

    with pytest.raises(ExerciseFailed, match=r"indexed past the end of the array .* "
                                             r"`if i \+ 1 < a.shape\[0\]`"):
        lab03.numba_kernel.check(no_bounds_check)


# --------------------------------------------------------------------------- PTX


@pytest.mark.parametrize("template, bad, says", [
    ("mni.s32 %0, %2, %3;\\n\\tmax.s32 %1, %2, %3;", "mni.s32",
     "Not a name of any known instruction: 'mni'"),
    ("min.s32 %0, %2;\\n\\tmax.s32 %1, %2, %3;", "min.s32",
     "Arguments mismatch for instruction 'min'"),
])
def test_bad_inline_ptx_points_at_the_asm_line(template, bad, says):
    source = ('extern "C" __global__ void odd_even_step(int *a, int n, int phase)\n{\n'
              '    int i = 2 * (blockIdx.x * blockDim.x + threadIdx.x) + phase;\n'
              '    if (i + 1 < n) {\n        int low, high;\n'
              f'        asm("{template}" : "=r"(low), "=r"(high) : "r"(a[i]), "r"(a[i + 1]));\n'
              '        a[i] = low;\n        a[i + 1] = high;\n    }\n}\n')
    with pytest.raises(cudatools.CudaCompileError) as err:
        lab04.ptx_step.check(lambda: source)
    message = str(err.value)
    assert "cell.cu line 6: ptxas rejected this inline PTX:" in message
    assert f"    {bad} %r" in message and says in message


def test_a_ptx_file_with_a_version_too_new_for_the_toolchain():
    text = (cudatools.KERNELS / "cuda" / "7b_odd_even_step.ptx").read_text()
    with pytest.raises(cudatools.CudaCompileError,
                       match=r"Unsupported \.version 9\.5; current version is '9\.0'"):
        cudatools.assemble_ptx(text.replace(".version 7.8", ".version 9.5"))


def test_the_driver_version_message_names_both_versions():
    # What load_ptx says on a GPU whose driver is too old for the file's .version.
    assert cudatools.highest_ptx_isa((12, 4)) == "8.4"
    assert cudatools.highest_ptx_isa((11, 8)) == "7.8"
    assert cudatools.highest_ptx_isa((10, 2)) is None


# --------------------------------------------------------------------------- GPU errors


@pytest.mark.parametrize("error, expected", [
    (RuntimeError("cudaErrorIllegalAddress: an illegal memory access was encountered"),
     "restart the kernel"),
    (type("OutOfMemoryError", (Exception,), {})(
        "Out of memory allocating 4,294,967,296 bytes (allocated so far: 0 bytes)."),
     "could not give 4,096.0 MiB"),
    (RuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA "
                  "runtime version"), "cupy-cuda12x"),
])
def test_cuda_errors_are_explained(error, expected):
    assert expected in gpu.explain(error)
    with pytest.raises(gpu.GPUError, match=expected):
        with gpu.explained("a sort"):
            raise error
    assert gpu.explain(ValueError("something else")) is None


def test_too_old_a_driver_is_explained_by_the_doctor(monkeypatch):
    import types

    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(
        getDeviceCount=lambda: (_ for _ in ()).throw(RuntimeError(
            "cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA "
            "runtime version"))))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    machine.forget()
    try:
        assert "the NVIDIA driver is older than the CUDA version" in machine.gpu_from_cupy()["error"]
    finally:
        machine.forget()


# --------------------------------------------------------------------------- shared hubs


def test_nothing_is_written_outside_home_and_the_cache(tmp_path, monkeypatch):
    """A lab and a GPU chapter executed as a fresh user: files appear only in that user's
    home (caches, Jupyter's runtime files), and the course folder is unchanged."""
    from test_notebooks import _errors, _execute

    home = tmp_path / "home"
    home.mkdir()
    for var in ("PY2PTX_CACHE", "PY2PTX_RESULTS", "XDG_CACHE_HOME", "IPYTHONDIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(home))
    before = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=REPO,
                            capture_output=True, text=True).stdout
    for notebook in ("solutions/02-lab-c-and-flags.ipynb", "solutions/03-lab-cuda.ipynb"):
        assert not _errors(_execute(REPO / notebook)), notebook
    after = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=REPO,
                           capture_output=True, text=True).stdout
    assert after == before
    cache = home / ".cache" / "py2ptx"
    assert cache.is_dir() and (cache.stat().st_mode & 0o777) == 0o700
    assert any(cache.iterdir())


def test_student_tree_cannot_regenerate_labs_over_a_students_work(tmp_path):
    subprocess.run([sys.executable, str(REPO / "tools" / "student_tree.py"),
                    str(tmp_path / "st")], check=True, capture_output=True)
    assert (tmp_path / "st" / "labs").is_dir()
    assert not (tmp_path / "st" / "tools").exists()  # make_labs.py lives in the course repo only


def test_regenerating_labs_never_overwrites_a_hand_edited_lab(tmp_path):
    import shutil

    repo = tmp_path / "course"
    for folder in ("tools", "solutions", "labs"):
        shutil.copytree(REPO / folder, repo / folder)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "course"], check=True)
    lab = repo / "labs" / "01-lab-bubble-sort.ipynb"
    solution = repo / "solutions" / "01-lab-bubble-sort.ipynb"
    make_labs = [sys.executable, str(repo / "tools" / "make_labs.py")]

    # A maintainer edits a solution twice; both regenerations go through.
    def edit_solution(old: str, new: str) -> None:
        text = solution.read_text()
        assert old in text
        solution.write_text(text.replace(old, new, 1))

    edit_solution("Goes with notebook 01", "Goes with notebook 01 (v1)")
    assert subprocess.run(make_labs, capture_output=True).returncode == 0
    edit_solution("(v1)", "(v2)")
    assert subprocess.run(make_labs, capture_output=True).returncode == 0
    assert "(v2)" in lab.read_text()
    # Someone works on the lab by hand, then a regeneration comes: the work stays.
    edited = lab.read_text().replace("raise NotImplementedError()", "return 'my answer'", 1)
    lab.write_text(edited)
    edit_solution("(v2)", "(v3)")
    run = subprocess.run(make_labs, capture_output=True, text=True)
    assert run.returncode == 1 and "has changes this tool did not write" in run.stderr
    assert lab.read_text() == edited
    assert subprocess.run([*make_labs, "--force"], capture_output=True).returncode == 0
    assert "(v3)" in lab.read_text()


@pytest.mark.parametrize("said", [
    "cudaErrorIllegalAddress: an illegal memory access was encountered",
    # What an H200 (driver 580) said for an index 400 MB past the end, 2026-11-28:
    "cudaErrorInvalidAddressSpace: operation not supported on global/shared address space",
])
def test_both_ways_cuda_reports_an_out_of_bounds_access_are_explained(said):
    class CUDARuntimeError(RuntimeError):
        pass

    with pytest.raises(gpu.GPUError, match="restart the kernel") as caught:
        with gpu.explained("k"):
            raise CUDARuntimeError(said)
    assert said in str(caught.value)


# --------------------------------------------------------------------------- on a GPU


def _python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=REPO, env={**os.environ, **env})


@pytest.mark.gpu
def test_illegal_address_is_explained_and_says_restart():
    run = _python(
        "import numpy as np, cupy as cp\n"
        "from py2ptx import gpu\n"
        "src = 'extern \"C\" __global__ void k(int *a) { a[threadIdx.x * 100000000LL] = 1; }'\n"
        "k = gpu.load_module(src).kernel('k')\n"
        "try:\n"
        "    with gpu.explained('k'):\n"
        "        k(1, 32, cp.zeros(4, dtype=cp.int32))\n"
        "        cp.cuda.Device().synchronize()\n"
        "except gpu.GPUError as err:\n"
        "    print('EXPLAINED', err)\n")
    assert "EXPLAINED" in run.stdout and "restart the kernel" in run.stdout, run.stderr


@pytest.mark.gpu
def test_out_of_memory_says_how_much_and_what_fits():
    run = _python(
        "from py2ptx import bench, gpu\n"
        "try:\n"
        "    bench.measure('bitonic', 2**20, repeats=1)\n"
        "except gpu.GPUError as err:\n"
        "    print('EXPLAINED', err)\n", CUPY_GPU_MEMORY_LIMIT="1048576")
    assert "EXPLAINED" in run.stdout and "CUPY_GPU_MEMORY_LIMIT=1048576" in run.stdout, \
        run.stdout + run.stderr


@pytest.mark.gpu
def test_the_gpu_plan_fits_a_tenth_of_the_gpu():
    # Ten students sharing one GPU, each capped by CuPy's memory limit at 10 %.
    run = _python(
        "import cupy as cp\n"
        "from py2ptx import bench\n"
        "bench.run_plan({k: v for k, v in bench.GPU_PLAN.items() if k in "
        "('bitonic', 'cupy_sort', 'odd_even_shared')}, progress=False)\n"
        "print('PEAK', cp.get_default_memory_pool().total_bytes())\n",
        CUPY_GPU_MEMORY_LIMIT="10%")
    assert "PEAK" in run.stdout, run.stdout + run.stderr


def test_a_ptxas_fatal_line_is_read_like_an_error_line():
    # Too few operands in a vector load made ptxas say "fatal : Parsing error" (lab 05):
    # that line must lead to the student's asm as an "error" line does.
    log = "ptxas application ptx input, line 26; fatal   : Parsing error near '}': syntax error"
    match = cudatools._PTXAS_LINE.search(log)
    assert match and match.group(1) == "26" and match.group(2).startswith("Parsing error")
