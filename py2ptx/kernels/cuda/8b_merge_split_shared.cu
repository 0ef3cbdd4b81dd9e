/* 8b_merge_split_shared.cu — odd-even merge-split sort in one block (notebook 03,
 * variant 8b of rung 8): rung 8 with runs of keys where it had single keys (Baudet and
 * Stevenson, 1978).
 *
 * What changed from the previous version (8_odd_even_shared.cu):
 *   - each of the p threads owns a run of m = ceil(n / p) keys and first sorts it
 *     alone (insertion sort; keys past n are padded with INT_MAX);
 *   - a phase pairs neighbouring runs as rung 8 paired neighbouring keys: the
 *     lower thread keeps the m smallest of the 2m keys (merging from the front), the
 *     upper thread the m largest (merging from the back);
 *   - p phases instead of n: with 1024 threads and n = 16384, 1,024 barriers instead
 *     of 16,384, each separating more work (a merge of 2m keys per thread).
 * Same family, different algorithm: more work per barrier, far fewer barriers. The
 * merged runs go to a second buffer (a thread must not overwrite keys its partner is
 * still reading), so shared memory holds 2 * p * m keys.
 *
 * Kept as the "before" of a bank-conflict exhibit (the "after" is
 * 8d_merge_split_interleaved.cu). Thread t's run is contiguous, cur[t * m + k], so
 * when the 32 lanes of a warp each read their own run the bank of lane t is
 * (t * m + k) mod 32: with m = 16 every lane lands in one of 2 banks, a 16-way
 * conflict (16 shared-memory wavefronts where 1 would do). The if/else on the
 * partner's side also sends a warp's even and odd lanes down two different paths,
 * and both heads are reloaded from shared memory at every step. Consistent with
 * that, the recorded H200 run has it slower than rung 8 (30.4 vs 17.2 ms at 2^14)
 * although it does far fewer compare-and-swaps; 8d changes only the layout and the
 * control flow, so the GPU check's 8b-vs-8d pair measures their joint effect (not
 * each one apart; the ncu bank counters beside it separate the conflicts).
 * Launch: grid (1,), block (p,), dynamic shared memory 2 * p * m * sizeof(int).
 */
#define KEY_MAX 0x7fffffff

__device__ __forceinline__ void sort_run(int *run, int m)
{
    for (int k = 1; k < m; ++k) {
        int key = run[k], j = k - 1;
        while (j >= 0 && run[j] > key) {
            run[j + 1] = run[j];
            --j;
        }
        run[j + 1] = key;
    }
}

// The m smallest of two sorted runs, in order.
__device__ __forceinline__ void keep_low(int *out, const int *mine, const int *theirs, int m)
{
    int i = 0, j = 0;
    for (int k = 0; k < m; ++k)
        out[k] = (j >= m || (i < m && mine[i] <= theirs[j])) ? mine[i++] : theirs[j++];
}

// The m largest of two sorted runs, in order.
__device__ __forceinline__ void keep_high(int *out, const int *mine, const int *theirs, int m)
{
    int i = m - 1, j = m - 1;
    for (int k = m - 1; k >= 0; --k)
        out[k] = (j < 0 || (i >= 0 && mine[i] > theirs[j])) ? mine[i--] : theirs[j--];
}

extern "C" __global__ void merge_split_shared(int *a, int n, int m)
{
    extern __shared__ int keys[];
    const int t = threadIdx.x, p = blockDim.x;
    int *cur = keys, *next = keys + p * m;
    for (int k = 0; k < m; ++k)
        cur[t * m + k] = t * m + k < n ? a[t * m + k] : KEY_MAX;
    sort_run(cur + t * m, m);
    __syncthreads();

    for (int phase = 0; phase < p; ++phase) {
        int partner = (t & 1) == (phase & 1) ? t + 1 : t - 1;
        int *out = next + t * m;
        const int *mine = cur + t * m;
        if (partner < 0 || partner >= p) {
            for (int k = 0; k < m; ++k)
                out[k] = mine[k];
        } else if (partner > t) {
            keep_low(out, mine, cur + partner * m, m);
        } else {
            keep_high(out, mine, cur + partner * m, m);
        }
        __syncthreads();  // every run of this phase is written before any is read again
        int *swap = cur;
        cur = next;
        next = swap;
    }

    for (int k = 0; k < m; ++k)
        if (t * m + k < n)
            a[t * m + k] = cur[t * m + k];
}
