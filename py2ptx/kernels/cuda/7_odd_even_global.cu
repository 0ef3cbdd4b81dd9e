/* 7_odd_even_global.cu — odd-even transposition sort in CUDA C, global memory,
 * one launch per phase (notebook 03, rung 7; notebook 00 shows its PTX and SASS).
 *
 * What changed from the previous version (6_odd_even_numba.py, the same kernel in
 * Python through numba.cuda):
 *   - the language: CUDA C, compiled by NVRTC (through CuPy's RawModule on a GPU,
 *     through py2ptx.cudatools on the CPU) instead of Numba's LLVM;
 *   - nothing else: thread t owns the pair (2t + phase, 2t + phase + 1), so no two
 *     threads touch the same element within one phase. The host launches it n
 *     times with phase = 0, 1, 0, 1, ...: each launch is the barrier between
 *     phases, and n launches is what this version pays for.
 *
 * The step is the three lines of py2ptx/kernels/c/compare_swap.c.
 */
__device__ __forceinline__ void compare_swap(int *a, int i)
{
    int left = a[i], right = a[i + 1];
    if (left > right) {
        a[i] = right;
        a[i + 1] = left;
    }
}

extern "C" __global__ void odd_even_step(int *a, int n, int phase)
{
    int i = 2 * (blockIdx.x * blockDim.x + threadIdx.x) + phase;
    if (i + 1 < n)
        compare_swap(a, i);
}
