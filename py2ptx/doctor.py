"""The doctor: what this machine has, and how each rung of the course runs on it.

Shown in notebook 00; ``python -m py2ptx doctor`` prints the same table.

Every probe is defensive: a missing package, tool or GPU becomes a row that says
so (and what to do), never an exception. Each rung ends up in one of four modes:

* ``live``        -- runs here, on the real device, timed for real;
* ``simulator``   -- GPU code runs in Numba's CUDA simulator: correct, not fast;
* ``compile-only``-- compiled to PTX/SASS here, timings come from a recorded run;
* ``recorded``    -- only a recorded GPU run from results/ can be shown.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

# PTX ISA version introduced by each CUDA release (NVIDIA, PTX ISA "Release History").
# A driver accepts PTX up to the version of the CUDA release it ships with.
PTX_ISA_FOR_CUDA = {
    (11, 0): "7.0", (11, 1): "7.1", (11, 2): "7.2", (11, 3): "7.3", (11, 4): "7.4",
    (11, 5): "7.5", (11, 6): "7.6", (11, 7): "7.7", (11, 8): "7.8",
    (12, 0): "8.0", (12, 1): "8.1", (12, 2): "8.2", (12, 3): "8.3", (12, 4): "8.4",
    (12, 5): "8.5", (12, 6): "8.5", (12, 8): "8.7", (12, 9): "8.8",
    (13, 0): "9.0", (13, 1): "9.1", (13, 2): "9.2", (13, 3): "9.3", (13, 4): "9.4",
    (13, 5): "9.5",
}


def highest_ptx_isa(cuda_version: tuple[int, int]) -> str | None:
    """The newest PTX ``.version`` a driver of this CUDA version loads (None if unknown)."""
    known = [v for v in PTX_ISA_FOR_CUDA if v <= tuple(cuda_version)]
    return PTX_ISA_FOR_CUDA[max(known)] if known else None


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
            from .stack import LAYERS

            parts.append("== Layers of the stack on this machine\n" + "\n".join(
                f"  {LAYERS[k].title:<26} {m:<10} {why}" for k, (m, why) in self.layers.items()))
        if self.modes:
            from .ladder import RUNGS

            lines = [f"  {r.number:>2} {r.title:<52} {self.modes[r.key][0]:<12} "
                     f"{self.modes[r.key][1]}" for r in RUNGS]
            parts.append("== How each rung runs on this machine\n" + "\n".join(lines))
        return "\n\n".join(parts)

    def _repr_html_(self) -> str:
        from html import escape

        html = ["<table><tr><th></th><th>item</th><th>this machine</th></tr>"]
        for section in dict.fromkeys(r.section for r in self.rows):
            html.append(f"<tr><th colspan=3 style='text-align:left'>{escape(section)}</th></tr>")
            for r in (r for r in self.rows if r.section == section):
                html.append(f"<tr><td>{_mark(r.ok)}</td><td>{escape(r.item)}</td>"
                            f"<td style='text-align:left'>{escape(r.value)}</td></tr>")
        if self.layers:
            from .stack import LAYERS

            html.append("<tr><th colspan=3 style='text-align:left'>Layers of the stack "
                        "on this machine</th></tr>")
            for k, (mode, why) in self.layers.items():
                html.append(f"<tr><td></td><td>{escape(LAYERS[k].title)}</td>"
                            f"<td style='text-align:left'><b>{mode}</b> {escape(why)}</td></tr>")
        if self.modes:
            from .ladder import RUNGS

            html.append("<tr><th colspan=3 style='text-align:left'>How each rung runs "
                        "here</th></tr>")
            for r in RUNGS:
                mode, why = self.modes[r.key]
                html.append(f"<tr><td>{r.number}</td><td>{escape(r.title)}</td>"
                            f"<td style='text-align:left'><b>{mode}</b> {escape(why)}</td></tr>")
        return "".join(html) + "</table>"


def _mark(ok: bool | None) -> str:
    return {True: "✓", False: "✗", None: "·"}[ok]


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_label() -> str:
    """This machine in one line, for the title of every plot that shows a time."""
    return f"{_cpu_name()} ({os.cpu_count()} cores), Python {platform.python_version()}"


# --------------------------------------------------------------------------- probes


def _probe_machine(report: Report) -> None:
    report.add("Machine", "Python", f"{platform.python_version()} ({sys.executable})", True)
    report.add("Machine", "OS", f"{platform.system()} {platform.release()}", None)
    report.add("Machine", "CPU", f"{_cpu_name()}, {os.cpu_count()} logical cores", None)
    try:
        from .cbuild import compiler, compiler_version

        compiler()
        report.add("Machine", "C compiler", compiler_version(), True)
    except Exception as err:
        report.add("Machine", "C compiler", str(err), False)


def _probe_packages(report: Report) -> None:
    for dist, why in (("numpy", "arrays"), ("numba", "rung 4 (@njit)"),
                      ("numba-cuda", "CUDA kernels in Python, and their simulator"),
                      ("matplotlib", "plots"), ("ipywidgets", "widgets"),
                      ("cupy", "running CUDA C and PTX on a GPU")):
        version = _version(dist)
        if dist == "cupy":  # the wheel's name carries the CUDA version
            version = next((f"{d} {_version(d)}" for d in
                            ("cupy-cuda13x", "cupy-cuda12x", "cupy") if _version(d)), None)
        report.add("Packages", dist, version or f"not installed (needed for {why})",
                   bool(version) if dist != "cupy" else (True if version else None))


def _probe_cuda_tools(report: Report) -> None:
    from . import cudatools

    for finder, name in ((cudatools.find_nvrtc, "nvrtc"), (cudatools.find_tool, "ptxas"),
                         (cudatools.find_tool, "nvdisasm"), (cudatools.find_tool, "cuobjdump")):
        try:
            tool = finder() if name == "nvrtc" else finder(name)
            report.add("CUDA tools on the CPU", name,
                       f"{tool.version} from {tool.origin}: {tool.path}", True)
        except Exception as err:
            report.add("CUDA tools on the CPU", name, str(err), False)
    try:
        ptx = cudatools.ptx_for("2_odd_even_global.cu")
        report.add("CUDA tools on the CPU", "PTX NVRTC emits",
                   f".version {cudatools.ptx_version(ptx)} (a driver must know this ISA "
                   f"to JIT it)", True)
    except Exception as err:
        report.add("CUDA tools on the CPU", "PTX NVRTC emits", f"cannot compile: {err}", False)


@functools.lru_cache(maxsize=1)
def _gpu_from_cupy() -> dict:
    try:
        import cupy
    except Exception as err:  # not installed, or installed without a usable CUDA
        return {"error": f"CuPy not usable: {type(err).__name__}"}
    try:
        rt = cupy.cuda.runtime
        count = rt.getDeviceCount()
        if count == 0:
            return {"error": "CuPy sees no GPU"}
        props = rt.getDeviceProperties(0)
        driver, runtime = rt.driverGetVersion(), rt.runtimeGetVersion()
        return {
            "name": props["name"].decode() if isinstance(props["name"], bytes) else props["name"],
            "count": count,
            "cc": f"{props['major']}.{props['minor']}",
            "sms": props["multiProcessorCount"],
            "l2_bytes": props.get("l2CacheSize"),
            "memory_bytes": props["totalGlobalMem"],
            "driver_cuda": (driver // 1000, driver % 1000 // 10),
            "runtime_cuda": (runtime // 1000, runtime % 1000 // 10),
        }
    except Exception as err:
        from .gpu import explain

        hint = explain(err)
        return {"error": f"CuPy could not talk to a GPU: {type(err).__name__}: {err}"
                + (f" -- {hint}" if hint else "")}


@functools.lru_cache(maxsize=1)
def _gpu_from_nvidia_smi() -> dict:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return {"error": "no nvidia-smi: no NVIDIA driver on this machine"}
    try:
        out = subprocess.run(
            [smi, "--query-gpu=name,driver_version,compute_cap", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=30)
        head = subprocess.run([smi], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired) as err:
        return {"error": f"nvidia-smi failed: {err}"}
    if out.returncode != 0 or not out.stdout.strip():
        return {"error": f"nvidia-smi found no GPU: {out.stderr.strip() or out.stdout.strip()}"}
    name, driver, cc = (s.strip() for s in out.stdout.splitlines()[0].split(","))
    info = {"name": name, "driver": driver, "cc": cc}
    import re

    match = re.search(r"CUDA Version:\s*(\d+)\.(\d+)", head)
    if match:
        info["driver_cuda"] = (int(match.group(1)), int(match.group(2)))
    return info


def gpu_info() -> dict:
    """What is known about GPU 0: from CuPy if it works, else from nvidia-smi.

    Contains ``error`` (and nothing useful) when this machine has no usable GPU.
    """
    info = _gpu_from_cupy()
    if "error" in info:
        smi = _gpu_from_nvidia_smi()
        if "error" not in smi:
            smi["note"] = info["error"]
            return smi
        return {"error": f"{smi['error']}; {info['error']}"}
    return info


def has_gpu() -> bool:
    """True when CuPy can run kernels on an NVIDIA GPU here."""
    return "error" not in _gpu_from_cupy()


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
        ptx = highest_ptx_isa(info["driver_cuda"])
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
        "ptx": ("runs" if gpu else "produced", "NVRTC emits it here"
                + (f"; {gpu_name} runs it" if gpu else "; nothing here can run it")),
        "sass": ("runs" if gpu else "produced", "assembled and disassembled here"
                 + (f"; {gpu_name} runs it" if gpu else "; nothing here can run it")),
        "hardware": ("runs", f"{gpu_name} and this CPU") if gpu
        else ("CPU only", f"{_cpu_name()}; no GPU"),
    }


def _rung_modes(report: Report) -> None:
    from .ladder import RUNGS

    c_ok = next((r.ok for r in report.rows if r.item == "C compiler"), False)
    tools_ok = all(r.ok for r in report.rows if r.section == "CUDA tools on the CPU")
    for r in RUNGS:
        if r.device == "cpu":
            if r.tool == "gcc" and not c_ok:
                report.modes[r.key] = ("unavailable", "no C compiler")
            else:
                report.modes[r.key] = ("live", "on this CPU")
        elif has_gpu():
            report.modes[r.key] = ("live", f"on {report.gpu.get('name', 'the GPU')}")
        elif r.tool.startswith("LLVM (Numba)"):
            report.modes[r.key] = ("simulator", "no GPU: Numba's CUDA simulator runs it at "
                                   "small n (correct, not fast); times from a recorded run")
        elif r.tool.startswith("NVRTC") and tools_ok:
            report.modes[r.key] = ("compile-only", "no GPU: compiled to PTX and SASS here"
                                   + ("" if r.layer == "ptx" else
                                      ", run on CPU threads at small n")
                                   + "; times from a recorded run")
        else:
            report.modes[r.key] = ("recorded", "no GPU: only a recorded run can show it")


@functools.lru_cache(maxsize=1)
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
