/* 7c_odd_even_temporal.cu — odd-even transposition sort across many SMs, a launch per
 * H phases instead of per phase: temporal blocking (notebook 03, variant 7c of rung 7).
 *
 * What changed from the previous version (7_odd_even_global.cu, a launch per phase):
 *   - each block owns a tile of the array and copies it into shared memory together
 *     with a halo of H keys on each side (clamped at the array's ends);
 *   - it then runs up to H phases on that window with __syncthreads() between them,
 *     pairing positions by their global index exactly as rung 7 does. After s phases a
 *     key depends on the keys up to s places away, so the window's outer s keys may be
 *     wrong (their partners lie outside it) -- but after H phases the tile, H keys from
 *     each edge of its window, is exactly what n launches of rung 7 would have made;
 *   - only the tile is written, to the other half of a double buffer (a neighbour may
 *     still be reading this tile as its halo); the next launch reads it back. So n
 *     phases take ceil(n / H) launches (made even, so the keys end where they began),
 *     not n, and every launch runs on ceil(n / tile) SMs, not rung 8's one.
 * Same algorithm: the same n phases of the same neighbour compare-and-exchange; the
 * halos only recompute phases a neighbouring block also computes. That is not a small
 * overhead: a block runs its phases on tile + 2H keys to keep tile of them, so
 * (tile + 2H) / tile as many compare-and-exchanges as rung 7 makes -- x2 at tile 512,
 * H 256. tests/test_sorts.py checks the keys after every launch
 * against py2ptx.gpusorts.odd_even_phases after as many phases.
 * Its shared-memory pairs are rung 8's (keys[i], keys[i+1] at i = 2t: a 2-way bank
 * conflict); its point is the many SMs and the n/H launches.
 * ESTIMATE, not a measurement (no GPU has run this file): at 2^14 keys, tiles of 512,
 * H = 256, 512 threads a block: 64 launches on 32 SMs of ~256 phases of a 1,024-key
 * window, ~5-10 us each: ~0.5-1 ms of GPU time, plus Python's ~10 us a launch.
 * Launch: grid (ceil(n / tile),), block (threads,), dynamic shared memory
 * (tile + 2 * halo) * sizeof(int); a holds 2n keys: the two buffers, src = 0 or n.
 */
extern "C" __global__ void odd_even_temporal(int *a, int n, int tile, int halo, int src,
                                             int first_phase, int phases)
{
    extern __shared__ int keys[];
    const int *in = a + src;
    int *out = a + (n - src);  // the other buffer
    const int base = blockIdx.x * tile;
    const int lo = max(base - halo, 0), hi = min(base + tile + halo, n);
    for (int i = threadIdx.x; i < hi - lo; i += blockDim.x)
        keys[i] = in[lo + i];
    __syncthreads();

    for (int s = 0; s < phases; ++s) {
        // Phase p pairs (g, g + 1) for every g of p's parity, as rung 7 does.
        const int first = lo + ((lo ^ (first_phase + s)) & 1);
        for (int g = first + 2 * threadIdx.x; g + 1 < hi; g += 2 * blockDim.x) {
            int left = keys[g - lo], right = keys[g + 1 - lo];
            keys[g - lo] = min(left, right);
            keys[g + 1 - lo] = max(left, right);
        }
        __syncthreads();  // every pair of this phase is done before the next reads
    }

    for (int i = base + threadIdx.x; i < min(base + tile, n); i += blockDim.x)
        out[i] = keys[i - lo];
}
