/* compare_swap.c — the one step every sort in this course is made of, in C
 * (notebook 00 shows what each layer of the stack turns it into).
 *
 * What changed from the previous version (py2ptx/kernels/bubble_python.py,
 * compare_swap): the same three lines, typed. The compiler now knows a[i] is a
 * 32-bit integer, so no type checks happen at run time.
 */
#include <stdint.h>

void compare_swap(int32_t *a, int32_t i)
{
    int32_t left = a[i], right = a[i + 1];
    if (left > right) {
        a[i] = right;
        a[i + 1] = left;
    }
}
