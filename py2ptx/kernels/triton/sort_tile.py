"""sort_tile.py -- rung 9's bitonic sort written in Triton (notebook 04, variant 9t).

What it is, beside the CUDA C rungs:
  - rung 9 (9_bitonic.cu) sorts tiles of 2 * blockDim.x keys in shared memory, then merges
    tiles with one global launch per step (k, j >= tile). This file keeps that plan:
    sort_tiles sorts a tile of TILE keys, merge_step is one global step (k, j);
  - inside a tile, Triton writes no network by hand: ``tl.sort`` *is* a bitonic network
    (triton/language/standard.py: ``sort_impl`` runs ``_bitonic_merge_hypercube`` stages of
    ``_compare_and_swap`` on the tile reshaped to a 2 x 2 x ... hypercube). The tile lives
    in registers spread over the program's warps; the compiler chooses how partners meet
    (register shuffles or shared memory), not the student;
  - merge_step's compare-and-swap is rung 11's: the pair becomes (min, max) with no branch,
    written in inline PTX (``min.s32`` / ``max.s32``, PTX ISA "Integer Arithmetic
    Instructions: min, max") through ``tl.inline_asm_elementwise`` -- Triton's ``asm()``.
    As in rung 11, ptxas still turns that PTX into SASS (``VIMNMX`` on sm_90).

Triton compiles Python -> TTIR -> TTGIR -> LLVM IR -> PTX -> cubin (ptxas), the same last
two steps as CUDA C (py2ptx/triton_road.py shows every stage). Keys are int32; the host
pads the array to a power of two >= TILE with INT_MAX (which sorts to the end), so no
load needs a mask.
"""

import triton
import triton.language as tl


@triton.jit
def min_max_ptx(low, high):
    """(min, max) of two int32 tensors, element by element, in one inline-PTX block."""
    return tl.inline_asm_elementwise(
        "min.s32 $0, $2, $3;\n\tmax.s32 $1, $2, $3;",
        "=r,=r,r,r",
        [low, high],
        dtype=(tl.int32, tl.int32),
        is_pure=True,
        pack=1,
    )


@triton.jit
def sort_tiles(keys, k, TILE: tl.constexpr):
    """Sort each tile of TILE keys with tl.sort (one program per tile).

    Like rung 9, a tile's direction comes from its global position: descending where
    ``base & k`` is set, so neighbouring tiles form the bitonic sequences the next merge
    needs (k = TILE for the first pass, then k = the merge size). tl.sort sorts
    ascending; a descending tile is stored back reversed.
    """
    base = tl.program_id(0) * TILE
    offsets = tl.arange(0, TILE)
    tile = tl.sort(tl.load(keys + base + offsets))
    descending = (base & k) != 0
    tl.store(keys + base + tl.where(descending, TILE - 1 - offsets, offsets), tile)


@triton.jit
def merge_step(keys, k, j, PAIRS: tl.constexpr):
    """One bitonic step (k, j) with j >= TILE: PAIRS pairs (i, i + j) per program.

    i = 2j * (t / j) + t % j as in 9_bitonic.cu, with shifts and masks because j is a
    power of two; ascending where (i & k) == 0.
    """
    t = tl.program_id(0) * PAIRS + tl.arange(0, PAIRS)
    i = ((t & ~(j - 1)) << 1) | (t & (j - 1))
    low, high = min_max_ptx(tl.load(keys + i), tl.load(keys + i + j))
    ascending = (i & k) == 0
    tl.store(keys + i, tl.where(ascending, low, high))
    tl.store(keys + i + j, tl.where(ascending, high, low))
