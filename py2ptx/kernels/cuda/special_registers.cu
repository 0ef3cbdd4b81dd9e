/* special_registers.cu — where and when did each block run? (notebook 04)
 *
 * What changed from the previous version (11_odd_even_inline_ptx.cu): nothing is
 * sorted; this kernel only reads PTX special registers that CUDA C has no name for,
 * through inline PTX (PTX ISA, chapter 10 "Special Registers", one section each):
 *   %smid         the SM this thread is running on
 *   %laneid       the thread's lane within its warp, 0..31
 *   %warpid       the warp's slot on its SM (it can change: read it once, use it once)
 *   %globaltimer  a global timer in nanoseconds
 * and clock64() (%clock64), the SM's own cycle counter.
 * In asm() a literal % is written %%, because %0, %1 ... name the operands.
 *
 * Each block spins for `spin` cycles so that blocks overlap in time, and thread 0
 * of each block records its SM and its start and end on the global timer.
 * Launch: grid (blocks,), block (threads,); arrays of length blocks (per block)
 * and blocks * threads (per thread).
 */
__device__ __forceinline__ unsigned smid()
{
    unsigned r;
    asm volatile("mov.u32 %0, %%smid;" : "=r"(r));
    return r;
}

__device__ __forceinline__ unsigned laneid()
{
    unsigned r;
    asm volatile("mov.u32 %0, %%laneid;" : "=r"(r));
    return r;
}

__device__ __forceinline__ unsigned warpid()
{
    unsigned r;
    asm volatile("mov.u32 %0, %%warpid;" : "=r"(r));
    return r;
}

__device__ __forceinline__ unsigned long long globaltimer()
{
    unsigned long long r;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(r));
    return r;
}

extern "C" __global__ void whoami(unsigned *block_sm, unsigned long long *block_start,
                                  unsigned long long *block_end, unsigned *thread_lane,
                                  unsigned *thread_warp, long long spin)
{
    unsigned long long start = globaltimer();
    long long t0 = clock64();
    while (clock64() - t0 < spin) {
    }
    unsigned t = blockIdx.x * blockDim.x + threadIdx.x;
    thread_lane[t] = laneid();
    thread_warp[t] = warpid();
    __syncthreads();
    if (threadIdx.x == 0) {
        block_sm[blockIdx.x] = smid();
        block_start[blockIdx.x] = start;
        block_end[blockIdx.x] = globaltimer();
    }
}
