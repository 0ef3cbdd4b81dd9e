/* shared_too_small.cu — a mistake, kept on purpose: a __shared__ array sized for one warp,
 * used by a block of 256 threads.
 *
 * The mistake: tile has 32 ints; threads 32..255 write tile[32..255].
 * What a GPU does: writes past the block's shared memory, or over other shared
 *   variables; compute-sanitizer --tool memcheck reports "Invalid __shared__ write of
 *   size 4 bytes" at line 18 (where the block's shared window ends before tile[255]).
 * What the CPU checker says: OutOfBounds -- "thread (block 0, thread 32) wrote
 *   tile[32], past the end of __shared__ tile (32 ints), at line 18", the line quoted.
 * The fix: __shared__ int tile[256]; (blockDim.x at most), or dynamic shared memory
 *   sized at launch.
 * Launch: grid (1,), block (256,).
 */
extern "C" __global__ void stage_tile(int *a, int n)
{
    __shared__ int tile[32];
    int t = threadIdx.x;
    tile[t] = t < n ? a[t] : 0;
    __syncthreads();
    if (t < n) a[t] = tile[(t + 1) % 32];
}
