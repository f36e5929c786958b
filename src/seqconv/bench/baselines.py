"""Classification baselines' cost: the majority class and the linear baseline (TF-IDF + logistic regression for
text, MFCC statistics + logistic regression for audio) against the default training run they sit beside.

Each domain runs ``train.py`` as a user would (``data=reviews`` with TextCNN on the suite's generated reviews,
``data=digits`` with the audio CNN on its generated FSDD-layout clips; the project's defaults otherwise, with
``logger=none``), in a fresh run dir so that nothing is cached. The baselines' share is the time ``train.py``
logs for fitting and scoring them over the whole process's wall time. The generated data are not IMDB or FSDD:
the times say what the baselines cost next to a run of that size, not what either model reaches.
"""

from __future__ import annotations

import re
import shutil

from seqconv.bench.measure import Context, median, run_python
from seqconv.bench.report import Row
from seqconv.bench.workloads import Workloads, has_textcnn

__all__ = ["COST_GOAL", "run"]

COST_GOAL = 0.10  # issue 12: at most 10% of the default run's time
_FITTED = re.compile(r"baselines fitted on (\d+) training items, scored on (\d+) test items in ([0-9.]+) s")


def _domains(ctx: Context) -> list[tuple[str, str]]:
    domains = [("digits", "audiocnn")]
    return [("reviews", "textcnn"), *domains] if has_textcnn() else domains


def run(ctx: Context, workloads: Workloads) -> list[Row]:
    """One row per classification domain: baseline seconds / whole-run seconds, median of the repeats."""
    rows = []
    for data, model in _domains(ctx):
        shares, fitted, totals = [], [], []
        for repeat in range(ctx.repeats):
            ctx.log(f"baselines' cost, {data}: repeat {repeat + 1} of {ctx.repeats}")
            run_dir = ctx.out / "baselines" / f"{data}_{repeat}"
            shutil.rmtree(run_dir, ignore_errors=True)
            args = ["-m", "seqconv.cli.train", f"model={model}", *workloads.data_overrides(data), "logger=none"]
            args += [f"hydra.run.dir={run_dir}", "callbacks.progress_bar=null", *ctx.train_overrides()]
            if data == "reviews":  # a cache of its own per repeat: tokenizing is part of the run's time
                args.append(f"data.data_dir={run_dir / 'cache'}")
            seconds, output = run_python(args, ctx.out, timeout=1800)
            match = _FITTED.search(output)
            if match is None:
                raise RuntimeError(f"train.py data={data} logged no baseline time:\n{output[-2000:]}")
            fitted.append(float(match.group(3)))
            totals.append(seconds)
            shares.append(fitted[-1] / seconds)
            items = f"{match.group(1)} training, {match.group(2)} test items"
        share = median(shares)
        rows.append(
            Row(
                "classification baselines",
                f"{data} ({model}, generated data): majority + linear baseline, fitted and scored once",
                f"{median(fitted):.1f} s ({items})",
                f"the whole train.py run {median(totals):.1f} s",
                f"{share:.1%} of the run",
                f"<= {COST_GOAL:.0%} of the default run",
                share <= COST_GOAL,
                data={"baseline_seconds": fitted, "run_seconds": totals},
            )
        )
    return rows
