/* stale_reads.cu — can a .nc load return stale data? (notebook 05)
 *
 * What changed from the previous version (streaming_cache_hints.cu): the loads
 * that version copies read a source nobody writes during the kernel. DeepEP also
 * uses .nc loads on buffers that another agent (a GPU across NVLink) writes while
 * the kernel runs; its README called this an "undefined-behavior PTX usage" from
 * 2025-02-27 (commit 77bb07a) until its V2 release (b306af0, 2026-04-30), which moved
 * the section to docs/legacy.md. Who says what:
 *   - the PTX ISA ("ld.global.nc"): it loads "and optionally cache[s] in non-coherent
 *     read-only cache"; the memory consistency model (section 8.1, its scope) excludes
 *     texture accesses, ld.global.nc included -- no ordering rule says what one returns.
 *     The "read-only" is the cache's name there, not a rule the ISA states;
 *   - the CUDA C++ Programming Guide (__ldg, the read-only data cache): the rule -- use
 *     it only for data that is read-only for the whole lifetime of the kernel.
 * This kernel probes what happens in practice, inside one GPU:
 *
 *   block 0 (the producer), one warp:  for round k = 1..rounds:
 *       wait until the consumer acknowledged round k-1 (ld.acquire.gpu),
 *       write k into data[0..31], then flag = k (st.release.gpu: data first).
 *   block 1 (the consumer), one warp:  for round k:
 *       poll flag until it is k -- with ld.acquire.gpu (acquire_poll = 1, the
 *       correct protocol) or with ld.relaxed.gpu (0: nothing orders the data read
 *       after the flag read, as in code that polls with plain or volatile loads;
 *       then the weak data read races with the producer's write, which the memory
 *       model makes a data race: a stale value is allowed even for ld.global);
 *       while polling, keep reading data with the *priming* load (`prime`, a variant
 *       number as below), so that a copy of the line can sit in L1;
 *       then read data[lane] with the load under test (`variant`) once more, and
 *       count it as stale if it is not k; acknowledge with st.release.gpu.
 * prime == variant is the probe's first design: for the .L1::no_allocate loads no
 * L1 line then ever exists, so "never stale" is expected by construction. DeepEP's
 * issue #136 asks the other question -- a line first brought into L1 by ld.global
 * or ld.global.nc, then read with .nc.L1::no_allocate -- which prime != variant asks.
 *
 * The load under test (`variant`):
 *   0  ld.relaxed.gpu.global                     inside the model: after an acquire, never stale
 *   1  ld.global (a weak load)                    inside the model: after an acquire, never stale
 *   2  ld.global.nc                               outside the model
 *   3  ld.global.nc.L1::no_allocate               outside the model; no L1 line (sm_70+)
 *   4  ld.global.nc.L1::no_allocate.L2::256B      DeepEP's exact load (sm_80+)
 * A wait that lasts longer than `max_spins` polls stops the probe and sets
 * result[2] = 1, so a broken protocol ends instead of hanging the GPU.
 *
 * Launch: grid (2,), block (32,). result: [0] stale reads, [1] reads checked,
 * [2] timed out. data, flag, ack and result start at zero.
 */
__device__ __forceinline__ int load_acquire(const int *p)
{
    int v;
    asm volatile("ld.acquire.gpu.global.s32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
    return v;
}

__device__ __forceinline__ int load_relaxed(const int *p)
{
    int v;
    asm volatile("ld.relaxed.gpu.global.s32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
    return v;
}

__device__ __forceinline__ void store_release(int *p, int v)
{
    asm volatile("st.release.gpu.global.s32 [%0], %1;" :: "l"(p), "r"(v) : "memory");
}

__device__ __forceinline__ int load_under_test(const int *p, int variant)
{
    int v;
    switch (variant) {
    case 0:
        asm volatile("ld.relaxed.gpu.global.s32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
        break;
    case 1:
        asm volatile("ld.global.s32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
        break;
    case 2:
        asm volatile("ld.global.nc.s32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
        break;
    case 3:
        asm volatile("ld.global.nc.L1::no_allocate.s32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
        break;
    default:
#if __CUDA_ARCH__ >= 800
        asm volatile("ld.global.nc.L1::no_allocate.L2::256B.s32 %0, [%1];"
                     : "=r"(v) : "l"(p) : "memory");
#else
        v = -1;  // not on this GPU: py2ptx.deepseek skips variant 4 below sm_80
#endif
        break;
    }
    return v;
}

extern "C" __global__ void stale_probe(int *data, int *flag, int *ack, int rounds, int variant,
                                       int acquire_poll, long long max_spins,
                                       unsigned long long *result, int prime)
{
    const int lane = threadIdx.x & 31;
    if (threadIdx.x >= 32)
        return;
    if (blockIdx.x == 0) {  // the producer
        for (int k = 1; k <= rounds; ++k) {
            long long spins = 0;
            while (load_acquire(ack) != k - 1) {
                if (++spins > max_spins || atomicAdd(&result[2], 0ull) != 0) {
                    if (lane == 0)
                        atomicExch(&result[2], 1ull);
                    return;
                }
            }
            data[lane] = k;
            __threadfence();
            __syncwarp();
            if (lane == 0)
                store_release(flag, k);
        }
    } else if (blockIdx.x == 1) {  // the consumer
        int keep = 0;
        for (int k = 1; k <= rounds; ++k) {
            long long spins = 0;
            while ((acquire_poll ? load_acquire(flag) : load_relaxed(flag)) != k) {
                keep += load_under_test(&data[lane], prime);  // an old copy may be cached
                if (++spins > max_spins || atomicAdd(&result[2], 0ull) != 0) {
                    if (lane == 0)
                        atomicExch(&result[2], 1ull);
                    return;
                }
            }
            const int seen = load_under_test(&data[lane], variant);
            if (seen != k)
                atomicAdd(&result[0], 1ull);
            atomicAdd(&result[1], 1ull);
            __syncwarp();
            if (lane == 0)
                store_release(ack, k);
        }
        if (keep == 0x7fffffff)  // keeps the polling loads alive
            data[lane] = keep;
    }
}
