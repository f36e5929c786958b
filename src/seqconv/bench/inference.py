"""CPU inference benchmark: eager vs TorchScript vs torch.compile vs torch.export vs onnxruntime, and streaming.

    python -m seqconv.bench.inference                   # both models, 1 thread, prints Markdown tables
    python -m seqconv.bench.inference --threads 2 --rounds 9

* batch-1 latency (median microseconds per call) and batch-64 throughput (samples per second) of the classic
  ``TimeSeriesCNN`` (window 30) and of ``TCNForecaster`` (window 30), every runtime on the same weights;
* streaming: the cost per new sample of a TCN whose receptive field is 1,021 steps, recomputing the whole field
  with the offline network vs one step of the streaming module (eager, TorchScript and onnxruntime).

Every artifact is written with :mod:`seqconv.export`, so its parity with eager is checked first. The runtimes are
timed in interleaved rounds (A, B, C, A, B, C, ...) so that load from other processes on a shared machine hits all
of them alike; compare the ratios within one table rather than absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from seqconv.bench.measure import interleaved, machine_info, median
from seqconv.export import export_network, load_runner
from seqconv.models import TCNForecaster, TimeSeriesCNN
from seqconv.streaming import export_streaming_step, streaming_step

Call = Callable[[], object]


def _repeat(call: Call, times: int) -> Call:
    """``call`` made ``times`` times in a row, as one call (so that a timed round holds many short calls)."""

    def repeated() -> None:
        for _ in range(times):
            call()

    return repeated


def per_call(candidates: dict[str, Call], calls: int, rounds: int) -> dict[str, float]:
    """Median seconds per call of each candidate: ``calls`` calls per round, interleaved rounds after a warm-up."""
    batches = {name: _repeat(call, calls) for name, call in candidates.items()}
    return {name: median(seconds) / calls for name, seconds in interleaved(batches, rounds).items()}


def _onnx_call(path: Path, x: torch.Tensor, threads: int) -> Call:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feed = {"x": x.numpy()}
    return lambda: session.run(None, feed)


def runtimes(net: nn.Module, x: torch.Tensor, workdir: Path, threads: int) -> tuple[dict[str, Call], dict[str, str]]:
    """Callables running ``net`` on ``x`` with each runtime, and why any runtime is unavailable."""
    calls: dict[str, Call] = {"eager": lambda: net(x)}
    skipped: dict[str, str] = {}
    example = x if x.shape[0] >= 2 else x.repeat(2, 1, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_network(net, workdir / "m.pt", "torchscript", example)
        scripted = torch.jit.optimize_for_inference(torch.jit.freeze(load_runner(workdir / "m.pt", "torchscript")))
        calls["torchscript (frozen)"] = lambda: scripted(x)
        try:
            compiled = torch.compile(net)
            compiled(x)  # compile now, outside the timing
            calls["torch.compile"] = lambda: compiled(x)
        except Exception as err:  # noqa: BLE001 - report whatever stops inductor on this machine
            skipped["torch.compile"] = f"{type(err).__name__}: {str(err).splitlines()[0][:120]}"
        export_network(net, workdir / "m.pt2", "export", example)
        program = load_runner(workdir / "m.pt2", "export")
        calls["torch.export"] = lambda: program(x)
        export_network(net, workdir / "m.onnx", "onnx", example)
        calls["onnxruntime"] = _onnx_call(workdir / "m.onnx", x, threads)
    return calls, skipped


def bench_model(name: str, net: nn.Module, length: int, rounds: int, threads: int) -> list[str]:
    """Markdown rows: batch-1 latency and batch-64 throughput of each runtime for ``net``."""
    net = net.eval()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, torch.inference_mode():
        one, many = torch.randn(1, 1, length), torch.randn(64, 1, length)
        calls_one, skipped = runtimes(net, one, Path(tmp) / "b1", threads)
        calls_many, _ = runtimes(net, many, Path(tmp) / "b64", threads)
        latency = per_call(calls_one, calls=200, rounds=rounds)
        per_batch = per_call(calls_many, calls=20, rounds=rounds)
    eager_latency, eager_rate = latency["eager"], 64 / per_batch["eager"]
    for runtime in latency:
        rate = 64 / per_batch[runtime]
        rows.append(
            f"| {name} | {runtime} | {latency[runtime] * 1e6:,.0f} | {1 - latency[runtime] / eager_latency:+.0%} | "
            f"{rate:,.0f} | {rate / eager_rate:.2f}x |"
        )
    rows += [f"| {name} | {runtime} | n/a | | n/a | {why} |" for runtime, why in skipped.items()]
    return rows


def bench_streaming(rounds: int, threads: int, batch: int) -> list[str]:
    """Markdown rows: cost per new sample, recomputing the receptive field vs streaming steps."""
    net = TCNForecaster(1, 1, channels=[32] * 8, kernel_size=3, dilation_base=2).eval()
    field = net.receptive_field()
    step = streaming_step(net)
    window = torch.randn(batch, 1, field)  # everything one forecast can see
    sample = torch.randn(batch, 1, 1)
    state = step.initial_state(batch)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_streaming_step(step, Path(tmp) / "s.pt", "torchscript", method="script")
        scripted = load_runner(Path(tmp) / "s.pt", "torchscript")
        export_streaming_step(step, Path(tmp) / "s.onnx", "onnx")
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        session = ort.InferenceSession(str(Path(tmp) / "s.onnx"), options, providers=["CPUExecutionProvider"])
        feed = {"x": sample.numpy(), **{f"state_{i}": s.numpy() for i, s in enumerate(state)}}
        candidates = {
            f"recompute {field} steps (eager)": lambda: net(window),
            "streaming step (eager)": lambda: step(sample, state),
            "streaming step (TorchScript)": lambda: scripted(sample, state),
            "streaming step (onnxruntime)": lambda: session.run(None, feed),
        }
        seconds = per_call(candidates, calls=50, rounds=rounds)
    base = seconds[f"recompute {field} steps (eager)"]
    for name, value in seconds.items():
        rows.append(f"| {batch} | {name} | {value * 1e6 / batch:,.1f} | {base / value:.1f}x |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m seqconv.bench.inference", description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch and onnxruntime intra-op threads")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved timing rounds (median reported)")
    parser.add_argument("--models", nargs="+", default=["tscnn", "tcn"], choices=["tscnn", "tcn"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(
        f"CPU: {machine_info()['cpu']}, {args.threads} thread(s); torch {torch.__version__}; "
        f"median of {args.rounds} interleaved rounds\n"
    )
    nets = {"TimeSeriesCNN": (TimeSeriesCNN(1, 30), 30), "TCNForecaster": (TCNForecaster(1, 1), 30)}
    chosen = {"tscnn": "TimeSeriesCNN", "tcn": "TCNForecaster"}
    print("| model | runtime | batch-1 latency (us) | vs eager | batch-64 throughput (samples/s) | vs eager |")
    print("|---|---|---:|---:|---:|---:|")
    for key in args.models:
        net, length = nets[chosen[key]]
        for row in bench_model(chosen[key], net, length, args.rounds, args.threads):
            print(row)
    print("\n| streams | TCN, receptive field 1,021 steps | time per new sample (us) | speed-up |")
    print("|---:|---|---:|---:|")
    for batch in (1, 64):
        for row in bench_streaming(args.rounds, args.threads, batch):
            print(row)


if __name__ == "__main__":
    main()
