"""Roofline and CPU threads: the training-step throughput of each model against the machine's matrix product.

For each model at its default sizes (see :mod:`seqconv.bench.workloads`) one training step (forward, loss,
backward, optimizer step) and its forward+backward alone are timed with 1 and with 2 intra-op threads,
interleaved. The FLOPs of forward+backward are counted with ``torch.utils.flop_counter`` (matrix products and
convolutions only: elementwise work, pooling and the optimizer count zero, so the figures are a lower bound of
the work done). Achieved GFLOP/s at the faster thread count is compared with a 2048x2048 float32 ``torch.mm``
at the same count. The same timings give the threads rows: which count is faster, and whether
``runtime.num_threads=auto`` (:func:`seqconv.runtime.fastest_num_threads`) picks it.
"""

from __future__ import annotations

import inspect
import os

import torch

from seqconv.bench.measure import Context, count_flops, interleaved, median, sgemm_gflops, threads
from seqconv.bench.report import Row
from seqconv.bench.workloads import MODEL_DATA, ModelCase, Workloads, has_textcnn
from seqconv.runtime import fastest_num_threads

__all__ = ["run"]

ROOFLINE_GOAL = 0.25  # of sgemm, for tscnn and textcnn
# how much faster more threads must be for auto to take them
AUTO_MARGIN = inspect.signature(fastest_num_threads).parameters["margin"].default


def _models() -> list[str]:
    return [m for m in MODEL_DATA if m != "textcnn" or has_textcnn()]


def _time_case(ctx: Context, case: ModelCase, counts: list[int]) -> dict[str, dict[int, float]]:
    """Median seconds of ``step`` and ``forward_backward`` per thread count."""
    calls = {}
    for count in counts:
        calls[("step", count)] = lambda c=count: _with_threads(c, case.step)
        calls[("fwd+bwd", count)] = lambda c=count: _with_threads(c, case.forward_backward)
    rounds, seconds = (2, 0.5) if ctx.quick else (30, 10.0)
    timings = interleaved(calls, rounds, warmup=1 if ctx.quick else 3, seconds=seconds)
    out: dict[str, dict[int, float]] = {"step": {}, "fwd+bwd": {}}
    for (kind, count), values in timings.items():
        out[kind][count] = median(values)
    return out


def _with_threads(count: int, call) -> None:
    with threads(count):
        call()


def _auto_choices(ctx: Context, case: ModelCase, default: int, probes: int) -> list[int]:
    """What ``runtime.num_threads=auto`` picks, ``probes`` times (it measures, so it can differ run to run)."""
    with threads(default):
        return [fastest_num_threads(case.net, case.x, reuse=False) for _ in range(probes)]


def run(ctx: Context, workloads: Workloads) -> list[Row]:
    """Roofline rows (one per model, plus sgemm) and threads rows (one per model)."""
    cores = os.cpu_count() or 1
    counts = sorted({1, min(2, cores)})
    size = 512 if ctx.quick else 2048
    sgemm = {count: sgemm_gflops(count, size=size) for count in counts}
    rows = [
        Row(
            "roofline",
            f"sgemm: torch.mm {size}x{size} float32",
            " / ".join(f"{sgemm[c]:.0f} GFLOP/s ({c} thr)" for c in counts),
            note="the machine's measured matrix-product throughput: the denominator of the roofline rows",
            data={"sgemm_gflops": sgemm},
        )
    ]
    thread_rows = []
    cases = [(m, None, m) for m in _models()] + [("tscnn", "stocks_synthetic", "tscnn (classic: window 100, batch 32)")]
    for model, data, name in cases:
        ctx.log(f"roofline and threads: {name}")
        case = workloads.case(model, data, name)
        flops = count_flops(case.forward_backward)
        times = _time_case(ctx, case, counts)
        best = min(counts, key=lambda c: times["step"][c])
        step_gflops = flops / times["step"][best] / 1e9
        fb_gflops = flops / times["fwd+bwd"][best] / 1e9
        share = step_gflops / sgemm[best]
        goal = model in ("tscnn", "textcnn") and data is None
        rows.append(
            Row(
                "roofline",
                f"{name} training step, batch {case.shape}",
                f"{step_gflops:.1f} GFLOP/s step, {fb_gflops:.1f} fwd+bwd ({best} thr)",
                f"sgemm {sgemm[best]:.0f} GFLOP/s ({best} thr)",
                f"{share:.0%} of sgemm ({step_gflops / max(sgemm.values()):.0%} of the machine)",
                f">= {ROOFLINE_GOAL:.0%} of sgemm" if goal else "",
                share >= ROOFLINE_GOAL if goal else None,
                data={
                    "flops_fwd_bwd": flops,
                    "step_seconds": times["step"],
                    "fwd_bwd_seconds": times["fwd+bwd"],
                    "threads": best,
                    "step_gflops": step_gflops,
                    "fwd_bwd_gflops": fb_gflops,
                    "share_of_sgemm": share,
                },
            )
        )
        if len(counts) < 2 or data is not None:
            continue
        slow = times["step"][1] > 0.05
        choices = _auto_choices(ctx, case, counts[-1], probes=1 if ctx.quick else (3 if slow else 5))
        one, many = times["step"][1], times["step"][counts[-1]]
        faster = 1 if one <= many else counts[-1]
        # auto takes more threads only when they win by AUTO_MARGIN; below that either choice is right
        within = (1 - AUTO_MARGIN) * one <= many < one
        expected = counts[-1] if many < (1 - AUTO_MARGIN) * one else 1
        majority = max(set(choices), key=choices.count)
        thread_rows.append(
            Row(
                "CPU threads",
                f"{name} training step: 1 vs {counts[-1]} threads",
                f"auto -> {majority} thread(s) ({choices.count(majority)}/{len(choices)} probes)",
                ", ".join(f"{c} thr {times['step'][c] * 1e3:.1f} ms" for c in counts),
                f"{faster} thread(s) {max(times['step'].values()) / min(times['step'].values()):.2f}x faster",
                "auto picks the faster",
                majority == expected or (within and majority in counts),
                note=(
                    f"{counts[-1]} threads win by less than auto's {AUTO_MARGIN:.0%} margin: it keeps 1 thread "
                    "unless its own probe sees a larger win, and either choice is within 10% of the best"
                    if within
                    else ""
                ),
                data={"step_seconds": times["step"], "auto_choices": choices, "faster": faster},
            )
        )
        del case
        torch.manual_seed(0)
    return rows + thread_rows
