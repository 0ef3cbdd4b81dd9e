/* 8c_odd_even_registers.cu — odd-even transposition sort in one block, the keys in
 * registers (notebook 03, variant 8c of rung 8: the same algorithm, near the hardware).
 *
 * What changed from the previous version (8_odd_even_shared.cu):
 *   - the keys live in registers, K = KEYS_PER_THREAD (16) per thread: thread t owns
 *     the K neighbouring positions t*K ... t*K + K-1, padded with INT_MAX past n;
 *   - the even phase pairs (t*K, t*K+1), (t*K+2, t*K+3), ...: all inside one thread,
 *     K/2 compare-and-exchanges of registers, no memory and no barrier;
 *   - the odd phase pairs (t*K+1, t*K+2), ... inside the thread plus one pair across
 *     threads: (last key of t, first key of t+1). Each thread posts its first and last
 *     key in a shared-memory "mailbox", waits at one barrier, reads its neighbours'
 *     posts, and keeps max(left's last, my first) and min(my last, right's first). The
 *     mailbox has two buffers, used in turn, so a thread that runs ahead never
 *     overwrites a post its neighbour has still to read: one barrier per odd phase.
 *   - nothing else: exactly n phases of the same neighbour compare-and-exchange as
 *     rungs 7 and 8 (tests/test_sorts.py checks the keys after every phase against
 *     py2ptx.gpusorts.odd_even_phases), so it stays a same-algorithm version.
 *
 * Why: rung 8's time is consistent with a shared-memory bound, not a barrier bound
 * (results/20261128T194029Z-nvidia-h200-gpu-ladder.json: ~n^2/8 shared-memory wavefront
 * cycles predict 16.95 ms at 2^14, 17.2 ms measured; a model fit, not a counter; even
 * conflict-free shared memory would cap it near n^2/16 cycles).
 * Here a phase touches shared memory for 2 keys of K per thread, every other phase.
 * What is left is the integer min/max: one VIMNMX per key per phase (K per thread per
 * phase; tests/test_sass_facts.py counts them), n^2 in all, at 64 per clock per SM
 * (the CUDA C++ Programming Guide's throughput table for compute capability 9.0).
 * ESTIMATE, not a measurement (no GPU has run this file yet): floor n^2/64 cycles =
 * 4.2 M cycles ~ 2.1 ms at 2^14 and ~1.98 GHz; with the mailbox and its barrier
 * ~2.2-2.4 ms -- against rung 8's recorded 17.2 ms.
 *
 * KEYS_PER_THREAD is a compile-time constant (the loader may inject -DKEYS_PER_THREAD=8,
 * as CuPy's examples inject tunables) so that every key[] index is known to the
 * compiler after #pragma unroll: an array indexed at run time would live in local
 * memory (STL/LDL in the SASS), which tests/test_sass_facts.py forbids. It must be even.
 * Launch: grid (1,), block (p = ceil(n / K) <= 1024,), dynamic shared memory
 * 4 * p * sizeof(int) (two buffers of p first keys and p last keys); phases = n sorts
 * (fewer stops early, for the test that compares the keys after every phase).
 */
#ifndef KEYS_PER_THREAD
#define KEYS_PER_THREAD 16
#endif
#define K KEYS_PER_THREAD
#define KEY_MAX 0x7fffffff
#define KEY_MIN (-KEY_MAX - 1)

// The pair (a, b) becomes (min, max): two VIMNMX, no branch.
#define ORDER(a, b) { int low_ = min(a, b); b = max(a, b); a = low_; }

extern "C" __launch_bounds__(1024) __global__ void odd_even_registers(int *a, int n, int phases)
{
    extern __shared__ int mailbox[];  // [2 buffers][first keys p | last keys p]
    const int t = threadIdx.x, p = blockDim.x;
    int key[K];
#pragma unroll
    for (int k = 0; k < K; ++k)
        key[k] = t * K + k < n ? a[t * K + k] : KEY_MAX;  // INT_MAX pads sort to the end

    int box = 0;  // which buffer: 0 or 2 * p
#pragma unroll 2  // 4 phases a turn: fewer register moves at the loop's back edge
    for (int phase = 0; phase < phases; phase += 2) {
#pragma unroll
        for (int k = 0; k < K; k += 2)  // even phase: every pair inside this thread
            ORDER(key[k], key[k + 1]);
        if (phase + 1 == phases)
            break;  // an odd count: the last phase was even (every thread leaves here)

        mailbox[box + t] = key[0];  // odd phase: post my ends, then pair them across threads
        mailbox[box + p + t] = key[K - 1];
        __syncthreads();
        int left = t > 0 ? mailbox[box + p + t - 1] : KEY_MIN;  // the left neighbour's last
        int right = t + 1 < p ? mailbox[box + t + 1] : KEY_MAX;  // the right one's first
#pragma unroll
        for (int k = 1; k + 1 < K; k += 2)  // odd phase: the pairs inside this thread
            ORDER(key[k], key[k + 1]);
        key[0] = max(key[0], left);  // I am the upper half of (t-1's last, my first)
        key[K - 1] = min(key[K - 1], right);  // and the lower half of (my last, t+1's first)
        box ^= 2 * p;  // the other buffer next time (p > 0, so 0 <-> 2p)
    }

#pragma unroll
    for (int k = 0; k < K; ++k)
        if (t * K + k < n)
            a[t * K + k] = key[k];
}
