"""The doctor: what this machine has, and how each rung of the course runs on it.

Shown in notebook 00; ``python -m py2ptx doctor`` prints the same table. The facts come
from :mod:`py2ptx.machine` (re-exported here for the notebooks: ``doctor.has_gpu()``),
the toolchain from :mod:`py2ptx.cudatools`, and each rung's way of running without a GPU
from its ``without_gpu`` field in the registry (:data:`py2ptx.ladder.RUNGS`).

Every probe is defensive: a missing package, tool or GPU becomes a row that says
so (and what to do), never an exception. Each rung ends up in one of five modes:

* ``live``        -- runs here, on the real device, timed for real;
* ``simulator``   -- GPU code runs in Numba's CUDA simulator: correct, not fast;
* ``cpu-threads`` -- compiled to PTX/SASS here, and its kernel file runs on CPU threads at
  small n (correct and checked, not fast); timings come from a recorded run;
* ``compile-only``-- compiled to PTX/SASS here, not run; timings come from a recorded run;
* ``recorded``    -- only a recorded GPU run from results/ can be shown.

(``unavailable``: a CPU rung whose tool, a C compiler say, is missing here.)
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass, field
from html import escape

from . import cudatools
from .cbuild import compiler, compiler_version
from .ladder import NEEDS, RUNGS, WithoutGPU
from .layers import LAYERS
from .machine import (  # noqa: F401 -- gpu_info, has_gpu, machine_label: the notebooks' names
    cpu_name,
    cupy_version,
    gpu_info,
    has_gpu,
    machine_label,
    per_machine,
    version,
)


@dataclass
class Row:
    section: str
    item: str
    value: str
    ok: bool | None = None  # True: works; False: missing; None: informational


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    gpu: dict = field(default_factory=dict)  # name, cc, driver_cuda, runtime_cuda... if any
    modes: dict = field(default_factory=dict)  # rung key -> (mode, reason)
    layers: dict = field(default_factory=dict)  # stack layer key -> (mode, reason)
    have: dict = field(default_factory=dict)  # key of ladder.NEEDS -> found on this machine

    def add(self, section: str, item: str, value: str, ok: bool | None = None) -> None:
        self.rows.append(Row(section, item, value, ok))

    def value(self, item: str) -> str | None:
        return next((r.value for r in self.rows if r.item == item), None)

    def section_text(self, section: str) -> str:
        rows = [r for r in self.rows if r.section == section]
        width = max((len(r.item) for r in rows), default=0)
        return "\n".join(f"{_mark(r.ok)} {r.item:<{width}}  {r.value}" for r in rows)

    def text(self) -> str:
        parts = []
        for section in dict.fromkeys(r.section for r in self.rows):
            parts.append(f"== {section}\n{self.section_text(section)}")
        if self.layers:
            parts.append("== Layers of the stack on this machine\n" + "\n".join(
                f"  {LAYERS[k].title:<26} {m:<10} {why}" for k, (m, why) in self.layers.items()))
        if self.modes:
            lines = [f"  {r.number:>2} {r.title:<52} {self.modes[r.key][0]:<12} "
                     f"{self.modes[r.key][1]}" for r in RUNGS]
            parts.append("== How each rung runs on this machine\n" + "\n".join(lines))
        return "\n\n".join(parts)

    def _repr_html_(self) -> str:
        html = ["<table><tr><th></th><th>item</th><th>this machine</th></tr>"]
        for section in dict.fromkeys(r.section for r in self.rows):
            html.append(f"<tr><th colspan=3 style='text-align:left'>{escape(section)}</th></tr>")
            for r in (r for r in self.rows if r.section == section):
                html.append(f"<tr><td>{_mark(r.ok)}</td><td>{escape(r.item)}</td>"
                            f"<td style='text-align:left'>{escape(r.value)}</td></tr>")
        if self.layers:
            html.append("<tr><th colspan=3 style='text-align:left'>Layers of the stack "
                        "on this machine</th></tr>")
            for k, (mode, why) in self.layers.items():
                html.append(f"<tr><td></td><td>{escape(LAYERS[k].title)}</td>"
                            f"<td style='text-align:left'><b>{mode}</b> {escape(why)}</td></tr>")
        if self.modes:
            html.append("<tr><th colspan=3 style='text-align:left'>How each rung runs "
                        "here</th></tr>")
            for r in RUNGS:
                mode, why = self.modes[r.key]
                html.append(f"<tr><td>{r.number}</td><td>{escape(r.title)}</td>"
                            f"<td style='text-align:left'><b>{mode}</b> {escape(why)}</td></tr>")
        return "".join(html) + "</table>"


def _mark(ok: bool | None) -> str:
    return {True: "✓", False: "✗", None: "·"}[ok]


# --------------------------------------------------------------------------- probes


def _probe_machine(report: Report) -> None:
    report.add("Machine", "Python", f"{platform.python_version()} ({sys.executable})", True)
    report.add("Machine", "OS", f"{platform.system()} {platform.release()}", None)
    report.add("Machine", "CPU", f"{cpu_name()}, {os.cpu_count()} logical cores", None)
    try:
        compiler()
        report.add("Machine", "C compiler", compiler_version(), True)
    except Exception as err:
        report.add("Machine", "C compiler", str(err), False)


def _probe_packages(report: Report) -> None:
    for dist, why in (("numpy", "arrays"), ("numba", "rung 4 (@njit)"),
                      ("numba-cuda", "CUDA kernels in Python, and their simulator"),
                      ("matplotlib", "plots"), ("ipywidgets", "widgets"),
                      ("cupy", "running CUDA C and PTX on a GPU"),
                      ("triton", "variant 9t and notebook 04's live Triton section; an "
                                 "optional extra: make triton")):
        found = cupy_version() if dist == "cupy" else version(dist)
        optional = dist in ("cupy", "triton")  # missing is a mode, not a fault
        report.add("Packages", dist, found or f"not installed (needed for {why})",
                   (True if found else None) if optional else bool(found))


def _probe_cuda_tools(report: Report) -> None:
    for finder, name in ((cudatools.find_nvrtc, "nvrtc"), (cudatools.find_tool, "ptxas"),
                         (cudatools.find_tool, "nvdisasm"), (cudatools.find_tool, "cuobjdump")):
        try:
            tool = finder() if name == "nvrtc" else finder(name)
            report.add("CUDA tools on the CPU", name,
                       f"{tool.version} from {tool.origin}: {tool.path}", True)
        except Exception as err:
            report.add("CUDA tools on the CPU", name, str(err), False)
    try:
        ptx = cudatools.ptx_for("7_odd_even_global.cu")
        report.add("CUDA tools on the CPU", "PTX NVRTC emits",
                   f".version {cudatools.ptx_version(ptx)} (a driver must know this ISA "
                   f"to JIT it)", True)
    except Exception as err:
        report.add("CUDA tools on the CPU", "PTX NVRTC emits", f"cannot compile: {err}", False)


def _probe_gpu(report: Report) -> None:
    info = gpu_info()
    report.gpu = info
    if "error" in info:
        report.add("GPU", "GPU", f"none usable: {info['error']}", None)
        report.add("GPU", "what that means",
                   "GPU rungs run in Numba's CUDA simulator or are compiled to PTX/SASS "
                   "here; their timings come from recorded runs in results/.", None)
        return
    report.add("GPU", "GPU", f"{info['name']} (compute capability {info['cc']}"
               + (f", {info['sms']} SMs" if "sms" in info else "") + ")", True)
    if "driver_cuda" in info:
        major, minor = info["driver_cuda"]
        report.add("GPU", "driver", f"supports CUDA {major}.{minor}"
                   + (f" (driver {info['driver']})" if "driver" in info else ""), True)
        ptx = cudatools.highest_ptx_isa(info["driver_cuda"])
        report.add("GPU", "highest PTX ISA the driver accepts", ptx or "unknown", bool(ptx))
    if "runtime_cuda" in info:
        report.add("GPU", "CUDA runtime (CuPy)", "{}.{}".format(*info["runtime_cuda"]), True)
    if "note" in info:  # nvidia-smi sees a GPU that CuPy cannot use (or is not installed)
        report.add("GPU", "CuPy", info["note"] + " -- install the CuPy wheel for this "
                   "driver: `make cupy` in the course's folder, or "
                   f"`{sys.executable} -m pip install $(sh tools/gpu_packages.sh)`", False)


def _layer_modes(report: Report) -> None:
    """Which layers of the stack this machine can run, or only produce, or not reach."""
    tools_ok = all(r.ok for r in report.rows if r.section == "CUDA tools on the CPU")
    gpu = has_gpu()
    gpu_name = report.gpu.get("name", "the GPU")
    report.layers = {
        "application": ("runs", "Python is running this"),
        "compilers": ("runs", "CPython, gcc and Numba run here; NVRTC compiles CUDA C here"
                      if tools_ok else "CPython, gcc and Numba run here; NVRTC is missing"),
        "runtime": ("runs", f"CUDA driver for {gpu_name}") if gpu
        else ("absent", "no CUDA driver here"),
        # No GPU executes PTX: the driver JIT-compiles it (its own ptxas) into SASS.
        "ptx": ("produced", "NVRTC emits it here"
                + (f"; the driver JIT-compiles it into SASS for {gpu_name}" if gpu
                   else "; no driver here to JIT-compile it, and no GPU executes PTX")),
        "sass": ("runs" if gpu else "produced", "assembled and disassembled here"
                 + (f"; {gpu_name} runs it" if gpu else "; nothing here can run it")),
        "hardware": ("runs", f"{gpu_name} and this CPU") if gpu
        else ("CPU only", f"{cpu_name()}; no GPU"),
    }


def _rung_modes(report: Report) -> None:
    """Each rung's mode here, from what it needs and its ``without_gpu`` field."""
    have = {"c-compiler": bool(next((r.ok for r in report.rows if r.item == "C compiler"), False)),
            "cuda-tools": all(r.ok for r in report.rows if r.section == "CUDA tools on the CPU"),
            "triton": bool(next((r.ok for r in report.rows if r.item == "triton"), False))}
    report.have = have
    gpu = has_gpu()
    for r in RUNGS:
        missing = [NEEDS[need] for need in r.needs if not have[need]]
        if r.device == "cpu":
            report.modes[r.key] = (("unavailable", f"no {missing[0]}") if missing
                                   else ("live", "on this CPU"))
        elif gpu:
            report.modes[r.key] = ("live", f"on {report.gpu.get('name', 'the GPU')}")
        elif r.without_gpu is WithoutGPU.SIMULATOR:
            report.modes[r.key] = ("simulator", "no GPU: Numba's CUDA simulator runs it at "
                                   "small n (correct, not fast); times from a recorded run")
        elif r.without_gpu is WithoutGPU.CPU_THREADS and not missing:
            report.modes[r.key] = ("cpu-threads", "no GPU: compiled to PTX and SASS here, run "
                                   "on CPU threads at small n (correct, not fast); times from "
                                   "a recorded run")
        elif r.without_gpu is WithoutGPU.COMPILE_ONLY and not missing:
            report.modes[r.key] = ("compile-only", "no GPU: compiled to PTX and SASS here, not "
                                   "run; times from a recorded run")
        else:
            report.modes[r.key] = ("recorded", "no GPU: only a recorded run can show it")


@per_machine
def probe() -> Report:
    """Probe this machine once (cached for the process)."""
    report = Report()
    _probe_machine(report)
    _probe_packages(report)
    _probe_cuda_tools(report)
    _probe_gpu(report)
    _layer_modes(report)
    _rung_modes(report)
    return report


def main() -> int:
    print(probe().text())
    return 0
