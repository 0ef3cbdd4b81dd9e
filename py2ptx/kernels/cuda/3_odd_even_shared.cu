/* 3_odd_even_shared.cu — odd-even transposition sort in one block, the whole array
 * in shared memory, one launch (notebook 03, rung 8).
 *
 * What changed from the previous version (2_odd_even_global.cu):
 *   - one launch instead of n: the barrier between phases is __syncthreads(), a
 *     few dozen cycles inside one SM, instead of a kernel launch of microseconds;
 *   - the keys live in shared memory (on-chip, ~30 cycles) instead of global
 *     memory (HBM through L2, hundreds of cycles): read once, sorted, written once;
 *   - each thread owns several pairs (pair p, p + blockDim.x, ...), so one block of
 *     at most 1024 threads sorts any n that fits in shared memory (48 KB by default,
 *     more when the launcher opts in: 227 KB per block on Hopper, 64 KB on Turing).
 *
 * The price: one block runs on one SM, so an H200 uses 1 of its 132 SMs.
 * Launch: grid (1,), block (threads,), dynamic shared memory n * sizeof(int).
 */
extern "C" __global__ void odd_even_shared(int *a, int n)
{
    extern __shared__ int keys[];
    for (int i = threadIdx.x; i < n; i += blockDim.x)
        keys[i] = a[i];
    __syncthreads();

    for (int phase = 0; phase < n; ++phase) {
        for (int p = threadIdx.x; 2 * p + (phase & 1) + 1 < n; p += blockDim.x) {
            int i = 2 * p + (phase & 1);
            int left = keys[i], right = keys[i + 1];
            if (left > right) {
                keys[i] = right;
                keys[i + 1] = left;
            }
        }
        __syncthreads();  // every pair of this phase is done before the next phase reads
    }

    for (int i = threadIdx.x; i < n; i += blockDim.x)
        a[i] = keys[i];
}
