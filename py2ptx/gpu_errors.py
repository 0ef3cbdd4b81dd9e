"""CUDA errors explained for a student: what happened, what state the GPU is in, what to do.

A leaf module (nothing from ``py2ptx``), so both :mod:`py2ptx.machine` (a GPU that will
not answer) and :mod:`py2ptx.gpu` (a kernel that failed) can use it. Taught in notebook 03
(an index past the end) and the labs.
"""

from __future__ import annotations

import os
import re


class GPUError(RuntimeError):
    """A CUDA error, explained: what happened, what state the GPU is in, what to do."""


ILLEGAL_ADDRESS = (
    "a kernel read or wrote outside its arrays (an illegal memory access). The CUDA "
    "context of this Python process is now unusable: every later GPU call in it fails "
    "too, so restart the kernel (Kernel > Restart Kernel) before running anything else "
    "on the GPU. Then find the bug at small n without the GPU -- CUDA C on CPU threads "
    "(py2ptx.cuda_on_cpu.run_on_cpu) or numba.cuda in the simulator "
    "(NUMBA_ENABLE_CUDASIM=1), where an index past the end stops with a message -- and "
    "check every index against n, especially in the last, partly filled block.")

OLD_DRIVER = (
    "the NVIDIA driver is older than the CUDA version this CuPy was built for. "
    "`python -m py2ptx doctor` shows the CUDA version the driver supports; install the "
    "CuPy wheel for it (cupy-cuda12x for a CUDA 12 driver; `make lab` picks it), or ask "
    "for a newer driver.")


def _out_of_memory(err) -> str:
    asked = re.search(r"allocating ([\d,]+) bytes", str(err))
    parts = [f"the GPU could not give {int(asked.group(1).replace(',', '')) / 2**20:,.1f} MiB"
             if asked else "the GPU ran out of memory"]
    try:
        import cupy

        free, total = cupy.cuda.runtime.memGetInfo()
        pool = cupy.get_default_memory_pool()
        parts.append(f"{free / 2**20:,.0f} MiB of its {total / 2**20:,.0f} MiB are free, and "
                     f"this notebook's CuPy pool holds {pool.total_bytes() / 2**20:,.1f} MiB")
    except Exception:  # noqa: BLE001 -- the explanation must not fail in its turn
        pass
    limit = os.environ.get("CUPY_GPU_MEMORY_LIMIT")
    if limit:
        parts.append(f"CUPY_GPU_MEMORY_LIMIT={limit} caps this process (on a shared hub, "
                     f"your share of the GPU)")
    return ("; ".join(parts) + ". Use a smaller n, free arrays you no longer need (del a; "
            "cupy.get_default_memory_pool().free_all_blocks()), or restart the kernel. "
            "int32 keys take 4 bytes each: n = 2**20 is 4 MiB per array.")


def explain(err: BaseException) -> str | None:
    """What a CUDA error means for a student, or None if it is not one this knows."""
    text = f"{type(err).__name__}: {err}"
    # An index far past an array's end can land outside the global window altogether;
    # an H200 (driver 580) then says "invalid address space" instead of "illegal address".
    if re.search(r"IllegalAddress|illegal memory access|ILLEGAL_ADDRESS|InvalidAddressSpace|"
                 r"INVALID_ADDRESS_SPACE", text):
        return ILLEGAL_ADDRESS
    if "OutOfMemory" in type(err).__name__ or "out of memory" in text.lower():
        return _out_of_memory(err)
    if re.search(r"InsufficientDriver|driver version is insufficient", text):
        return OLD_DRIVER
    return None


class explained:  # noqa: N801 -- used as a context manager
    """``with explained("bitonic sort"):`` turns known CUDA errors into :class:`GPUError`."""

    def __init__(self, what: str):
        self.what = what

    def __enter__(self):
        return self

    def __exit__(self, kind, err, tb):
        if err is None or isinstance(err, GPUError):
            return False
        message = explain(err)
        if message is None:
            return False
        raise GPUError(f"{self.what}: {message}\n(CUDA said: {type(err).__name__}: {err})") \
            from err
