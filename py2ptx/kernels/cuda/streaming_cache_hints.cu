/* streaming_cache_hints.cu — what DeepSeek's custom PTX does (notebook 05).
 *
 * What changed from the previous version (11_odd_even_inline_ptx.cu): we stop
 * sorting. Rung 11 wrote in inline PTX something C already says (min/max), and
 * the SASS did not change. This file writes in inline PTX what CUDA C does not
 * say: how a load or a store should treat the caches. DeepSeek-V3's report:
 * "we employ customized PTX instructions and auto-tune the communication chunk
 * size, which significantly reduces the use of the L2 cache and the interference
 * to other SMs." Its communication library, DeepEP, reads received data with
 * ld.global.nc.L1::no_allocate.L2::256B.
 *
 * The experiment (py2ptx/deepseek.py). A *streaming* kernel stands in for
 * communication: a few blocks, one per SM, copy a buffer far larger than L2 in
 * chunks of chunk_vec 16-byte vectors, and after each chunk signal that it is
 * done (a fence and an atomic counter, as a sender tells a receiver). A *victim*
 * kernel on the other SMs re-reads a buffer of about L2's size. Every byte the
 * stream moves passes through L2; the question is how much of L2 it takes from
 * the victim. The four stream kernels below are one body (stream_body) and
 * differ only in the PTX of their loads and stores (PTX ISA 9.0, "Data Movement
 * and Conversion Instructions": ld, st, createpolicy):
 *
 *   stream_plain        ld.global.v4.s32 / st.global.v4.s32            any GPU
 *   stream_nc_na_256b   ld.global.nc.L1::no_allocate.L2::256B (DeepEP's read):
 *                       the read-only (non-coherent) path, no L1 line, and a
 *                       256-byte L2 prefetch; plain stores                  sm_80+
 *   stream_evict_first  createpolicy.fractional.L2::evict_first, then
 *                       ld/st .L2::cache_hint with that policy: the copied lines
 *                       are the first L2 evicts                             sm_80+
 *   stream_all_hints    nc.L1::no_allocate.L2::cache_hint.L2::256B loads and
 *                       st.global.L1::no_allocate.L2::cache_hint stores    sm_80+
 *
 * The sm_80+ kernels exist only when compiling for sm_80 or newer (the #if below):
 * on an older GPU they are absent, and py2ptx.deepseek says so rather than running
 * something else under their name. Loads are not `volatile` asm, so the compiler
 * may schedule them; each thread issues UNROLL loads before its stores, written
 * out, because asm volatile loads were seen not to be unrolled (shared/DEVICE.md).
 *
 * Launch: grid (blocks,), block (threads,), any dynamic shared memory (unused:
 * asking for more than half an SM's shared memory keeps one block per SM, which is
 * how the notebook gives the stream its own SMs). chunks_done counts signals.
 */
#define UNROLL 4

struct PlainMoves {
    __device__ __forceinline__ int4 load(const int4 *p) const
    {
        int4 v;
        asm("ld.global.v4.s32 {%0, %1, %2, %3}, [%4];"
            : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
        return v;
    }
    __device__ __forceinline__ void store(int4 *p, int4 v) const
    {
        asm volatile("st.global.v4.s32 [%0], {%1, %2, %3, %4};"
                     :: "l"(p), "r"(v.x), "r"(v.y), "r"(v.z), "r"(v.w) : "memory");
    }
};

#if __CUDA_ARCH__ >= 800
struct NcNoAllocate256BMoves {  // DeepEP's read; the store stays plain
    __device__ __forceinline__ int4 load(const int4 *p) const
    {
        int4 v;
        asm("ld.global.nc.L1::no_allocate.L2::256B.v4.s32 {%0, %1, %2, %3}, [%4];"
            : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
        return v;
    }
    __device__ __forceinline__ void store(int4 *p, int4 v) const { PlainMoves().store(p, v); }
};

// An L2 policy made once per thread by createpolicy: lines this thread loads or stores
// with it are the first L2 evicts. The policy is a 64-bit value the memory instructions
// carry (.L2::cache_hint); ptxas folds it into constants.
struct EvictFirstPolicy {
    unsigned long long policy;
    __device__ __forceinline__ EvictFirstPolicy()
    {
        asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(policy));
    }
};

struct EvictFirstMoves : EvictFirstPolicy {  // plain loads and stores, with the policy
    __device__ __forceinline__ int4 load(const int4 *p) const
    {
        int4 v;
        asm("ld.global.L2::cache_hint.v4.s32 {%0, %1, %2, %3}, [%4], %5;"
            : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p), "l"(policy));
        return v;
    }
    __device__ __forceinline__ void store(int4 *p, int4 v) const
    {
        asm volatile("st.global.L2::cache_hint.v4.s32 [%0], {%1, %2, %3, %4}, %5;"
                     :: "l"(p), "r"(v.x), "r"(v.y), "r"(v.z), "r"(v.w), "l"(policy)
                     : "memory");
    }
};

struct AllHintsMoves : EvictFirstPolicy {  // DeepEP's read plus the policy; stores skip L1
    __device__ __forceinline__ int4 load(const int4 *p) const
    {
        int4 v;
        asm("ld.global.nc.L1::no_allocate.L2::cache_hint.L2::256B.v4.s32 {%0, %1, %2, %3}, [%4], %5;"
            : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p), "l"(policy));
        return v;
    }
    __device__ __forceinline__ void store(int4 *p, int4 v) const
    {
        asm volatile("st.global.L1::no_allocate.L2::cache_hint.v4.s32 [%0], {%1, %2, %3, %4}, %5;"
                     :: "l"(p), "r"(v.x), "r"(v.y), "r"(v.z), "r"(v.w), "l"(policy)
                     : "memory");
    }
};
#endif

// Copy src to dst chunk by chunk: block b takes chunks b, b + gridDim.x, ...
// After each chunk the block signals, as a communication kernel does.
template <class Moves>
__device__ __forceinline__ void stream_body(const int4 *src, int4 *dst, long long n_vec,
                                            int chunk_vec, unsigned int *chunks_done)
{
    const Moves moves;
    const long long chunks = (n_vec + chunk_vec - 1) / chunk_vec;
    const long long step = (long long)UNROLL * blockDim.x;
    for (long long c = blockIdx.x; c < chunks; c += gridDim.x) {
        const long long begin = c * chunk_vec;
        const long long end = min(begin + (long long)chunk_vec, n_vec);
        for (long long i = begin + threadIdx.x; i < end; i += step) {
            int4 v[UNROLL];
#pragma unroll
            for (int k = 0; k < UNROLL; ++k) {
                const long long j = i + (long long)k * blockDim.x;
                if (j < end)
                    v[k] = moves.load(src + j);
            }
#pragma unroll
            for (int k = 0; k < UNROLL; ++k) {
                const long long j = i + (long long)k * blockDim.x;
                if (j < end)
                    moves.store(dst + j, v[k]);
            }
        }
        __syncthreads();  // the whole chunk is written ...
        if (threadIdx.x == 0) {
            __threadfence();  // ... made visible to the whole GPU ...
            atomicAdd(chunks_done, 1u);  // ... and signalled
        }
    }
}

extern "C" __global__ void stream_plain(const int4 *src, int4 *dst, long long n_vec,
                                        int chunk_vec, unsigned int *chunks_done)
{
    stream_body<PlainMoves>(src, dst, n_vec, chunk_vec, chunks_done);
}

#if __CUDA_ARCH__ >= 800
extern "C" __global__ void stream_nc_na_256b(const int4 *src, int4 *dst, long long n_vec,
                                             int chunk_vec, unsigned int *chunks_done)
{
    stream_body<NcNoAllocate256BMoves>(src, dst, n_vec, chunk_vec, chunks_done);
}

extern "C" __global__ void stream_evict_first(const int4 *src, int4 *dst, long long n_vec,
                                              int chunk_vec, unsigned int *chunks_done)
{
    stream_body<EvictFirstMoves>(src, dst, n_vec, chunk_vec, chunks_done);
}

extern "C" __global__ void stream_all_hints(const int4 *src, int4 *dst, long long n_vec,
                                            int chunk_vec, unsigned int *chunks_done)
{
    stream_body<AllHintsMoves>(src, dst, n_vec, chunk_vec, chunks_done);
}
#endif

// The victim: every thread sums its share of buf, `passes` times over. Its working
// set (n_vec * 16 bytes) is chosen around the size of L2: alone, a set that fits runs
// at L2 speed; a stream that evicts its lines sends it to DRAM. The load is asm
// volatile so that no pass can be merged with another (the data does not change).
// Thread 0 of block 0 also records its SM's cycle counter and the global nanosecond
// timer at start and end (clock[0..3]): cycles over nanoseconds is the SM clock the
// victim ran at, which the GPU changes by itself with its load and power.
extern "C" __global__ void victim(const int4 *buf, long long n_vec, int passes, int *sink,
                                  unsigned long long *clock)
{
    const bool timer = blockIdx.x == 0 && threadIdx.x == 0;
    unsigned long long ns;
    if (timer) {
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(ns));
        clock[0] = clock64();
        clock[2] = ns;
    }
    int acc = 0;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (int p = 0; p < passes; ++p) {
        for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n_vec;
             i += stride) {
            int x, y, z, w;
            asm volatile("ld.global.v4.s32 {%0, %1, %2, %3}, [%4];"
                         : "=r"(x), "=r"(y), "=r"(z), "=r"(w) : "l"(buf + i));
            acc += x ^ y ^ z ^ w;
        }
    }
    if (acc == 0x7fffffff)  // almost never true; keeps acc, and so every load, alive
        sink[0] = acc;
    if (timer) {
        clock[1] = clock64();
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(ns));
        clock[3] = ns;
    }
}
