"""``seqconv-bench`` / ``python -m seqconv.bench``: run the comparisons, write the table, JSON and plots.

    seqconv-bench                                # everything, about 10-15 minutes on 2 cores
    seqconv-bench --only windowing compute       # a subset
    seqconv-bench --quick --out /tmp/b           # tiny sizes: checks that it runs, figures mean nothing

Writes ``results.md`` (the table, with date and machine), ``results.json`` (every raw number) and
``long_sequence.png`` into ``--out`` (default ``logs/bench/<date>_<time>``), and prints the table.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from seqconv.bench import (
    backtest,
    baselines,
    compute,
    end_to_end,
    gpu,
    long_sequence,
    overhead,
    pipelines,
    real_data,
    windowing,
)
from seqconv.bench.measure import Context, machine_info
from seqconv.bench.report import Row, write_results
from seqconv.bench.workloads import Workloads

__all__ = ["COMPARISONS", "main", "run_suite"]

# name -> comparison, in the order they run (cheap and in-process first, long subprocess runs last)
COMPARISONS: dict[str, Callable[[Context, Workloads], list[Row]]] = {
    "windowing": windowing.run,
    "compute": compute.run,  # roofline and CPU threads
    "overhead": overhead.run,
    "pipelines": pipelines.run,
    "long_sequence": long_sequence.run,
    "end_to_end": end_to_end.run,
    "backtest": backtest.run,
    "baselines": baselines.run,
    "real_data": real_data.run,
    "gpu": gpu.run,
}
# the order of the table: the issue's
TABLE_ORDER = [
    "end-to-end",
    "backtest",
    "real data",
    "classification baselines",
    "Lightning overhead",
    "roofline",
    "windowing",
    "long sequences",
    "input pipelines",
    "CPU threads",
    "GPU",
]


def run_suite(ctx: Context, names: list[str]) -> list[Row]:
    """Run the comparisons ``names`` and return their rows in table order."""
    ctx.out.mkdir(parents=True, exist_ok=True)
    workloads = Workloads(ctx)
    rows: list[Row] = []
    for name in names:
        start = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):  # Lightning's summaries and bars: stdout is for the table
            rows += COMPARISONS[name](ctx, workloads)
        ctx.log(f"{name}: {time.perf_counter() - start:.0f} s")
    return sorted(rows, key=lambda row: TABLE_ORDER.index(row.comparison))


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, run the suite, write and print the results."""
    parser = argparse.ArgumentParser(prog="seqconv-bench", description="seqconv's performance suite", epilog=__doc__)
    parser.add_argument("--out", type=Path, help="output folder (default logs/bench/<date>_<time>)")
    parser.add_argument("--only", nargs="+", choices=list(COMPARISONS), help="run these comparisons only")
    parser.add_argument("--repeats", type=int, help="repeats of each timed thing (default 3, 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that the suite runs")
    for option, what in (("imdb", "IMDB (aclImdb)"), ("fsdd", "the Free Spoken Digit Dataset")):
        parser.add_argument(
            f"--{option}",
            metavar="SOURCE",
            help=f"run the real-data row on {what}: its URL, a mirror's, 'default' (the config's) or a local copy",
        )
    args = parser.parse_args(argv)
    out = args.out or Path("logs/bench") / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    repeats = args.repeats or (1 if args.quick else 3)
    if repeats < 1:
        parser.error(f"--repeats must be at least 1, got {repeats}")
    sources = {k: v for k, v in (("imdb", args.imdb), ("fsdd", args.fsdd)) if v}
    ctx = Context(out.resolve(), quick=args.quick, repeats=repeats, sources=sources)
    machine = machine_info()
    command = shlex.join(["seqconv-bench", *(sys.argv[1:] if argv is None else argv)])
    start = time.perf_counter()
    rows = run_suite(ctx, args.only or list(COMPARISONS))
    machine["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    text = write_results(ctx.out, rows, machine, command, time.perf_counter() - start)
    print(text)
    ctx.log(f"wrote {ctx.out / 'results.md'} and results.json")


if __name__ == "__main__":
    main()
