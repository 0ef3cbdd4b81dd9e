/* 9b_bitonic_registers.cu — bitonic sort with the keys in registers: a whole block's
 * tile in one launch (notebook 03, variant 9b of rung 9).
 *
 * What changed from the previous version (9_bitonic.cu):
 *   - each thread holds K = KEYS_PER_THREAD (16) neighbouring keys in registers
 *     (thread t: positions t*K ... t*K + K-1 of its block's tile of T*K keys), so a
 *     tile of 1024 threads is 16,384 keys, sorted in ONE launch;
 *   - where a step's partner is, decides how the keys meet:
 *       closer than K      -- in the same thread: registers, no memory at all;
 *       closer than 32*K   -- in the same warp: __shfl_xor_sync, lane t ^ (j / K);
 *       farther            -- shared memory, padded (index i + i/32) so that the 32
 *                             lanes' t*K + r land in 32 different banks;
 *   - the "flip" form of the network (every merge of size k starts by comparing i
 *     with i ^ (k-1), then half-cleaners compare i with i ^ j): every compare sends
 *     the smaller key to the lower index, so no direction bit is ever computed, and
 *     every tile ends ascending;
 *   - shifts and masks, never a division: j, k and K are powers of two;
 *   - above one tile: the tiles are sorted by bitonic_block, then each merge of size
 *     k > tile is one launch of bitonic_merge_tiles for all its steps whose partner
 *     is in another tile (the flip, then j = k/4 ... tile: each thread owns a column
 *     and its mirror, 2 * k/tile keys in registers) and one bitonic_block launch
 *     (merge_only = 1) for the steps inside a tile. 2^16 keys: 5 launches. Merges of
 *     more than MERGE_SPAN (16) tiles fall back to one bitonic_global_step per step.
 * Same network size as rung 9: log2(n) (log2(n) + 1) / 2 steps of n/2 compare-exchanges.
 *
 * Without a GPU the same file runs on CPU threads (py2ptx.cuda_on_cpu emulates
 * __shfl_xor_sync warp by warp), so every path -- registers, shuffles, shared memory,
 * the cross-tile launches -- is checked there at small n (tests/test_sorts.py).
 *
 * Bank model on CPU threads (py2ptx.banks): 1.0 wavefront per request with the padding,
 * 16 on the t*K + r lines without it (tests/test_sorts.py, one tile of 2,048 keys).
 * ESTIMATE (no GPU has run this file): at 2^14 and 1,024 threads, 50 register steps
 * (16 min/max a thread), 40 shuffle steps (16 SHFL + 32 min/max/select) and 15
 * shared-memory steps (16 stores + 16 loads + 2 barriers): on the order of 90 k SM
 * cycles, tens of microseconds (~45 us at 1.98 GHz by this count; issue 12 estimates
 * ~28 us) -- against cupy.sort's recorded 72 us at 2^14.
 * Launch: bitonic_block: grid (tiles,), block (T,), T a power of two >= 32, dynamic
 * shared memory (T*K + T*K/32) * sizeof(int); bitonic_merge_tiles: one thread per
 * column pair (n / (2 * span) threads); bitonic_global_step: one thread per pair.
 */
#ifndef KEYS_PER_THREAD
#define KEYS_PER_THREAD 16
#endif
#define K KEYS_PER_THREAD
#if K == 2
#define LOG_K 1
#elif K == 4
#define LOG_K 2
#elif K == 8
#define LOG_K 3
#elif K == 16
#define LOG_K 4
#elif K == 32
#define LOG_K 5
#else
#error "KEYS_PER_THREAD must be 2, 4, 8, 16 or 32"
#endif

#ifndef MERGE_SPAN
#define MERGE_SPAN 16  // the most tiles bitonic_merge_tiles merges in one launch
#endif

#ifndef PAD  // (overridable only for the test that shows what the padding saves)
#define PAD(i) ((i) + ((i) >> 5))  // one spare word every 32: no two lanes share a bank
#endif
#define ORDER(a, b) { int low_ = min(a, b); b = max(a, b); a = low_; }
// One VIMNMX on sm_90: its last operand chooses min or max. Name each argument once.
#define KEEP(lower, mine, theirs) ((lower) ? min(mine, theirs) : max(mine, theirs))

// Lane t ^ lanes's value of v (lanes < 32), from register to register: every lane of
// the warp takes part (the block is whole warps), hence the full mask.
__device__ __forceinline__ int exchange(int v, unsigned lanes)
{
    return __shfl_xor_sync(0xffffffffu, v, lanes);
}

// Half-cleaners j = K/2 ... 1, all inside one thread: registers only.
__device__ __forceinline__ void register_steps(int *key)
{
#pragma unroll
    for (int j = K >> 1; j > 0; j >>= 1)
#pragma unroll
        for (int r = 0; r < K; ++r)
            if (!(r & j))
                ORDER(key[r], key[r | j]);
}

// A step across threads, every thread's K keys at once: my partner is thread
// t ^ lanes, and I hold the pair's lower positions when bit `high` of t is clear.
// A half-cleaner at distance j: lanes = high = j / K, my key r meets the partner's
// key r. The flip of a merge of size k: lanes = k / K - 1, high = k / 2K, my key r
// meets the partner's key K-1-r (position i meets i ^ (k-1)).
__device__ __forceinline__ void thread_step(int *key, int *s, unsigned lanes, unsigned high,
                                            bool flip)
{
    const unsigned t = threadIdx.x;
    const bool lower = !(t & high);
    const unsigned d = lanes;
    if (lanes < 32) {  // the partner is in my warp
        if (flip) {
#pragma unroll
            for (int r = 0; r < K / 2; ++r) {
                int theirs_high = exchange(key[K - 1 - r], d);
                int theirs_low = exchange(key[r], d);
                key[r] = KEEP(lower, key[r], theirs_high);
                key[K - 1 - r] = KEEP(lower, key[K - 1 - r], theirs_low);
            }
        } else {
#pragma unroll
            for (int r = 0; r < K; ++r) {
                int theirs = exchange(key[r], d);  // once: KEEP names it twice
                key[r] = KEEP(lower, key[r], theirs);
            }
        }
    } else {  // another warp: through shared memory
#pragma unroll
        for (int r = 0; r < K; ++r)
            s[PAD(t * K + r)] = key[r];
        __syncthreads();
        const unsigned partner = (t ^ d) * K;
#pragma unroll
        for (int r = 0; r < K; ++r) {
            int theirs = s[PAD(partner + (flip ? K - 1 - r : r))];
            key[r] = KEEP(lower, key[r], theirs);
        }
        __syncthreads();  // every read is done before the next step writes
    }
}

// Sort (merge_only = 0) or finish a merge (merge_only = 1: the half-cleaners inside
// the tile, after bitonic_global_step did those across tiles) of each tile of
// blockDim.x * K keys. Tiles end ascending.
extern "C" __launch_bounds__(1024) __global__ void bitonic_block(int *a, int merge_only)
{
    extern __shared__ int s[];
    const unsigned t = threadIdx.x, threads = blockDim.x, tile = threads * K;
    int *mine = a + blockIdx.x * tile;
    int key[K];
    for (unsigned i = t; i < tile; i += threads)  // coalesced in, through shared memory
        s[PAD(i)] = mine[i];
    __syncthreads();
#pragma unroll
    for (int r = 0; r < K; ++r)
        key[r] = s[PAD(t * K + r)];
    __syncthreads();

    if (!merge_only) {
#pragma unroll
        for (int k = 2; k <= K; k <<= 1) {  // merges inside a thread, all in registers
#pragma unroll
            for (int r = 0; r < K; ++r)
                if (r < (r ^ (k - 1)))  // the flip
                    ORDER(key[r], key[r ^ (k - 1)]);
#pragma unroll
            for (int j = k >> 2; j > 0; j >>= 1)
#pragma unroll
                for (int r = 0; r < K; ++r)
                    if (!(r & j))
                        ORDER(key[r], key[r | j]);
        }
        for (unsigned k = 2 * K; k <= tile; k <<= 1) {  // merges across threads
            thread_step(key, s, (k >> LOG_K) - 1, k >> (LOG_K + 1), true);
            for (unsigned j = k >> 2; j >= K; j >>= 1)
                thread_step(key, s, j >> LOG_K, j >> LOG_K, false);
            register_steps(key);
        }
    } else {
        for (unsigned j = tile >> 1; j >= K; j >>= 1)
            thread_step(key, s, j >> LOG_K, j >> LOG_K, false);
        register_steps(key);
    }

#pragma unroll
    for (int r = 0; r < K; ++r)
        s[PAD(t * K + r)] = key[r];
    __syncthreads();
    for (unsigned i = t; i < tile; i += threads)  // coalesced out
        mine[i] = s[PAD(i)];
}

// All the steps of one merge that cross tiles, in one launch: the merge of span tiles
// (span = k / tile, a power of two <= MERGE_SPAN) first flips -- position (q, c), tile q
// of the group, column c, meets (span-1-q, tile-1-c) -- then its half-cleaners
// j = k/4 ... tile pair (q, c) with (q ^ h, c). So column c and its mirror tile-1-c
// only ever meet each other: one thread owns both, 2 * span keys in registers, and
// the steps between them need no barrier at all. mine[q] is (q, c); mirror[q] is
// (span-1-q, tile-1-c), stored reversed so the flip pairs mine[q] with mirror[q].
// Reads and writes each key once, however many steps: 2^16 keys in 5 launches.
extern "C" __global__ void bitonic_merge_tiles(int *a, unsigned log_tile, unsigned log_span)
{
    const unsigned t = blockIdx.x * blockDim.x + threadIdx.x;  // one per column pair
    const unsigned tile = 1u << log_tile, span = 1u << log_span;
    const unsigned c = t & ((tile >> 1) - 1), group = t >> (log_tile - 1);
    int *left = a + (group << (log_tile + log_span)) + c;  // column c, tile 0
    int *right = a + (group << (log_tile + log_span)) + (tile - 1 - c);  // its mirror
    int mine[MERGE_SPAN], mirror[MERGE_SPAN];
#pragma unroll
    for (unsigned q = 0; q < MERGE_SPAN; ++q)
        if (q < span) {
            mine[q] = left[q << log_tile];
            mirror[q] = right[(span - 1 - q) << log_tile];
        }
#pragma unroll
    for (unsigned q = 0; q < MERGE_SPAN; ++q)  // the flip: mine[q] is the lower for q < span/2
        if (q < span) {
            int low = min(mine[q], mirror[q]), high = max(mine[q], mirror[q]);
            const bool lower = q < (span >> 1);
            mine[q] = lower ? low : high;
            mirror[q] = lower ? high : low;
        }
#pragma unroll
    for (unsigned h = MERGE_SPAN >> 1; h > 0; h >>= 1)  // half-cleaners, tile distance h
#pragma unroll
        for (unsigned q = 0; q < MERGE_SPAN; ++q)
            if (!(q & h) && (q | h) < span && h < span) {
                ORDER(mine[q], mine[q | h]);  // lower position q keeps the minimum
                ORDER(mirror[q | h], mirror[q]);  // reversed: position span-1-q is higher
            }
#pragma unroll
    for (unsigned q = 0; q < MERGE_SPAN; ++q)
        if (q < span) {
            left[q << log_tile] = mine[q];
            right[(span - 1 - q) << log_tile] = mirror[q];
        }
}

// One step of a merge across tiles, one thread per pair: the flip (i with i ^ (2j-1))
// or a half-cleaner (i with i + j). The launch boundary is the barrier. Used for the
// merges of more than MERGE_SPAN tiles (beyond 2^18 keys).
extern "C" __global__ void bitonic_global_step(int *a, unsigned j, int flip)
{
    const unsigned t = blockIdx.x * blockDim.x + threadIdx.x;
    const unsigned i = ((t & ~(j - 1)) << 1) | (t & (j - 1));  // bit j of i is clear
    const unsigned partner = flip ? i ^ (2 * j - 1) : i | j;
    int low = a[i], high = a[partner];
    a[i] = min(low, high);
    a[partner] = max(low, high);
}
