#!/usr/bin/env python3
"""Record Triton's stages of kernels/triton/sort_tile.py for notebook 04's readers without
Triton: TTIR, TTGIR, LLVM IR, PTX and SASS for sm_90, with a manifest (Triton's version,
the date, the commit, each file's sha256). Needs Triton (`make triton`), no GPU.

    python tools/record_triton.py           # rewrite py2ptx/kernels/triton/recorded/
    python tools/record_triton.py --check   # exit 1 if the recording differs from a compile now

tests/test_triton.py runs the check where Triton is installed. Commit the files it writes
(after committing the kernel: the manifest names the commit it was made at).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from py2ptx import triton_road  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="compare the recording with a compile now; write nothing")
    parser.add_argument("--dir", type=Path, default=triton_road.RECORDED,
                        help="where the recording lives (default: %(default)s)")
    args = parser.parse_args(argv)
    if triton_road.triton_version() is None:
        print(f"record_triton: Triton is not installed. {triton_road.INSTALL_HINT}.")
        return 2
    if args.check:
        stale = triton_road.stale_stages(args.dir)
        recorded = triton_road.recorded(args.dir).triton
        if stale:
            print(f"record_triton: recorded with Triton {recorded}; Triton "
                  f"{triton_road.triton_version()} here makes different {', '.join(stale)}. "
                  f"Rerun `python tools/record_triton.py` and commit the files.")
            return 1
        print(f"record_triton: {args.dir} is current (Triton {recorded}).")
        return 0
    manifest = triton_road.record(args.dir)
    print(f"record_triton: wrote {len(manifest['files'])} files and manifest.json to {args.dir} "
          f"(Triton {manifest['triton']}, commit {(manifest['commit'] or 'unknown')[:12]}"
          f"{', uncommitted changes' if manifest['dirty'] else ''}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
