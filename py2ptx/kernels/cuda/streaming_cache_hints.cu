/* streaming_cache_hints.cu — what DeepSeek's custom PTX does (notebook 05).
 *
 * What changed from the previous version (11_odd_even_inline_ptx.cu): we stop
 * sorting. Rung 11 wrote in inline PTX something C already says (min/max), and
 * the SASS did not change. This file writes in inline PTX what CUDA C does not
 * say: how a load or a store should treat the caches. DeepSeek-V3's report:
 * "we employ customized PTX instructions and auto-tune the communication chunk
 * size, which significantly reduces the use of the L2 cache and the interference
 * to other SMs." Its communication library, DeepEP, built with its "aggressive PTX"
 * on, reads received data with ld.global.nc.L1::no_allocate.L2::256B (its LD_NC_FUNC,
 * csrc/kernels/utils.cuh; since DeepEP V2, csrc/kernels/legacy/utils.cuh). Every qualifier is a request, not a
 * promise: the PTX ISA gives the L1 and L2 eviction priorities as a policy "which may be
 * applied", .L2::256B as "a hint" and the cache policy as "a hint ... treated as a
 * performance hint only". The sm_80+ guard: .L2::cache_hint and createpolicy
 * need sm_80 (PTX ISA), and ptxas rejects .L2::256B below sm_80 ("Modifier '.L2::256B'
 * requires .target sm_80 or higher") although the ISA's target notes give sm_75 for the
 * prefetch sizes; for sm_80 it writes .L2::256B as LTC128B, for sm_90 as LTC256B.
 *
 * The experiment (py2ptx/deepseek.py). A *streaming* kernel stands in for
 * communication: a few blocks, one per SM, copy a buffer far larger than L2 in
 * chunks of chunk_vec 16-byte vectors, and after each chunk signal that it is
 * done (a fence and an atomic counter, as a sender tells a receiver). A *victim*
 * kernel on the other SMs re-reads a buffer of about L2's size. Every byte the
 * stream moves passes through L2; the question is how much it slows the victim,
 * and whether by taking L2's capacity or HBM's bandwidth (Nsight Compute's counters
 * decide, in the GPU check). The four stream kernels below are one body
 * (stream_body) and differ only in the PTX of their loads and stores (PTX ISA 9.0,
 * "Data Movement and Conversion Instructions": ld, st, createpolicy):
 *
 *   stream_plain        ld.global.v4.s32 / st.global.v4.s32            any GPU
 *   stream_nc_na_256b   ld.global.nc.L1::no_allocate.L2::256B (DeepEP's read):
 *                       the read-only (non-coherent) path, no L1 line, and a
 *                       256-byte L2 prefetch; plain stores                  sm_80+
 *   stream_evict_first  createpolicy.fractional.L2::evict_first, then
 *                       ld/st .L2::cache_hint with that policy: asks L2 to evict
 *                       the copied lines first (a hint: the PTX ISA says the policy
 *                       "may not always be respected")                      sm_80+
 *   stream_all_hints    nc.L1::no_allocate.L2::cache_hint.L2::256B loads and
 *                       st.global.L1::no_allocate.L2::cache_hint stores    sm_80+
 *
 * The sm_80+ kernels exist only when compiling for sm_80 or newer (the #if below):
 * on an older GPU they are absent, and py2ptx.deepseek says so rather than running
 * something else under their name. Loads are not `volatile` asm, so the compiler
 * may schedule them; each thread issues UNROLL loads before its stores, written
 * out, because asm volatile loads were seen not to be unrolled when this course
 * compiled them with NVRTC 13.0 for sm_90 (tests/test_deepseek.py reads the SASS).
 *
 * CUDA C++'s own words for the same requests (the cpp_* kernels, sm_80+, built
 * only where CCCL's headers are on the include path: py2ptx.deepseek passes it):
 *
 *   stream_cpp_ldg        __ldg                       read-only path (LDG...CONSTANT)
 *   stream_cpp_ldcs       __ldcs / __stcs             "cache streaming" (evict-first)
 *   stream_cpp_ldcg       __ldcg                      "cache global": L2 only, not L1
 *   stream_cpp_annotated  cuda::annotated_ptr<..., cuda::access_property::streaming>
 *   stream_cpp_ptx_deepep cuda::ptx::ld_nc_L1_no_allocate_L2_256B: DeepEP's exact load,
 *                         as NVIDIA's CCCL spells it (CCCL wraps it in inline PTX too)
 *
 * Controls and ablations (same body, only what they name differs):
 *   stream_plain_nofence   the signal without __threadfence(): atomicAdd alone
 *   stream_plain_release   the signal as a release atomic, atom.add.release.gpu (the PTX
 *                          of DeepEP's atomic_add_release_global, which its low-latency
 *                          kernels use; its intranode kernels release-store a tail index,
 *                          st.release.sys.global, after each chunk)
 *   stream_plain_nosignal  no signal at all (the block barrier stays)
 *   placebo                holds its SMs for a given time with no memory traffic
 *   duo                    stream and victim in ONE kernel (blocks split), so Nsight
 *                          Compute -- which serializes separate kernels -- measures
 *                          them while they really share L2
 *
 * Launch: grid (blocks,), block (threads,), any dynamic shared memory (unused:
 * asking for more than half an SM's shared memory keeps one block per SM, which is
 * how the notebook gives the stream its own SMs). chunks_done counts signals.
 */
#define UNROLL 4

#if __CUDA_ARCH__ >= 800 && defined(__has_include)
#if __has_include(<cuda/annotated_ptr>) && __has_include(<cuda/ptx>)
#include <cuda/annotated_ptr>
#include <cuda/ptx>
#define PY2PTX_HAVE_CCCL 1
#endif
#endif

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

// An L2 policy made once per thread by createpolicy: it asks that lines this thread loads
// or stores with it be the first L2 evicts (a hint the cache "may not always" respect). The
// policy is a 64-bit value the memory instructions carry (.L2::cache_hint); ptxas folds it
// into constants.
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

#if PY2PTX_HAVE_CCCL
// CUDA C++'s words (no asm in this course's code; CCCL's own headers use asm inside).
struct CppLdgMoves {  // __ldg: the read-only data cache path
    __device__ __forceinline__ int4 load(const int4 *p) const { return __ldg(p); }
    __device__ __forceinline__ void store(int4 *p, int4 v) const { *p = v; }
};
struct CppLdcsMoves {  // __ldcs/__stcs: "cache streaming, likely accessed once"
    __device__ __forceinline__ int4 load(const int4 *p) const { return __ldcs(p); }
    __device__ __forceinline__ void store(int4 *p, int4 v) const { __stcs(p, v); }
};
struct CppLdcgMoves {  // __ldcg: "cache global", in L2 and not in L1
    __device__ __forceinline__ int4 load(const int4 *p) const { return __ldcg(p); }
    __device__ __forceinline__ void store(int4 *p, int4 v) const { *p = v; }
};
struct CppAnnotatedMoves {  // libcu++: an access property carried by the pointer
    __device__ __forceinline__ int4 load(const int4 *p) const
    {
        cuda::annotated_ptr<const int4, cuda::access_property::streaming> q(p);
        return *q;
    }
    __device__ __forceinline__ void store(int4 *p, int4 v) const
    {
        cuda::annotated_ptr<int4, cuda::access_property::streaming> q(p);
        *q = v;
    }
};
struct CppPtxDeepEPMoves {  // CCCL's cuda::ptx names DeepEP's load; the store stays plain
    __device__ __forceinline__ int4 load(const int4 *p) const
    {
        return cuda::ptx::ld_nc_L1_no_allocate_L2_256B(cuda::ptx::space_global, p);
    }
    __device__ __forceinline__ void store(int4 *p, int4 v) const { *p = v; }
};
#endif

// How a block tells a receiver "this chunk is written" (after __syncthreads()).
enum Signal { FENCE_ATOMIC = 0, ATOMIC_ONLY = 1, RELEASE_ATOMIC = 2, NO_SIGNAL = 3 };

template <int S>
__device__ __forceinline__ void signal_chunk(unsigned int *chunks_done)
{
    if (S == FENCE_ATOMIC) {
        __threadfence();  // sm_90: MEMBAR.SC.GPU then CCTL.IVALL (tests/test_deepseek.py)
        atomicAdd(chunks_done, 1u);
    } else if (S == ATOMIC_ONLY) {
        atomicAdd(chunks_done, 1u);  // relaxed: orders nothing (an ablation, not a protocol)
    } else if (S == RELEASE_ATOMIC) {
        unsigned int old;  // the PTX of DeepEP's atomic_add_release_global (.s32 there)
        asm volatile("atom.add.release.gpu.global.u32 %0, [%1], 1;"
                     : "=r"(old) : "l"(chunks_done) : "memory");
    }
}

// Copy src to dst chunk by chunk: block b of nblocks takes chunks b, b + nblocks, ...
// After each chunk the block signals, as a communication kernel does.
template <class Moves, int S = FENCE_ATOMIC>
__device__ __forceinline__ void stream_body(const int4 *src, int4 *dst, long long n_vec,
                                            int chunk_vec, unsigned int *chunks_done,
                                            int block, int nblocks)
{
    const Moves moves;
    const long long chunks = (n_vec + chunk_vec - 1) / chunk_vec;
    const long long step = (long long)UNROLL * blockDim.x;
    for (long long c = block; c < chunks; c += nblocks) {
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
        if (threadIdx.x == 0)
            signal_chunk<S>(chunks_done);  // ... made visible and signalled
    }
}

extern "C" __global__ void stream_plain(const int4 *src, int4 *dst, long long n_vec,
                                        int chunk_vec, unsigned int *chunks_done)
{
    stream_body<PlainMoves, FENCE_ATOMIC>(src, dst, n_vec, chunk_vec, chunks_done, blockIdx.x, gridDim.x);
}
extern "C" __global__ void stream_plain_nofence(const int4 *src, int4 *dst, long long n_vec,
                                                int chunk_vec, unsigned int *chunks_done)
{
    stream_body<PlainMoves, ATOMIC_ONLY>(src, dst, n_vec, chunk_vec, chunks_done, blockIdx.x, gridDim.x);
}
extern "C" __global__ void stream_plain_release(const int4 *src, int4 *dst, long long n_vec,
                                                int chunk_vec, unsigned int *chunks_done)
{
    stream_body<PlainMoves, RELEASE_ATOMIC>(src, dst, n_vec, chunk_vec, chunks_done, blockIdx.x, gridDim.x);
}
extern "C" __global__ void stream_plain_nosignal(const int4 *src, int4 *dst, long long n_vec,
                                                 int chunk_vec, unsigned int *chunks_done)
{
    stream_body<PlainMoves, NO_SIGNAL>(src, dst, n_vec, chunk_vec, chunks_done, blockIdx.x, gridDim.x);
}
#if __CUDA_ARCH__ >= 800
extern "C" __global__ void stream_nc_na_256b(const int4 *src, int4 *dst, long long n_vec,
                                             int chunk_vec, unsigned int *chunks_done)
{
    stream_body<NcNoAllocate256BMoves, FENCE_ATOMIC>(src, dst, n_vec, chunk_vec, chunks_done, blockIdx.x, gridDim.x);
}
extern "C" __global__ void stream_evict_first(const int4 *src, int4 *dst, long long n_vec,
                                              int chunk_vec, unsigned int *chunks_done)
{
    stream_body<EvictFirstMoves, FENCE_ATOMIC>(src, dst, n_vec, chunk_vec, chunks_done, blockIdx.x, gridDim.x);
}
extern "C" __global__ void stream_all_hints(const int4 *src, int4 *dst, long long n_vec,
                                            int chunk_vec, unsigned int *chunks_done)
{
    stream_body<AllHintsMoves, FENCE_ATOMIC>(src, dst, n_vec, chunk_vec, chunks_done, blockIdx.x, gridDim.x);
}
#endif
#if PY2PTX_HAVE_CCCL
extern "C" __global__ void stream_cpp_ldg(const int4 *src, int4 *dst, long long n_vec,
                                          int chunk_vec, unsigned int *chunks_done)
{
    stream_body<CppLdgMoves, FENCE_ATOMIC>(src, dst, n_vec, chunk_vec, chunks_done, blockIdx.x, gridDim.x);
}
extern "C" __global__ void stream_cpp_ldcs(const int4 *src, int4 *dst, long long n_vec,
                                           int chunk_vec, unsigned int *chunks_done)
{
    stream_body<CppLdcsMoves, FENCE_ATOMIC>(src, dst, n_vec, chunk_vec, chunks_done, blockIdx.x, gridDim.x);
}
extern "C" __global__ void stream_cpp_ldcg(const int4 *src, int4 *dst, long long n_vec,
                                           int chunk_vec, unsigned int *chunks_done)
{
    stream_body<CppLdcgMoves, FENCE_ATOMIC>(src, dst, n_vec, chunk_vec, chunks_done, blockIdx.x, gridDim.x);
}
extern "C" __global__ void stream_cpp_annotated(const int4 *src, int4 *dst, long long n_vec,
                                                int chunk_vec, unsigned int *chunks_done)
{
    stream_body<CppAnnotatedMoves, FENCE_ATOMIC>(src, dst, n_vec, chunk_vec, chunks_done, blockIdx.x, gridDim.x);
}
extern "C" __global__ void stream_cpp_ptx_deepep(const int4 *src, int4 *dst, long long n_vec,
                                                 int chunk_vec, unsigned int *chunks_done)
{
    stream_body<CppPtxDeepEPMoves, FENCE_ATOMIC>(src, dst, n_vec, chunk_vec, chunks_done, blockIdx.x, gridDim.x);
}
#endif

__device__ __forceinline__ unsigned int smid()
{
    unsigned int id;  // PTX ISA, special registers: %smid (may change; read once here)
    asm volatile("mov.u32 %0, %%smid;" : "=r"(id));
    return id;
}

// The victim: every thread sums its share of buf, `passes` times over. Its working
// set (n_vec * 16 bytes) is chosen around the size of L2: alone, a set that fits should
// run at L2 speed, one past L2 at DRAM speed (the L2 curve measures both). The load is asm volatile so that no pass
// can be merged with another (the data does not change). Thread 0 of block 0 also
// records its SM's cycle counter and the global nanosecond timer at start and end
// (clock[0..3]): cycles over nanoseconds is the SM clock the victim ran at, which the
// GPU changes by itself with its load and power. Thread 0 of every block writes the
// SM it runs on to sm_of_block[block] (the placement control).
__device__ __forceinline__ void victim_body(const int4 *buf, long long n_vec, int passes,
                                            int *sink, unsigned long long *clock,
                                            unsigned int *sm_of_block, int block, int nblocks)
{
    const bool timer = block == 0 && threadIdx.x == 0;
    unsigned long long ns;
    if (threadIdx.x == 0)
        sm_of_block[block] = smid();
    if (timer) {
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(ns));
        clock[0] = clock64();
        clock[2] = ns;
    }
    int acc = 0;
    const long long stride = (long long)nblocks * blockDim.x;
    for (int p = 0; p < passes; ++p) {
        for (long long i = (long long)block * blockDim.x + threadIdx.x; i < n_vec; i += stride) {
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

extern "C" __global__ void victim(const int4 *buf, long long n_vec, int passes, int *sink,
                                  unsigned long long *clock, unsigned int *sm_of_block)
{
    victim_body(buf, n_vec, passes, sink, clock, sm_of_block, blockIdx.x, gridDim.x);
}

// The placebo: holds its SM for `ns` nanoseconds (by %globaltimer) and touches no memory
// but one word per block (the SM it ran on). Beside the victim it tests whether the
// victim's time changes merely because 20 SMs are busy (placement, power, clocks).
extern "C" __global__ void placebo(long long ns, unsigned int *sm_of_block)
{
    unsigned long long t0, t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
    do {
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    } while ((long long)(t - t0) < ns);
    if (threadIdx.x == 0)
        sm_of_block[blockIdx.x] = smid();
}

// Stream and victim in one kernel, for Nsight Compute: blocks [0, stream_blocks) stream,
// the rest are the victim. what: 0 both, 1 the stream only, 2 the victim only (the other
// blocks return at once). One block per SM as in the timed experiment.
template <class Moves>
__device__ __forceinline__ void duo_body(const int4 *src, int4 *dst, long long n_vec,
                                         int chunk_vec, unsigned int *chunks_done,
                                         const int4 *buf, long long buf_vec, int passes,
                                         int *sink, unsigned long long *clock,
                                         unsigned int *sm_of_block, int stream_blocks,
                                         int what)
{
    if ((int)blockIdx.x < stream_blocks) {
        if (what != 2)
            stream_body<Moves>(src, dst, n_vec, chunk_vec, chunks_done, blockIdx.x,
                               stream_blocks);
    } else if (what != 1) {
        victim_body(buf, buf_vec, passes, sink, clock, sm_of_block, blockIdx.x - stream_blocks,
                    gridDim.x - stream_blocks);
    }
}

// variant: 0 plain, 1 nc_na_256b, 2 evict_first, 3 all_hints (py2ptx.deepseek_probes.PTX_KEYS);
// below sm_80 only 0 is built.
extern "C" __global__ void duo(const int4 *src, int4 *dst, long long n_vec, int chunk_vec,
                               unsigned int *chunks_done, const int4 *buf, long long buf_vec,
                               int passes, int *sink, unsigned long long *clock,
                               unsigned int *sm_of_block, int stream_blocks, int what, int variant)
{
#define DUO(Moves) duo_body<Moves>(src, dst, n_vec, chunk_vec, chunks_done, buf, buf_vec, \
                                   passes, sink, clock, sm_of_block, stream_blocks, what)
    switch (variant) {
    case 0: DUO(PlainMoves); break;
#if __CUDA_ARCH__ >= 800
    case 1: DUO(NcNoAllocate256BMoves); break;
    case 2: DUO(EvictFirstMoves); break;
    case 3: DUO(AllHintsMoves); break;
#endif
    default: break;
    }
#undef DUO
}
