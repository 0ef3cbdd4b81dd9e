"""Lab 03's self-checks: one odd-even phase in numba.cuda, and the whole sort in one block's
shared memory in CUDA C -- on the simulator and CPU threads here, and on a GPU where there is one."""

from __future__ import annotations

import ast
import inspect
import json
import linecache
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from functools import partial
from types import SimpleNamespace

import numpy as np

from ..checks import WrongResult, check_sorted, standard_cases
from ..cuda_on_cpu import run_on_cpu
from ..gpu import numba_cuda, numba_simulated
from ..gpusorts import odd_even_shared_launch
from .core import (
    Exercise,
    ExerciseFailed,
    compile_for_both,
    gpu_kernel,
    gpu_name,
    require_exported,
    require_params,
    source_text,
    where_run,
)

#: Compiles the student's kernel to PTX for sm_90 with the real numba.cuda compiler, in a
#: child process: this process may hold the simulator, which has no compiler.
_COMPILE_PTX = """
import json, sys
spec = json.load(sys.stdin)
from numba import cuda, types
import math, numpy as np
namespace = {"cuda": cuda, "np": np, "numpy": np, "math": math, **spec["globals"]}
exec(compile(spec["source"], spec["file"], "exec"), namespace)
try:
    cuda.compile_ptx(namespace[spec["name"]], (types.int32[::1], types.int64), cc=(9, 0))
except Exception as err:
    line = getattr(getattr(err, "loc", None), "line", None)
    print(json.dumps({"kind": type(err).__name__, "message": str(err), "line": line}))
else:
    print(json.dumps({"kind": None}))
"""


def numba_ptx_problem(kernel) -> tuple[str | None, str]:
    """Compile a ``@cuda.jit`` kernel ``(int32[::1] a, int64 phase)`` to PTX for sm_90, as a
    GPU would before its first launch: ``(what is wrong or None, what was done)``.

    The simulator runs what a GPU refuses (a kernel that returns a value, a Python list
    inside it), so this is the check that keeps a ✓ honest where there is no GPU.
    """
    func = getattr(kernel, "py_func", None)
    try:
        lines, first = inspect.getsourcelines(func)
    except (OSError, TypeError):
        return None, "not compiled to PTX (its source could not be read)"
    code = func.__code__
    body = [("\n" if ln.lstrip().startswith("@") else ln) for ln in lines]  # no decorators
    source = "\n" * (first - 1) + textwrap.dedent("".join(body))
    simple = {k: v for k, v in func.__globals__.items()
              if k in code.co_names and isinstance(v, int | float | bool)}
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "0"}
    try:
        run = subprocess.run([sys.executable, "-c", _COMPILE_PTX], input=json.dumps(
            {"source": source, "file": code.co_filename, "name": func.__name__,
             "globals": simple}), capture_output=True, text=True, timeout=60, env=env)
        verdict = json.loads(run.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, ValueError, IndexError):
        return None, "not compiled to PTX here (numba's compiler did not answer)"
    kind, message = verdict["kind"], verdict.get("message", "")
    if kind is None:
        return None, "compiled to PTX for sm_90 by numba"
    if "CudaSupportError" in kind or "driver" in message.lower():
        return None, ("not compiled to PTX here: numba wanted a CUDA driver to compile it "
                      "(it does for code that allocates memory, e.g. sorted() or np.zeros(), "
                      "which a GPU kernel cannot do either)")

    missing = re.search(r"NameError: name '(\w+)' is not defined", message)
    if missing and missing.group(1) in func.__globals__:
        return None, (f"not compiled to PTX here: it uses {missing.group(1)}, defined in "
                      f"another cell, which this check does not carry over")

    def quote(number: int) -> str:
        return f"line {number}: `{linecache.getline(code.co_filename, number).strip()}`"

    if "void return type" in message:
        returns = [node.lineno for node in ast.walk(ast.parse(source))
                   if isinstance(node, ast.Return) and node.value is not None]
        where = f" ({quote(returns[0])})" if returns else ""
        return (f"numba, compiling your kernel for sm_90 as it would for a GPU, refused it: a kernel "
                f"cannot return a value{where}. A launch has nowhere to put it: write results "
                f"into the array and end the kernel without `return <value>`."), ""
    at = re.search(r"\((\d+)\)\s*$", message.split("During: Pass")[0].strip()) or re.search(
        r'File "[^"]*", line (\d+)', message)
    number = verdict.get("line") or (int(at.group(1)) if at else None)
    where = f" ({quote(number)})" if number else ""
    if "NRT required" in message:
        return (f"numba, compiling your kernel for sm_90 as it would for a GPU, refused it{where}: a "
                f"Python list (or anything else that allocates memory) cannot be built inside "
                f"a CUDA kernel. Use plain variables: `x, y = a[i], a[i + 1]`."), ""
    said = [ln.strip() for ln in message.splitlines() if ln.strip()
            and not ln.startswith(("Failed in cuda mode", "File", "During", "<source"))]
    said = " ".join(said[:2]).replace(" found for signature: >>> ", " for the types ")
    said = re.sub(r"Function\(<built-in function (\w+)>\)", r"`\1`", said)
    return (f"numba, compiling your kernel for sm_90 as it would for a GPU, refused it{where}: "
            f"{said}"), ""


def _check_numba_kernel(kernel, descending: bool = False) -> str:
    """The student's numba.cuda kernel ``step(a, phase)``, launched n times per sort."""
    cuda = numba_cuda()
    if not hasattr(kernel, "__getitem__"):
        raise ExerciseFailed("odd_even_step must be a @cuda.jit kernel (decorate it with "
                             "@cuda.jit), so that it can be launched as kernel[blocks, threads]")
    # The simulator raises the stub's NotImplementedError; a GPU kernel cannot raise, so
    # read the stub from the kernel's code instead of launching it.
    if "NotImplementedError" in getattr(getattr(kernel, "py_func", None), "__code__",
                                         compile("", "", "exec")).co_names:
        raise NotImplementedError()
    problem, compiled = numba_ptx_problem(kernel)
    if problem:
        raise ExerciseFailed(problem)
    cases = standard_cases(24)
    cases["random, n = 70 (not a multiple of the block)"] = np.random.default_rng(3).integers(
        -99, 99, 70, dtype=np.int32)
    threads = 16

    def run(keys: np.ndarray) -> np.ndarray:
        d = cuda.to_device(keys.copy())
        blocks = max(1, (keys.size // 2 + threads - 1) // threads)
        try:
            for phase in range(keys.size):
                kernel[blocks, threads](d, phase & 1)
        except IndexError as err:  # the simulator checks every index; a GPU would not
            raise WrongResult(
                f"your kernel indexed past the end of the array (n={keys.size}, {blocks} "
                f"blocks x {threads} threads: {blocks * threads} threads for "
                f"{keys.size // 2} pairs). Threads without a pair must do nothing: "
                f"`if i + 1 < a.shape[0]`. ({err})") from None
        return d.copy_to_host()

    for name, keys in cases.items():
        _check_with_size_hint(run, name, keys, threads, descending=descending,
                              what=f"n launches of your kernel (blocks of {threads} threads)")
    if numba_simulated():
        ran = (f"sorts every input in Numba's CUDA simulator (Python threads, n up to 70, "
               f"blocks of {threads}); not run on a GPU: there is none here")
    else:
        ran = f"sorts every input on the GPU (n up to 70, blocks of {threads})"
    return f"{compiled}; {ran}"


def _check_with_size_hint(run: Callable[[np.ndarray], np.ndarray], name: str,
                          keys: np.ndarray, threads: int, what: str,
                          descending: bool = False) -> None:
    """check_sorted, and if it fails, say whether sizes that fill whole blocks pass.

    The classic GPU bug -- the last, partly filled block handled wrong -- gives right
    answers exactly when n fills whole blocks; saying so points at the bug directly.
    """
    try:
        check_sorted(name, keys, run(keys), what=what, descending=descending)
    except WrongResult as err:
        whole = [2 * threads * m for m in (1, 2, 3)]
        try:
            for n in whole:
                sample = np.random.default_rng(n).integers(-999, 999, n, dtype=np.int32)
                check_sorted(f"random, n = {n}", sample, run(sample), what=what,
                             descending=descending)
        except WrongResult:
            raise err from None
        if keys.size in whole:
            raise
        raise WrongResult(
            f"{err}\nIt sorts correctly for n = {', '.join(map(str, whole))} (whole blocks: "
            f"2 keys per thread x {threads} threads) but not for n = {keys.size}. Look at "
            f"the last, partly filled block: a loop bound like n / blockDim.x (integer "
            f"division drops the remainder), or a missing `if (i + 1 < n)`.") from None


def _check_shared_source(source_fn: Callable[[], str], descending: bool = False) -> str:
    """CUDA C ``odd_even_shared(int *a, int n)``: compiled for sm_90 and sm_75, then run
    on CPU threads at small n (and on the GPU, where there is one)."""
    source = source_text(source_fn)
    require_params(source, "odd_even_shared", ["int *a", "int n"],
                   '`extern "C" __global__ void odd_even_shared(int *a, int n)`')
    compiled = compile_for_both(source)
    require_exported(source, "odd_even_shared")
    cases = standard_cases(40)
    for threads in (32, 8):  # 8 threads own several pairs each: the loop over p matters

        def run(keys: np.ndarray, threads=threads) -> np.ndarray:
            out = keys.copy()
            if out.size >= 2:
                launch = odd_even_shared_launch(out.size, threads)
                run_on_cpu(source, "odd_even_shared", 1, min(threads, launch.block), out,
                           np.int32(out.size), shared_mem=launch.shared_mem)
            return out

        for name, keys in cases.items():
            _check_with_size_hint(run, name, keys, threads, descending=descending,
                                  what=f"your kernel on CPU threads (1 block of {threads} "
                                       f"threads)")
    ran = (f"sorted every input on CPU threads (n up to {max(k.size for k in cases.values())}, "
           f"1 block of 32 and of 8 threads)")
    gpu = None
    loaded = gpu_kernel(source, "odd_even_shared")
    if loaded is not None:
        cp, kernel = loaded
        keys = np.random.default_rng(4).integers(-10**6, 10**6, 5000, dtype=np.int32)
        d = cp.asarray(keys)
        kernel(1, 1024, d, np.int32(keys.size), shared_mem=4 * keys.size)
        check_sorted("random, n = 5000", keys, cp.asnumpy(d), what="your kernel on the GPU",
                     descending=descending)
        gpu = f"sorted n = 5000 on the GPU ({gpu_name()})"
    return f"{compiled}, exported as odd_even_shared; {where_run(ran, gpu)}"



lab03 = SimpleNamespace(
    numba_kernel=Exercise("Lab 03", "odd-even step in numba.cuda",
                          "write the @cuda.jit kernel odd_even_step(a, phase)",
                          _check_numba_kernel),
    shared_source=Exercise("Lab 03", "odd-even sort in shared memory, CUDA C",
                           "shared_source() returns CUDA C defining extern \"C\" __global__ "
                           "void odd_even_shared(int *a, int n)", _check_shared_source),
    # The graded variants (docs/instructors.md): py2ptx/kernels/cuda answers both above.
    numba_kernel_descending=Exercise(
        "Lab 03", "odd-even step in numba.cuda, descending",
        "write the @cuda.jit kernel odd_even_step(a, phase) of a sort that puts the largest "
        "key first", partial(_check_numba_kernel, descending=True)),
    shared_source_descending=Exercise(
        "Lab 03", "odd-even sort in shared memory, CUDA C, descending",
        "shared_source() returns CUDA C defining extern \"C\" __global__ void "
        "odd_even_shared(int *a, int n) that sorts largest first",
        partial(_check_shared_source, descending=True)),
)
