/* missing_syncthreads.cu — a mistake, kept on purpose: reverse an array through shared
 * memory with no __syncthreads() between the writes and the reads.
 *
 * The mistake: thread t writes s[t] and then reads s[n - 1 - t], which another thread
 *   writes. Nothing makes that thread's write happen first.
 * What a GPU does: whatever the timing gives -- often the right answer (a block of a few
 *   warps runs nearly in step), sometimes an old value. compute-sanitizer --tool racecheck
 *   reports a hazard between the write (line 20) and the read (line 21).
 * What the CPU checker says: DataRace (py2ptx.cuda_on_cpu.run_on_cpu, checks on) --
 *   "data race on shared memory s[k]: thread (block 0, thread t) wrote it at line 20
 *   and thread (block 0, thread u) read it at line 21, with no __syncthreads() between
 *   them", both lines quoted.
 * The fix: __syncthreads(); between lines 20 and 21.
 * Launch: grid (1,), block (n,), dynamic shared memory n * sizeof(int).
 */
extern "C" __global__ void reverse_shared(int *a, int n)
{
    extern __shared__ int s[];
    int t = threadIdx.x;
    if (t < n) s[t] = a[t];
    if (t < n) a[t] = s[n - 1 - t];
}
