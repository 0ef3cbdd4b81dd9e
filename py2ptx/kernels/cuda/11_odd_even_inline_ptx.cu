/* 11_odd_even_inline_ptx.cu — the shared-memory odd-even sort with its
 * compare-and-swap written two ways (notebook 04, rung 11).
 *
 * What changed from the previous version (8_odd_even_shared.cu):
 *   - the compare-and-swap has no branch: the pair becomes (min, max) and both
 *     keys are stored back whether they moved or not;
 *   - odd_even_shared_minmax writes that in C (min/max);
 *   - odd_even_shared_ptx writes it in inline PTX (min.s32 / max.s32, PTX ISA
 *     "Integer Arithmetic Instructions: min" and "...: max") through asm().
 * Notebook 04 compiles both to SASS and diffs them: the question is whether the
 * hand-written PTX changed the machine code. ptxas -- NVIDIA's assembler, inside
 * NVRTC -- turns both into SASS; inline PTX does not go around it.
 */
__device__ __forceinline__ void min_max_c(int &low, int &high)
{
    int l = min(low, high), h = max(low, high);
    low = l;
    high = h;
}

// PTX ISA, Integer Arithmetic Instructions, min and max: signed 32-bit minimum and maximum.
__device__ __forceinline__ void min_max_ptx(int &low, int &high)
{
    int l, h;
    asm("min.s32 %0, %2, %3;\n\t"
        "max.s32 %1, %2, %3;"
        : "=r"(l), "=r"(h)
        : "r"(low), "r"(high));
    low = l;
    high = h;
}

// The shared-memory sort of 8_odd_even_shared.cu, with the compare-and-swap as a
// template parameter so that both kernels below are the same code but for it.
template <void (*MIN_MAX)(int &, int &)>
__device__ __forceinline__ void odd_even_shared_body(int *a, int n)
{
    extern __shared__ int keys[];
    for (int i = threadIdx.x; i < n; i += blockDim.x)
        keys[i] = a[i];
    __syncthreads();
    for (int phase = 0; phase < n; ++phase) {
        for (int p = threadIdx.x; 2 * p + (phase & 1) + 1 < n; p += blockDim.x) {
            int i = 2 * p + (phase & 1);
            int low = keys[i], high = keys[i + 1];
            MIN_MAX(low, high);  // no branch: both keys are stored back
            keys[i] = low;
            keys[i + 1] = high;
        }
        __syncthreads();
    }
    for (int i = threadIdx.x; i < n; i += blockDim.x)
        a[i] = keys[i];
}

extern "C" __global__ void odd_even_shared_minmax(int *a, int n)
{
    odd_even_shared_body<min_max_c>(a, n);
}

extern "C" __global__ void odd_even_shared_ptx(int *a, int n)
{
    odd_even_shared_body<min_max_ptx>(a, n);
}
