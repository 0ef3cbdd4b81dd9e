/* bubble_sort.c — rung 2 of the ladder (notebook 02): the Python bubble sort of
 * notebook 01, written in C.
 *
 * What changed from the previous version (py2ptx/kernels/bubble_python.py):
 *   - nothing in the algorithm: the same passes, the same comparisons, the same swaps;
 *   - everything in the layer: gcc turns each comparison into a handful of x86
 *     instructions instead of the dozen to thirty bytecodes CPython interprets for
 *     it (notebook 01 counts them, on your Python).
 *
 * The indices are plain `int`, as in the textbook. That detail matters at -O2:
 * see notebook 02 ("why is -O2 slower than -O1?") before you change it.
 */
#include <stdint.h>

void bubble_sort(int32_t *a, int32_t n)
{
    for (int end = n - 1; end > 0; --end) {
        for (int j = 0; j < end; ++j) {
            int32_t left = a[j], right = a[j + 1];
            if (left > right) {         /* compare ... */
                a[j] = right;           /* ... and swap */
                a[j + 1] = left;
            }
        }
    }
}
