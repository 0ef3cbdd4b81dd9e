"""Nsight Compute from Python: hardware counters for a few named kernels of a command.

Used by the GPU check (``tools/gpu_check.py``) wherever the course states a cause that
only a counter can isolate: shared-memory bank conflicts of the ladder's kernels
(notebook 03) and L2 hit rate and DRAM bytes of notebook 05's victim and streams. A
machine without a GPU never calls it; the notebooks show the counters the GPU check
recorded.

How it runs ``ncu`` (NVIDIA's documented command line):

- ``--clock-control none``: leave the GPU's clocks as they are, so the counters belong
  to the same clocks as the timings beside them (ncu locks them to base by default);
- ``-k regex:NAME -s SKIP -c COUNT``: profile only the named kernels, after ``SKIP``
  warm-up launches, ``COUNT`` of them -- each profiled launch is replayed once per
  group of counters, so an unfiltered program takes minutes;
- ``--metrics a,b,c``: only the counters asked for (never ``--set full``);
- ``-o FILE`` and then ``--import FILE --csv --page raw --print-units base``: the
  report is read back as CSV, one row per profiled launch, apart from whatever the
  profiled program prints.

On a machine whose runtime keeps ncu from the counters (seen on gVisor:
"Failed to initialize the profiler"), :func:`profile` raises :class:`NsightError` with
ncu's own words; the GPU check records that sentence instead of counters.
"""

from __future__ import annotations

import csv
import glob
import io
import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field

#: The columns of ncu's raw CSV page that describe the launch, not a counter.
_LAUNCH_COLUMNS = {"ID", "Process ID", "Process Name", "Host Name", "Kernel Name",
                   "Context", "Stream", "Block Size", "Grid Size", "Device", "CC",
                   "Kernel Time", "Function Name", "Demangled Name", "Block", "Grid"}


class NsightError(RuntimeError):
    """ncu is missing, failed, or profiled nothing; the message says which, in its words."""


@dataclass(frozen=True)
class KernelCounters:
    """The counters of one profiled launch."""

    kernel: str
    launch: int
    metrics: dict[str, float] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, metric: str) -> float:
        return self.metrics[metric]

    def to_dict(self) -> dict:
        return {"kernel": self.kernel, "launch": self.launch,
                "metrics": {k: (None if math.isnan(v) else v) for k, v in self.metrics.items()},
                "units": dict(self.units)}


def ncu_path() -> str | None:
    """Where ``ncu`` is: on PATH, in the CUDA toolkit, or in an Nsight Compute install."""
    found = shutil.which("ncu")
    if found:
        return found
    candidates = [os.path.join(os.environ.get("CUDA_HOME", "/usr/local/cuda"), "bin", "ncu"),
                  *sorted(glob.glob("/opt/nvidia/nsight-compute/*/ncu"), reverse=True)]
    return next((c for c in candidates if os.access(c, os.X_OK)), None)


def available() -> bool:
    """Whether ncu is installed here (not whether it may read this GPU's counters)."""
    return ncu_path() is not None


def _number(text: str) -> float:
    text = text.strip().replace(",", "")
    try:
        return float(text)
    except ValueError:
        return math.nan  # ncu writes "n/a" for a counter this launch does not have


def parse_csv(text: str) -> list[KernelCounters]:
    """ncu's ``--csv --page raw`` report: a header row, a units row, a row per launch."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith('"ID"')), None)
    if start is None:
        raise NsightError("ncu's report has no table of counters (no row starts with \"ID\"):\n"
                          + "\n".join(lines[-15:]))
    rows = list(csv.reader(io.StringIO("\n".join(lines[start:]))))
    header = rows[0]
    units_row = rows[1] if len(rows) > 1 and not (rows[1] and rows[1][0].strip().isdigit()) \
        else None
    body = rows[2:] if units_row is not None else rows[1:]
    metric_columns = [i for i, name in enumerate(header) if name not in _LAUNCH_COLUMNS]
    name_column = header.index("Kernel Name") if "Kernel Name" in header else None
    counters = []
    for row in body:
        if len(row) != len(header):
            continue
        counters.append(KernelCounters(
            kernel=row[name_column] if name_column is not None else "",
            launch=int(row[0]) if row[0].strip().isdigit() else len(counters),
            metrics={header[i]: _number(row[i]) for i in metric_columns},
            units={header[i]: units_row[i] for i in metric_columns} if units_row else {}))
    return counters


def command(argv: Sequence[str], *, kernels: str, metrics: Sequence[str], launches: int = 1,
            skip: int = 0, report: str = "report") -> list[str]:
    """The ncu command line :func:`profile` runs (shown in the GPU check's log)."""
    return [ncu_path() or "ncu", "--clock-control", "none", "--target-processes", "all",
            "-k", f"regex:{kernels}", "-s", str(skip), "-c", str(launches),
            "--metrics", ",".join(metrics), "-f", "-o", report, *argv]


def profile(argv: Sequence[str], *, kernels: str, metrics: Sequence[str], launches: int = 1,
            skip: int = 0, timeout: float = 120, env: dict | None = None) -> list[KernelCounters]:
    """Run ``argv`` under ncu and return the counters of the matching launches.

    ``kernels`` is a regular expression on the kernel's (mangled or plain) name. Raises
    :class:`NsightError` when ncu is missing, fails, times out, or profiles no launch.
    """
    if not metrics:
        raise ValueError("profile() needs at least one metric name")
    if not available():
        raise NsightError("ncu (Nsight Compute) is not installed here")
    with tempfile.TemporaryDirectory(prefix="py2ptx-ncu-") as tmp:
        report = os.path.join(tmp, "report")
        cmd = command(argv, kernels=kernels, metrics=metrics, launches=launches, skip=skip,
                      report=report)
        try:
            run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                 env=None if env is None else {**os.environ, **env})
        except subprocess.TimeoutExpired as e:
            raise NsightError(f"ncu did not finish within {timeout:.0f} s: {' '.join(cmd)}") from e
        said = (run.stdout + run.stderr).strip()
        if not os.path.exists(report + ".ncu-rep"):
            raise NsightError(f"ncu wrote no report (exit {run.returncode}); it said:\n"
                              + "\n".join(said.splitlines()[-15:]))
        table = subprocess.run([ncu_path(), "--import", report + ".ncu-rep", "--csv",
                                "--page", "raw", "--print-units", "base"],
                               capture_output=True, text=True, timeout=timeout)
    counters = parse_csv(table.stdout)
    if not counters:
        raise NsightError(f"ncu profiled no launch of a kernel matching {kernels!r}; it said:\n"
                          + "\n".join(said.splitlines()[-15:]))
    return counters
