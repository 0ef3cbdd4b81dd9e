"""A stand-in for CuPy that runs kernels on CPU threads -- for tests only.

The GPU code paths (py2ptx.gpu's launcher, py2ptx.gpusorts' host code, py2ptx.bench)
run for real only on a GPU, which CI never has. This module lets those paths run
on CI anyway: arrays are NumPy arrays that claim to live on a device, and a
``RawModule``'s kernels run through :func:`py2ptx.cuda_on_cpu.run_on_cpu`. What it
checks is the host code's logic -- launch shapes, argument types, padding, the
order of launches -- never speed: its "GPU times" are host-clock times of CPU
threads, and nothing it measures is ever recorded outside a test's tmp folder.
"""

from __future__ import annotations

import sys
import time
import types

import numpy as np

FAKE_DEVICE_NAME = "FAKE GPU (CPU threads, tests only)"
#: Kernel name -> Python stand-in ``fn(grid, block, args, shared_mem)``, for kernels the
#: CPU-thread emulator cannot run (inline PTX). A test fills it; nothing here is timed.
PYTHON_KERNELS: dict = {}


class ndarray(np.ndarray):  # noqa: N801 -- CuPy's name
    """A NumPy array that says it is on the device."""

    @property
    def __cuda_array_interface__(self):
        return self.__array_interface__

    def get(self):
        return np.asarray(self).copy()

    def set(self, host):
        np.asarray(self)[...] = host


def asarray(a, dtype=None):
    return np.array(a, dtype=dtype).view(ndarray)


def asnumpy(a):
    return np.asarray(a).copy()


def empty(n, dtype=np.float64):
    return np.empty(n, dtype=dtype).view(ndarray)


def zeros(n, dtype=np.float64):
    return np.zeros(n, dtype=dtype).view(ndarray)


def full(n, value, dtype=None):
    return np.full(n, value, dtype=dtype).view(ndarray)


def empty_like(a):
    return np.empty_like(np.asarray(a)).view(ndarray)


def arange(n, dtype=None):
    return np.arange(n, dtype=dtype).view(ndarray)


def argmax(a):
    return np.argmax(np.asarray(a))


class CompileException(Exception):
    def get_message(self):
        return str(self)


class CUDADriverError(RuntimeError):
    pass


class RawKernel:
    def __init__(self, module, name):
        self.module, self.name = module, name
        self.max_dynamic_shared_size_bytes = 48 * 1024

    def __call__(self, grid, block, args, shared_mem=0):
        from py2ptx.cuda_on_cpu import run_on_cpu

        if shared_mem > self.max_dynamic_shared_size_bytes:
            raise CUDADriverError("CUDA_ERROR_INVALID_VALUE: too much shared memory "
                                  "without opting in")
        host = [np.asarray(a) if isinstance(a, ndarray) else a for a in args]
        if self.name in PYTHON_KERNELS:
            PYTHON_KERNELS[self.name](grid, block, host, shared_mem)
            return
        run_on_cpu(self.module.code, self.name, grid, block, *host, shared_mem=shared_mem)


class RawModule:
    def __init__(self, code=None, options=(), path=None, **_):
        if code is None:
            raise CUDADriverError("the fake GPU cannot load PTX files")
        self.code, self.options = code, options

    def compile(self):
        from py2ptx.cudatools import CudaCompileError, cubin_for

        try:
            cubin_for(self.code, "sm_90", tuple(o for o in self.options if o.startswith("-D")))
        except CudaCompileError as err:
            raise CompileException(str(err)) from None

    def get_function(self, name):
        import re

        if not re.search(rf"__global__\s+void\s+{name}\s*\(", self.code):
            raise CUDADriverError(f"CUDA_ERROR_NOT_FOUND: named symbol not found ({name})")
        return RawKernel(self, name)


class _Device:
    compute_capability = "90"
    id = 0
    attributes = {"MaxSharedMemoryPerBlockOptin": 227 * 1024, "MultiProcessorCount": 4,
                  "L2CacheSize": 1 << 20, "MaxSharedMemoryPerMultiprocessor": 228 * 1024}

    def __init__(self, device=0):
        self.id = device

    def synchronize(self):
        pass


class Stream:
    """Work runs at once on the fake device, so a stream only has to be a context."""

    def __init__(self, non_blocking=False):
        self.ptr = id(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def synchronize(self):
        pass

    def wait_event(self, event):
        pass


class Event:
    def __init__(self):
        self.t = None

    def record(self, stream=None):
        self.t = time.perf_counter()

    def synchronize(self):
        pass


def get_elapsed_time(start, end):
    return (end.t - start.t) * 1e3  # milliseconds, as CuPy gives them


def _memcpy_async(dst, src, size, kind, stream):
    import ctypes

    ctypes.memmove(dst, src, size)


def _benchmark(fn, args=(), n_repeat=10, n_warmup=1, name=""):
    for _ in range(n_warmup):
        fn(*args)
    times = []
    for _ in range(n_repeat):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return types.SimpleNamespace(gpu_times=np.array([times]), cpu_times=np.array(times))


def install(monkeypatch) -> None:
    """Make ``import cupy`` and ``import cupyx.profiler`` give this fake, for one test."""
    cupy = types.ModuleType("cupy")
    for name in ("ndarray", "asarray", "asnumpy", "empty", "zeros", "full", "empty_like",
                 "RawModule", "RawKernel", "arange", "argmax"):
        setattr(cupy, name, globals()[name])
    for name in ("int32", "uint32", "int64", "uint64", "float32", "float64"):
        setattr(cupy, name, getattr(np, name))
    runtime = types.SimpleNamespace(
        getDeviceCount=lambda: 1,
        getDeviceProperties=lambda i: {"name": FAKE_DEVICE_NAME, "major": 9, "minor": 0,
                                       "multiProcessorCount": 4, "l2CacheSize": 1 << 20,
                                       "totalGlobalMem": 1 << 30},
        driverGetVersion=lambda: 13000, runtimeGetVersion=lambda: 13000,
        memGetInfo=lambda: (1 << 30, 1 << 31), memcpyAsync=_memcpy_async,
        memcpyDeviceToDevice=3)
    cupy.cuda = types.SimpleNamespace(
        runtime=runtime, Device=_Device, Stream=Stream, Event=Event,
        get_elapsed_time=get_elapsed_time,
        compiler=types.SimpleNamespace(CompileException=CompileException),
        driver=types.SimpleNamespace(CUDADriverError=CUDADriverError))
    cupyx = types.ModuleType("cupyx")
    profiler = types.ModuleType("cupyx.profiler")
    profiler.benchmark = _benchmark
    cupyx.profiler = profiler
    for name, module in (("cupy", cupy), ("cupyx", cupyx), ("cupyx.profiler", profiler)):
        monkeypatch.setitem(sys.modules, name, module)
