"""Input pipelines: samples/s of each datamodule's training loader vs its model's training step.

Loaders run at their default settings (``num_workers=0``: loading and training take turns in one process, so
a loader at ``r`` times the step rate costs ``1 / (1 + r)`` of the epoch). The step is timed on a real batch
with the thread count ``runtime.num_threads=auto`` picks.
"""

from __future__ import annotations

import time

import torch

from seqconv.bench.measure import Context, interleaved, median, threads
from seqconv.bench.report import Row
from seqconv.bench.workloads import Workloads, has_textcnn
from seqconv.runtime import fastest_num_threads

__all__ = ["run"]

# data option -> (model, what the data is here)
PIPELINES = {
    "stocks": ("tscnn", "built-in S&P 500, window 30"),
    "stocks_synthetic": ("tscnn", "random walk, window 100"),
    "digits": ("audiocnn", "generated FSDD layout, 1 s clips, augmentation on"),
    "reviews": ("textcnn", "generated IMDB-length reviews, bucketed"),
}


def _loader_rate(ctx: Context, workloads: Workloads, data: str) -> tuple[float, int]:
    """Training samples per second of one full pass over the train loader (median over passes)."""
    loader = workloads.datamodule(data).train_dataloader()
    rates, samples = [], 0
    deadline = time.perf_counter() + (0.5 if ctx.quick else 5.0)
    while len(rates) < 3 or time.perf_counter() < deadline:
        samples = 0
        start = time.perf_counter()
        for batch in loader:
            samples += len(batch["y"])
        rates.append(samples / (time.perf_counter() - start))
        if len(rates) >= 30:
            break
    return median(rates), samples


def run(ctx: Context, workloads: Workloads) -> list[Row]:
    """One row per datamodule."""
    rows = []
    for data, (model, what) in PIPELINES.items():
        if data == "reviews" and not has_textcnn():
            continue
        ctx.log(f"input pipelines: {data}")
        loader_rate, samples = _loader_rate(ctx, workloads, data)
        case = workloads.case(model, data)
        count = fastest_num_threads(case.net, case.x, reuse=False)
        with threads(count):
            step = median(interleaved({"step": case.step}, 2 if ctx.quick else 20, 1, seconds=5.0)["step"])
        step_rate = len(case.y) / step
        ratio = loader_rate / step_rate
        rows.append(
            Row(
                "input pipelines",
                f"data={data} ({what}): train loader vs {model} step",
                f"loader {loader_rate:,.0f} samples/s",
                f"{model} step {step_rate:,.0f} samples/s ({count} thr, batch {case.shape})",
                f"{ratio:,.1f}x the step rate ({1 / (1 + ratio):.0%} of an epoch loading)",
                "loader faster than the step",
                ratio > 1,
                data={"loader_samples_per_s": loader_rate, "epoch_samples": samples, "step_samples_per_s": step_rate},
            )
        )
        del case
        torch.manual_seed(0)
    return rows
