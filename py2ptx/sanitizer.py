"""The CPU checker beside NVIDIA's compute-sanitizer, on the same broken kernels.

Used by the GPU check (``tools/gpu_check.py``) and its tests. The broken kernels are
real files, ``py2ptx/kernels/cuda/mistakes/*.cu``, each opening with what the mistake
is, what a GPU does with it and what the CPU checker says. :func:`cpu_verdicts` runs
each on CPU threads with the checks of :mod:`py2ptx.cuda_on_cpu` (no GPU needed);
:func:`gpu_check_stage` runs each, on a GPU, under ``compute-sanitizer --tool
racecheck|synccheck|memcheck`` through a small CuPy driver, parses the verdicts
(:func:`parse_report`) and records both side by side under ``results/sanitizer/``, so
that the CPU checker is compared with NVIDIA's tool rather than trusted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .cuda_on_cpu import EmulationError, run_on_cpu
from .kernels import KERNELS
from .results import provenance, results_dir

MISTAKES_DIR = KERNELS / "cuda" / "mistakes"


@dataclass(frozen=True)
class Mistake:
    """One broken kernel and how to launch it (one int array a of n keys, then n)."""

    file: str
    kernel: str
    tool: str  # the compute-sanitizer tool that should see it
    n: int
    grid: int
    block: int
    shared_ints: int  # dynamic shared memory, in ints
    cpu_expected: str  # the CPU checker's exception

    @property
    def path(self) -> Path:
        return MISTAKES_DIR / self.file


MISTAKES = (
    Mistake("missing_syncthreads.cu", "reverse_shared", "racecheck", 256, 1, 256, 256,
            "DataRace"),
    Mistake("barrier_in_if.cu", "stage_half", "synccheck", 64, 1, 64, 64, "DivergentBarrier"),
    Mistake("missing_bounds_guard.cu", "double_all", "memcheck", 1000, 4, 256, 0,
            "OutOfBounds"),
    Mistake("shared_too_small.cu", "stage_tile", "memcheck", 256, 1, 256, 0, "OutOfBounds"),
)


def cpu_verdict(m: Mistake) -> dict:
    """What the CPU checker says about ``m``: the exception's name and message, or
    "passed" (nothing found)."""
    a = np.arange(m.n, dtype=np.int32)
    try:
        run_on_cpu(f"mistakes/{m.file}", m.kernel, m.grid, m.block, a, np.int32(m.n),
                   shared_mem=4 * m.shared_ints, timeout=30)
    except EmulationError as err:
        return {"verdict": type(err).__name__, "message": str(err)}
    return {"verdict": "passed", "message": ""}


def cpu_verdicts() -> dict[str, dict]:
    return {m.file: cpu_verdict(m) for m in MISTAKES}


# --------------------------------------------------------------------------- parsing

_PREFIX = re.compile(r"^=+ ?", re.M)
_RACE = re.compile(r"(Error|Warning): Race reported between (\w+) access at (.*?)$", re.M)
_HAZARDS = re.compile(r"\[(\d+) hazards?\]")
_BARRIER = re.compile(r"Barrier error detected\.?\s*(.*?)$", re.M)
_INVALID = re.compile(r"Invalid (__\w+__) (read|write|atomic) of size (\d+) bytes?", re.M)
_SUMMARY = re.compile(r"(?:ERROR|RACECHECK) SUMMARY: (\d+) (?:errors?|hazards? displayed)")
_AT = re.compile(r"^\s*at (.*?)$", re.M)
_THREAD = re.compile(r"by thread \((\d+),(\d+),(\d+)\) in block \((\d+),(\d+),(\d+)\)")


def parse_report(text: str) -> dict:
    """compute-sanitizer's output -> {"verdict", "errors", "first", "where"}.

    verdict is "race", "barrier", "out-of-bounds" or "clean" (an error summary of 0),
    or "unknown" when no summary line was printed (the run did not finish). The
    formats read are the documented ones: ``Error: Race reported between Write access
    at ... and Read access at ... [N hazards]`` and ``RACECHECK SUMMARY: N hazards
    displayed (E errors, W warnings)`` (racecheck), ``Barrier error detected. ...``
    (synccheck), ``Invalid __global__ write of size 4 bytes`` / ``at k+0x.. in
    file.cu:19`` / ``by thread (x,y,z) in block (x,y,z)`` (memcheck), ``ERROR SUMMARY:
    N errors``.
    """
    body = _PREFIX.sub("", text)
    summary = _SUMMARY.findall(body)
    errors = max((int(s) for s in summary), default=None)
    out = {"verdict": "unknown" if errors is None else "clean", "errors": errors,
           "first": "", "where": ""}
    race, barrier, invalid = _RACE.search(body), _BARRIER.search(body), _INVALID.search(body)
    first = min((m for m in (race, barrier, invalid) if m), key=lambda m: m.start(),
                default=None)
    if first is None:
        return out
    out["first"] = first.group(0).strip()
    if first is race:
        out["verdict"] = "race"
        out["where"] = race.group(3).strip()
        hazards = _HAZARDS.search(body, race.end())
        out["hazards"] = int(hazards.group(1)) if hazards else None
    elif first is barrier:
        out["verdict"] = "barrier"
        at = _AT.search(body, barrier.end())
        out["where"] = at.group(1).strip() if at else ""
    else:
        out["verdict"] = "out-of-bounds"
        out["space"], out["access"] = invalid.group(1), invalid.group(2)
        at = _AT.search(body, invalid.end())
        out["where"] = at.group(1).strip() if at else ""
        who = _THREAD.search(body, invalid.end())
        if who:
            out["thread"], out["block"] = list(map(int, who.groups()[:3])), list(
                map(int, who.groups()[3:]))
    if out["errors"] is None or out["errors"] == 0:
        out["errors"] = max(out["errors"] or 0, 1)
    line = re.search(r"\.cu:(\d+)", out["where"])
    out["line"] = int(line.group(1)) if line else None
    return out


# --------------------------------------------------------------------------- the GPU side

#: Run under compute-sanitizer: launch one mistake with CuPy, each array its own
#: allocation (the memory pool off, so memcheck sees the array's real end).
DRIVER = r"""
import json, sys
import cupy as cp
import numpy as np
m = json.loads(sys.argv[1])
cp.cuda.set_allocator(None)
src = open(m["path"]).read()
kernel = cp.RawModule(code=src, options=("-lineinfo",)).get_function(m["kernel"])
a = cp.asarray(np.arange(m["n"], dtype=np.int32))
try:
    kernel((m["grid"],), (m["block"],), (a, np.int32(m["n"])), shared_mem=4 * m["shared_ints"])
    cp.cuda.runtime.deviceSynchronize()
    print("py2ptx-driver: finished")
except Exception as err:  # an illegal address: the sanitizer has reported it already
    print("py2ptx-driver: " + type(err).__name__ + ": " + str(err).splitlines()[0])
"""


def sanitizer_path() -> str | None:
    found = shutil.which("compute-sanitizer")
    for guess in (found, "/usr/local/cuda/bin/compute-sanitizer",
                  "/usr/local/cuda/compute-sanitizer/compute-sanitizer"):
        if guess and os.access(guess, os.X_OK):
            return guess
    return None


def run_sanitizer(m: Mistake, tool: str | None = None, timeout: float = 40) -> dict:
    """Run ``m`` on the GPU under compute-sanitizer and parse what it says."""
    exe = sanitizer_path()
    if exe is None:
        return {"verdict": "not run", "why": "no compute-sanitizer on this machine"}
    spec = json.dumps({**asdict(m), "path": str(m.path)})
    cmd = [exe, "--tool", tool or m.tool, "--print-limit", "4", sys.executable, "-c",
           DRIVER, spec]
    t0 = time.monotonic()
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"verdict": "timeout", "seconds": timeout, "tool": tool or m.tool}
    parsed = parse_report(run.stdout + run.stderr)
    parsed.update(tool=tool or m.tool, seconds=round(time.monotonic() - t0, 1),
                  returncode=run.returncode,
                  output_tail=(run.stdout + run.stderr)[-1500:])
    return parsed


#: What each CPU verdict should correspond to in compute-sanitizer's words.
SAME = {"DataRace": "race", "DivergentBarrier": "barrier", "OutOfBounds": "out-of-bounds"}


def gpu_check_stage(out_dir: Path | None = None, budget_s: float = 60) -> dict:
    """On a GPU: every mistake under its compute-sanitizer tool, beside the CPU
    checker's verdict; recorded as ``results/sanitizer/<stamp>-sanitizer.json`` (and
    copied to ``out_dir``). Returns the record; ``agree`` says, per kernel, whether the
    two name the same kind of error. Stops starting new runs after ``budget_s``."""
    started = time.monotonic()
    kernels = []
    for m in MISTAKES:
        cpu = cpu_verdict(m)
        if time.monotonic() - started > budget_s:
            gpu = {"verdict": "not run", "why": f"over the stage's {budget_s:g} s budget"}
        else:
            gpu = run_sanitizer(m, timeout=max(5.0, budget_s - (time.monotonic() - started)))
        kernels.append({"file": m.file, "kernel": m.kernel, "tool": m.tool,
                        "cpu": cpu, "gpu": gpu,
                        "agree": SAME.get(cpu["verdict"]) == gpu.get("verdict")})
    record = {"schema": "py2ptx-sanitizer-1", "provenance": provenance(),
              "how": "python3 tools/gpu_check.py: each kernel of py2ptx/kernels/cuda/mistakes "
                     "on CPU threads with the checks on, and on the GPU under "
                     "compute-sanitizer --tool <tool> (CuPy RawModule, memory pool off)",
              "kernels": kernels, "seconds": round(time.monotonic() - started, 1)}
    folder = results_dir() / "sanitizer"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = record["provenance"]["recorded_utc"].replace(":", "").replace("-", "")
    path = folder / f"{stamp}-sanitizer.json"
    path.write_text(json.dumps(record, indent=1) + "\n")
    record["path"] = str(path)
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(out_dir) / path.name)
    return record
