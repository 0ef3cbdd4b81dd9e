/* barrier_in_if.cu — a mistake, kept on purpose: a __syncthreads() inside an if that
 * only some threads of the block enter.
 *
 * The mistake: the first 16 threads (half a warp) stage keys and wait at the barrier of
 *   line 23; the others skip it and wait at the barrier of line 25. CUDA requires every
 *   thread of a block to reach the same __syncthreads() ("conditional code only if the
 *   condition evaluates identically across the entire thread block").
 * What a GPU does: undefined -- a hang, or two barriers that pair up wrongly and wrong
 *   data. compute-sanitizer --tool synccheck reports a barrier error (divergent threads).
 * What the CPU checker says: DivergentBarrier -- "threads of block 0 met at different
 *   __syncthreads(): thread (block 0, thread 0) waits at the one of line 23 while thread
 *   (block 0, thread 16) reached the one of line 25", both lines quoted, at once (no
 *   30-second wait for a timeout).
 * The fix: take the barrier out of the if; guard only the work.
 * Launch: grid (1,), block (64,), dynamic shared memory 64 * sizeof(int).
 */
extern "C" __global__ void stage_half(int *a, int n)
{
    extern __shared__ int s[];
    int t = threadIdx.x;
    if (t < 16) {
        s[t] = a[t];
        __syncthreads();
    }
    __syncthreads();
    if (t < n) a[t] = s[t % 16];
}
