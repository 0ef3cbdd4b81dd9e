"""Facts about this machine: its CPU, package versions, and its GPU if it has one.

The one place that decides whether there is a GPU (:func:`has_gpu`) and reads what it
is (:func:`gpu_info`, :func:`compute_capability`, :func:`max_shared_bytes`). A leaf of
the package: it imports nothing from ``py2ptx`` except :mod:`py2ptx.gpu_errors` (itself
a leaf), so every other module may ask it. ``python -m py2ptx doctor``
(:mod:`py2ptx.doctor`) is the report built on these facts.

Every probe is cached for the process (a GPU does not come and go while a notebook
runs); :func:`forget` clears the caches, for tests that swap CuPy for a fake one.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import re
import shutil
import subprocess

from .gpu_errors import explain

_PER_MACHINE: list = []


def per_machine(fn):
    """``functools.cache`` for anything that depends on this machine's GPU (a probe, a
    compiled module); :func:`forget` clears every such cache at once."""
    cached = functools.cache(fn)
    _PER_MACHINE.append(cached)
    return cached


class NoGPU(RuntimeError):
    """This needs an NVIDIA GPU and CuPy, and this machine has not got them."""


def version(dist: str) -> str | None:
    """The installed version of a distribution (``"numba"``), or None."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def cupy_version() -> str | None:
    """``"cupy-cuda13x 14.2.0"``: CuPy's wheel name carries its CUDA version."""
    return next((f"{d} {version(d)}" for d in ("cupy-cuda13x", "cupy-cuda12x", "cupy")
                 if version(d)), None)


@functools.cache
def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_label() -> str:
    """This machine in one line, for the title of every plot that shows a time."""
    return f"{cpu_name()} ({os.cpu_count()} cores), Python {platform.python_version()}"


# --------------------------------------------------------------------------- the GPU


@per_machine
def gpu_from_cupy() -> dict:
    """GPU 0 as CuPy's runtime sees it, or ``{"error": why not}``."""
    try:
        import cupy  # optional and heavy: only machines with a GPU have it
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
        hint = explain(err)
        return {"error": f"CuPy could not talk to a GPU: {type(err).__name__}: {err}"
                + (f" -- {hint}" if hint else "")}


@per_machine
def gpu_from_nvidia_smi() -> dict:
    """GPU 0 as ``nvidia-smi`` sees it (name, driver, compute capability), or an error."""
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
    match = re.search(r"CUDA Version:\s*(\d+)\.(\d+)", head)
    if match:
        info["driver_cuda"] = (int(match.group(1)), int(match.group(2)))
    return info


def gpu_info() -> dict:
    """What is known about GPU 0: from CuPy if it works, else from nvidia-smi.

    Contains ``error`` (and nothing useful) when this machine has no usable GPU.
    """
    info = gpu_from_cupy()
    if "error" in info:
        smi = gpu_from_nvidia_smi()
        if "error" not in smi:
            return {**smi, "note": info["error"]}
        return {"error": f"{smi['error']}; {info['error']}"}
    return info


def has_gpu() -> bool:
    """True when CuPy can run kernels on an NVIDIA GPU here."""
    return "error" not in gpu_from_cupy()


def has_nvidia_driver() -> bool:
    """True when an NVIDIA driver answers here (even if CuPy is missing or broken)."""
    return has_gpu() or "error" not in gpu_from_nvidia_smi()


def cupy_or_none():
    """CuPy if it is installed and sees a GPU, else None (never raises)."""
    if not has_gpu():
        return None
    import cupy  # optional and heavy: only machines with a GPU have it

    return cupy


def require_gpu(what: str = "this cell"):
    """CuPy, or :class:`NoGPU` with a message that says what runs instead."""
    cp = cupy_or_none()
    if cp is None:
        raise NoGPU(f"{what} needs an NVIDIA GPU and CuPy ({gpu_info().get('error')}). "
                    f"Without one the course compiles the kernel here and shows the "
                    f"recorded GPU run from results/.")
    return cp


@per_machine
def _device_facts(device: int) -> tuple[tuple[int, int], int]:
    # Read once per device and remembered: CuPy's Device().attributes queries about 150
    # attributes, far too slow to ask before every sort (the GPU ladder's host time).
    dev = require_gpu("reading the GPU's limits").cuda.Device(device)
    cc = str(dev.compute_capability)  # CuPy gives "90" for 9.0
    return (int(cc[:-1]), int(cc[-1])), int(dev.attributes["MaxSharedMemoryPerBlockOptin"])


def _current_device() -> int:
    return int(require_gpu("reading the GPU's limits").cuda.Device().id)


def compute_capability() -> tuple[int, int]:
    """This GPU's compute capability, ``(9, 0)`` for an H200."""
    return _device_facts(_current_device())[0]


def max_shared_bytes() -> int:
    """The most dynamic shared memory one block may opt in to on this GPU."""
    return _device_facts(_current_device())[1]


def forget() -> None:
    """Forget every cached probe and everything cached with :func:`per_machine` (the
    doctor's report, compiled GPU modules): tests swap CuPy for a fake one and back."""
    for cached in _PER_MACHINE:
        cached.cache_clear()
