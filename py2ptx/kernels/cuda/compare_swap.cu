/* compare_swap.cu — the compare-and-swap step on the GPU: one phase of odd-even
 * transposition sort (the parallel bubble sort of notebook 03).
 *
 * What changed from the previous version (py2ptx/kernels/c/compare_swap.c):
 *   - the step is the same three lines (compare_swap below);
 *   - instead of one loop calling it n times, thousands of threads call it at
 *     once, each on its own pair: thread t owns the pair (2t + phase, 2t + phase + 1),
 *     so no two threads touch the same element within one phase.
 *
 * Launched n times with phase = 0, 1, 0, 1, ... it sorts n keys. Notebook 00
 * shows its PTX and SASS, compiled on the CPU by NVRTC and nvdisasm.
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
