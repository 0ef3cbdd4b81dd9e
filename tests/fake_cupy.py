"""A stand-in for CuPy that runs kernels on CPU threads -- for tests only.

The GPU code paths (py2ptx.gpu's launcher, py2ptx.gpusorts' host code, py2ptx.bench)
run for real only on a GPU, which CI never has. This module lets those paths run
on CI anyway: arrays are NumPy arrays that claim to live on a device, and a
``RawModule``'s kernels run through :func:`py2ptx.cuda_on_cpu.run_on_cpu`. What it
checks is the host code's logic -- launch shapes, argument types, padding, the
order of launches -- never speed: its "GPU times" are host-clock times of CPU
threads, and nothing it measures is ever recorded outside a test's tmp folder.

**Its clock.** So that the timing code's logic (events, a spin kernel that hides the
host, CUDA graph capture and replay) runs here too, the fake keeps one device timeline:
every "GPU" operation (a kernel, ``copyto``, ``memcpyAsync``, a graph launch) runs at
once on CPU threads, but occupies the device from ``max(now, device busy until)`` for as
long as it took; the spin kernel ``py2ptx_spin`` only pushes the timeline forward; an
event is reached at the timeline's end when it is recorded (``done`` once the host
clock passes it). Under stream capture, operations are recorded instead of run, and
``Graph.launch`` replays them.
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

_DEVICE = {"busy_until": 0.0}
_STREAMS: list = []  # the current stream stack (``with stream:``)


def _on_device(op) -> None:
    """Run ``op`` (a GPU operation) now -- or record it, under stream capture -- and
    put it on the device timeline after whatever the device is still busy with."""
    stream = _STREAMS[-1] if _STREAMS else None
    if stream is not None and stream.captured is not None:
        stream.captured.append(op)
        return
    begin = max(time.perf_counter(), _DEVICE["busy_until"])
    t0 = time.perf_counter()
    op()
    _DEVICE["busy_until"] = begin + (time.perf_counter() - t0)


def _wait_for_device() -> None:
    while time.perf_counter() < _DEVICE["busy_until"]:
        time.sleep(min(1e-3, max(0.0, _DEVICE["busy_until"] - time.perf_counter())))


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
    _wait_for_device()
    return np.asarray(a).copy()


def copyto(dst, src):
    """A device-to-device copy: a GPU operation (captured under stream capture)."""
    _on_device(lambda: np.copyto(np.asarray(dst), np.asarray(src)))


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
        if self.name == "py2ptx_spin":  # py2ptx.timing's spin: the device is busy for ns
            stream = _STREAMS[-1] if _STREAMS else None
            if stream is None or stream.captured is None:
                _DEVICE["busy_until"] = (max(time.perf_counter(), _DEVICE["busy_until"])
                                         + int(host[0]) * 1e-9)
            return
        if self.name in PYTHON_KERNELS:
            _on_device(lambda: PYTHON_KERNELS[self.name](grid, block, host, shared_mem))
            return
        code = self.module.code
        _on_device(lambda: run_on_cpu(code, self.name, grid, block, *host,
                                      shared_mem=shared_mem))


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
        _wait_for_device()


class Graph:
    """A captured sequence of GPU operations; ``launch`` replays them in order."""

    def __init__(self, ops):
        self.ops = list(ops)

    def launch(self, stream=None):
        for op in self.ops:
            _on_device(op)

    def upload(self, stream=None):
        pass


class Stream:
    """A context that makes itself current; one device timeline serves every stream."""

    def __init__(self, non_blocking=False):
        self.ptr = id(self)
        self.captured = None

    def __enter__(self):
        _STREAMS.append(self)
        return self

    def __exit__(self, *exc):
        _STREAMS.remove(self)
        return False

    def begin_capture(self, mode=None):
        if self.captured is not None:
            raise RuntimeError("cudaErrorIllegalState: this stream is already capturing")
        self.captured = []

    def end_capture(self):
        if self.captured is None:
            raise RuntimeError("cudaErrorIllegalState: the stream is not capturing")
        graph, self.captured = Graph(self.captured), None
        return graph

    def is_capturing(self):
        return self.captured is not None

    def synchronize(self):
        _wait_for_device()

    def wait_event(self, event):
        pass


class Event:
    def __init__(self):
        self.t = None

    def record(self, stream=None):
        self.t = max(time.perf_counter(), _DEVICE["busy_until"])

    @property
    def done(self):
        return self.t is None or time.perf_counter() >= self.t

    def synchronize(self):
        while not self.done:
            time.sleep(min(1e-3, max(0.0, self.t - time.perf_counter())))


def get_elapsed_time(start, end):
    return (end.t - start.t) * 1e3  # milliseconds, as CuPy gives them


def _memcpy_async(dst, src, size, kind, stream):
    import ctypes

    _on_device(lambda: ctypes.memmove(dst, src, size))


def _benchmark(fn, args=(), n_repeat=10, n_warmup=1, name=""):
    """cupyx.profiler.benchmark's loop: events around each call, its host time beside."""
    for _ in range(n_warmup):
        fn(*args)
    start, end = Event(), Event()
    gpu_times, cpu_times = [], []
    for _ in range(n_repeat):
        start.record()
        t0 = time.perf_counter()
        fn(*args)
        cpu_times.append(time.perf_counter() - t0)
        end.record()
        end.synchronize()
        gpu_times.append(end.t - start.t)
    return types.SimpleNamespace(gpu_times=np.array([gpu_times]), cpu_times=np.array(cpu_times))


def install(monkeypatch) -> None:
    """Make ``import cupy`` and ``import cupyx.profiler`` give this fake, for one test."""
    cupy = types.ModuleType("cupy")
    for name in ("ndarray", "asarray", "asnumpy", "empty", "zeros", "full", "empty_like",
                 "RawModule", "RawKernel", "arange", "argmax", "copyto"):
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
        runtime=runtime, Device=_Device, Stream=Stream, Event=Event, Graph=Graph,
        get_elapsed_time=get_elapsed_time,
        compiler=types.SimpleNamespace(CompileException=CompileException),
        driver=types.SimpleNamespace(CUDADriverError=CUDADriverError))
    cupyx = types.ModuleType("cupyx")
    profiler = types.ModuleType("cupyx.profiler")
    profiler.benchmark = _benchmark
    cupyx.profiler = profiler
    _DEVICE["busy_until"] = 0.0
    _STREAMS.clear()
    for name, module in (("cupy", cupy), ("cupyx", cupyx), ("cupyx.profiler", profiler)):
        monkeypatch.setitem(sys.modules, name, module)
