"""One trace of a CUDA C kernel's memory accesses on CPU threads, and what it shows.

Used by :mod:`py2ptx.cuda_on_cpu` (memory, race and barrier checks, on by default)
and :mod:`py2ptx.banks` (shared-memory bank conflicts). How the accesses are seen:
the kernel's file is compiled with ``-fsanitize=thread`` but *not* linked with the
ThreadSanitizer runtime: the compiler then calls ``__tsan_read4(addr)``,
``__tsan_write8(addr)``... before every load and store it cannot prove private, and
this module's C text defines those functions itself. Each one looks the address up in
a table of the launch's memory (every array argument, the static ``__shared__``
variables, the dynamic shared memory), records the access -- thread, block, address,
size, read or write, the barrier interval it falls in, and the caller's return
address (the pc) -- into memory shared with the parent, and stops the child at the
first access just outside one of them (an out-of-bounds index). The pc becomes the
student's line through the debug line table (``addr2line``), which names the
student's own file and lines because the kernel is compiled after
``#line 1 "<their file>"``. Accesses to anything else (the thread's own stack,
``threadIdx``) are not recorded.

Why not a source rewrite of every ``a[i]``: the compiler already knows every access,
including those through pointers (``int *run = cur + t * m``), inlined helpers and
struct copies, and rewrites of C are where line numbers and meanings drift. Why not
the real ThreadSanitizer: it knows nothing of CUDA's barriers, warps or shared memory.

What is checked from the trace (in the parent, with NumPy):

* **data races** -- two threads of a block touch the same 4-byte word, at least one
  writes, in the same barrier interval (no ``__syncthreads()`` between them; for two
  lanes of one warp, no ``__syncwarp``, shuffle or vote either); for global memory
  also two blocks of one launch, one writing. Atomics are never a race.
* **divergent barriers** (in the child, at the barrier): threads of a block that meet
  at different ``__syncthreads()`` calls, or at the same one a different number of
  times -- the hang (or silent mis-synchronisation) it is on a GPU. A thread that
  returns early is not an error: in PTX an exited thread no longer holds a barrier up.

Without ``-fsanitize=thread`` (a compiler that lacks it) the kernel runs unchecked and
:func:`checks_available` says why.

Why this module is long: the C half of the trace (the hooks the compiler calls, the
header the child writes, the barrier's notes for a launch out of time) and the NumPy
half that reads it must agree byte for byte on one layout; kept in one file, a field
added to one side is seen beside the other (the layout is also asserted at import).
"""

from __future__ import annotations

import ctypes
import functools
import re
import shutil
import subprocess
from dataclasses import dataclass, field

import numpy as np

from .cbuild import CCompileError, build_c, compiler
from .sandbox import SandboxError

#: Compile flags that make the compiler call the ``__tsan_*`` functions defined below,
#: and link flags that keep the ThreadSanitizer runtime out (gcc adds ``-ltsan`` to a
#: ``-fsanitize=thread`` link; ``-nodefaultlibs`` drops it with libc's defaults, which
#: are put back by name). For clang the parameter is ``-mllvm
#: -tsan-instrument-func-entry-exit=0``.
GCC_FLAGS = ("-fsanitize=thread", "--param", "tsan-instrument-func-entry-exit=0", "-g",
             "-nodefaultlibs", "-lc", "-lm", "-lgcc")
CLANG_FLAGS = ("-fsanitize=thread", "-mllvm", "-tsan-instrument-func-entry-exit=0", "-g",
               "-nodefaultlibs", "-lc", "-lm")

#: Accesses the trace keeps for the race and bank analyses (32 bytes each); the
#: out-of-bounds check sees every access, however many.
CAPACITY = 2_000_000
HEADER_BYTES = 4096
MAX_REGIONS = 64
KIND_ARG, KIND_DYNAMIC_SHARED, KIND_STATIC_SHARED = 0, 1, 2
WRITE, ATOMIC = 0x20, 0x40
ERR_NONE, ERR_BOUNDS, ERR_BARRIER = 0, 1, 2

EVENT = np.dtype([("addr", "<u8"), ("pc", "<u4"), ("thread", "<u4"), ("block", "<u4"),
                  ("epoch", "<u4"), ("wepoch", "<u4"), ("launch", "<u2"), ("region", "u1"),
                  ("sizeflags", "u1")])
REGION = np.dtype([("start", "<u8"), ("end", "<u8"), ("lo", "<u8"), ("hi", "<u8"),
                   ("kind", "<u4"), ("elem", "<u4")])
HEADER = np.dtype([("capacity", "<u8"), ("count", "<u8"), ("launch", "<u4"),
                   ("nregions", "<u4"), ("nfixed", "<u4"), ("error", "<u4"),
                   ("err_cnt", "<u4"), ("err2_cnt", "<u4"), ("shared_bytes", "<u8"),
                   ("err", EVENT), ("err2", EVENT), ("regions", REGION, (MAX_REGIONS,)),
                   # the block barrier's last change (for a launch that runs out of time):
                   # completions, CLOCK_MONOTONIC ns, threads waiting of those live, its pc;
                   # and the pc of the latest recorded memory access
                   ("bar_gen", "<u8"), ("bar_ns", "<u8"), ("bar_waiting", "<u4"),
                   ("bar_live", "<u4"), ("bar_pc", "<u4"), ("last_pc", "<u4")])
assert EVENT.itemsize == 32 and REGION.itemsize == 40 and HEADER.itemsize <= HEADER_BYTES

TRACE_HOOKS = r"""
#include <dlfcn.h>
#include <time.h>
#include <unistd.h>
struct py2ptx_event { uint64_t addr; uint32_t pc, thread, block, epoch, wepoch;
                      uint16_t launch; uint8_t region, sizeflags; };
struct py2ptx_region { uint64_t start, end, lo, hi; uint32_t kind, elem; };
struct py2ptx_header {
    uint64_t capacity, count; uint32_t launch, nregions, nfixed, error;
    uint32_t err_cnt, err2_cnt; uint64_t shared_bytes;
    struct py2ptx_event err, err2; struct py2ptx_region regions[64];
    uint64_t bar_gen, bar_ns; uint32_t bar_waiting, bar_live, bar_pc, last_pc;
};
_Static_assert(sizeof(struct py2ptx_event) == 32, "event layout");
_Static_assert(sizeof(struct py2ptx_region) == 40, "region layout");
static struct py2ptx_header *py2ptx_trace;
static struct py2ptx_event *py2ptx_events;
static unsigned py2ptx_block;
static uintptr_t py2ptx_base;
PY2PTX_NOSAN int py2ptx_trace_attach(void *scratch)
{
    Dl_info info;
    py2ptx_trace = scratch;
    py2ptx_events = (struct py2ptx_event *)((char *)scratch + 4096);
    if (!dladdr((void *)py2ptx_trace_attach, &info)) return 1;
    py2ptx_base = (uintptr_t)info.dli_fbase;
    return 0;
}
PY2PTX_NOSAN uintptr_t py2ptx_trace_base(void)
{
    Dl_info info;
    return dladdr((void *)py2ptx_trace_base, &info) ? (uintptr_t)info.dli_fbase : 0;
}
PY2PTX_NOSAN static struct py2ptx_event py2ptx_event_here(uintptr_t a, unsigned size,
                                                         unsigned flags, void *pc, int region)
{
    return (struct py2ptx_event){a, (uint32_t)((uintptr_t)pc - py2ptx_base), py2ptx_linear,
        py2ptx_block, py2ptx_epoch, py2ptx_wepoch, (uint16_t)py2ptx_trace->launch,
        (uint8_t)region, (uint8_t)(size | flags)};
}
PY2PTX_NOSAN static void py2ptx_access(void *addr, unsigned size, unsigned flags, void *pc)
{
    struct py2ptx_header *h = py2ptx_trace;
    uintptr_t a = (uintptr_t)addr;
    int near = -1; uint64_t best = ~0ull;
    for (unsigned i = 0; i < h->nregions; ++i) {
        struct py2ptx_region *r = &h->regions[i];
        if (a >= r->start && a + size <= r->end) {
            __atomic_store_n(&h->last_pc, (uint32_t)((uintptr_t)pc - py2ptx_base),
                             __ATOMIC_RELAXED);
            uint64_t k = __atomic_fetch_add(&h->count, 1, __ATOMIC_RELAXED);
            if (k < h->capacity) py2ptx_events[k] = py2ptx_event_here(a, size, flags, pc, i);
            return;
        }
        if (a + size > r->lo && a < r->hi) {
            uint64_t d = a < r->start ? r->start - a : a + size - r->end;
            if (d < best) { best = d; near = (int)i; }
        }
    }
    if (near < 0) return;  /* the thread's own stack, threadIdx, a constant table */
    /* Stop this thread before the access lands. The first one to get here waits 30 ms
     * so that others can report too; the lowest (block, thread) is kept, and the child
     * exits: the parent reads h->err. */
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    int first = h->error == 0;
    if (first || (h->error == 1 && (py2ptx_block < h->err.block
                  || (py2ptx_block == h->err.block && py2ptx_linear < h->err.thread)))) {
        h->err = py2ptx_event_here(a, size, flags, pc, near);
        h->error = 1;
    }
    pthread_mutex_unlock(&lock);
    if (first) { usleep(30000); _exit(5); }
    for (;;) pause();
}
PY2PTX_NOSAN static void py2ptx_divergent(void *pc0, unsigned n0, unsigned t0,
                                          void *pc1, unsigned n1)
{
    struct py2ptx_header *h = py2ptx_trace;
    unsigned none = 0;
    if (__atomic_compare_exchange_n(&h->error, &none, 2, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        h->err = py2ptx_event_here(0, 0, 0, pc0, 0); h->err.thread = t0; h->err_cnt = n0;
        h->err2 = py2ptx_event_here(0, 0, 0, pc1, 0); h->err2_cnt = n1;
    }
    _exit(6);
}
PY2PTX_NOSAN static void py2ptx_barrier_note(void *pc, unsigned waiting, unsigned live,
                                             int completed)
{   /* called with the barrier's mutex held: what a launch out of time was doing */
    struct py2ptx_header *h = py2ptx_trace;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    h->bar_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    h->bar_waiting = waiting; h->bar_live = live;
    h->bar_pc = (uint32_t)((uintptr_t)pc - py2ptx_base);
    if (completed) h->bar_gen++;
}
static _Thread_local void *py2ptx_bpc[32];
static _Thread_local unsigned py2ptx_bcnt[32];
PY2PTX_NOSAN static unsigned py2ptx_barrier_count(void *pc)
{
    for (int i = 0; i < 32; ++i) {
        if (py2ptx_bpc[i] == pc) return ++py2ptx_bcnt[i];
        if (!py2ptx_bpc[i]) { py2ptx_bpc[i] = pc; return py2ptx_bcnt[i] = 1; }
    }
    return 0;
}
PY2PTX_NOSAN static void py2ptx_thread_start(unsigned linear)
{
    py2ptx_linear = linear; py2ptx_epoch = 0; py2ptx_wepoch = 0;
    memset(py2ptx_bpc, 0, sizeof py2ptx_bpc);
}
PY2PTX_NOSAN static void py2ptx_block_start(unsigned block) { py2ptx_block = block; }
PY2PTX_NOSAN static void *py2ptx_shared_alloc(size_t bytes)
{   /* a red zone on each side, as large as the memory itself (4 KiB at least) */
    size_t zone = (bytes > 4096 ? bytes + 127 : 4096) / 128 * 128;
    char *p = NULL;  /* 128-byte aligned: an address's bank is (address / 4) % 32 */
    if (posix_memalign((void **)&p, 128, bytes + 2 * zone)) return NULL;
    struct py2ptx_header *h = py2ptx_trace;
    struct py2ptx_region *r = &h->regions[h->nfixed];
    uintptr_t s = (uintptr_t)(p + zone);
    *r = (struct py2ptx_region){s, s + bytes, s - zone, s + bytes + zone, 1, 1};
    h->nregions = h->nfixed + 1;
    h->shared_bytes = bytes;
    return p + zone;
}
PY2PTX_NOSAN static void py2ptx_shared_free(void *p)
{
    struct py2ptx_header *h = py2ptx_trace;
    h->nregions = h->nfixed;
    free((char *)p - (h->regions[h->nfixed].start - h->regions[h->nfixed].lo));
}
#define PY2PTX_VIS __attribute__((visibility("hidden"))) PY2PTX_NOSAN
#define PY2PTX_RW(N) \
PY2PTX_VIS void __tsan_read##N(void *a) { py2ptx_access(a, N, 0, __builtin_return_address(0)); } \
PY2PTX_VIS void __tsan_write##N(void *a) { py2ptx_access(a, N, 0x20, __builtin_return_address(0)); } \
PY2PTX_VIS void __tsan_unaligned_read##N(void *a) { py2ptx_access(a, N, 0, __builtin_return_address(0)); } \
PY2PTX_VIS void __tsan_unaligned_write##N(void *a) { py2ptx_access(a, N, 0x20, __builtin_return_address(0)); } \
PY2PTX_VIS void __tsan_volatile_read##N(void *a) { py2ptx_access(a, N, 0, __builtin_return_address(0)); } \
PY2PTX_VIS void __tsan_volatile_write##N(void *a) { py2ptx_access(a, N, 0x20, __builtin_return_address(0)); }
PY2PTX_RW(1) PY2PTX_RW(2) PY2PTX_RW(4) PY2PTX_RW(8) PY2PTX_RW(16)
PY2PTX_VIS void __tsan_read_range(void *a, unsigned long n)
{ for (unsigned long i = 0; i < n; i += 4) py2ptx_access((char *)a + i, n - i < 4 ? n - i : 4, 0, __builtin_return_address(0)); }
PY2PTX_VIS void __tsan_write_range(void *a, unsigned long n)
{ for (unsigned long i = 0; i < n; i += 4) py2ptx_access((char *)a + i, n - i < 4 ? n - i : 4, 0x20, __builtin_return_address(0)); }
PY2PTX_VIS void __tsan_init(void) {}
PY2PTX_VIS void __tsan_func_entry(void *p) { (void)p; }
PY2PTX_VIS void __tsan_func_exit(void) {}
PY2PTX_VIS void __tsan_vptr_update(void **p, void *v) { (void)p; (void)v; }
PY2PTX_VIS void __tsan_vptr_read(void **p) { (void)p; }
PY2PTX_VIS void __tsan_atomic_thread_fence(int mo) { (void)mo; __atomic_thread_fence(__ATOMIC_SEQ_CST); }
PY2PTX_VIS void __tsan_atomic_signal_fence(int mo) { (void)mo; }
#define PY2PTX_AT(B, T) \
PY2PTX_VIS T __tsan_atomic##B##_load(const volatile T *a, int mo) \
{ (void)mo; py2ptx_access((void *)a, B / 8, 0x40, __builtin_return_address(0)); return __atomic_load_n(a, __ATOMIC_SEQ_CST); } \
PY2PTX_VIS void __tsan_atomic##B##_store(volatile T *a, T v, int mo) \
{ (void)mo; py2ptx_access((void *)a, B / 8, 0x60, __builtin_return_address(0)); __atomic_store_n(a, v, __ATOMIC_SEQ_CST); } \
PY2PTX_AT_RMW(B, T, exchange, __atomic_exchange_n) PY2PTX_AT_RMW(B, T, fetch_add, __atomic_fetch_add) \
PY2PTX_AT_RMW(B, T, fetch_sub, __atomic_fetch_sub) PY2PTX_AT_RMW(B, T, fetch_and, __atomic_fetch_and) \
PY2PTX_AT_RMW(B, T, fetch_or, __atomic_fetch_or) PY2PTX_AT_RMW(B, T, fetch_xor, __atomic_fetch_xor) \
PY2PTX_AT_RMW(B, T, fetch_nand, __atomic_fetch_nand) \
PY2PTX_VIS int __tsan_atomic##B##_compare_exchange_strong(volatile T *a, T *c, T v, int mo, int fmo) \
{ (void)mo; (void)fmo; py2ptx_access((void *)a, B / 8, 0x60, __builtin_return_address(0)); \
  return __atomic_compare_exchange_n(a, c, v, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); } \
PY2PTX_VIS int __tsan_atomic##B##_compare_exchange_weak(volatile T *a, T *c, T v, int mo, int fmo) \
{ (void)mo; (void)fmo; py2ptx_access((void *)a, B / 8, 0x60, __builtin_return_address(0)); \
  return __atomic_compare_exchange_n(a, c, v, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); } \
PY2PTX_VIS T __tsan_atomic##B##_compare_exchange_val(volatile T *a, T c, T v, int mo, int fmo) \
{ (void)mo; (void)fmo; py2ptx_access((void *)a, B / 8, 0x60, __builtin_return_address(0)); \
  __atomic_compare_exchange_n(a, &c, v, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); return c; }
#define PY2PTX_AT_RMW(B, T, OP, F) \
PY2PTX_VIS T __tsan_atomic##B##_##OP(volatile T *a, T v, int mo) \
{ (void)mo; py2ptx_access((void *)a, B / 8, 0x60, __builtin_return_address(0)); return F(a, v, __ATOMIC_SEQ_CST); }
PY2PTX_AT(8, uint8_t) PY2PTX_AT(16, uint16_t) PY2PTX_AT(32, uint32_t) PY2PTX_AT(64, uint64_t)
"""


class EmulationError(SandboxError):
    """The kernel could not run on the CPU, hung, or crashed."""


class OutOfBounds(EmulationError):
    """A thread read or wrote just outside an array or shared memory."""


class DataRace(EmulationError):
    """Two threads touched one address, one writing, with no barrier between them."""


class DivergentBarrier(EmulationError):
    """Threads of a block met at different ``__syncthreads()`` -- a hang on a GPU."""


@functools.cache
def _compiler_kind() -> str:
    """"gcc", "clang" or "" (no C compiler at all)."""
    try:
        cc = compiler()
    except Exception:  # noqa: BLE001 -- no compiler: the build itself reports it
        return ""
    try:
        out = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return ""
    return "clang" if "clang" in out.lower() else "gcc"


@functools.cache
def checks_available() -> tuple[bool, str]:
    """Whether this machine's C compiler can instrument a kernel; if not, why not."""
    kind = _compiler_kind()
    if not kind:
        return False, "no C compiler found"
    probe = (PRELUDE_FOR_PROBE
             + "int py2ptx_probe(int *p) { return *p + py2ptx_probe_s[*p & 3]; }\n")
    try:
        build_c(probe, ("-x", "c", "-O1", "-pthread", "-w", *check_flags()),
                name="py2ptx-trace-probe")
    except (CCompileError, OSError) as err:
        first = str(err).strip().splitlines()[:2]
        return False, (f"this {kind} cannot instrument memory accesses "
                       f"(-fsanitize=thread without its runtime): {' '.join(first)}")
    return True, ""


PRELUDE_FOR_PROBE = """#define _GNU_SOURCE
#include <stdint.h>
#include <dlfcn.h>
__attribute__((no_sanitize_thread, visibility("hidden"))) void __tsan_init(void) {}
__attribute__((no_sanitize_thread, visibility("hidden"))) void __tsan_read4(void *p) { (void)p; }
__attribute__((section("py2ptx_smem"), aligned(4096))) static int py2ptx_probe_s[4];
__attribute__((no_sanitize_thread)) uintptr_t py2ptx_probe_base(void)
{ Dl_info i; return dladdr((void *)py2ptx_probe_base, &i) ? (uintptr_t)i.dli_fbase : 0; }
"""


def check_flags() -> tuple[str, ...]:
    return CLANG_FLAGS if _compiler_kind() == "clang" else GCC_FLAGS


# --------------------------------------------------------------------------- regions


@dataclass
class Region:
    """One piece of memory a kernel may touch, as the student names it."""

    kind: int  # KIND_ARG, KIND_DYNAMIC_SHARED, KIND_STATIC_SHARED
    name: str
    elem: int  # bytes per element
    ctype: str = "int"
    position: int = 0  # the argument's number, from 1 (KIND_ARG)
    size: int = 0  # elements (KIND_ARG, KIND_STATIC_SHARED)

    def describe(self, shared_bytes: int = 0) -> str:
        if self.kind == KIND_ARG:
            return f"argument {self.position} (n = {self.size})"
        if self.kind == KIND_STATIC_SHARED:
            return f"__shared__ {self.name} ({self.size} {self.ctype}s)"
        return (f"the dynamic shared memory (extern __shared__ {self.name}[]: "
                f"shared_mem = {shared_bytes} bytes = {shared_bytes // self.elem} "
                f"{self.ctype}s)")


_C_SIZES = {"char": 1, "signed char": 1, "unsigned char": 1, "short": 2,
            "unsigned short": 2, "int": 4, "unsigned": 4, "unsigned int": 4, "float": 4,
            "long": 8, "unsigned long": 8, "long long": 8, "unsigned long long": 8,
            "double": 8, "int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2,
            "int32_t": 4, "uint32_t": 4, "int64_t": 8, "uint64_t": 8, "bool": 1}


def c_size(ctype: str) -> int:
    return _C_SIZES.get(" ".join(ctype.replace("const", "").split()), 4)


_STATIC_SHARED = re.compile(r"__shared__\s+(?:__align__\(\d+\)\s*)?([A-Za-z_][\w ]*?)\s*"
                            r"\b(\w+)\s*((?:\[[^\]]+\])+)\s*;")


def static_shared_types(text: str) -> dict[str, str]:
    """``__shared__ int tile[64];`` -> {"tile": "int"} for every static shared array."""
    return {m.group(2): m.group(1).strip() for m in _STATIC_SHARED.finditer(text)
            if not text[max(0, m.start() - 8):m.start()].rstrip().endswith("extern")}


@functools.lru_cache(maxsize=64)
def static_shared_symbols(lib_path) -> list[tuple[str, int, int]]:
    """(name, offset in the library, bytes) of each static ``__shared__`` variable,
    read from the library's symbol table (``objdump -t``); [] without objdump."""
    tool = shutil.which("objdump")
    if tool is None:
        return []
    out = subprocess.run([tool, "-t", str(lib_path)], capture_output=True, text=True,
                         timeout=60).stdout
    found = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[-3] == "py2ptx_smem":
            try:
                addr, size = int(parts[0], 16), int(parts[-2], 16)
            except ValueError:
                continue
            found.append((parts[-1].split(".")[0], addr, size))
    return found


# --------------------------------------------------------------------------- lines


_LINES: dict[tuple[str, str], dict[int, int]] = {}  # (library, file) -> pc -> line


def lines_of(lib_path, pcs, file_name: str) -> dict[int, int]:
    """pc offset -> the student's line number (addr2line on the debug line table);
    pcs whose line is not in ``file_name`` (or without addr2line) are left out. Cached
    per library: a schedule of many runs asks addr2line once per new pc."""
    known = _LINES.setdefault((str(lib_path), file_name), {})
    pcs = {int(p) for p in pcs}
    new = sorted(pcs - known.keys())
    tool = shutil.which("addr2line")
    if new and tool is not None:
        # a return address points after the call: the call itself is one byte before
        out = subprocess.run([tool, "-e", str(lib_path), *(hex(p - 1) for p in new)],
                             capture_output=True, text=True, timeout=60).stdout.splitlines()
        base = file_name.rsplit("/", 1)[-1]
        for pc, line in zip(new, out, strict=False):
            m = re.match(r"(.*):(\d+)", line)
            ok = m and m.group(1).rsplit("/", 1)[-1] == base
            known[pc] = int(m.group(2)) if ok else 0
    return {pc: known[pc] for pc in pcs if known.get(pc)}


# --------------------------------------------------------------------------- the trace


@dataclass
class Trace:
    """The recorded accesses of one run, with what names them for a student."""

    events: np.ndarray  # EVENT records, in the order they happened
    regions: list[Region]
    starts: np.ndarray  # each region's first address (the child's, as recorded)
    lines: dict[int, int]  # pc -> line of the student's file
    source: list[str]  # the student's lines
    threads: int  # threads per block (of the launch; schedules: of the first)
    dropped: int = 0  # accesses past CAPACITY, not kept
    block_dims: list = field(default_factory=list)

    def line(self, pc: int) -> int:
        return self.lines.get(int(pc), 0)

    def quote(self, line: int) -> str:
        if 1 <= line <= len(self.source):
            return f"    {line:4d} | {self.source[line - 1].rstrip()}"
        return ""

    def where(self, region: int, addr: int) -> str:
        r = self.regions[region]
        index = (int(addr) - int(self.starts[region])) // r.elem
        return f"{r.name}[{index}]"


def who(block: int, thread: int) -> str:
    return f"thread (block {int(block)}, thread {int(thread)})"


def _group(*cols: np.ndarray) -> np.ndarray:
    """A group number per row for equal tuples of ``cols``."""
    stacked = np.stack([np.asarray(c, np.int64) for c in cols], axis=1)
    return np.unique(stacked, axis=0, return_inverse=True)[1].ravel()


def _distinct_per_group(gid: np.ndarray, values: np.ndarray) -> np.ndarray:
    pairs = np.unique(np.stack([gid, np.asarray(values, np.int64)], axis=1), axis=0)
    return np.bincount(pairs[:, 0], minlength=int(gid.max()) + 1 if gid.size else 0)


def expand_words(ev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One row per 4-byte word each access touches: (its event's index, the word's
    address / 4). An 8-byte access touches two words, a 16-byte one four."""
    size = np.maximum(1, (ev["sizeflags"] & 0x1F).astype(np.int64))
    first = ev["addr"].astype(np.int64) >> 2
    words = ((ev["addr"].astype(np.int64) + size - 1) >> 2) - first + 1
    rows = np.repeat(np.arange(ev.size), words)
    offset = np.arange(rows.size) - np.repeat(np.cumsum(words) - words, words)
    return rows, first[rows] + offset


def find_race(trace: Trace) -> str | None:
    """The first data race in ``trace`` as a message for the student, or None."""
    ev = trace.events
    ev = ev[(ev["sizeflags"] & ATOMIC) == 0]
    if ev.size == 0:
        return None
    rows, word = expand_words(ev)
    e = ev[rows]
    write = (e["sizeflags"] & WRITE) != 0
    kinds = np.array([r.kind for r in trace.regions])
    shared = kinds[e["region"]] != KIND_ARG
    warp = e["thread"] // 32
    launch, block, thread = e["launch"], e["block"], e["thread"]
    # shared memory is per block: its words are keyed by block too
    space_block = np.where(shared, block.astype(np.int64), -1)
    checks = [
        # different warps of one block, one barrier interval
        (_group(launch, space_block, word, block, e["epoch"]), warp, "block"),
        # lanes of one warp, with no __syncwarp/shuffle/vote (nor barrier) between
        (_group(launch, space_block, word, block, warp, e["wepoch"]), thread, "warp"),
    ]
    glob = ~shared
    found = []
    for gid, who_col, scope in checks:
        found += [(idx, scope) for idx in _racing_groups(gid, who_col, write)]
    if glob.any():  # global memory: two blocks of one launch, one writing
        sel = np.flatnonzero(glob)
        gid = _group(launch[sel], word[sel])
        found += [(sel[idx], "grid") for idx in _racing_groups(gid, block[sel], write[sel])]
    if not found:
        return None
    first = min(found, key=lambda f: f[0].min())
    idx, scope = first
    idx = np.sort(idx)
    w = idx[write[idx]][0]
    col = {"block": warp, "warp": thread, "grid": block}[scope]
    other = [i for i in idx if col[i] != col[w]]
    o = other[0]
    a, b = (w, o) if w < o else (o, w)
    ea, eb = e[a], e[b]
    where = trace.where(int(ea["region"]), int(word[a] << 2))
    space = "shared" if shared[a] else "global"
    la, lb = trace.line(ea["pc"]), trace.line(eb["pc"])
    verb = lambda x: "wrote" if write[x] else "read"  # noqa: E731
    between = {"block": "no __syncthreads() between them",
               "warp": "no __syncthreads() or __syncwarp() between them (lanes of one warp)",
               "grid": "in one launch -- blocks never wait for each other inside a launch"}
    lines = [f"data race on {space} memory {where}: {who(ea['block'], ea['thread'])} "
             f"{verb(a)} it at line {la} and {who(eb['block'], eb['thread'])} {verb(b)} it "
             f"at line {lb}, with {between[scope]}.",
             trace.quote(la), trace.quote(lb) if lb != la else "",
             "On a GPU the order of the two is not defined: the reader may see the old "
             "value or the new one, differently from run to run. "
             + ("Put a __syncthreads() between the write and the other thread's access."
                if scope != "grid" else
                "Give each block its own elements, or split the work into two launches.")]
    if scope != "grid":
        lines.append(_barriers_skipped(ev, ea))
    return "\n".join(x for x in lines if x)


def _barriers_skipped(ev, ea) -> str:
    """A note when threads of the racing block passed different numbers of barriers in
    its launch (the last barrier interval each was seen in): consistent with a
    __syncthreads() that some threads skip, which then orders nothing between them."""
    mine = ev[(ev["launch"] == ea["launch"]) & (ev["block"] == ea["block"])]
    threads, inverse = np.unique(mine["thread"], return_inverse=True)
    passed = np.zeros(threads.size, dtype=np.int64)
    np.maximum.at(passed, inverse, mine["epoch"].astype(np.int64))
    most, fewest = int(np.argmax(passed)), int(np.argmin(passed))
    if passed[most] == passed[fewest]:
        return ""
    return (f"Also: threads of block {int(ea['block'])} passed different numbers of barriers "
            f"(thread {int(threads[most])}: {int(passed[most]):,}, thread "
            f"{int(threads[fewest])}: {int(passed[fewest]):,}, by their last accesses). "
            f"Unless those threads returned early, that is consistent with a __syncthreads() "
            f"that some threads skip (inside an if): it does not make them wait for one "
            f"another. Every thread of a block must reach the same __syncthreads() the same "
            f"number of times.")


def _racing_groups(gid, who_col, write):
    """Row indices of (up to 8) groups with a write and two or more ``who_col`` values."""
    if gid.size == 0:
        return []
    writes = np.bincount(gid, weights=write.astype(np.int64))
    distinct = _distinct_per_group(gid, who_col)
    bad = np.flatnonzero((writes > 0) & (distinct >= 2))
    if bad.size == 0:
        return []
    order = np.argsort(gid, kind="stable")
    bounds = np.searchsorted(gid[order], bad), np.searchsorted(gid[order], bad, "right")
    out = []
    for lo, hi in zip(*bounds, strict=True):
        out.append(order[lo:hi])
        if len(out) >= 8:
            break
    return out


def attach_scratch(lib, scratch: np.ndarray) -> None:
    fn = lib.function("py2ptx_trace_attach", [ctypes.c_void_p], ctypes.c_int)
    if fn(ctypes.c_void_p(scratch.ctypes.data)):
        raise EmulationError("the memory checker could not find its own library (dladdr)")
