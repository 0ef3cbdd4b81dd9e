#!/usr/bin/env python3
"""py2ptx's own host cost per GPU sort, measured without a GPU.

CuPy is replaced by tests/fake_cupy.py with kernels that do nothing, so what is timed is
only the Python between the caller and the launches: schedules, argument checks, the
launch loop. (CuPy's own launch cost, ~9 µs a launch on the H200, is not in it.)

    python tools/host_cost.py          # median of 7 calls per sort
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]


class _Patch:
    def setitem(self, mapping, key, value):
        mapping[key] = value


def main() -> int:
    import fake_cupy
    import numpy as np

    fake_cupy.install(_Patch())
    fake_cupy.RawKernel.__call__ = lambda self, grid, block, args, shared_mem=0: None

    from py2ptx import gpusorts, machine

    machine.forget()
    for name, fn, n in [("odd_even_global (rung 7)", gpusorts.odd_even_global_device, 2**14),
                        ("odd_even_shared (rung 8)", gpusorts.odd_even_shared_device, 2**14),
                        ("merge_split (8b)", gpusorts.merge_split_device, 2**14),
                        ("bitonic (rung 9)", gpusorts.bitonic_device, 2**20)]:
        d = fake_cupy.asarray(np.zeros(n, dtype=np.int32))
        fn(d)  # the first call builds and checks; the rest are what every sort pays
        samples = []
        for _ in range(7):
            t0 = time.perf_counter()
            fn(d)
            samples.append(time.perf_counter() - t0)
        print(f"{name:<26} n = {n:>9,}: {statistics.median(samples) * 1e6:9.1f} µs a call")
    return 0


if __name__ == "__main__":
    sys.exit(main())
