"""Recorded runs: measurements saved with their provenance, and loaded back.

Used by every notebook that shows a GPU number on a machine without a GPU. A run
is one JSON file in ``results/`` holding where and when it was measured (device,
driver, CUDA and library versions, date, commit) and its timings (n, repeats,
median, spread, samples). Nothing else in the course is allowed to show a GPU
time: if no run is recorded, :func:`no_run_message` says so plainly.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .cbuild import compiler_version
from .machine import cpu_name, gpu_info, version
from .timing import Timing

SCHEMA = 1
REPO = Path(__file__).resolve().parent.parent


def results_dir() -> Path:
    """``$PY2PTX_RESULTS`` if set, else the repository's ``results/`` folder."""
    return Path(os.environ.get("PY2PTX_RESULTS") or REPO / "results")


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def provenance() -> dict:
    """Where, when and with what a measurement is being made, right now."""
    versions = {"python": platform.python_version()}
    for dist in ("numpy", "numba", "numba-cuda", "cupy-cuda13x", "cupy-cuda12x",
                 "nvidia-cuda-nvrtc"):
        if version(dist):
            versions[dist] = version(dist)
    try:
        versions["c_compiler"] = compiler_version()
    except Exception:
        pass
    gpu = gpu_info()
    machine = {"cpu": cpu_name(), "cores": os.cpu_count(), "os": platform.platform()}
    if "error" not in gpu:
        machine["gpu"] = gpu.get("name")
        machine["compute_capability"] = gpu.get("cc")
        for key in ("driver_cuda", "runtime_cuda"):
            if key in gpu:
                machine[key] = "{}.{}".format(*gpu[key])
        if "driver" in gpu:
            machine["driver"] = gpu["driver"]
    status = _git("status", "--porcelain", "--untracked-files=no")
    commit = _git("rev-parse", "HEAD")
    dirty = bool(status) if status is not None else None
    if os.environ.get("PY2PTX_COMMIT"):
        # A copy of the tree sent elsewhere (the lent GPU machine gets one, with a stale
        # .git or none): the command that sent it names the commit, and whether the tree
        # differed from it. Said explicitly, it wins over what git there says.
        commit = os.environ["PY2PTX_COMMIT"]
        dirty = os.environ.get("PY2PTX_DIRTY", "unknown") != "0"
    return {
        "recorded_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": commit,
        "dirty": dirty,
        "machine": machine,
        "versions": versions,
        "python_executable": sys.executable,
    }


@dataclass
class Run:
    """One recorded run: provenance plus timings keyed by what was timed."""

    name: str
    provenance: dict
    timings: list[Timing]
    path: Path | None = None

    @property
    def device(self) -> str:
        m = self.provenance.get("machine", {})
        return m.get("gpu") or m.get("cpu", "unknown machine")

    @property
    def on_gpu(self) -> bool:
        return bool(self.provenance.get("machine", {}).get("gpu"))

    @property
    def title(self) -> str:
        """``recorded run 'gpu-ladder' on NVIDIA H200``: for a plot's title."""
        return f"recorded run {self.name!r} on {self.device}"

    def describe(self) -> str:
        """One line of provenance to print beside every number taken from this run."""
        p, m = self.provenance, self.provenance.get("machine", {})
        parts = [self.title]
        if m.get("driver_cuda"):
            parts.append(f"driver CUDA {m['driver_cuda']}")
        if m.get("runtime_cuda"):
            parts.append(f"runtime CUDA {m['runtime_cuda']}")
        libs = ", ".join(f"{k} {v}" for k, v in p.get("versions", {}).items()
                         if k in ("cupy-cuda13x", "cupy-cuda12x", "numba", "numba-cuda"))
        if libs:
            parts.append(libs)
        parts.append(f"{p.get('recorded_utc', '?')}, commit {str(p.get('commit'))[:10]}"
                     + (" (uncommitted changes)" if p.get("dirty") else ""))
        return "; ".join(parts)

    def timing(self, label: str, n: int | None = None) -> Timing | None:
        for t in self.timings:
            if t.label == label and (n is None or t.n == n):
                return t
        return None


def record_run(name: str, timings: list[Timing], directory: Path | None = None,
               extra: dict | None = None) -> Path:
    """Write a run to ``results/<date>-<device>-<name>.json`` and return its path."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ValueError(f"run name {name!r}: use letters, digits, '-' and '_' only")
    if not timings:
        raise ValueError("a recorded run needs at least one timing")
    prov = provenance()
    if extra:
        prov["extra"] = extra
    device = re.sub(r"[^A-Za-z0-9]+", "-", prov["machine"].get("gpu")
                    or prov["machine"]["cpu"]).strip("-").lower()
    stamp = prov["recorded_utc"].replace(":", "").replace("-", "")
    directory = directory or results_dir()
    directory.mkdir(parents=True, exist_ok=True)
    payload = {"schema": SCHEMA, "name": name, "provenance": prov,
               "timings": [t.to_dict() for t in timings]}
    text = json.dumps(payload, indent=1, sort_keys=False) + "\n"
    for attempt in range(1, 1000):  # never overwrite a recorded run, even within one second
        suffix = "" if attempt == 1 else f"-{attempt}"
        path = directory / f"{stamp}-{device}-{name}{suffix}.json"
        try:
            with open(path, "x", encoding="utf-8") as f:
                f.write(text)
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"could not find a free file name for run {name!r} in {directory}")


def load_run(path: Path) -> Run:
    data = json.loads(Path(path).read_text())
    if data.get("schema") != SCHEMA:
        raise ValueError(f"{path}: unknown results schema {data.get('schema')!r}")
    return Run(data["name"], data["provenance"],
               [Timing.from_dict(t) for t in data["timings"]], Path(path))


def load_runs(name: str | None = None, gpu: bool | None = None,
              directory: Path | None = None) -> list[Run]:
    """Every recorded run (oldest first), optionally only one name or only GPU runs."""
    directory = directory or results_dir()
    runs = [load_run(p) for p in sorted(directory.glob("*.json"))] if directory.is_dir() else []
    return [r for r in runs if (name is None or r.name == name)
            and (gpu is None or r.on_gpu == gpu)]


def latest_run(name: str, gpu: bool | None = True, directory: Path | None = None) -> Run | None:
    """The newest recorded run of that name (GPU runs by default), or None."""
    runs = load_runs(name, gpu, directory)
    return max(runs, key=lambda r: r.provenance.get("recorded_utc", "")) if runs else None


@dataclass(frozen=True)
class Measured:
    """Numbers for a notebook, measured live here or taken from a recorded run.

    Every "live on a GPU, else the latest recorded run" helper returns one
    (:func:`py2ptx.bench.gpu_timings`, :func:`py2ptx.deepseek.measured`).
    ``timings`` is None when there is neither a GPU nor a recorded run; ``where`` then
    says so plainly. Otherwise ``where`` is the provenance line to print beside the
    numbers and ``machine`` names the run in a few words, for plot titles
    (``"NVIDIA H200, live"``, ``"recorded run 'gpu-ladder' on NVIDIA H200"``).
    """

    timings: list[Timing] | None
    where: str
    machine: str = ""
    live: bool = False
    run: Run | None = None
    extra: dict | None = None

    @property
    def found(self) -> bool:
        return self.timings is not None

    @classmethod
    def from_run(cls, run: Run | None, name: str, why: str = "") -> Measured:
        """The recorded ``run`` (with ``why`` it is shown instead of a live one), or the
        plain message that run ``name`` has not been recorded."""
        if run is None:
            return cls(None, why + no_run_message(name))
        return cls(run.timings, why + run.describe(), run.title, False, run,
                   run.provenance.get("extra", {}))


def no_run_message(name: str) -> str:
    """What a notebook prints where a recorded GPU run would go but none exists."""
    return (f"No GPU run named {name!r} has been recorded in results/ yet, so this "
            f"notebook shows no GPU numbers here. Run it on a machine with an NVIDIA GPU "
            f"to measure them live; the project's GPU check records them.")
