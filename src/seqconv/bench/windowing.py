"""Windowing: 1,000,000 windows of 100 steps with :func:`seqconv.data.sliding_windows` vs the tutorial's loop."""

from __future__ import annotations

import gc
import time
import tracemalloc

import numpy as np
import torch

from seqconv.bench.measure import GIB, Context, interleaved, median
from seqconv.bench.report import Row
from seqconv.data import sliding_windows

__all__ = ["python_loop_windows", "run"]

SPEEDUP_GOAL = 100


def python_loop_windows(series: np.ndarray, length: int) -> np.ndarray:
    """The tutorial's windowing: a Python loop appending slices, then one ``np.array`` copy of them all."""
    windows = []
    for i in range(len(series) - length + 1):
        windows.append(series[i : i + length])
    return np.array(windows)


def _loop_peak_bytes(series: np.ndarray, length: int) -> int:
    """Peak memory the loop allocates (numpy and Python objects), by ``tracemalloc``."""
    gc.collect()
    tracemalloc.start()
    try:
        windows = python_loop_windows(series, length)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del windows
    return peak


def run(ctx: Context, workloads: object = None) -> list[Row]:
    """One row: time and memory of both, and whether seqconv's windows share the series' storage."""
    count, length = (10_000 if ctx.quick else 1_000_000), 100
    ctx.log(f"windowing: {count:,} windows of {length}")
    series = np.random.default_rng(0).standard_normal(count + length - 1).astype(np.float32)
    tensor = torch.from_numpy(series)[None]  # [N] -> [1, N]: one channel

    loop_seconds = median(interleaved({"loop": lambda: python_loop_windows(series, length)}, ctx.repeats, 0)["loop"])
    calls = 1000
    start = time.perf_counter()
    for _ in range(calls):
        windows = sliding_windows(tensor, length)
    view_seconds = (time.perf_counter() - start) / calls
    assert windows.shape == (count, 1, length)
    shares = windows.untyped_storage().data_ptr() == tensor.untyped_storage().data_ptr()
    extra = windows.untyped_storage().nbytes() - tensor.untyped_storage().nbytes() if shares else windows.nbytes
    loop_peak = _loop_peak_bytes(series, length)
    speedup = loop_seconds / view_seconds
    return [
        Row(
            "windowing",
            f"{count:,} windows of {length} (float32)",
            f"{view_seconds * 1e6:.1f} us, {extra} extra bytes (a view: same storage)",
            f"Python loop {loop_seconds:.2f} s, {loop_peak / GIB:.2f} GiB peak",
            f"{speedup:,.0f}x faster",
            f">= {SPEEDUP_GOAL}x faster, no copy",
            speedup >= SPEEDUP_GOAL and shares and extra == 0,
            note=(
                "seqconv: torch.Tensor.unfold, a strided view (storage data_ptr equal to the series'); the copy "
                "happens per batch, when the dataset gathers its windows. Loop memory by tracemalloc: the array "
                "of copies plus a Python slice object per window"
            ),
            data={
                "windows": count,
                "length": length,
                "view_seconds": view_seconds,
                "loop_seconds": loop_seconds,
                "loop_peak_bytes": loop_peak,
                "view_extra_bytes": extra,
                "shares_storage": shares,
            },
        )
    ]
