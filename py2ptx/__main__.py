"""Command line: ``python -m py2ptx doctor`` and ``python -m py2ptx ladder``."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from . import bench, reports
from .checks import WrongResult
from .doctor import main as doctor_main
from .results import record_run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m py2ptx",
                                     description="Helpers for the course From Python to PTX.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="what this machine has and how each rung runs on it")
    lad = sub.add_parser(
        "ladder", help="every rung this machine runs, validated and timed at one n",
        description="Validate every rung this machine runs live against np.sort, time it at "
                    "one n, print a table and save a figure. Rungs that cannot run here are "
                    "listed with the reason.")
    lad.add_argument("--n", type=int, default=bench.LADDER_N,
                     help=f"number of random int32 keys (default {bench.LADDER_N})")
    lad.add_argument("--rungs", default=None,
                     help="comma-separated rung keys or numbers, e.g. 1,3,numpy_sort "
                          "(default: all)")
    lad.add_argument("--repeats", type=int, default=bench.LADDER_REPEATS,
                     help=f"timed repeats per rung (default {bench.LADDER_REPEATS})")
    lad.add_argument("--figure", default=None, metavar="PATH",
                     help="where to save the speedup figure (default build/ladder-n<N>.png)")
    lad.add_argument("--record", action="store_true",
                     help="also write the run to results/ ($PY2PTX_RESULTS) as 'ladder'")
    args = parser.parse_args(argv)
    if args.command == "doctor":
        return doctor_main()
    if args.command == "ladder":
        return _ladder(lad, args, sys.argv[1:] if argv is None else argv)
    parser.error(f"unknown command {args.command}")
    return 2


def _ladder(parser: argparse.ArgumentParser, args, argv: list[str]) -> int:
    if args.n < 2:
        parser.error(f"--n {args.n}: the ladder needs at least 2 keys")
    if args.repeats < 1:
        parser.error(f"--repeats {args.repeats}: need at least 1")
    try:
        keys = bench.ladder_keys(None if args.rungs is None else args.rungs.split(","))
    except KeyError as err:
        parser.error(f"--rungs {args.rungs}: {err.args[0]}")
    if args.n > bench.LADDER_N:
        estimate = bench.ladder_estimate(args.n, keys, args.repeats)
        if sum(estimate.values()) > bench.LADDER_SLOW_S:
            slow = ", ".join(f"{k} ~{s / 60:.0f} min" if s >= 60 else f"{k} ~{s:.0f} s"
                             for k, s in estimate.items() if s >= 1)
            print(f"warning: at n = {args.n:,} the O(n^2) CPU rungs will take about "
                  f"{sum(estimate.values()) / 60:.0f} minutes ({slow}); a smaller --n, "
                  f"or --rungs without them, is quicker.", file=sys.stderr)

    try:
        timings, skipped = bench.ladder_at(args.n, keys, args.repeats, progress=True)
    except WrongResult as err:
        print(f"error: a rung sorted wrongly, so nothing is reported:\n{err}", file=sys.stderr)
        return 1
    print(reports.ladder_report(timings, skipped))
    if not timings:
        return 1

    import matplotlib  # heavy, and only for the figure

    matplotlib.use("Agg")  # a file, never a window
    figure = Path(args.figure or f"build/ladder-n{args.n}.png")
    figure.parent.mkdir(parents=True, exist_ok=True)
    reports.ladder_figure(timings, skipped).savefig(figure, dpi=120)
    print(f"\nFigure: {figure}")
    if args.record:
        path = record_run("ladder", list(timings.values()), extra={
            "n": args.n, "rungs": keys, "repeats": args.repeats, "skipped": skipped,
            "command": shlex.join(["python", "-m", "py2ptx", *argv])})
        print(f"Recorded: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
