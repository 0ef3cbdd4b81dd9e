/* 8d_merge_split_interleaved.cu — odd-even merge-split in one block, runs stored
 * interleaved (notebook 03, variant 8d of rung 8: variant 8b's bank conflicts fixed).
 *
 * What changed from the previous version (8b_merge_split_shared.cu, the "before"):
 *   - the layout: key k of thread t's run sits at keys[k * p + t] instead of
 *     keys[t * m + k]. With p a multiple of 32, the bank of keys[k * p + t] is
 *     t mod 32 whatever k is, so the 32 lanes of a warp hit 32 different banks even
 *     though each is at its own place in its own merge. In 8b lane t read bank
 *     (t * m + k) mod 32: with m = 16 all 32 lanes fall in 2 banks, a 16-way conflict
 *     (16 wavefronts per request: py2ptx.banks measures it on CPU threads);
 *   - branch-free merge: the lower and the upper thread of a pair run the same loop
 *     (the lower merges from the front keeping the smaller head, the upper from the
 *     back keeping the larger), chosen by selects, not by an if/else that splits the
 *     warp's even and odd lanes onto two paths as 8b does;
 *   - the two merge heads live in registers: each step stores one key and loads one
 *     (the next key of the run it took from), where 8b reloads both heads every step.
 *     A load comes from my run (bank t) or my partner's (bank t +- 1): at most two
 *     lanes share a bank, a conflict degree of at most 2;
 *   - a thread without a partner (the ends, in every other phase) merges with a run
 *     of sentinels (INT_MAX for a lower thread, INT_MIN for an upper) and so keeps
 *     its own run, on the same path as everyone else.
 * Same algorithm as 8b (Baudet and Stevenson's merge-split, p phases of p runs): only
 * the memory layout and the control flow changed. The runs are still first sorted by
 * insertion, each thread alone (data-dependent, so branchy, but once, not per phase).
 * The bank model on CPU threads (py2ptx.banks, tests/test_sorts.py, 1,024 keys, 64
 * threads, m = 16): 8b 8.4 wavefronts per request overall, its merged keys stored
 * 16-way; 8d 1.19 overall, no line above 1.42. A model, not a GPU counter: the GPU
 * check's Nsight Compute bank-conflict counts are what it is compared with.
 * No GPU has run this file yet: its time is for the GPU check to measure.
 * Launch: grid (1,), block (p,) with p a multiple of 32, dynamic shared memory
 * 2 * p * m * sizeof(int) (two buffers: a merge must not overwrite its partner's run).
 */
#define KEY_MAX 0x7fffffff
#define KEY_MIN (-KEY_MAX - 1)

// Thread t's run, key k: interleaved, so a warp's lanes are in different banks.
#define AT(run, k, t) run[(k) * p + (t)]

extern "C" __global__ void merge_split_interleaved(int *a, int n, int m)
{
    extern __shared__ int keys[];
    const int t = threadIdx.x, p = blockDim.x;
    int *cur = keys, *next = keys + p * m;
    for (int k = 0; k < m; ++k)
        AT(cur, k, t) = t * m + k < n ? a[t * m + k] : KEY_MAX;
    for (int k = 1; k < m; ++k) {  // insertion sort of my own run, once
        int key = AT(cur, k, t), j = k - 1;
        while (j >= 0 && AT(cur, j, t) > key) {
            AT(cur, j + 1, t) = AT(cur, j, t);
            --j;
        }
        AT(cur, j + 1, t) = key;
    }
    __syncthreads();

    for (int phase = 0; phase < p; ++phase) {
        const bool low = (t & 1) == (phase & 1);  // I keep the m smallest of the pair
        const int partner = low ? t + 1 : t - 1;
        const bool paired = partner >= 0 && partner < p;
        const int other = paired ? partner : t;  // a valid thread to read from
        const int sentinel = low ? KEY_MAX : KEY_MIN;
        const int step = low ? 1 : -1;
        int i = low ? 0 : m - 1, j = i;  // my head and my partner's head
        int mine = AT(cur, i, t);
        int theirs = paired ? AT(cur, j, other) : sentinel;
        for (int c = 0; c < m; ++c) {
            const bool take_mine = low ? mine <= theirs : mine > theirs;
            AT(next, low ? c : m - 1 - c, t) = take_mine ? mine : theirs;
            i += take_mine ? step : 0;
            j += take_mine ? 0 : step;
            // The run I took from gives its next key; clamped, since after the last
            // output one head may have left its run (that key is never used).
            const int at = min(max(take_mine ? i : j, 0), m - 1);
            const int fresh = AT(cur, at, take_mine ? t : other);
            mine = take_mine ? fresh : mine;
            theirs = take_mine ? theirs : (paired ? fresh : sentinel);
        }
        __syncthreads();  // every run of this phase is written before any is read again
        int *swap = cur;
        cur = next;
        next = swap;
    }

    for (int k = 0; k < m; ++k)
        if (t * m + k < n)
            a[t * m + k] = AT(cur, k, t);
}
