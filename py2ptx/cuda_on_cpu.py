"""CUDA C on CPU threads: run a kernel file's logic without a GPU, at small n.

Taught in notebook 03 and used by lab 03's self-check. Numba has a CUDA simulator
for Python kernels; this is the same idea for CUDA C. The kernel source is compiled
by the system C compiler with a small prelude that gives it ``threadIdx``,
``blockIdx``, ``blockDim``, ``gridDim``, ``__syncthreads()``, shared memory (static and
``extern __shared__``, sized at launch) and warp-level CUDA (``__shfl_sync``,
``__shfl_up/down/xor_sync`` with a width, ``__ballot_sync``, ``__any/all_sync``,
``__activemask``, ``__syncwarp``); each block then runs as one POSIX thread per CUDA
thread, blocks one after another, a warp being 32 consecutive threads of the block
that meet at a warp barrier for each shuffle or vote.

What it is for: checking that a kernel's indexing, bounds and barriers give the
right answer -- a missing ``__syncthreads()`` or an off-by-one shows up here as a
wrong result, a hang or a crash, on a laptop. What it is not: a GPU. Its times
mean nothing and are never shown; inline PTX (``asm``) cannot run here (compile it
to a cubin with :func:`py2ptx.cudatools.cubin_for` to check it); kernels are read
as C, so C++-only features (references, templates) are refused with a message.

The kernel runs in a forked child process (:mod:`py2ptx.sandbox`): a hang is
stopped after ``timeout`` seconds and a crash (an out-of-bounds pointer) is
reported, without taking down the notebook's kernel. A sort made of many launches
(one per phase) runs them all in one child (:func:`run_schedule_on_cpu`). Dynamic shared memory starts filled with garbage, as on a
GPU, so reading a key before writing it gives a wrong answer instead of a lucky 0.
"""

from __future__ import annotations

import ctypes
import re
import warnings

import numpy as np

from .cbuild import CCompileError, build_c
from .cpu_trace import (ATOMIC, CAPACITY, ERR_BARRIER, ERR_BOUNDS, EVENT, HEADER, HEADER_BYTES,
                        KIND_ARG, KIND_DYNAMIC_SHARED, KIND_STATIC_SHARED, TRACE_HOOKS, WRITE,
                        DataRace, DivergentBarrier, EmulationError, OutOfBounds, Region, Trace,
                        attach_scratch, c_size, check_flags, checks_available, find_race,
                        lines_of, static_shared_symbols, static_shared_types, who)
from .gpu import Param, check_args, check_launch, kernel_params
from .kernels import asm_lines, read_source, strip_comments
from .sandbox import run_in_child

__all__ = ["DataRace", "DivergentBarrier", "EmulationError", "OutOfBounds", "run_on_cpu",
           "run_schedule_on_cpu", "trace_on_cpu"]

PRELUDE = r"""
/* py2ptx CUDA-on-CPU prelude: just enough of CUDA C for a kernel's logic to run. */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct { unsigned x, y, z; } dim3;
static _Thread_local dim3 threadIdx, blockIdx;
static dim3 blockDim, gridDim;
static void *py2ptx_shared;
#define warpSize 32
#define __global__
#define __device__ static
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __restrict__ restrict
#define __launch_bounds__(...)
static inline int min(int a, int b) { return a < b ? a : b; }
static inline int max(int a, int b) { return a > b ? a : b; }
static inline unsigned umin(unsigned a, unsigned b) { return a < b ? a : b; }
static inline unsigned umax(unsigned a, unsigned b) { return a > b ? a : b; }
static inline int atomicAdd(int *p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
static inline void __threadfence(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

#define PY2PTX_NOSAN __attribute__((no_sanitize_thread))
#ifndef PY2PTX_CHECKS
#define PY2PTX_CHECKS 0
#define PY2PTX_SHARED static
#else  /* each static __shared__ variable in one section, 4 KiB apart: red zones between */
#define PY2PTX_SHARED static __attribute__((section("py2ptx_smem"), aligned(4096)))
#endif
/* popcount without libgcc (a checked build links without the default libraries) */
static inline int py2ptx_popc(unsigned long long x)
{ int n = 0; while (x) { x &= x - 1; ++n; } return n; }
/* the thread's number in its block, and the barriers (block; warp) it has passed */
static _Thread_local unsigned py2ptx_linear, py2ptx_epoch, py2ptx_wepoch;
#if PY2PTX_CHECKS
static unsigned py2ptx_barrier_count(void *pc);
static void py2ptx_divergent(void *pc0, unsigned n0, unsigned t0, void *pc1, unsigned n1);
#endif

/* A barrier for the threads of one block that also lets a thread leave (return)
 * early, as CUDA threads that finish before the others do. */
static struct { pthread_mutex_t m; pthread_cond_t c; int live, arrived; unsigned long gen;
                void *pc; unsigned count, thread; } py2ptx_bar;
PY2PTX_NOSAN __attribute__((noinline)) static void __syncthreads(void)
{
#if PY2PTX_CHECKS  /* every thread must meet the others at the same barrier, as often */
    void *pc = __builtin_return_address(0);
    unsigned count = py2ptx_barrier_count(pc);
#endif
    pthread_mutex_lock(&py2ptx_bar.m);
    unsigned long gen = py2ptx_bar.gen;
#if PY2PTX_CHECKS
    if (py2ptx_bar.arrived == 0) {
        py2ptx_bar.pc = pc; py2ptx_bar.count = count; py2ptx_bar.thread = py2ptx_linear;
    } else if (pc != py2ptx_bar.pc || count != py2ptx_bar.count) {
        py2ptx_divergent(py2ptx_bar.pc, py2ptx_bar.count, py2ptx_bar.thread, pc, count);
    }
#endif
    if (++py2ptx_bar.arrived == py2ptx_bar.live) {
        py2ptx_bar.arrived = 0; py2ptx_bar.gen++;
        pthread_cond_broadcast(&py2ptx_bar.c);
    } else {
        while (gen == py2ptx_bar.gen) pthread_cond_wait(&py2ptx_bar.c, &py2ptx_bar.m);
    }
    pthread_mutex_unlock(&py2ptx_bar.m);
    py2ptx_epoch++; py2ptx_wepoch++;
}

/* A warp: 32 consecutive threads of the block (by linear thread index). Shuffles,
 * votes and __syncwarp meet at the warp's own barrier, among the lanes named in the
 * mask that are still running; each lane posts its value in a slot, all wait, each
 * reads its source lane's slot, all wait again (so no slot is overwritten early). */
struct py2ptx_warp {
    pthread_mutex_t m; pthread_cond_t c;
    unsigned live, mask, arrived, expected; unsigned long gen; uint64_t slot[32];
};
static struct py2ptx_warp *py2ptx_warps;
static _Thread_local struct py2ptx_warp *py2ptx_my_warp;
static _Thread_local unsigned py2ptx_lane;
PY2PTX_NOSAN static void py2ptx_warp_release(struct py2ptx_warp *w)
{
    w->arrived = 0; w->gen++;
    pthread_cond_broadcast(&w->c);
}
PY2PTX_NOSAN static void py2ptx_warp_wait(struct py2ptx_warp *w, unsigned mask)
{   /* called with w->m held */
    unsigned long gen = w->gen;
    w->mask = mask;
    w->expected = (unsigned)py2ptx_popc(mask & w->live);
    if (++w->arrived >= w->expected) py2ptx_warp_release(w);
    else while (gen == w->gen) pthread_cond_wait(&w->c, &w->m);
}
enum { PY2PTX_IDX, PY2PTX_UP, PY2PTX_DOWN, PY2PTX_XOR, PY2PTX_BALLOT };
PY2PTX_NOSAN static uint64_t py2ptx_shfl_core(unsigned mask, uint64_t v, int mode, int arg, int width)
{
    struct py2ptx_warp *w = py2ptx_my_warp;
    unsigned lane = py2ptx_lane, seg, src = lane;
    if (width <= 0 || width > 32) width = 32;
    seg = lane - lane % (unsigned)width;
    if (mode == PY2PTX_IDX) src = seg + (unsigned)arg % (unsigned)width;
    else if (mode == PY2PTX_UP) src = (lane - seg) < (unsigned)arg ? lane : lane - arg;
    else if (mode == PY2PTX_DOWN) src = (lane - seg) + arg >= (unsigned)width ? lane : lane + arg;
    else if (mode == PY2PTX_XOR) { src = (lane ^ (unsigned)arg) & 31u; if (src >= seg + width) src = lane; }
    pthread_mutex_lock(&w->m);
    w->slot[lane] = v;
    py2ptx_warp_wait(w, mask);
    uint64_t r = 0;
    if (mode == PY2PTX_BALLOT) {
        for (unsigned l = 0; l < 32; ++l)
            if ((mask & w->live & (1u << l)) && w->slot[l]) r |= 1u << l;
    } else {
        r = w->slot[src];
    }
    py2ptx_warp_wait(w, mask);
    pthread_mutex_unlock(&w->m);
    py2ptx_wepoch++;
    return r;
}
#define PY2PTX_SHFL_T(T, S) \
    PY2PTX_NOSAN static T py2ptx_shfl_##S(unsigned m, T v, int mode, int arg, int width) \
    { uint64_t b = 0; memcpy(&b, &v, sizeof v); b = py2ptx_shfl_core(m, b, mode, arg, width); \
      T r; memcpy(&r, &b, sizeof r); return r; }
PY2PTX_SHFL_T(int, i) PY2PTX_SHFL_T(unsigned, u) PY2PTX_SHFL_T(float, f)
PY2PTX_SHFL_T(long, l) PY2PTX_SHFL_T(unsigned long, ul) PY2PTX_SHFL_T(long long, ll)
PY2PTX_SHFL_T(unsigned long long, ull) PY2PTX_SHFL_T(double, d)
#define py2ptx_shfl(m, v, mode, ...) _Generic((v), int: py2ptx_shfl_i, unsigned: py2ptx_shfl_u, \
    float: py2ptx_shfl_f, long: py2ptx_shfl_l, unsigned long: py2ptx_shfl_ul, \
    long long: py2ptx_shfl_ll, unsigned long long: py2ptx_shfl_ull, double: py2ptx_shfl_d, \
    default: py2ptx_shfl_i)(m, v, mode, __VA_ARGS__)
#define PY2PTX_LW(a, w, ...) a, w
#define __shfl_sync(m, v, ...) py2ptx_shfl(m, v, PY2PTX_IDX, PY2PTX_LW(__VA_ARGS__, 32, 0))
#define __shfl_up_sync(m, v, ...) py2ptx_shfl(m, v, PY2PTX_UP, PY2PTX_LW(__VA_ARGS__, 32, 0))
#define __shfl_down_sync(m, v, ...) py2ptx_shfl(m, v, PY2PTX_DOWN, PY2PTX_LW(__VA_ARGS__, 32, 0))
#define __shfl_xor_sync(m, v, ...) py2ptx_shfl(m, v, PY2PTX_XOR, PY2PTX_LW(__VA_ARGS__, 32, 0))
PY2PTX_NOSAN static unsigned __ballot_sync(unsigned mask, int pred)
{ return (unsigned)py2ptx_shfl_core(mask, pred != 0, PY2PTX_BALLOT, 0, 32); }
static inline int __any_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) != 0; }
static inline int __all_sync(unsigned mask, int pred)
{ return __ballot_sync(mask, pred) == (mask & py2ptx_my_warp->live); }
PY2PTX_NOSAN static void __syncwarp_mask(unsigned mask) { (void)py2ptx_shfl_core(mask, 0, PY2PTX_IDX, 0, 32); }
#define PY2PTX_MASK_(z, a, ...) a
#define __syncwarp(...) __syncwarp_mask(PY2PTX_MASK_(, ##__VA_ARGS__, 0xffffffffu))
/* The lanes that reach it together. The CPU's lanes are threads, never in lockstep, so
 * it is a vote of every running lane (a meeting point): in converged code, what a GPU
 * returns; lanes of a divergent branch that never arrive would make it wait. */
PY2PTX_NOSAN static unsigned __activemask(void) { return __ballot_sync(0xffffffffu, 1); }
static inline int __popc(unsigned x) { return py2ptx_popc(x); }
static inline int __popcll(unsigned long long x) { return py2ptx_popc(x); }
static inline int __clz(int x) { return x ? __builtin_clz((unsigned)x) : 32; }
static inline int __ffs(int x) { return __builtin_ffs(x); }
static inline unsigned __brev(unsigned x)
{ x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1); x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4); x = ((x >> 8) & 0x00ff00ffu) | ((x & 0x00ff00ffu) << 8);
  return (x >> 16) | (x << 16); }

PY2PTX_NOSAN static void py2ptx_leave(void)
{
    struct py2ptx_warp *w = py2ptx_my_warp;
    pthread_mutex_lock(&w->m);
    w->live &= ~(1u << py2ptx_lane);
    if (w->arrived > 0 && (w->mask & (1u << py2ptx_lane))) {  /* lanes wait for this one */
        w->expected = (unsigned)py2ptx_popc(w->mask & w->live);
        if (w->arrived >= w->expected) py2ptx_warp_release(w);
    }
    pthread_mutex_unlock(&w->m);
    pthread_mutex_lock(&py2ptx_bar.m);
    py2ptx_bar.live--;
    if (py2ptx_bar.arrived > 0 && py2ptx_bar.arrived == py2ptx_bar.live) {
        py2ptx_bar.arrived = 0; py2ptx_bar.gen++;
        pthread_cond_broadcast(&py2ptx_bar.c);
    }
    pthread_mutex_unlock(&py2ptx_bar.m);
}
"""

RUNNER = r"""
/* One pool of threads per block shape, reused by every block and every launch of that
 * many threads: creating and joining 1024 POSIX threads per block costs more than
 * most blocks' work. The main thread posts a block (a job), the workers run it and
 * report back; a launch with another thread count replaces the pool. */
typedef void (*py2ptx_body)(void **);
static struct {
    pthread_mutex_t m; pthread_cond_t go, done;
    unsigned size, finished; unsigned long job; int quit;
    pthread_t *ids; unsigned *linear;
    py2ptx_body body; void **args; dim3 bid;
} py2ptx_pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER};
PY2PTX_NOSAN static void *py2ptx_worker(void *p)
{
    unsigned linear = *(unsigned *)p;
    unsigned long seen = 0;
    pthread_mutex_lock(&py2ptx_pool.m);
    for (;;) {
        while (py2ptx_pool.job == seen && !py2ptx_pool.quit)
            pthread_cond_wait(&py2ptx_pool.go, &py2ptx_pool.m);
        if (py2ptx_pool.quit) break;
        seen = py2ptx_pool.job;
        py2ptx_body body = py2ptx_pool.body; void **args = py2ptx_pool.args;
        blockIdx = py2ptx_pool.bid;
        pthread_mutex_unlock(&py2ptx_pool.m);
        threadIdx.x = linear % blockDim.x;
        threadIdx.y = linear / blockDim.x % blockDim.y;
        threadIdx.z = linear / blockDim.x / blockDim.y;
        py2ptx_my_warp = &py2ptx_warps[linear / 32]; py2ptx_lane = linear % 32;
        py2ptx_thread_start(linear);
        body(args);
        py2ptx_leave();
        pthread_mutex_lock(&py2ptx_pool.m);
        if (++py2ptx_pool.finished == py2ptx_pool.size) pthread_cond_signal(&py2ptx_pool.done);
    }
    pthread_mutex_unlock(&py2ptx_pool.m);
    return NULL;
}
PY2PTX_NOSAN static void py2ptx_pool_stop(void)
{
    pthread_mutex_lock(&py2ptx_pool.m);
    py2ptx_pool.quit = 1;
    pthread_cond_broadcast(&py2ptx_pool.go);
    pthread_mutex_unlock(&py2ptx_pool.m);
    for (unsigned i = 0; i < py2ptx_pool.size; ++i) pthread_join(py2ptx_pool.ids[i], NULL);
    free(py2ptx_pool.ids); free(py2ptx_pool.linear); free(py2ptx_warps);
    py2ptx_pool.ids = NULL; py2ptx_pool.linear = NULL; py2ptx_warps = NULL;
    py2ptx_pool.size = 0; py2ptx_pool.quit = 0; py2ptx_pool.job = 0;
}
PY2PTX_NOSAN static int py2ptx_pool_start(unsigned threads)
{
    unsigned nwarps = (threads + 31) / 32;
    py2ptx_pool.ids = malloc(threads * sizeof *py2ptx_pool.ids);
    py2ptx_pool.linear = malloc(threads * sizeof *py2ptx_pool.linear);
    py2ptx_warps = calloc(nwarps, sizeof *py2ptx_warps);
    if (!py2ptx_pool.ids || !py2ptx_pool.linear || !py2ptx_warps) return 1;
    for (unsigned w = 0; w < nwarps; ++w) {
        pthread_mutex_init(&py2ptx_warps[w].m, NULL);
        pthread_cond_init(&py2ptx_warps[w].c, NULL);
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (unsigned i = 0; i < threads; ++i) {
        py2ptx_pool.linear[i] = i;
        if (pthread_create(&py2ptx_pool.ids[i], &attr, py2ptx_worker, &py2ptx_pool.linear[i])) {
            py2ptx_pool.size = i;
            py2ptx_pool_stop();
            return 2;
        }
        py2ptx_pool.size = i + 1;
    }
    return 0;
}
PY2PTX_NOSAN static int py2ptx_launch(dim3 grid, dim3 block, size_t shared, py2ptx_body body, void **args)
{
    unsigned threads = block.x * block.y * block.z, nwarps = (threads + 31) / 32;
    if (py2ptx_pool.size != threads) {
        if (py2ptx_pool.size) py2ptx_pool_stop();
        int code = py2ptx_pool_start(threads);
        if (code) return code;
    }
    py2ptx_shared = py2ptx_shared_alloc(shared);
    if (!py2ptx_shared) return 1;
    pthread_mutex_init(&py2ptx_bar.m, NULL);
    pthread_cond_init(&py2ptx_bar.c, NULL);
    gridDim = grid; blockDim = block;
    for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
    for (unsigned bx = 0; bx < grid.x; ++bx) {
        memset(py2ptx_shared, 0xA5, shared);  /* shared memory starts as garbage */
        py2ptx_bar.live = threads; py2ptx_bar.arrived = 0;
        for (unsigned w = 0; w < nwarps; ++w) {
            unsigned lanes = threads - 32 * w < 32 ? threads - 32 * w : 32;
            py2ptx_warps[w].live = lanes == 32 ? 0xffffffffu : (1u << lanes) - 1;
            py2ptx_warps[w].arrived = 0;
        }
        py2ptx_block_start(bx + grid.x * (by + grid.y * bz));
        pthread_mutex_lock(&py2ptx_pool.m);
        py2ptx_pool.body = body; py2ptx_pool.args = args;
        py2ptx_pool.bid = (dim3){bx, by, bz};
        py2ptx_pool.finished = 0; py2ptx_pool.job++;
        pthread_cond_broadcast(&py2ptx_pool.go);
        while (py2ptx_pool.finished < threads) pthread_cond_wait(&py2ptx_pool.done, &py2ptx_pool.m);
        pthread_mutex_unlock(&py2ptx_pool.m);
    }
    py2ptx_shared_free(py2ptx_shared);
    return 0;
}
"""

#: Hooks for the unchecked runner: nothing recorded (see :mod:`py2ptx.cpu_trace` for the checked one).
PLAIN_HOOKS = r"""
static void py2ptx_thread_start(unsigned linear) { py2ptx_linear = linear; }
static void py2ptx_block_start(unsigned block) { (void)block; }
static void *py2ptx_shared_alloc(size_t bytes) { return malloc(bytes ? bytes : 1); }
static void py2ptx_shared_free(void *p) { free(p); }
"""

_EXTERN_SHARED = re.compile(
    r"extern\s+__shared__\s+(?:__align__\(\d+\)\s*)?([\w ]+?)\s*(\w+)\s*\[\s*\]\s*;")


def _translate(text: str) -> str:
    """CUDA C -> C the prelude understands, keeping every line where it was."""
    asm = asm_lines(text)
    if asm:
        raise EmulationError(
            f"line {asm[0] + 1} has inline PTX (asm), which only a GPU can run. Check it by "
            f"compiling to a cubin: py2ptx.cudatools.cubin_for(source, 'sm_90').")
    text = strip_comments(text).replace('extern "C"', "")
    text = _EXTERN_SHARED.sub(lambda m: f"{m.group(1)} *{m.group(2)} = py2ptx_shared;", text)
    return re.sub(r"\b__shared__\b", "PY2PTX_SHARED", text)


def _launcher(name: str, params: list[Param]) -> str:
    call = ", ".join(
        f"*({p.ctype} **)args[{i}]" if p.pointer else f"*({p.ctype} *)args[{i}]"
        for i, p in enumerate(params))
    return (f"PY2PTX_NOSAN static void py2ptx_body_{name}(void **args) {{ {name}({call}); }}\n"
            f"PY2PTX_NOSAN int py2ptx_launch_{name}(dim3 g, dim3 b, size_t shared, void **args)\n"
            f"{{ return py2ptx_launch(g, b, shared, py2ptx_body_{name}, args); }}\n")


class _Dim3(ctypes.Structure):
    _fields_ = [("x", ctypes.c_uint), ("y", ctypes.c_uint), ("z", ctypes.c_uint)]


_CTYPES = {np.dtype(t): c for t, c in (
    (np.int8, ctypes.c_int8), (np.uint8, ctypes.c_uint8), (np.int16, ctypes.c_int16),
    (np.uint16, ctypes.c_uint16), (np.int32, ctypes.c_int32), (np.uint32, ctypes.c_uint32),
    (np.int64, ctypes.c_int64), (np.uint64, ctypes.c_uint64), (np.float32, ctypes.c_float),
    (np.float64, ctypes.c_double), (np.bool_, ctypes.c_bool))}


class _HostArray:
    """A NumPy array standing in for a GPU array, so check_args accepts it here."""

    def __init__(self, array: np.ndarray):
        self.array, self.dtype = array, array.dtype
        self.__cuda_array_interface__ = {}


def run_on_cpu(source, kernel: str, grid, block, *args, shared_mem: int = 0,
               timeout: float = 30.0, check: bool = True) -> None:
    """Launch ``kernel`` from CUDA C ``source`` on CPU threads, like a GPU launch.

    Pointer parameters take NumPy arrays, updated in place as ``cupy`` arrays
    would be; scalars take NumPy scalars (``np.int32(n)``), exactly as on a GPU.
    Keep it small: one OS thread per CUDA thread, blocks one after another.
    With ``check`` (the default), every load and store is checked
    (:mod:`py2ptx.cpu_trace`): an index just outside an array or shared memory raises
    :class:`OutOfBounds`, two threads racing on one address :class:`DataRace`, a
    barrier that not every thread reaches alike :class:`DivergentBarrier` -- each
    naming the threads and the student's lines. The one-launch case of
    :func:`run_schedule_on_cpu`.
    """
    run_schedule_on_cpu(source, [(kernel, grid, block, (), shared_mem)], *args,
                        timeout=timeout, check=check)


def run_schedule_on_cpu(source, launches, *args, timeout: float = 30.0,
                        check: bool = True) -> None:
    """Run ``launches`` of kernels from CUDA C ``source`` in order, in one child process.

    Each launch is ``(kernel, grid, block, scalars, shared_mem)`` -- a
    :class:`py2ptx.gpusorts.Launch`, or a tuple that may leave shared_mem out -- and
    takes ``*args`` then its own ``scalars``, as :func:`py2ptx.gpusorts.run_launches`
    passes them on a GPU (``kernel(grid, block, d, *scalars)``). Every launch is
    checked (shape, argument types) before any runs, the kernels are compiled once
    into one library, and one child process runs the launches one after another, as
    a GPU runs the launches of one stream: a sort of n phases costs one fork, not n.
    The arrays are copied back once, after the last launch; after a hang, a crash or
    a failed check they are left as they were, and the message names the launch.
    ``timeout`` is for the whole schedule. ``check`` as for :func:`run_on_cpu`
    (``check=False`` for big runs: checking costs several times the run).
    """
    _run(source, launches, args, timeout, check)


def trace_on_cpu(source, launches, *args, timeout: float = 30.0) -> Trace:
    """Run ``launches`` as :func:`run_schedule_on_cpu` does, checked, and return the
    trace of memory accesses (for :mod:`py2ptx.banks`)."""
    trace = _run(source, launches, args, timeout, True, want_trace=True)
    assert trace is not None
    return trace


_warned: set[str] = set()


def _run(source, launches, args, timeout, check, want_trace=False) -> Trace | None:
    text, name = read_source(source, ".cu")
    launches = [tuple(launch) for launch in launches]
    if not launches:
        return None
    kernels = list(dict.fromkeys(launch[0] for launch in launches))
    params = {kernel: kernel_params(text, kernel) for kernel in kernels}
    arrays: list[np.ndarray] = []  # each array once, however many launches take it
    index: dict[int, int] = {}
    regions: list[Region] = []  # the arrays', as their first kernel names them
    plan = []  # per launch: kernel, grid, block, shared_mem, its arguments for C
    for kernel, grid, block, scalars, *rest in launches:
        shared_mem = rest[0] if rest else 0
        grid, block = check_launch(grid, block, shared_mem)
        if grid[0] * grid[1] * grid[2] > 4096:
            raise ValueError(f"grid {grid} is too many blocks for the CPU emulator "
                             f"(4096 at most); use a smaller n here and a GPU for large n.")
        full = (*args, *scalars)
        ps = params[kernel]
        wrapped = [_HostArray(a) if p.pointer and isinstance(a, np.ndarray) else a
                   for p, a in zip(ps, full, strict=False)]
        check_args(kernel, ps, tuple(wrapped))
        c_args = []  # an int: the index of an array (its address is the child's); else a C value
        for position, (p, a) in enumerate(zip(ps, full, strict=True), 1):
            if p.pointer:
                if not a.flags.c_contiguous:
                    raise ValueError(
                        f"argument {position} of {kernel} ({p}) is a strided view of an "
                        f"array (not contiguous): a kernel sees raw memory, not NumPy's "
                        f"strides, so it would read the wrong elements (on a GPU too: "
                        f"CuPy passes the data pointer). Pass np.ascontiguousarray(...) "
                        f"of it, and copy the result back into the view afterwards.")
                c_args.append(index.setdefault(id(a), len(arrays)))
                if c_args[-1] == len(arrays):
                    arrays.append(a)
                    regions.append(Region(KIND_ARG, p.name, a.itemsize, p.ctype,
                                          position, a.size))
            else:
                c_args.append(_CTYPES[np.dtype(type(a))](a.item()))
        plan.append((kernel, grid, block, shared_mem, c_args))

    if check:
        ok, why = checks_available()
        if not ok:
            if want_trace:
                raise EmulationError(f"no trace of memory accesses on this machine: {why}.")
            if why not in _warned:
                _warned.add(why)
                warnings.warn(f"py2ptx: the CPU runner's memory, race and barrier checks "
                              f"are off: {why}. Kernels still run, unchecked.",
                              RuntimeWarning, stacklevel=3)
            check = False
    translated = _translate(text)
    c_text = ("#define _GNU_SOURCE\n#define PY2PTX_CHECKS 1\n" if check else "") + PRELUDE \
        + (TRACE_HOOKS if check else PLAIN_HOOKS) + RUNNER + f'#line 1 "{name}"\n' \
        + translated + "\n" + '#line 1 "py2ptx-launcher"\n' \
        + "".join(_launcher(k, params[k]) for k in kernels)
    flags = ("-x", "c", "-O1", "-pthread", "-w") + (check_flags() if check else ())
    try:
        lib = build_c(c_text, flags, name=name)
    except CCompileError as err:
        raise CCompileError(
            f"The CPU emulator compiles CUDA C as plain C, and {name} did not compile:\n"
            f"{err}\nC++-only features (references, templates, classes) cannot run here; "
            f"compile with py2ptx.cudatools.cubin_for to check them, and run on a GPU."
        ) from None
    launch_fns = {k: lib.function(f"py2ptx_launch_{k}",
                                  [_Dim3, _Dim3, ctypes.c_size_t, ctypes.c_void_p], ctypes.c_int)
                  for k in kernels}
    progress = np.zeros(1, np.int32)  # the launch the child is at, read after a hang or crash
    n_arrays = len(arrays)
    pad = 64
    statics: list[tuple[Region, int, int]] = []  # region, address, bytes
    if check:
        pad = max([4096] + [-(-a.nbytes // 64) * 64 for a in arrays])  # red zones
        base = lib.function("py2ptx_trace_base", [], ctypes.c_size_t)()
        types = static_shared_types(text)
        for sym, offset, size in static_shared_symbols(lib.path):
            ctype = types.get(sym, "int")
            elem = c_size(ctype)
            statics.append((Region(KIND_STATIC_SHARED, sym, elem, ctype, 0, size // elem),
                            base + offset, size))
        dyn = _EXTERN_SHARED.search(strip_comments(text))
        dyn_type = dyn.group(1).strip() if dyn else "int"
        regions += [r for r, _, _ in statics]
        regions.append(Region(KIND_DYNAMIC_SHARED, dyn.group(2) if dyn else "shared",
                              c_size(dyn_type), dyn_type))

    def in_child(views: list[np.ndarray]) -> int:
        pointers = [ctypes.c_void_p(v.ctypes.data) for v in views[:n_arrays]]
        header = None
        if check:
            header = views[-1][:HEADER.itemsize].view(HEADER)
            header["capacity"] = CAPACITY
            table = header["regions"][0]
            for i, v in enumerate(views[:n_arrays]):
                start = v.ctypes.data
                table[i] = (start, start + v.nbytes, start - pad, start + v.nbytes + pad,
                            KIND_ARG, v.itemsize)
            for j, (r, start, size) in enumerate(statics, n_arrays):
                table[j] = (start, start + size, start - 2048, start + size + 4096,
                            KIND_STATIC_SHARED, r.elem)
            header["nfixed"] = header["nregions"] = n_arrays + len(statics)
            attach_scratch(lib, views[-1])
        for i, (kernel, grid, block, shared_mem, c_args) in enumerate(plan):
            views[n_arrays][0] = i
            if header is not None:
                header["launch"] = i
            keep = [pointers[a] if isinstance(a, int) else a for a in c_args]
            slots = [ctypes.cast(ctypes.pointer(v), ctypes.c_void_p) for v in keep]
            argv = (ctypes.c_void_p * max(1, len(slots)))(*slots)
            code = launch_fns[kernel](_Dim3(*grid), _Dim3(*block), shared_mem, argv)
            if code:
                return code
        return 0

    def launch_name(views: list[np.ndarray]) -> str:
        i = int(views[n_arrays][0])
        return plan[i][0] if len(plan) == 1 else f"{plan[i][0]} (launch {i + 1} of {len(plan)})"

    kept: list[Trace] = []

    def inspect(views: list[np.ndarray], how: str) -> Exception | None:
        if not check:
            return None
        header = views[-1][:HEADER.itemsize].view(HEADER)[0]
        source_lines = text.splitlines()
        starts = np.array([int(r["start"]) for r in header["regions"][:len(regions)]],
                          dtype=np.uint64)
        if header["error"] == ERR_BOUNDS:
            e = header["err"]
            starts[n_arrays + len(statics)] = header["regions"][n_arrays + len(statics)]["start"]
            trace = Trace(np.zeros(0, EVENT), regions, starts,
                          lines_of(lib.path, [e["pc"]], name), source_lines, 0)
            return OutOfBounds(_bounds_message(trace, e, int(header["shared_bytes"]),
                                               launch_name(views), plan, int(views[n_arrays][0])))
        if header["error"] == ERR_BARRIER:
            e, e2 = header["err"], header["err2"]
            lines = lines_of(lib.path, [e["pc"], e2["pc"]], name)
            return DivergentBarrier(_barrier_message(
                Trace(np.zeros(0, EVENT), regions, starts, lines, source_lines, 0),
                e, int(header["err_cnt"]), e2, int(header["err2_cnt"]), launch_name(views)))
        if how != "exit":
            return None
        count = int(header["count"])
        kept_n = min(count, CAPACITY)
        events = views[-1][HEADER_BYTES:HEADER_BYTES + kept_n * EVENT.itemsize].view(EVENT).copy()
        trace = Trace(events, regions, starts, lines_of(lib.path, np.unique(events["pc"]), name),
                      source_lines, plan[0][2][0] * plan[0][2][1] * plan[0][2][2],
                      dropped=count - kept_n)
        message = find_race(trace)
        if message:
            return DataRace(f"{launch_name(views)}: {message}" if len(plan) > 1 else message)
        kept.append(trace)
        return None

    code = run_in_child(
        in_child, [*arrays, progress], timeout, launch_name, error=EmulationError,
        pad=pad, scratch=HEADER_BYTES + CAPACITY * EVENT.itemsize if check else 0,
        inspect=inspect,
        hang_hint="A common cause: a __syncthreads() that not every thread of the block "
                  "reaches (inside an if, or a loop some threads leave early), so the others "
                  "wait for ever -- on a GPU that is undefined behaviour: a hang or wrong "
                  "keys. Or a loop that never ends: a condition that never changes, an "
                  "index that never moves.",
        crash_hint="Most likely a read or write outside an array -- check every index "
                   "against n (for example `if (i + 1 < n)`). On a GPU the same bug is an "
                   "illegal memory access, or silent corruption.")
    if code != 0:
        raise EmulationError(f"the CPU emulator could not start "
                             f"{launch_name([*arrays, progress])}'s threads (code {code}); "
                             f"try a smaller block.")
    return kept[0] if kept else None


def _bounds_message(trace: Trace, e, shared_bytes: int, launch: str, plan, at: int) -> str:
    r = trace.regions[int(e["region"])]
    index = (int(e["addr"]) - int(trace.starts[int(e["region"])])) // r.elem
    verb = "wrote" if e["sizeflags"] & WRITE else "read"
    if e["sizeflags"] & ATOMIC:
        verb = "atomically updated"
    side = "before the start of" if index < 0 else "past the end of"
    line = trace.line(e["pc"])
    at_line = f"at line {line}" if line else "(line unknown)"
    head = (f"{who(e['block'], e['thread'])} {verb} {r.name}[{index}], {side} "
            f"{r.describe(shared_bytes)}, {at_line} of {launch}.")
    if r.kind == KIND_DYNAMIC_SHARED:
        elements = shared_bytes // max(1, r.elem)
        if 0 <= index < shared_bytes and r.elem > 1:
            fix = (f"shared_mem is counted in bytes, not {r.ctype}s: shared_mem = "
                   f"{shared_bytes} is room for {elements} {r.ctype}s. For {shared_bytes} "
                   f"{r.ctype}s pass shared_mem = {shared_bytes} * {r.elem} = "
                   f"{shared_bytes * r.elem} (n * np.dtype(np.int32).itemsize).")
        else:
            fix = (f"Give the launch enough shared memory (shared_mem = (largest index + 1) "
                   f"* {r.elem} bytes), or guard the index.")
    elif r.kind == KIND_STATIC_SHARED:
        fix = (f"Declare it larger (__shared__ {r.ctype} {r.name}[{max(index + 1, 1)}] at "
               f"least) or guard the index against its size.")
    else:
        fix = ("Guard the index for every thread (for example `if (i < n)` or "
               "`if (i + 1 < n)`): the grid may have more threads than elements. On a GPU "
               "this is an illegal memory access, or silent corruption of other data.")
    return "\n".join(x for x in (head, trace.quote(line), fix) if x)


def _ordinal(k: int) -> str:
    return f"{k}{'th' if 10 <= k % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"


def _barrier_message(trace: Trace, e0, n0: int, e1, n1: int, launch: str) -> str:
    l0, l1 = trace.line(e0["pc"]), trace.line(e1["pc"])
    t0, t1, b = int(e0["thread"]), int(e1["thread"]), int(e0["block"])
    if l0 != l1 or e0["pc"] != e1["pc"]:
        head = (f"threads of block {b} met at different __syncthreads(): {who(b, t0)} waits "
                f"at the one of line {l0} while {who(b, t1)} reached the one of line {l1} "
                f"({launch}).")
    else:
        head = (f"threads of block {b} reached the __syncthreads() of line {l0} a different "
                f"number of times: {who(b, t0)} waits there for the {_ordinal(n0)} time while "
                f"{who(b, t1)} arrives for the {_ordinal(n1)} time ({launch}) -- some threads "
                f"skipped it, in an if or a loop that depends on the thread.")
    quotes = [trace.quote(l0)] + ([trace.quote(l1)] if l1 != l0 else [])
    tail = ("On a GPU this is a hang (the block waits for ever and the launch never "
            "ends) or, on recent GPUs, barriers that pair up wrongly and wrong results: "
            "every thread of a block must reach the same __syncthreads() the same number "
            "of times. Take the barrier out of the if: let every thread reach it, and "
            "guard only the work.")
    return "\n".join([head, *[q for q in quotes if q], tail])
