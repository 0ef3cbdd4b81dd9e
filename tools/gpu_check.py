#!/usr/bin/env python3
"""The project's GPU check: on a machine with an NVIDIA GPU, prove the GPU half live.

    make gpu-check                      # in the course's .venv
    python3 tools/gpu_check.py --out D  # where the packages are already importable

1. the doctor's report (device, driver, CUDA, the highest PTX ISA it accepts);
2. the GPU tests of tests/test_gpu.py (every GPU sort right on the GPU, typed
   arguments, PTX loading);
3. every GPU rung validated and timed (py2ptx.bench.GPU_PLAN), recorded to results/
   with its provenance -- only when step 2 passed -- and copied to --out at once;
   then notebook 05's experiment (py2ptx.deepseek.run_experiment: L2 interference,
   chunk sweep, copy bandwidth, stale reads), recorded and copied the same way;
4. the GPU mistakes of tests/test_mistakes.py (illegal address, out of memory, a 10 %
   memory share), each in its own process;
5. every notebook, solution and lab executed live (tests/test_notebooks.py).
It exits non-zero if any step failed, and prints how long each took (budget: 8 minutes).
Without a GPU it stops at step 1 and says so: the check never pretends.

On the lent H200 (Python 3.12, no Jupyter stack) the Jupyter packages travel as wheels:
``make carry-wheels`` here, then there (see results/README.md for the whole command):
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl
    PYTHONPATH=/tmp/site:$PWD python3 tools/gpu_check.py --out "$OUT"
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _pytest(*args: str) -> int:
    env = dict(os.environ, PY2PTX_GPU_CHECK="1", PYTHONPATH=os.pathsep.join(
        [str(REPO), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-o", "addopts=-ra", *args], cwd=REPO, env=env).returncode


def deepseek_stage(out: Path | None) -> bool:
    """Notebook 05's experiment (py2ptx.deepseek.run_experiment: L2 interference with the
    placebo control, chunk sweep, signal ablation, CUDA C++ variants, copy bandwidth, stale
    reads, memory clock, then Nsight Compute's counters of fused stream + victim launches),
    recorded and copied to ``out`` at once. About 1-2 minutes on an H200, ncu included."""
    from py2ptx import deepseek, results

    timings, extra = deepseek.run_experiment()
    ds_path = results.record_run(deepseek.RUN_NAME, timings, extra=extra)
    print(f"recorded: {ds_path.name}")
    if out:
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(ds_path, out / ds_path.name)
    for topic, lines in deepseek.findings(timings, extra).items():
        print(f"[{topic}]", *lines, sep="\n  ")
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="also copy the run and executed notebooks here")
    parser.add_argument("--skip-notebooks", action="store_true",
                        help="skip step 5 (for a quick re-measure)")
    args = parser.parse_args()

    from py2ptx import bench, doctor, results

    started = time.monotonic()
    stages: list[tuple[str, str, float]] = []

    def stage(name: str, ok: bool, t0: float) -> None:
        stages.append((name, "passed" if ok else "FAILED", time.monotonic() - t0))
        print(f"\n=== {name}: {'passed' if ok else 'FAILED'} "
              f"({time.monotonic() - t0:.0f} s)\n", flush=True)

    t0 = time.monotonic()
    print(doctor.probe().text(), flush=True)
    if not doctor.has_gpu():
        print("\nNo usable NVIDIA GPU here (see the GPU section above): the GPU check "
              "needs one. Nothing was run or recorded.")
        return 2
    stage("1 doctor", True, t0)

    t0 = time.monotonic()
    gpu_tests = _pytest("-m", "gpu", "tests/test_gpu.py", "tests/test_deepseek.py")
    stage("2 GPU tests: every GPU sort is right (pytest -m gpu)", gpu_tests == 0, t0)

    # Measure before the notebooks: the lease on a lent GPU is short, and the recorded run
    # is what every machine without a GPU shows. Each rung is validated again before it is
    # timed; a failing GPU test (a wrong kernel) means nothing is recorded.
    path = None
    t0 = time.monotonic()
    if gpu_tests == 0:
        from py2ptx import gpusorts

        timings = bench.run_plan(bench.GPU_PLAN)
        whoami = gpusorts.who_ran_what()  # notebook 04's block-schedule picture
        path = results.record_run(bench.GPU_RUN, timings, extra={
            "plan": {k: {"sizes": list(s), "repeats": r} for k, (s, r) in bench.GPU_PLAN.items()},
            "how": "python3 tools/gpu_check.py: validated against np.sort, then timed; GPU rungs "
                   "with CUDA events (cupyx.profiler.benchmark) in place on the device, each "
                   "sample a device-to-device copy of the input plus the sort",
            "gpu_tests_passed": True,
            "whoami": whoami,
        })
        print(f"recorded: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
        if args.out:  # at once: if a later step runs out of time, the run still comes back
            args.out.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, args.out / path.name)
        stage("3 ladder measured and recorded", True, t0)

        t0 = time.monotonic()
        stage("3b DeepSeek experiment measured and recorded", deepseek_stage(args.out), t0)
    else:
        print("The GPU tests failed: no run recorded (numbers from wrong kernels are not "
              "shown to students).")

    t0 = time.monotonic()
    mistakes = _pytest("-m", "gpu", "tests/test_mistakes.py")
    stage("4 GPU mistakes explained (illegal address, out of memory)", mistakes == 0, t0)

    notebooks = 0
    if not args.skip_notebooks:
        t0 = time.monotonic()
        notebooks = _pytest("tests/test_notebooks.py")
        stage("5 notebooks, solutions and labs, live", notebooks == 0, t0)
        if notebooks and path:
            print(f"note: {path.name} was recorded before the notebooks failed; its GPU "
                  f"numbers were validated, but fix the notebooks before committing it.")

    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        # The device tool brings back at most 8 files: two runs, the log, and five notebooks:
        # the GPU chapters and lab 05's solution, executed live.
        artifacts = REPO / "test-artifacts"
        for pattern in ("notebooks-0[3456]-*.ipynb", "solutions-05-*.ipynb"):
            for nb in sorted(artifacts.glob(pattern)):
                shutil.copy(nb, args.out / nb.name)

    print("\n".join(f"{name:<42} {status:<7} {secs:5.0f} s" for name, status, secs in stages))
    total = time.monotonic() - started
    print(f"{'total':<42} {'':<7} {total:5.0f} s (budget 480 s)")
    return 0 if gpu_tests == mistakes == notebooks == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
