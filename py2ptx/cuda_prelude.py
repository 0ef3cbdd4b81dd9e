"""The C half of the CPU runner (:mod:`py2ptx.cuda_on_cpu`): what makes CUDA C compile
and run as C on POSIX threads.

* :data:`PRELUDE` -- CUDA's names for C: ``threadIdx``/``blockIdx``/``blockDim``/
  ``gridDim``, ``__syncthreads()`` (a block barrier that a returning thread leaves, as
  an exited thread no longer holds up ``bar.sync`` in PTX), warps of 32 consecutive
  threads with ``__shfl*_sync``, votes and ``__syncwarp`` meeting at a warp barrier,
  ``__shared__`` (with checks: each static variable in its own 4 KiB-aligned slot of
  one section, for red zones and bank numbers), the intrinsics kernels use.
* :data:`RUNNER` -- one pool of threads per block shape, reused by every block and
  every launch with that many threads.
* :data:`PLAIN_HOOKS` -- what the runner calls at each thread, block and
  shared-memory allocation when nothing is checked;
  :data:`py2ptx.cpu_trace.TRACE_HOOKS` is the checked version.

Functions that touch the runner's own memory are ``no_sanitize_thread``: with checks
on, the kernel is compiled with ``-fsanitize=thread`` and only the student's accesses
must reach the trace.
"""

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
static void py2ptx_barrier_note(void *pc, unsigned waiting, unsigned live, int completed);
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
#if PY2PTX_CHECKS
        py2ptx_barrier_note(pc, 0, (unsigned)py2ptx_bar.live, 1);
#endif
        pthread_cond_broadcast(&py2ptx_bar.c);
    } else {
#if PY2PTX_CHECKS
        py2ptx_barrier_note(pc, (unsigned)py2ptx_bar.arrived, (unsigned)py2ptx_bar.live, 0);
#endif
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
#if PY2PTX_CHECKS
        py2ptx_barrier_note(py2ptx_bar.pc, 0, (unsigned)py2ptx_bar.live, 1);
#endif
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

