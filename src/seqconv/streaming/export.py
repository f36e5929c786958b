"""Export the pure streaming step of a causal network, with its state as explicit inputs and outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from seqconv.export.exporters import ExportResult, export_module
from seqconv.streaming.step import StreamingStep

__all__ = ["describe_streaming", "export_streaming_step", "streaming_io_names"]


def streaming_io_names(step: StreamingStep) -> tuple[list[str], list[str]]:
    """``(input_names, output_names)``: ``x, state_0..`` in and ``y, next_state_0..`` out."""
    count = len(step.state_shapes())
    return ["x", *[f"state_{i}" for i in range(count)]], ["y", *[f"next_state_{i}" for i in range(count)]]


def _inputs(
    step: StreamingStep, batch: int, chunk: int, seed: int, zero_state: bool = False
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, step.in_channels, chunk, generator=generator)  # [B, C_in, T]
    state = [
        torch.zeros(batch, c, p) if zero_state else torch.randn(batch, c, p, generator=generator)
        for c, p in step.state_shapes()
    ]
    return x, state


def export_streaming_step(
    step: StreamingStep,
    path: str | Path,
    fmt: str = "onnx",
    *,
    method: str = "trace",
    chunk: int = 4,
    real: torch.Tensor | None = None,
    tolerance: float = 1e-5,
    opset: int = 17,
) -> ExportResult:
    """Export ``step`` as ``(x, state_0, ..) -> (y, next_state_0, ..)`` with dynamic batch and chunk length.

    Parity is checked against the eager step for several batch sizes, single steps and chunks, from zero and
    from random states.

    Args:
        step: from :func:`~seqconv.streaming.streaming_step`, in eval mode.
        path: the artifact to write.
        fmt: ``"torchscript"``, ``"export"`` or ``"onnx"``.
        method: ``"trace"`` or ``"script"`` (TorchScript).
        chunk: steps per call in the example; any chunk length works afterwards.
        real: real inputs ``[B, C_in, L]`` to check as one chunk from the zero state, or ``None``.
        tolerance: largest allowed absolute difference from eager.
        opset: ONNX opset.
    """
    inputs, outputs = streaming_io_names(step)
    axes = {name: {0: "batch"} for name in inputs[1:] + outputs[1:]}
    axes.update(x={0: "batch", 2: "chunk"}, y={0: "batch", 2: "chunk"})
    checks = {
        "zero_state": _inputs(step, 3, chunk, seed=1, zero_state=True),
        "one_step": _inputs(step, 2, 1, seed=2),
        "batch1_chunk": _inputs(step, 1, 2 * chunk + 3, seed=3),
    }
    if real is not None:
        checks["real"] = (real, step.initial_state(real.shape[0]))
    return export_module(
        step,
        _inputs(step, 2, chunk, seed=0),
        path,
        fmt,
        method=method,
        input_names=inputs,
        output_names=outputs,
        dynamic_axes=axes,
        checks=checks,
        tolerance=tolerance,
        opset=opset,
    )


def describe_streaming(step: StreamingStep) -> dict[str, Any]:
    """The sidecar's ``inputs``, ``outputs`` and ``streaming`` entries for an exported streaming step."""
    inputs, outputs = streaming_io_names(step)
    states = [
        {"name": name, "shape": ["batch", c, p], "dtype": "float32"}
        for name, (c, p) in zip(inputs[1:], step.state_shapes(), strict=True)
    ]
    return {
        "inputs": [
            {"name": "x", "layout": "[B, C, T]", "shape": ["batch", step.in_channels, "chunk"], "dtype": "float32"},
            *states,
        ],
        "outputs": [
            {
                "name": "y",
                "layout": "[B, C_out, T]",
                "shape": ["batch", step.out_channels, "chunk"],
                "dtype": "float32",
            },
            *[{**s, "name": name} for s, name in zip(states, outputs[1:], strict=True)],
        ],
        "streaming": {
            "usage": "start every state_i at zeros [B, C_i, P_i]; feed chunks x of any length T >= 1; pass each "
            "call's next_state_i as the next call's state_i. The outputs equal the offline forward over the "
            "whole sequence; to restart stream b, zero row b of every state",
            "receptive_field": 1 + sum(p for _, p in step.state_shapes()),
        },
    }
