/* 8_odd_even_shared.cu — odd-even transposition sort in one block, the whole array
 * in shared memory, one launch (notebook 03, rung 8).
 *
 * What changed from the previous version (7_odd_even_global.cu):
 *   - one launch instead of n: the barrier between phases is __syncthreads(), which
 *     only the threads of one block wait at, inside one SM, instead of a kernel launch
 *     that goes through the driver and waits for the whole GPU;
 *   - the keys live in shared memory, on the chip next to the cores, instead of global
 *     memory (HBM, reached through the L2 cache): read once, sorted, written once;
 *   - each thread owns several pairs (pair p, p + blockDim.x, ...), so one block of
 *     at most 1024 threads sorts any n that fits in shared memory: 48 KB by default,
 *     more when the launcher opts in, up to the limit the GPU reports
 *     (MaxSharedMemoryPerBlockOptin; py2ptx.gpusorts.max_n_shared() in keys).
 *
 * The price: one block runs on one SM, so the other SMs of the GPU sit idle.
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
