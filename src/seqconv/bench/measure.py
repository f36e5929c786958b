"""Timing, memory and FLOP measurements shared by the comparisons."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

__all__ = [
    "Context",
    "count_flops",
    "interleaved",
    "machine_info",
    "median",
    "proc_memory",
    "run_python",
    "sgemm_gflops",
    "threads",
]

GIB = 2**30


@dataclass
class Context:
    """What every comparison gets.

    Attributes:
        out: the folder for run dirs, generated data and plots.
        quick: tiny sizes and few repeats (the smoke test); the figures then mean nothing.
        repeats: how many times each timed thing runs (medians are reported).
        sources: where the real-data rows get their data (``imdb``, ``fsdd``: a URL, ``default`` or a path).
    """

    out: Path
    quick: bool = False
    repeats: int = 3
    sources: dict[str, str] = field(default_factory=dict)

    def train_overrides(self) -> list[str]:
        """``train.py`` overrides of a timed run: with ``quick``, one epoch of two batches (the smoke test)."""
        return ["trainer.max_epochs=1", "+trainer.limit_train_batches=2"] if self.quick else []

    def log(self, message: str) -> None:
        """Progress on stderr, so that stdout holds only the table."""
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    """The median (the middle of an odd count, the mean of the two middles of an even one)."""
    return statistics.median(values)


@contextmanager
def threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` intra-op threads, then restore the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def interleaved(
    candidates: dict[str, Callable[[], Any]], rounds: int, warmup: int = 1, seconds: float | None = None
) -> dict[str, list[float]]:
    """Time each candidate once per round, in turn, so that load from other processes hits all alike.

    Args:
        candidates: name -> the call to time.
        rounds: timed rounds (after ``warmup`` untimed ones).
        warmup: untimed rounds first.
        seconds: stop after this much wall time once at least three rounds are done.

    Returns:
        name -> the seconds of each timed call.
    """
    timings: dict[str, list[float]] = {name: [] for name in candidates}
    start = time.perf_counter()
    for round_ in range(warmup + rounds):
        for name, call in candidates.items():
            begin = time.perf_counter()
            call()
            if round_ >= warmup:
                timings[name].append(time.perf_counter() - begin)
        done = round_ + 1 - warmup
        if seconds is not None and done >= 3 and time.perf_counter() - start > seconds:
            break
    return timings


def count_flops(call: Callable[[], Any]) -> int:
    """FLOPs of the matrix products and convolutions that ``call`` runs (``torch.utils.flop_counter``)."""
    with FlopCounterMode(display=False) as counter:
        call()
    return counter.get_total_flops()


def sgemm_gflops(count: int, size: int = 2048, rounds: int = 5) -> float:
    """Measured float32 matrix-product throughput with ``count`` threads: median over ``rounds`` products."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    with threads(count):
        seconds = median(interleaved({"mm": lambda: torch.mm(a, b)}, rounds, warmup=2)["mm"])
    return 2 * size**3 / seconds / 1e9


def proc_memory() -> dict[str, int]:
    """Current (``VmRSS``) and peak (``VmHWM``) resident memory of this process, in bytes (Linux)."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) * 1024  # kB
    return {"rss": fields["VmRSS"], "peak": fields["VmHWM"]}


def run_python(args: list[str], cwd: Path, timeout: float) -> tuple[float, str]:
    """Run ``python <args>`` in ``cwd``; return its wall time (start to exit) and its output.

    Raises:
        RuntimeError: the command failed; the message holds the end of its output.
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    seconds = time.perf_counter() - start
    output = proc.stdout + proc.stderr
    if proc.returncode:
        raise RuntimeError(f"`python {' '.join(args)}` exited with {proc.returncode}:\n{output[-3000:]}")
    return seconds, output


def read_json(path: Path) -> dict[str, Any]:
    """A JSON file written by a subprocess."""
    return json.loads(path.read_text())


def _cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def machine_info() -> dict[str, Any]:
    """Date, CPU, core count, library versions, GPU and load: what the README table must name."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "gpu": gpu,
        "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
