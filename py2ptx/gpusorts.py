"""Every GPU rung of the ladder behind two interfaces (notebooks 03 and 04).

* ``sort(keys) -> sorted copy``, like :mod:`py2ptx.sorts`: checks its input, copies
  it to the GPU, sorts, copies back. This is what the ladder validates.
* ``*_device(d_keys)``: sorts a CuPy array in place on the GPU, with no transfers.
  This is what gets timed (CUDA events), so that host<->device copies are measured
  separately (:func:`time_transfers`) and never hide in a kernel time.
* ``*_schedule(n, threads)``: the launches a sort makes, which the CPU threads replay
  without a GPU (:meth:`py2ptx.ladder.Rung.on_cpu_threads`).

Which function belongs to which rung is said once, in the registry
(:data:`py2ptx.ladder.VERSIONS`), which also derives ``DEVICE_SORTS`` and ``SCHEDULES``.

The kernels are files in ``kernels/cuda/``; this module only launches them. The
Numba rung also runs without a GPU, in Numba's CUDA simulator
(:func:`odd_even_numba` at small n).

Why this module is long: it holds the host side of every GPU version of the sort --
fifteen rungs and variants, each a launch plan, a device sort, a ``sort`` wrapper and
a CPU-thread schedule. They share the launch helpers and the caches here; split by
rung, each file would repeat them.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from .checks import as_int32_keys
from .gpu import explained, load_module, load_ptx, numba_cuda, require_gpu, run_schedule
from .kernels import load_python
from .machine import gpu_info, max_shared_bytes, per_machine
from .timing import time_gpu

INT32_MAX = np.iinfo(np.int32).max
#: Threads per block for the kernels with one thread per pair.
PAIR_THREADS = 256


@per_machine
def _module(file: str):
    return load_module(file)


@per_machine
def _kernel(file: str, name: str):
    # Remembered, with the launch checks it has made: a sort pays them once, not per call.
    return _module(file).kernel(name)


def _blocks(items: int, threads: int) -> int:
    return max(1, (items + threads - 1) // threads)


# --------------------------------------------------------------------------- rung 6: numba


def odd_even_numba_device(d, threads: int = 128) -> None:
    """Rung 6: n launches of the numba.cuda kernel in 6_odd_even_numba.py, in place.

    ``d`` is a GPU array (CuPy or Numba), or a simulator array without a GPU.
    """
    step = load_python("cuda/6_odd_even_numba.py").odd_even_step
    n = d.shape[0]
    blocks = _blocks(n // 2, threads)
    for phase in range(n):
        step[blocks, threads](d, phase & 1)


def odd_even_numba(keys: np.ndarray, threads: int = 128) -> np.ndarray:
    """Rung 6 on a NumPy array: on the GPU, or in the simulator where there is none."""
    cuda = numba_cuda()
    d = cuda.to_device(as_int32_keys(keys).copy())
    odd_even_numba_device(d, threads)
    return d.copy_to_host()


# --------------------------------------------------------------------------- rungs 7-11: CuPy


class Schedule(NamedTuple):
    """A sort's launches on an array of ``size`` keys (padded with INT_MAX past n)."""

    size: int
    launches: list


class Launch(NamedTuple):
    """One kernel launch of a sort: which kernel, its shape, its scalar arguments."""

    kernel: str
    grid: int
    block: int
    scalars: tuple
    shared_mem: int = 0


@functools.lru_cache(maxsize=64)
def odd_even_global_launches(n: int, threads: int = PAIR_THREADS) -> tuple[Launch, ...]:
    """Rung 7's schedule: n launches of odd_even_step, phase = 0, 1, 0, 1, ...

    Cached (16,384 launches at 2^14 are not rebuilt per sort): a tuple, never mutated.
    """
    blocks = _blocks(n // 2, threads)
    return tuple(Launch("odd_even_step", blocks, threads, (np.int32(n), np.int32(phase & 1)))
                 for phase in range(n))


@functools.lru_cache(maxsize=64)
def bitonic_launches(size: int, threads: int = 512) -> tuple[Launch, ...]:
    """Rung 9's schedule for ``size`` keys (a power of two): every launch, in order.

    One tile sort, then for each merge size k beyond a tile: one global launch per
    step j >= tile, and one tile launch for the steps j < tile.
    """
    if size < 2 or size & (size - 1):
        raise ValueError(f"bitonic sort needs a power of two >= 2 keys, not {size}")
    if threads < 1 or threads & (threads - 1):
        raise ValueError(f"bitonic sort needs a power-of-two block (its tile is 2 x the "
                         f"block), not a block of {threads} threads")
    threads = min(threads, size // 2)
    tile = 2 * threads
    tiles = size // tile
    pair_threads = min(PAIR_THREADS, size // 2)
    out = [Launch("bitonic_sort_tile", tiles, threads, (), 4 * tile)]
    k = 2 * tile
    while k <= size:
        j = k // 2
        while j >= tile:
            out.append(Launch("bitonic_merge_global", size // 2 // pair_threads, pair_threads,
                              (np.uint32(k), np.uint32(j))))
            j //= 2
        out.append(Launch("bitonic_merge_tile", tiles, threads, (np.uint32(k),), 4 * tile))
        k *= 2
    return tuple(out)


def odd_even_temporal_launches(n: int, tile: int = 512, halo: int = 256) -> list[Launch]:
    """Variant 7c's schedule: ceil(n / halo) launches (made even), each up to ``halo``
    phases on every tile of ``tile`` keys plus its halos, from one half of a 2n-key
    double buffer into the other. ``(tile + 2 halo) / 2`` threads a block: a pair each."""
    if tile < 1 or halo < 1:
        raise ValueError(f"temporal blocking needs tile >= 1 and halo >= 1, not {tile}, {halo}")
    threads = min(1024, max(32, (tile + 2 * halo) // 2))
    chunks = [halo] * (n // halo) + ([n % halo] if n % halo else [])
    if len(chunks) % 2:  # an even count, so the keys end in the buffer they started in
        last = chunks.pop()
        chunks += [last // 2, last - last // 2]
    out, done = [], 0
    for i, phases in enumerate(chunks):
        out.append(Launch("odd_even_temporal", _blocks(n, tile), threads,
                          tuple(np.int32(x) for x in (n, tile, halo, (i & 1) * n, done, phases)),
                          4 * (tile + 2 * halo)))
        done += phases
    return out


#: Keys per thread in registers of 8c and 9b (their files' KEYS_PER_THREAD default).
REGISTER_KEYS = 16
#: The most threads one block may have (every CUDA GPU since compute capability 2.0).
BLOCK_THREADS = 1024


def odd_even_registers_launch(n: int, phases: int | None = None) -> Launch:
    """Variant 8c's single launch: p = ceil(n / 16) threads, 16 keys each in registers,
    a two-buffer mailbox of 4 p ints; ``phases`` (n unless told) phases of odd-even."""
    p = -(-n // REGISTER_KEYS)
    if p > BLOCK_THREADS:
        raise ValueError(f"{n} keys need {p} threads of {REGISTER_KEYS} keys in registers; a "
                         f"block has at most {BLOCK_THREADS} ({BLOCK_THREADS * REGISTER_KEYS} "
                         f"keys). Use rung 8 (shared memory) or bitonic sort for larger n.")
    return Launch("odd_even_registers", 1, p,
                  (np.int32(n), np.int32(n if phases is None else phases)), 4 * 4 * p)


def merge_split_interleaved_launch(n: int, threads: int = BLOCK_THREADS,
                                   run: int = 16) -> Launch:
    """Variant 8d's single launch: p threads (a multiple of 32, so key k of every run sits
    in its thread's own bank) with runs of m = ceil(n / p) keys, two buffers of p * m."""
    p = max(32, min(threads, 32 * -(-n // (32 * run))))
    if p % 32:
        raise ValueError(f"merge-split interleaved needs a multiple of 32 threads, not {p}")
    m = -(-n // p)
    return Launch("merge_split_interleaved", 1, p, (np.int32(n), np.int32(m)), 2 * 4 * p * m)


def bitonic_registers_size(n: int) -> int:
    """The power of two variant 9b sorts: n rounded up, and at least one warp's 32 * 16."""
    return max(padded_size(n), 32 * REGISTER_KEYS)


#: The most tiles variant 9b merges in one launch (its file's MERGE_SPAN default).
MERGE_SPAN = 16


def bitonic_registers_launches(size: int, threads: int = BLOCK_THREADS,
                               merge_span: int = MERGE_SPAN) -> list[Launch]:
    """Variant 9b's schedule for ``size`` keys (a power of two >= 512).

    One launch of bitonic_block sorts every tile of ``threads`` * 16 keys in registers;
    then for each merge size k beyond a tile: one bitonic_merge_tiles launch for all of
    its steps whose partner is in another tile (the flip, then j = k/4 ... tile), then
    one bitonic_block launch (merge_only = 1) for the steps inside a tile. A merge of
    more than ``merge_span`` tiles takes one bitonic_global_step launch per such step.
    """
    if size < 32 * REGISTER_KEYS or size & (size - 1):
        raise ValueError(f"variant 9b sorts a power of two >= {32 * REGISTER_KEYS} keys, not "
                         f"{size}; pad with bitonic_registers_size(n)")
    if threads < 32 or threads > BLOCK_THREADS or threads & (threads - 1):
        raise ValueError(f"variant 9b needs a power-of-two block of 32 to {BLOCK_THREADS} "
                         f"threads (a warp's shuffles need all 32 lanes), not {threads}")
    if merge_span > MERGE_SPAN or merge_span < 1 or merge_span & (merge_span - 1):
        raise ValueError(f"merge_span is a power of two up to the file's {MERGE_SPAN}, "
                         f"not {merge_span}")
    threads = min(threads, size // REGISTER_KEYS)
    tile = threads * REGISTER_KEYS
    tiles = size // tile
    shared = 4 * (tile + tile // 32)  # padded: one spare word every 32
    pair_threads = min(PAIR_THREADS, size // 2)

    def step(j: int, flip: int) -> Launch:
        return Launch("bitonic_global_step", size // 2 // pair_threads, pair_threads,
                      (np.uint32(j), np.int32(flip)))

    out = [Launch("bitonic_block", tiles, threads, (np.int32(0),), shared)]
    k = 2 * tile
    while k <= size:
        span = k // tile
        if span <= merge_span:  # size / (2 span) threads: one per column and its mirror
            columns = size // (2 * span)
            block = min(PAIR_THREADS, columns)
            out.append(Launch("bitonic_merge_tiles", columns // block, block,
                              (np.uint32(tile.bit_length() - 1),
                               np.uint32(span.bit_length() - 1))))
        else:
            out.append(step(k // 2, 1))
            j = k // 4
            while j >= tile:
                out.append(step(j, 0))
                j //= 2
        out.append(Launch("bitonic_block", tiles, threads, (np.int32(1),), shared))
        k *= 2
    return out


def run_launches(file: str, launches, d) -> None:
    """Launch each of ``launches`` from kernels/cuda/``file`` on the GPU array ``d``
    (checked once per cached schedule: :func:`py2ptx.gpu.run_schedule`)."""
    run_schedule(lambda name: _kernel(file, name), file, launches, d)



def odd_even_global_device(d, threads: int = PAIR_THREADS) -> None:
    """Rung 7: n launches of 7_odd_even_global.cu (one per phase), in place."""
    run_launches("7_odd_even_global.cu", odd_even_global_launches(d.size, threads), d)


def odd_even_shared_device(d, threads: int = 1024, kernel: str = "odd_even_shared",
                           file: str = "8_odd_even_shared.cu") -> None:
    """Rung 8: one launch of one block, the keys in shared memory, in place.

    n is limited by the shared memory one block may have (:func:`max_n_shared`).
    """
    n = d.size
    if n < 2:
        return
    limit = max_n_shared()
    if n > limit:
        raise ValueError(f"{n} keys do not fit in one block's shared memory on this GPU "
                         f"(at most {limit} int32 keys); use bitonic sort for larger n.")
    run_launches(file, _one_launch(odd_even_shared_launch(n, threads, kernel)), d)


@functools.lru_cache(maxsize=256)
def _one_launch(launch: Launch) -> tuple[Launch]:
    # The same tuple object for the same launch, so run_launches remembers its checks.
    return (launch,)


def odd_even_shared_launch(n: int, threads: int = 1024,
                           kernel: str = "odd_even_shared") -> Launch:
    """Rung 8's single launch: one block, every key in dynamic shared memory."""
    return Launch(kernel, 1, min(threads, max(32, n // 2)), (np.int32(n),), 4 * n)


def merge_split_launch(n: int, threads: int = 1024, run: int = 16) -> Launch:
    """Version 3b's single launch: p threads with runs of m keys, two buffers of p * m keys.

    p is chosen so that runs hold about ``run`` keys (p at most ``threads``).
    """
    p = max(1, min(threads, -(-n // run)))
    m = -(-n // p)
    return Launch("merge_split_shared", 1, p, (np.int32(n), np.int32(m)), 2 * 4 * p * m)


def merge_split_device(d, threads: int = 1024) -> None:
    """Version 3b: odd-even merge-split in one block's shared memory, in place."""
    if d.size >= 2:
        _run_merge_split("8b_merge_split_shared.cu", merge_split_launch(d.size, threads), d)


def _run_merge_split(file: str, launch: Launch, d) -> None:
    if launch.shared_mem > 4 * max_n_shared():
        raise ValueError(f"{d.size} keys need {launch.shared_mem:,} bytes of shared memory "
                         f"(two buffers); this GPU gives one block at most "
                         f"{4 * max_n_shared():,}.")
    run_launches(file, _one_launch(launch), d)


def padded_size(n: int) -> int:
    """The power of two bitonic sort works on: n rounded up (INT_MAX fills the rest)."""
    return 1 << max(1, (n - 1).bit_length())


def bitonic_device(d, threads: int = 512) -> None:
    """Rung 9: bitonic sort from 9_bitonic.cu, in place (pads to a power of two)."""
    if d.size >= 2:
        size = padded_size(d.size)
        run_padded("9_bitonic.cu", bitonic_launches(size, threads), d, size)


def run_padded(file: str, launches: list[Launch], d, size: int) -> None:
    """:func:`run_launches` on ``d`` padded with INT_MAX to ``size`` keys, which sort to
    the end and are cut off afterwards (a copy only when ``size`` is not ``d.size``)."""
    cp = require_gpu(file)
    work = d
    if size != d.size:
        work = cp.full(size, INT32_MAX, dtype=np.int32)
        work[:d.size] = d
    run_launches(file, launches, work)
    if work is not d:
        d[:] = work[:d.size]


def odd_even_temporal_device(d, tile: int = 512, halo: int = 256) -> None:
    """Variant 7c: n phases in ceil(n / halo) launches (temporal blocking), in place."""
    cp = require_gpu("odd-even sort (temporal blocking)")
    n = d.size
    if n < 2:
        return
    work = cp.empty(2 * n, dtype=np.int32)  # two buffers: launches read one, write the other
    work[:n] = d
    run_launches("7c_odd_even_temporal.cu", odd_even_temporal_launches(n, tile, halo), work)
    d[:] = work[:n]


def odd_even_registers_device(d) -> None:
    """Variant 8c: one block, 16 keys per thread in registers, n phases, in place."""
    n = d.size
    if n < 2:
        return
    run_launches("8c_odd_even_registers.cu", _one_launch(odd_even_registers_launch(n)), d)


def merge_split_interleaved_device(d, threads: int = BLOCK_THREADS) -> None:
    """Variant 8d: merge-split with interleaved runs (8b's bank conflicts fixed), in place."""
    if d.size >= 2:
        _run_merge_split("8d_merge_split_interleaved.cu",
                         merge_split_interleaved_launch(d.size, threads), d)


def bitonic_registers_device(d, threads: int = BLOCK_THREADS) -> None:
    """Variant 9b: bitonic sort with keys in registers, one launch up to 16,384 keys (a
    tile) and two more per merge above, in place (pads to a power of two >= 512)."""
    if d.size >= 2:
        size = bitonic_registers_size(d.size)
        run_padded("9b_bitonic_registers.cu", bitonic_registers_launches(size, threads), d, size)


def cupy_sort_device(d) -> None:
    """Rung 10: ``cupy.sort`` (CUB's radix sort), in place."""
    d.sort()


def odd_even_inline_ptx_device(d, threads: int = 1024) -> None:
    """Rung 11: the shared-memory sort with an inline-PTX min/max compare-and-swap."""
    odd_even_shared_device(d, threads, "odd_even_shared_ptx", "11_odd_even_inline_ptx.cu")


def odd_even_minmax_device(d, threads: int = 1024) -> None:
    """Rung 11's twin in C (min/max): the SASS to compare against, and its time."""
    odd_even_shared_device(d, threads, "odd_even_shared_minmax", "11_odd_even_inline_ptx.cu")


def odd_even_handwritten_ptx_device(d, threads: int = PAIR_THREADS) -> None:
    """Rung 7 with the hand-written 7b_odd_even_step.ptx, loaded through the driver's JIT."""
    step = load_ptx("7b_odd_even_step.ptx").kernel("odd_even_step_ptx")
    for launch in odd_even_global_launches(d.size, threads):
        step(launch.grid, launch.block, d, *launch.scalars)


def max_n_shared() -> int:
    """The most int32 keys one block can hold in shared memory on this GPU."""
    return max_shared_bytes() // 4


def on_gpu(device_sort):
    """``sort(keys) -> sorted copy`` from an in-place device sort: copy in, sort, copy out."""

    @functools.wraps(device_sort)
    def sort(keys: np.ndarray, **kwargs) -> np.ndarray:
        cp = require_gpu(device_sort.__name__)
        with explained(device_sort.__name__):
            d = cp.asarray(as_int32_keys(keys))
            device_sort(d, **kwargs)
            return cp.asnumpy(d)

    sort.__doc__ = f"{device_sort.__doc__}\n\nOn a NumPy array: copies to the GPU and back."
    return sort


odd_even_global = on_gpu(odd_even_global_device)
odd_even_shared = on_gpu(odd_even_shared_device)
bitonic = on_gpu(bitonic_device)
cupy_sort = on_gpu(cupy_sort_device)
odd_even_inline_ptx = on_gpu(odd_even_inline_ptx_device)
odd_even_minmax = on_gpu(odd_even_minmax_device)
odd_even_handwritten_ptx = on_gpu(odd_even_handwritten_ptx_device)
merge_split = on_gpu(merge_split_device)
odd_even_registers = on_gpu(odd_even_registers_device)
odd_even_temporal = on_gpu(odd_even_temporal_device)
merge_split_interleaved = on_gpu(merge_split_interleaved_device)
bitonic_registers = on_gpu(bitonic_registers_device)


def time_transfers(n: int, repeats: int = 20):
    """Host->device and device->host copies of n int32 keys, timed with CUDA events.

    Returns two :class:`~py2ptx.timing.Timing` (labels ``h2d`` and ``d2h``). The
    host array is ordinary (pageable) memory, as in every other cell of the course.
    """
    cp = require_gpu("time_transfers")
    host = np.random.default_rng(0).integers(-(2**31), 2**31 - 1, n, dtype=np.int32)
    d = cp.asarray(host)
    # Pageable copies return only when done: no spin can hide their host time, so one
    # column (device=False), and their host fraction says so.
    h2d = time_gpu(lambda: d.set(host), repeats=repeats, label="h2d", n=n, device=False)
    d2h = time_gpu(lambda: d.get(), repeats=repeats, label="d2h", n=n, device=False)
    return h2d, d2h


# --------------------------------------------------------------------------- on CPU threads

def odd_even_global_schedule(n: int, threads: int | None = None) -> Schedule:
    """Rung 7 on CPU threads: n launches of odd_even_step."""
    return Schedule(n, odd_even_global_launches(n, threads or PAIR_THREADS))


def odd_even_shared_schedule(n: int, threads: int | None = None) -> Schedule:
    """Rung 8 on CPU threads: one launch of one block."""
    return Schedule(n, [odd_even_shared_launch(n, threads or 1024)])


def merge_split_schedule(n: int, threads: int | None = None) -> Schedule:
    """Variant 8b on CPU threads: one launch of one block."""
    return Schedule(n, [merge_split_launch(n, threads or 1024)])


def bitonic_schedule(n: int, threads: int | None = None) -> Schedule:
    """Rung 9 on CPU threads: every launch, on n padded to a power of two."""
    size = padded_size(n)
    return Schedule(size, bitonic_launches(size, threads or 512))


def odd_even_temporal_schedule(n: int, threads: int | None = None) -> Schedule:
    """Variant 7c on CPU threads: tiles of ``threads`` (128) keys and halos of half that,
    so that small n still has several blocks, halos and launches; 2n keys (two buffers)."""
    tile = threads or 128
    return Schedule(2 * n, odd_even_temporal_launches(n, tile, max(1, tile // 2)))


def odd_even_registers_schedule(n: int, threads: int | None = None) -> Schedule:
    """Variant 8c on CPU threads: one launch; ceil(n / 16) threads (``threads`` unused:
    the keys per thread are fixed at compile time, so n sets the block)."""
    return Schedule(n, [odd_even_registers_launch(n)])


def merge_split_interleaved_schedule(n: int, threads: int | None = None) -> Schedule:
    """Variant 8d on CPU threads: one launch of one block."""
    return Schedule(n, [merge_split_interleaved_launch(n, threads or BLOCK_THREADS)])


def bitonic_registers_schedule(n: int, threads: int | None = None) -> Schedule:
    """Variant 9b on CPU threads: every launch; small ``threads`` (32) make small tiles,
    so the cross-tile launches run at small n too."""
    size = bitonic_registers_size(n)
    return Schedule(size, bitonic_registers_launches(size, threads or BLOCK_THREADS))


# --------------------------------------------------------------------------- for teaching


def odd_even_phases(keys: np.ndarray) -> list[np.ndarray]:
    """The keys after each phase of odd-even transposition sort, computed with NumPy.

    A reference for notebook 03's picture: phase p compares the pairs starting at
    even (p even) or odd (p odd) indices, all at once, as the GPU threads do.
    """
    a = as_int32_keys(keys).copy()
    out = [a.copy()]
    for phase in range(a.size):
        i = np.arange(phase & 1, a.size - 1, 2)
        low, high = np.minimum(a[i], a[i + 1]), np.maximum(a[i], a[i + 1])
        a[i], a[i + 1] = low, high
        out.append(a.copy())
    return out


#: who_ran_what's launch: blocks of 1,024 threads, so an SM holds at most two at once
#: (2,048 threads per SM on sm_80 and sm_90; one on GPUs with 1,536), and six blocks per
#: SM, so the block scheduler must start them in waves as earlier blocks finish.
WHOAMI_THREADS = 1024
WHOAMI_BLOCKS_PER_SM = 6


def who_ran_what(blocks: int | None = None, threads: int = WHOAMI_THREADS,
                 spin: int = 200_000) -> dict:
    """Launch special_registers.cu's ``whoami``: which SM ran each block, and when.

    Returns plain lists (JSON-ready, so the GPU check can record it): per block its
    SM and its start and end in ns from the first start; per thread its lane and warp
    slot. ``blocks`` defaults to :data:`WHOAMI_BLOCKS_PER_SM` per SM, more than can be
    resident at once, so the picture (:func:`py2ptx.plots.block_schedule`) shows waves;
    ``max_threads_per_sm`` is recorded beside them, the limit that makes the waves.
    """
    cp = require_gpu("who_ran_what")
    sms = gpu_info().get("sms") or 1
    blocks = blocks or WHOAMI_BLOCKS_PER_SM * sms
    kernel = _kernel("special_registers.cu", "whoami")
    block_sm = cp.zeros(blocks, dtype=cp.uint32)
    start = cp.zeros(blocks, dtype=cp.uint64)
    end = cp.zeros(blocks, dtype=cp.uint64)
    lane = cp.zeros(blocks * threads, dtype=cp.uint32)
    warp = cp.zeros(blocks * threads, dtype=cp.uint32)
    kernel(blocks, threads, block_sm, start, end, lane, warp, np.int64(spin))
    cp.cuda.Device().synchronize()
    t0 = int(start.min())
    attributes = cp.cuda.Device().attributes
    return {"blocks": blocks, "threads": threads, "spin_cycles": spin, "sms": sms,
            "max_threads_per_sm": attributes.get("MaxThreadsPerMultiProcessor"),
            "block_sm": cp.asnumpy(block_sm).tolist(),
            "block_start_ns": (cp.asnumpy(start) - t0).tolist(),
            "block_end_ns": (cp.asnumpy(end) - t0).tolist(),
            "thread_lane": cp.asnumpy(lane[: 2 * 32 + 8]).tolist(),
            "thread_warp": cp.asnumpy(warp[: 2 * 32 + 8]).tolist()}


def block_residency(data: dict) -> dict:
    """What :func:`who_ran_what`'s record says about the block scheduler (no GPU needed).

    ``slot``: per block, which of its SM's places it held (the lowest free when it
    started: a block takes a place another has left); ``most_at_once``: the most blocks
    any SM held at the same time; ``waves``: how many times over, at most, an SM filled
    its places (1: every block started at once); ``start_spread_us``: the time from the
    first block's start to the last one's.
    """
    sm = np.asarray(data["block_sm"])
    start = np.asarray(data["block_start_ns"], dtype=np.float64)
    end = np.asarray(data["block_end_ns"], dtype=np.float64)
    slot = np.zeros(sm.size, dtype=np.int64)
    waves = most = 0
    for s in np.unique(sm):
        here = np.flatnonzero(sm == s)
        ends: list[float] = []  # when each place of this SM becomes free
        for b in here[np.argsort(start[here], kind="stable")]:
            free = [i for i, e in enumerate(ends) if e <= start[b]]
            i = free[0] if free else len(ends)
            if i == len(ends):
                ends.append(end[b])
            ends[i] = end[b]
            slot[b] = i
        most = max(most, len(ends))
        waves = max(waves, -(-here.size // len(ends)))
    return {"slot": slot.tolist(), "most_at_once": int(most), "waves": int(waves),
            "start_spread_us": float(start.max() - start.min()) / 1e3 if start.size else 0.0}


def schedule_caption(data: dict) -> str:
    """What notebook 04's block schedule (:func:`py2ptx.plots.block_schedule`, which prints
    it under the picture) shows, computed from the record it draws (:func:`who_ran_what`)."""
    r = block_residency(data)
    if r["waves"] > 1:
        return (f"Each SM held at most {r['most_at_once']} blocks at once, so the "
                f"{data['blocks']:,} blocks started in {r['waves']} waves over "
                f"{r['start_spread_us']:,.0f} µs: a block started on an SM when one before it "
                f"there had ended.")
    text = (f"All {data['blocks']:,} blocks were resident at once (up to "
            f"{r['most_at_once']} per SM) and started within {r['start_spread_us']:,.1f} µs, so "
            f"this picture shows where blocks ran, not how the scheduler queues them.")
    if (data["threads"], data["blocks"]) != (WHOAMI_THREADS,
                                             WHOAMI_BLOCKS_PER_SM * data["sms"]):
        text += (f" It was recorded with an older launch ({data['threads']:,} threads a "
                 f"block). The launch that queues blocks -- {WHOAMI_BLOCKS_PER_SM} blocks of "
                 f"{WHOAMI_THREADS:,} threads per SM, more than fit at once -- is not yet "
                 f"recorded on a GPU; the GPU check records it.")
    return text
