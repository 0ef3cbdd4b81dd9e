/* missing_bounds_guard.cu — a mistake, kept on purpose: one thread per element, but the
 * grid is rounded up to whole blocks and no thread checks its index against n.
 *
 * The mistake: with n = 1000 and blocks of 256, the grid has 1024 threads; threads
 *   1000..1023 read and write a[1000..1023], past the end of the array.
 * What a GPU does: usually nothing visible (the allocation is rounded up, or another
 *   array is silently overwritten); sometimes an illegal memory access.
 *   compute-sanitizer --tool memcheck reports "Invalid __global__ read of size 4 bytes"
 *   at line 19 (when the array is its own allocation: the GPU check turns CuPy's memory
 *   pool off).
 * What the CPU checker says: OutOfBounds -- "thread (block 3, thread 232) read
 *   a[1000], past the end of argument 1 (n = 1000), at line 19", the line quoted.
 * The fix: if (i < n) before the write.
 * Launch: grid ((n + 255) / 256,), block (256,).
 */
extern "C" __global__ void double_all(int *a, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    a[i] = 2 * a[i];
}
