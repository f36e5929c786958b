"""CPU inference benchmark: eager vs TorchScript vs torch.compile vs torch.export vs onnxruntime, and streaming.

    .venv/bin/python scripts/bench_inference.py                 # both models, 1 thread, prints Markdown tables
    .venv/bin/python scripts/bench_inference.py --threads 2 --rounds 9

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
import platform
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from seqconv.export import export_network, load_runner
from seqconv.models import TCNForecaster, TimeSeriesCNN
from seqconv.streaming import export_streaming_step, streaming_step

Call = Callable[[], object]


def _time_calls(call: Call, calls: int) -> float:
    """Seconds per call over ``calls`` calls."""
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - start) / calls


def interleaved(candidates: dict[str, Call], calls: int, rounds: int) -> dict[str, float]:
    """Median seconds per call of each candidate, timed in interleaved rounds after one warm-up round."""
    timings: dict[str, list[float]] = {name: [] for name in candidates}
    for round_ in range(rounds + 1):
        for name, call in candidates.items():
            seconds = _time_calls(call, calls if round_ else max(1, calls // 4))
            if round_:
                timings[name].append(seconds)
    return {name: statistics.median(values) for name, values in timings.items()}


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
        latency = interleaved(calls_one, calls=200, rounds=rounds)
        per_batch = interleaved(calls_many, calls=20, rounds=rounds)
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
        seconds = interleaved(candidates, calls=50, rounds=rounds)
    base = seconds[f"recompute {field} steps (eager)"]
    for name, value in seconds.items():
        rows.append(f"| {batch} | {name} | {value * 1e6 / batch:,.1f} | {base / value:.1f}x |")
    return rows


def _cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch and onnxruntime intra-op threads")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved timing rounds (median reported)")
    parser.add_argument("--models", nargs="+", default=["tscnn", "tcn"], choices=["tscnn", "tcn"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(
        f"CPU: {_cpu_name()}, {args.threads} thread(s); torch {torch.__version__}; "
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
