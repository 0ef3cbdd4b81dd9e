/* 9_bitonic.cu — bitonic sort: shared-memory stages inside a block, global merge
 * steps between blocks (notebook 03, rung 9).
 *
 * What changed from the previous version (8_odd_even_shared.cu):
 *   - the algorithm (co-optimization, not low-level optimization): Batcher's bitonic
 *     network does log2(n) * (log2(n) + 1) / 2 compare-exchange steps instead of n,
 *     each over n/2 independent pairs; O(n log^2 n) work instead of O(n^2);
 *   - so it uses every SM: a step over 2^20 keys is 2^19 independent pairs;
 *   - steps whose partner is inside a tile of 2 * blockDim.x keys run in shared
 *     memory in one launch (bitonic_sort_tile, bitonic_merge_tile); steps whose
 *     partner is further away need the whole grid to finish first, so each is one
 *     launch of bitonic_merge_global.
 *
 * n must be a power of two: the host pads with INT_MAX, which sorts to the end.
 * Step (k, j) compares i with i + j, where thread t handles i = 2j * (t / j) + t % j,
 * ascending when (i & k) == 0 and descending otherwise. j is a power of two, so that
 * index is computed with a mask and a shift (first_of_pair below): the same i, the
 * same network. The compiler cannot know j is a power of two, and t / j, t % j cost
 * ~17 of the step's 36 SASS instructions as an unsigned-division sequence
 * (I2F.U32.RP, MUFU.RCP, ...); tests/test_sass_facts.py checks none is left.
 * The recorded H200 run (results/20261128T194029Z-nvidia-h200-gpu-ladder.json)
 * measured the version with the division.
 */
// 2j * (t / j) + t % j for j a power of two: the lower index of thread t's pair.
__device__ __forceinline__ unsigned first_of_pair(unsigned t, unsigned j)
{
    return ((t & ~(j - 1)) << 1) | (t & (j - 1));
}

__device__ __forceinline__ void compare_exchange(int *keys, int i, int j, bool ascending)
{
    int left = keys[i], right = keys[i + j];
    if ((left > right) == ascending) {
        keys[i] = right;
        keys[i + j] = left;
    }
}

// Steps (k, j), (k, j/2), ..., (k, 1) on one tile in shared memory, a barrier after
// each. Directions come from the global index, so neighbouring tiles end up sorted in
// opposite directions -- exactly the bitonic sequences the next merge needs.
__device__ __forceinline__ void tile_steps(int *keys, unsigned base, unsigned k, unsigned j)
{
    const unsigned t = threadIdx.x;
    for (; j > 0; j >>= 1) {
        unsigned i = first_of_pair(t, j);
        compare_exchange(keys, i, j, ((base + i) & k) == 0);
        __syncthreads();
    }
}

// Each thread moves two keys between global and shared memory, coalesced: neighbouring
// threads touch neighbouring addresses.
__device__ __forceinline__ void tile_copy(int *to, const int *from)
{
    to[threadIdx.x] = from[threadIdx.x];
    to[threadIdx.x + blockDim.x] = from[threadIdx.x + blockDim.x];
}

// Sort each tile of 2 * blockDim.x keys: every merge size k up to the tile size.
extern "C" __global__ void bitonic_sort_tile(int *a)
{
    extern __shared__ int keys[];
    const unsigned tile = 2 * blockDim.x, base = blockIdx.x * tile;
    tile_copy(keys, a + base);
    __syncthreads();
    for (unsigned k = 2; k <= tile; k <<= 1)
        tile_steps(keys, base, k, k >> 1);
    tile_copy(a + base, keys);
}

// One step (k, j) with j >= tile: partners sit in different tiles, so it runs over
// global memory, one thread per pair, and the launch boundary is the barrier.
extern "C" __global__ void bitonic_merge_global(int *a, unsigned k, unsigned j)
{
    unsigned t = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned i = first_of_pair(t, j);
    compare_exchange(a, i, j, (i & k) == 0);
}

// The remaining steps of merge k, j = tile / 2 ... 1, all inside one tile.
extern "C" __global__ void bitonic_merge_tile(int *a, unsigned k)
{
    extern __shared__ int keys[];
    const unsigned tile = 2 * blockDim.x, base = blockIdx.x * tile;
    tile_copy(keys, a + base);
    __syncthreads();
    tile_steps(keys, base, k, tile >> 1);
    tile_copy(a + base, keys);
}
