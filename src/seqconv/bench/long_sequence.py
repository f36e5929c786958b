"""Long sequences: forward+backward of ``model=tcn`` on one sequence of up to 1,000,000 steps, with and without
gradient checkpointing.

Each case runs in a fresh process (``python -m seqconv.bench.long_sequence``), so that its peak resident memory
(``VmHWM``) is its own. A case runs forward+backward of ``TCNForecaster.forward_sequence`` (a forecast at every
step, MSE against a random target) with torch's default threads: timed passes (two, one from 1,000,000 steps
on), then one pass under the profiler, whose allocation events give the peak of live tensor bytes. The time is
that of the last timed pass; the resident memory is the peak over the timed passes minus the resident memory
before them (the torch runtime, the network and the input).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from omegaconf import OmegaConf

from seqconv.bench.measure import GIB, Context, run_python
from seqconv.bench.report import Row
from seqconv.bench.workloads import Workloads

__all__ = ["run"]

MEMORY_GOAL = 8 * GIB
HALVING_GOAL = 0.5


def _net_config(workloads: Workloads) -> dict:
    """``conf/model/tcn.yaml``'s network with the sizes of ``data=stocks`` filled in (the datamodule knows them
    from its config alone)."""
    from hydra.utils import instantiate

    cfg = workloads.config("tcn", "stocks")
    dims = instantiate(cfg.data, _convert_="all").dims
    net = cfg.model.net.copy()
    for key in net.keys():
        if OmegaConf.is_missing(net, key):
            net[key] = dims[key]
    return OmegaConf.to_container(net)


def _case(ctx: Context, net: dict, length: int, checkpointing: bool) -> dict:
    out = ctx.out / "long_sequence" / f"{length}_{int(checkpointing)}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    args = ["-m", "seqconv.bench.long_sequence", "--net", json.dumps(net), "--length", str(length)]
    args += ["--json", str(out), "--passes", "1" if length >= 1_000_000 else "2"]
    args += ["--checkpointing"] if checkpointing else []
    try:
        run_python(args, ctx.out, timeout=600)
    except RuntimeError as err:  # e.g. killed for memory
        return {"error": str(err).splitlines()[0]}
    return json.loads(out.read_text())


def _cell(result: dict) -> str:
    tensors = result["tensor_peak_bytes"]
    memory = f"{tensors / GIB:.2f} GiB tensors, " if tensors else ""
    memory += f"{result['step_bytes'] / GIB:.2f} GiB RSS ({result['peak_bytes'] / GIB:.2f} peak)"
    return f"{memory}, {result['seconds'][-1]:.2f} s"


def _plot(path: Path, results: dict[tuple[int, bool], dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_mem, ax_time) = plt.subplots(1, 2, figsize=(11, 4.5))
    for checkpointing, color in ((False, "tab:red"), (True, "tab:blue")):
        points = sorted((n, r) for (n, c), r in results.items() if c == checkpointing and "error" not in r)
        label = "checkpointing" if checkpointing else "no checkpointing"
        lengths = [n for n, _ in points]
        ax_mem.plot(lengths, [r["step_bytes"] / GIB for _, r in points], "o-", color=color, label=f"{label}: RSS")
        if all(r.get("tensor_peak_bytes") for _, r in points):
            tensors = [r["tensor_peak_bytes"] / GIB for _, r in points]
            ax_mem.plot(lengths, tensors, "s--", color=color, label=f"{label}: live tensors")
        ax_time.plot(lengths, [r["seconds"][-1] for _, r in points], "o-", color=color, label=label)
    ax_mem.axhline(MEMORY_GOAL / GIB, color="gray", linewidth=0.8, linestyle=":", label="8 GiB")
    for ax, ylabel in (
        (ax_mem, "peak memory of one forward+backward (GiB)"),
        (ax_time, "seconds per forward+backward"),
    ):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("sequence length (steps)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", linewidth=0.3)
        ax.legend()
    fig.suptitle("TCNForecaster (conf/model/tcn.yaml), one sequence, CPU")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(ctx: Context, workloads: Workloads) -> list[Row]:
    """Rows for the issue's lengths (100,000 and 1,000,000 steps; tiny ones with ``--quick``) and a plot of
    memory and time against the length."""
    net = _net_config(workloads)
    reported = [1_000, 4_000] if ctx.quick else [100_000, 1_000_000]
    lengths = reported if ctx.quick else [10_000, 100_000, 300_000, 1_000_000]
    results: dict[tuple[int, bool], dict] = {}
    for length in lengths:
        for checkpointing in (False, True):
            ctx.log(f"long sequences: {length:,} steps, checkpointing={checkpointing}")
            results[length, checkpointing] = _case(ctx, net, length, checkpointing)
    _plot(ctx.out / "long_sequence.png", results)
    rows = []
    for length in reported:
        plain, ckpt = results[length, False], results[length, True]
        if "error" in plain or "error" in ckpt:
            error = plain.get("error", "") or ckpt.get("error", "")
            rows.append(Row("long sequences", f"tcn, {length:,} steps", "failed", met=False, note=error))
            continue
        tensors = ckpt["tensor_peak_bytes"] / plain["tensor_peak_bytes"] if plain["tensor_peak_bytes"] else None
        rss = ckpt["step_bytes"] / plain["step_bytes"]
        share = tensors if tensors is not None else rss
        fits = ckpt["peak_bytes"] <= MEMORY_GOAL
        goal = f"<= {HALVING_GOAL:.0%} memory" + (", within 8 GiB" if length >= 1_000_000 else "")

        rows.append(
            Row(
                "long sequences",
                f"tcn fwd+bwd, 1 sequence of {length:,} steps: checkpointing vs none",
                _cell(ckpt),
                _cell(plain),
                (f"{tensors:.2f}x tensor memory, " if tensors is not None else "")
                + f"{rss:.2f}x RSS, {ckpt['seconds'][-1] / plain['seconds'][-1]:.2f}x time",
                goal,
                share <= HALVING_GOAL and (fits or length < 1_000_000),
                note=(
                    "tensors: peak of live tensor bytes during one pass (profiler allocation events), what "
                    "checkpointing controls; RSS: peak resident memory of a fresh process minus its resident memory "
                    "before the first pass (it also holds what the C allocator keeps after frees); peak: the whole "
                    f"process. {ckpt['threads']} threads. Plot: long_sequence.png"
                ),
                data={"checkpointing": ckpt, "none": plain},
            )
        )
    return rows


def _tensor_peak(call) -> int | None:
    """Peak bytes of live tensors allocated during ``call``, from the profiler's allocation events (what
    checkpointing controls; resident memory also holds what the C allocator keeps after a free)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        call()
    try:  # the allocation timeline is only reachable through the profiler's kineto results
        events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    except AttributeError:
        return None
    live = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        live += event.nbytes()
        peak = max(peak, live)
    return peak


def _worker() -> None:
    """``python -m seqconv.bench.long_sequence --net JSON --length N [--checkpointing] --json OUT``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--net", required=True, help="the network config (JSON, with _target_)")
    parser.add_argument("--length", type=int, required=True)
    parser.add_argument("--checkpointing", action="store_true")
    parser.add_argument("--passes", type=int, default=2, help="timed passes before the profiled one")
    parser.add_argument("--json", required=True)
    args = parser.parse_args()

    import torch
    import torch.nn.functional as F
    from hydra.utils import instantiate

    from seqconv.bench.measure import proc_memory

    torch.manual_seed(0)
    net = instantiate(json.loads(args.net)).train()
    net.set_grad_checkpointing(args.checkpointing)
    x = torch.randn(1, net.in_channels, args.length)  # [B, C, L]
    target = torch.randn(1, net.head.out_features, args.length)

    def forward_backward() -> float:
        net.zero_grad(set_to_none=True)
        start = time.perf_counter()
        F.mse_loss(net.forward_sequence(x), target).backward()
        return time.perf_counter() - start

    before = proc_memory()["rss"]
    seconds = [forward_backward() for _ in range(args.passes)]
    peak = proc_memory()["peak"]
    result = {
        "length": args.length,
        "checkpointing": args.checkpointing,
        "threads": torch.get_num_threads(),
        "seconds": seconds,
        "rss_before": before,
        "peak_bytes": peak,
        "step_bytes": peak - before,
        "tensor_peak_bytes": _tensor_peak(forward_backward),
    }
    Path(args.json).write_text(json.dumps(result))


if __name__ == "__main__":
    _worker()
