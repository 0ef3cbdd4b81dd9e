"""Running kernels on the GPU: CUDA C and PTX through CuPy, Python through numba.cuda.

Taught in notebook 03 (CUDA C with ``RawModule``) and 04 (inline PTX, ``.ptx`` files).

Three things a raw kernel launch does not do for you, and this module does:

* **Typed arguments.** CuPy's launch (``_launch`` in ``cupy/cuda/function.pyx``)
  stores each scalar in a buffer of its own type — a Python ``int`` as an 8-byte
  ``long long``, a Python ``float`` as an 8-byte ``double``
  (``numpy_dtype_from_pyscalar`` in ``cupy/_core/_scalar.pyx``) — and hands
  ``cuLaunchKernel`` one pointer per argument (``kernelParams``). The driver copies
  as many bytes from each pointer as the kernel's parameter has (the driver API:
  parameter "offsets and sizes ... are retrieved directly from the kernel's image"). So ``int n`` fed a
  Python int reads the low 4 bytes of the int64: ``n`` itself on a little-endian
  host while |n| < 2³¹, wrapped beyond. The real traps: a Python ``float`` into a
  ``float`` parameter (the low 4 bytes of a double: garbage), ``np.int32`` into a
  ``long long`` parameter (8 bytes read from a 4-byte value), values ≥ 2³¹.
  :func:`check_args` reads the kernel's parameter list from its source and refuses
  every scalar whose type is not the parameter's, saying what the kernel would have
  read; it refuses a NumPy array where a GPU pointer is expected, and an array of the
  wrong dtype. (``tests/test_gpu.py::test_what_mismatched_scalars_really_pass``
  records each case on a real GPU.)
* **Launch shapes.** A block over 1024 threads or more shared memory than the SM
  has fails with a terse driver error; :meth:`Kernel.__call__` says which limit,
  and what fits.
* **Errors a student can read.** A compile error shows NVRTC's log with the
  student's line; a PTX file newer than the driver explains
  ``CUDA_ERROR_UNSUPPORTED_PTX_VERSION`` with the versions involved.

:func:`numba_cuda` returns ``numba.cuda``, switched to Numba's CUDA simulator when
this machine has no NVIDIA GPU, so the same kernels run (slowly) on the CPU.

Everything except the launch itself runs without a GPU, and is tested that way.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .cudatools import KERNELS, CudaCompileError, highest_ptx_isa, ptx_version
from .gpu_errors import GPUError, explain, explained  # noqa: F401 -- the launcher's errors
from .kernels import read_source, strip_comments
from .machine import (  # noqa: F401 -- where every launch asks for the GPU
    NoGPU,
    compute_capability,
    cupy_or_none,
    gpu_info,
    has_nvidia_driver,
    max_shared_bytes,
    per_machine,
    require_gpu,
)

#: C type of a kernel parameter -> the NumPy type a launch must pass for it.
SCALAR_TYPES = {
    "int": np.int32, "signed": np.int32, "signed int": np.int32, "int32_t": np.int32,
    "unsigned": np.uint32, "unsigned int": np.uint32, "uint32_t": np.uint32,
    "long long": np.int64, "long long int": np.int64, "int64_t": np.int64,
    "unsigned long long": np.uint64, "unsigned long long int": np.uint64,
    "uint64_t": np.uint64, "size_t": np.uint64,
    "short": np.int16, "unsigned short": np.uint16,
    "char": np.int8, "signed char": np.int8, "unsigned char": np.uint8,
    "float": np.float32, "double": np.float64, "bool": np.bool_,
}
_QUALIFIERS = {"const", "volatile", "__restrict__", "restrict", "__restrict", "struct"}

#: The most threads one block may have on every GPU since 2010 (compute capability 2.0).
MAX_THREADS_PER_BLOCK = 1024
#: Dynamic shared memory a launch gets without opting in (48 KB on every GPU).
DEFAULT_SHARED_BYTES = 48 * 1024


class KernelArgumentError(TypeError):
    """A launch's arguments do not match the kernel's parameters (caught before launch)."""


class LaunchShapeError(ValueError):
    """A grid, block or shared-memory size the GPU cannot launch (caught before launch)."""


@dataclass(frozen=True)
class Param:
    """One kernel parameter: ``int *a`` -> Param('a', 'int', pointer=True)."""

    name: str
    ctype: str
    pointer: bool

    @property
    def numpy_type(self):
        return SCALAR_TYPES.get(self.ctype)

    def __str__(self) -> str:
        return f"{self.ctype} {'*' if self.pointer else ''}{self.name}"


_KERNEL_RE = re.compile(r"__global__\s+void\s+(\w+)\s*\(([^)]*)\)", re.DOTALL)


def kernel_params(source: str, name: str) -> list[Param]:
    """The parameters of ``__global__ void name(...)`` in CUDA C source text."""
    text = strip_comments(source)
    found = {m.group(1): m.group(2) for m in _KERNEL_RE.finditer(text)}
    if name not in found:
        raise KeyError(f"no kernel named {name!r} in this source; its kernels are: "
                       + (", ".join(found) or "none (no __global__ function)"))
    params = []
    for i, raw in enumerate(p.strip() for p in found[name].split(",") if p.strip()):
        if raw == "void":
            continue
        pointer = "*" in raw or "[" in raw
        words = [w for w in re.split(r"[\s*&\[\]]+", raw) if w and w not in _QUALIFIERS]
        if not words:
            raise ValueError(f"cannot read parameter {i + 1} of {name}: {raw!r}")
        pname = words[-1] if len(words) > 1 else f"arg{i + 1}"
        ctype = " ".join(words[:-1] if len(words) > 1 else words)
        params.append(Param(pname, ctype, pointer))
    return params


def _describe(value) -> str:
    if isinstance(value, np.generic):
        return f"np.{type(value).__name__}"
    if hasattr(value, "dtype") and hasattr(value, "shape"):
        return f"{type(value).__module__.split('.')[0]} array of {value.dtype}"
    return f"a Python {type(value).__name__}"


def check_args(kernel: str, params: list[Param], args: tuple) -> None:
    """Raise :class:`KernelArgumentError` unless ``args`` match ``params`` exactly.

    Pointer parameters take a GPU array (anything with ``__cuda_array_interface__``:
    CuPy, Numba device arrays) of the matching dtype; scalar parameters take the
    NumPy scalar type of the same width (``np.int32`` for ``int``).
    """
    if len(args) != len(params):
        raise KernelArgumentError(
            f"{kernel} takes {len(params)} arguments ({', '.join(map(str, params))}), "
            f"but the launch passed {len(args)}.")
    for i, (param, value) in enumerate(zip(params, args, strict=True), start=1):
        where = f"argument {i} of {kernel} ({param})"
        want = param.numpy_type
        if param.pointer:
            if not hasattr(value, "__cuda_array_interface__"):
                hint = (" It is in host memory; copy it to the GPU first: cupy.asarray(a)."
                        if isinstance(value, np.ndarray) else "")
                raise KernelArgumentError(f"{where} must be a GPU array, not "
                                          f"{_describe(value)}.{hint}")
            if want is not None and np.dtype(value.dtype) != np.dtype(want):
                raise KernelArgumentError(
                    f"{where} points to {param.ctype}, but the array holds {value.dtype}: "
                    f"convert it with a.astype(np.{np.dtype(want).name}).")
            continue
        if want is None:
            continue  # a struct or template type: nothing to check it against
        wanted = f"np.{np.dtype(want).name}"
        sent = cupy_scalar_dtype(value)
        if sent is None:
            raise KernelArgumentError(f"{where} got {_describe(value)}; pass {wanted}(...).")
        if sent == np.dtype(want):
            continue
        reads = _what_the_kernel_reads(value, sent, np.dtype(want))
        if isinstance(value, bool | int | float) and not isinstance(value, np.generic):
            raise KernelArgumentError(
                f"{where} got {_describe(value)} ({value!r}). CuPy passes it as an "
                f"{sent.itemsize}-byte {_C_NAMES.get(sent.name, sent.name)} and the driver "
                f"copies the {np.dtype(want).itemsize} bytes {param.ctype} has: {reads}. "
                + _fix(value, param, np.dtype(want)))
        raise KernelArgumentError(
            f"{where} got {_describe(value)}; pass {wanted}(...). It is {sent.itemsize} "
            f"bytes, and the driver copies the {np.dtype(want).itemsize} bytes "
            f"{param.ctype} has: {reads}.")


def _fix(value, param: Param, want: np.dtype) -> str:
    """Name the typed scalar to pass, or say that the value does not fit the parameter."""
    wanted = f"np.{want.name}"
    try:
        fits = want.type(value) == value
    except (OverflowError, ValueError):
        fits = False
    if fits:
        return f"Pass {wanted}({value!r})."
    if isinstance(value, float) and want.kind in "iub":
        return f"Pass an integer as {wanted}(...)."
    return (f"{value!r} does not fit in {param.ctype} ({wanted}): the kernel needs a wider "
            f"parameter (long long, passed as np.int64).")


_C_NAMES = {"int64": "long long", "uint64": "unsigned long long", "float64": "double",
            "bool": "bool"}


def cupy_scalar_dtype(value) -> np.dtype | None:
    """The type CuPy stores a scalar launch argument as (``numpy_dtype_from_pyscalar``
    in ``cupy/_core/_scalar.pyx``): a Python int as int64 (uint64 from 2**63 up), a
    float as float64, a bool as bool, a NumPy scalar as its own dtype; None otherwise."""
    if isinstance(value, np.generic):
        return value.dtype
    if type(value) is bool:
        return np.dtype(np.bool_)
    if type(value) is int:
        return np.dtype(np.uint64 if value >= 2**63 else np.int64)
    if type(value) is float:
        return np.dtype(np.float64)
    return None


def _what_the_kernel_reads(value, sent: np.dtype, want: np.dtype) -> str:
    """What a kernel parameter of type ``want`` reads when CuPy stored ``value`` as
    ``sent`` (little-endian host): its first bytes, or more bytes than were stored."""
    if want.itemsize > sent.itemsize:
        return (f"{want.itemsize - sent.itemsize} of them from past the end of the "
                f"{sent.itemsize}-byte value, whatever CuPy's scalar buffer holds there")
    try:
        stored = np.array(value, dtype=sent).tobytes()
    except (OverflowError, ValueError):
        return "bytes of a value that does not fit"
    read = np.frombuffer(stored[:want.itemsize], dtype=want)[0].item()
    value = value.item() if isinstance(value, np.generic) else value
    same = read == value and (want.kind == sent.kind or want.kind in "iu" and sent.kind in "iu")
    if same:
        return (f"the low {want.itemsize} of {sent.itemsize} bytes, which is {value!r} only "
                f"because it fits in {want.itemsize} bytes on a little-endian host")
    return f"the kernel would read {read!r}, not {value!r}"


def check_launch(grid, block, shared_mem: int = 0, max_shared: int = DEFAULT_SHARED_BYTES,
                 max_threads: int = MAX_THREADS_PER_BLOCK) -> tuple[tuple, tuple]:
    """Normalise ``grid``/``block`` to 3-tuples, or raise :class:`LaunchShapeError`."""
    shapes = []
    for what, dims in (("grid", grid), ("block", block)):
        dims = tuple(dims) if isinstance(dims, tuple | list) else (dims,)
        if not 1 <= len(dims) <= 3 or not all(isinstance(d, int | np.integer) for d in dims):
            hint = (" A float? Divide with // (n // 256), not / (n / 256)."
                    if any(isinstance(d, float) for d in dims) else "")
            raise LaunchShapeError(f"{what} must be an int or a tuple of 1 to 3 ints, "
                                   f"not {dims!r}.{hint}")
        if any(d < 1 for d in dims):
            raise LaunchShapeError(
                f"{what} {dims} has a dimension below 1: nothing would run. "
                + ("Is n zero? Compute blocks as (n + threads - 1) // threads."
                   if what == "grid" else ""))
        shapes.append(tuple(int(d) for d in dims) + (1,) * (3 - len(dims)))
    threads = shapes[1][0] * shapes[1][1] * shapes[1][2]
    if threads > max_threads:
        raise LaunchShapeError(
            f"block {block} is {threads} threads; a block may have at most {max_threads}. "
            f"Use more blocks instead: grid = (n + {max_threads} - 1) // {max_threads}.")
    if shared_mem > max_shared:
        raise LaunchShapeError(
            f"the launch asks for {shared_mem} bytes of shared memory per block; this GPU "
            f"allows at most {max_shared} ({max_shared // 4} int32 keys).")
    return shapes[0], shapes[1]


# --------------------------------------------------------------------------- the GPU side


class Kernel:
    """One ``__global__`` function of a loaded module, launched with checked arguments.

    The checks run once per distinct launch shape and argument types, then are
    remembered: a sort that launches the same kernel 16,384 times pays for them once,
    so the launch cost notebook 03 measures is CuPy's, not this wrapper's.
    """

    def __init__(self, raw, name: str, params: list[Param] | None):
        self.raw, self.name, self.params = raw, name, params
        self._checked: dict = {}

    def __call__(self, grid, block, *args, shared_mem: int = 0):
        shape = self.checked_shape(grid, block, args, shared_mem)
        self.raw(shape[0], shape[1], args, shared_mem=shared_mem)

    def checked_shape(self, grid, block, args: tuple, shared_mem: int = 0) -> tuple:
        """``(grid, block)`` as 3-tuples once this launch is checked (remembered per
        shape and argument types): what :func:`py2ptx.gpusorts.run_launches` keeps so
        a schedule's launches go straight to ``raw``."""
        try:
            key = (grid, block, shared_mem,
                   tuple((type(a), getattr(a, "dtype", None)) for a in args))
            shape = self._checked.get(key)
        except TypeError:  # an unhashable grid or block (a list): check every time
            key, shape = None, None
        if shape is None:
            shape = self._check(grid, block, args, shared_mem)
            if key is not None:
                self._checked[key] = shape
        return shape

    def _check(self, grid, block, args, shared_mem):
        limit = max_shared_bytes() if shared_mem > DEFAULT_SHARED_BYTES else DEFAULT_SHARED_BYTES
        shape = check_launch(grid, block, shared_mem, max_shared=limit)
        if self.params is not None:
            check_args(self.name, self.params, args)
        if shared_mem > DEFAULT_SHARED_BYTES:
            # Above 48 KB a kernel must opt in, once, before it is launched with more.
            if self.raw.max_dynamic_shared_size_bytes < shared_mem:
                self.raw.max_dynamic_shared_size_bytes = shared_mem
        return shape


@per_machine
def _prepared_schedules() -> dict:
    # (name, id(launches)) -> (launches, array type, dtype, [(raw kernel, grid, block,
    # scalars, shared)]): a cached schedule's launches, checked once, on this machine.
    return {}


def run_schedule(kernel_for, name: str, launches, d) -> None:
    """Launch each of ``launches`` (``Launch``-like: kernel, grid, block, scalars,
    shared_mem) on the GPU array ``d``, ``kernel_for(kernel name)`` giving the
    :class:`Kernel`. Every launch is checked the first time a schedule runs on an array
    of this type; a schedule that is the same tuple next time (the cached ``*_launches``
    of :mod:`py2ptx.gpusorts`) then goes straight to the raw kernels, so the host time
    per launch is CuPy's, not this loop's.
    """
    cache = _prepared_schedules()
    entry = cache.get((name, id(launches)))
    if entry is None or entry[0] is not launches or entry[1:3] != (type(d), d.dtype):
        kernels = {k: kernel_for(k) for k in {launch.kernel for launch in launches}}
        steps = []
        for launch in launches:
            kernel = kernels[launch.kernel]
            grid, block = kernel.checked_shape(launch.grid, launch.block,
                                               (d, *launch.scalars), launch.shared_mem)
            steps.append((kernel.raw, grid, block, launch.scalars, launch.shared_mem))
        entry = (launches, type(d), d.dtype, steps)
        if isinstance(launches, tuple):  # only immutable schedules are remembered
            if len(cache) >= 256:  # schedules made afresh per call must not pile up
                cache.clear()
            cache[(name, id(launches))] = entry
    for raw, grid, block, scalars, shared in entry[3]:
        raw(grid, block, (d, *scalars), shared_mem=shared)


class Module:
    """A compiled CUDA C or PTX module on the GPU; ``module.kernel(name)`` to launch."""

    def __init__(self, raw, source_text: str | None, display_name: str):
        self.raw, self.source_text, self.name = raw, source_text, display_name

    def kernel(self, name: str) -> Kernel:
        import cupy  # optional and heavy: only machines with a GPU have it

        params = None
        if self.source_text is not None:
            params = kernel_params(self.source_text, name)
            if 'extern "C"' not in self.source_text:
                raise KeyError(f"{name} in {self.name} is not declared extern \"C\", so its "
                               f"compiled name is C++-mangled and cannot be looked up by "
                               f"{name!r}. Write: extern \"C\" __global__ void {name}(...)")
        try:
            raw = self.raw.get_function(name)
        except cupy.cuda.driver.CUDADriverError as err:
            raise KeyError(f"no kernel {name!r} in {self.name} ({err})") from None
        return Kernel(raw, name, params)


def load_module(source, defines: dict | None = None, options=()) -> Module:
    """Compile CUDA C (a ``.cu`` path or file name under kernels/cuda, or text) on the GPU.

    ``defines`` become ``#define`` lines before the source (tunables such as a
    tile size). Compile errors raise :class:`~py2ptx.cudatools.CudaCompileError`
    with NVRTC's log, lines numbered as in the student's source.
    """
    cp = require_gpu("load_module")
    text, name = read_source(source, ".cu")
    opts = tuple(options)
    if defines:
        # -D keeps the student's line numbers, which a prepended #define would shift.
        opts += tuple(f"-D{k}={v}" for k, v in defines.items())
    try:
        raw = cp.RawModule(code=text, options=("-std=c++17", *opts))
        raw.compile()
    except cp.cuda.compiler.CompileException as err:
        log = str(err.get_message() if hasattr(err, "get_message") else err)
        raise CudaCompileError(f"NVRTC could not compile {name}:\n{log}", log) from None
    return Module(raw, text, name)


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split("."))


def load_ptx(path: str | os.PathLike) -> Module:
    """Load a hand-written ``.ptx`` file: the driver JIT-compiles it for this GPU.

    A ``.version`` newer than the driver knows fails with
    ``CUDA_ERROR_UNSUPPORTED_PTX_VERSION``; the message says which versions apply.
    """
    cp = require_gpu("load_ptx")
    path = Path(path)
    if not path.exists() and (KERNELS / "cuda" / path).exists():
        path = KERNELS / "cuda" / path
    text = path.read_text()
    try:
        raw = cp.RawModule(path=str(path))
        raw.get_function(re.search(r"\.entry\s+(\w+)", text).group(1))  # loads the module
    except cp.cuda.driver.CUDADriverError as err:
        driver = gpu_info().get("driver_cuda")
        top = highest_ptx_isa(driver) if driver else None
        version = ptx_version(text)
        newer = top is not None and _version_tuple(version) > _version_tuple(top)
        if "UNSUPPORTED_PTX_VERSION" in str(err) or newer:
            raise CudaCompileError(
                f"{path.name} says .version {version}, but this driver (CUDA "
                f"{'.'.join(map(str, driver or ('?',)))}) accepts PTX up to .version "
                f"{top or '?'}: CUDA_ERROR_UNSUPPORTED_PTX_VERSION. Lower the .version "
                f"line (and use only instructions that version has), or update the "
                f"driver. (The driver said: {err})") from None
        raise
    return Module(raw, None, path.name)


# --------------------------------------------------------------------------- numba.cuda


def numba_cuda():
    """``numba.cuda``: the real one on a machine with an NVIDIA GPU, else the simulator.

    The simulator runs every CUDA thread as a Python thread: kernels give the same
    results, thousands of times slower, so the course runs it at small n only and
    never shows its times as GPU speed.
    """
    if not has_nvidia_driver():
        os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
        from numba.core import config

        if not config.ENABLE_CUDASIM and os.environ["NUMBA_ENABLE_CUDASIM"] == "1":
            config.reload_config()
    from numba import cuda

    return cuda


def numba_simulated() -> bool:
    """True when numba.cuda kernels run in the simulator (no GPU here)."""
    numba_cuda()
    from numba.core import config

    return bool(config.ENABLE_CUDASIM)
