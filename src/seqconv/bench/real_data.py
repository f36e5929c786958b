"""The issue's goals on real data, whole process: ``train.py data=reviews`` on IMDB (aclImdb) reaches >= 0.895 test
accuracy within 300 s including the download and tokenizing, and ``train.py data=digits`` on the Free Spoken Digit
Dataset >= 0.99 within 60 s.

They run only where the data can be had: ``seqconv-bench --imdb <source> --fsdd <source>``, where a source is the
archive's URL (the real one, or a mirror served over HTTP), ``default`` for the URL in ``conf/data``, or a local
copy (an aclImdb folder or its ``.tar.gz``; a folder holding FSDD's ``recordings/``). Each run starts from an empty
data dir, so the download, extraction and tokenizing count. Without a source the row says it was not run.
Beside the accuracy: the majority class and the linear baseline that ``train.py`` fits on the same split.
"""

from __future__ import annotations

import shutil

from seqconv.bench.measure import Context, read_json, run_python
from seqconv.bench.report import Row
from seqconv.bench.workloads import Workloads

__all__ = ["GOALS", "run"]

# data -> (model, source option, what it is, accuracy goal, seconds goal)
GOALS = {
    "reviews": ("textcnn", "imdb", "IMDB reviews (aclImdb, 25k/25k)", 0.895, 300.0),
    "digits": ("audiocnn", "fsdd", "spoken digits (FSDD)", 0.99, 60.0),
}


def _source_overrides(source: str) -> list[str]:
    if source == "default":
        return []
    if "://" in source:
        return (
            [f"data.url={source}", "data.sha256=null"]
            if source.startswith(("http://127.", "file:"))
            else [f"data.url={source}"]
        )
    return [f"data.path={source}"]


def run(ctx: Context, workloads: Workloads) -> list[Row]:
    """One row per goal: test accuracy and whole-process seconds, or why it was not run."""
    rows = []
    for data, (model, option, what, accuracy_goal, seconds_goal) in GOALS.items():
        case = f"{data} ({model}) on real {what}: whole process incl. download and tokenizing"
        goal = f">= {accuracy_goal} test accuracy within {seconds_goal:.0f} s"
        source = ctx.sources.get(option)
        if not source:
            note = (
                f"Not run: needs the real data (seqconv-bench --{option} <URL, mirror or local copy>); this machine "
                "cannot download it."
            )
            rows.append(Row("real data", case, "not run", goal=goal, note=note))
            continue
        ctx.log(f"real data: {data} from {source}")
        run_dir = ctx.out / "real_data" / data
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        args = ["-m", "seqconv.cli.train", f"model={model}", f"data={data}", f"hydra.run.dir={run_dir}"]
        args += [f"paths.data_dir={run_dir / 'data'}", "logger=none", "callbacks.progress_bar=null"]
        args += _source_overrides(source)
        args += ctx.train_overrides()
        seconds, _ = run_python(args, ctx.out, timeout=3600)
        metrics = read_json(run_dir / "metrics.json")
        accuracy = float(metrics["test/acc"])
        baseline = metrics.get("baseline", "linear baseline")
        reference = ", ".join(
            f"{name} {metrics[key]:.3f}"
            for name, key in ((baseline, "test/baseline_acc"), ("majority", "test/majority_acc"))
            if key in metrics
        )
        rows.append(
            Row(
                "real data",
                case,
                f"{accuracy:.3f} in {seconds:.0f} s",
                reference,
                f"{accuracy - float(metrics['test/baseline_acc']):+.3f} vs {baseline}"
                if "test/baseline_acc" in metrics
                else "",
                goal,
                accuracy >= accuracy_goal and seconds <= seconds_goal,
                data={"seconds": seconds, "metrics": {k: v for k, v in metrics.items() if k.startswith("test/")}},
            )
        )
    return rows
