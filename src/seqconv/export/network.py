"""Export a single-input network: decide its dynamic axes, build the parity checks, export.

The batch axis is always dynamic. The length axis (the last one: ``L`` of ``[B, C, L]``, ``T`` of audio ``[B, T]``,
tokens of text ``[B, L]``) is dynamic where the architecture allows it, which is probed by running the eager
network at another length: a flatten head (``TimeSeriesCNN``, ``AudioClassifier(head="flatten")``) fixes it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from seqconv.errors import ConfigError
from seqconv.export.exporters import FORMAT_NAMES, ExportResult, ParityError, export_module

__all__ = ["DYNAMIC_LENGTH", "export_network", "length_is_dynamic", "random_like"]

DYNAMIC_LENGTH = ("auto", True, False)


def random_like(
    example: torch.Tensor, batch: int | None = None, length: int | None = None, seed: int = 0
) -> torch.Tensor:
    """A random input shaped like ``example`` (``batch`` rows, ``length`` steps on the last axis).

    Floats are standard normal; integer ids are uniform over ``[0, example.max()]`` (the ids the example uses).
    """
    shape = list(example.shape)
    shape[0] = batch or shape[0]
    shape[-1] = length or shape[-1]
    generator = torch.Generator().manual_seed(seed)
    if example.dtype.is_floating_point:
        return torch.randn(shape, generator=generator, dtype=example.dtype)
    high = max(2, int(example.max()) + 1)
    return torch.randint(0, high, shape, generator=generator, dtype=example.dtype)


def _other_length(length: int) -> int:
    return 2 * length + 3


@torch.no_grad()
def length_is_dynamic(net: nn.Module, example: torch.Tensor) -> bool:
    """Whether ``net`` accepts another length than ``example``'s (a flatten head refuses one)."""
    try:
        net(random_like(example, batch=1, length=_other_length(example.shape[-1])))
    except (ValueError, RuntimeError):
        return False
    return True


def export_network(
    net: nn.Module,
    path: str | Path,
    fmt: str,
    example: torch.Tensor,
    *,
    real: torch.Tensor | None = None,
    method: str = "trace",
    dynamic_length: bool | str = "auto",
    tolerance: float = 1e-4,
    opset: int = 17,
) -> ExportResult:
    """Export ``net`` with a dynamic batch (and length where it can), checked on random and real inputs.

    Args:
        net: the network, in eval mode; ``net(x)`` with ``x`` batch-first, length last.
        path: the artifact to write.
        fmt: ``"torchscript"``, ``"export"`` or ``"onnx"``.
        example: an input batch to trace or export with (random data is fine).
        real: real inputs (a test batch) to check parity on as well; ``None`` checks random inputs only.
        method: ``"trace"`` or ``"script"`` (TorchScript).
        dynamic_length: ``"auto"`` (probe), ``True`` (fail if the network fixes the length) or ``False``.
        tolerance: largest allowed absolute difference from eager.
        opset: ONNX opset.

    Raises:
        ConfigError: ``dynamic_length=True`` for a network that fixes its input length.
        ParityError: the export differs from eager by more than ``tolerance`` on some check.
    """
    if dynamic_length not in DYNAMIC_LENGTH:
        raise ConfigError(f"dynamic_length must be one of {list(DYNAMIC_LENGTH)}, got {dynamic_length!r}")
    length_axis, length = example.dim() - 1, example.shape[-1]
    can_vary = length_is_dynamic(net, example)
    if dynamic_length is True and not can_vary:
        raise ConfigError(
            f"{type(net).__name__} takes inputs of exactly {length} steps (its flatten head fixes the length), so "
            "the length cannot be a dynamic axis; use dynamic_length=auto"
        )
    dynamic = can_vary if dynamic_length == "auto" else bool(dynamic_length)
    x_axes = {0: "batch", **({length_axis: "length"} if dynamic else {})}
    # the example drives tracing: at least 2 rows, so that torch.export keeps the batch axis symbolic
    trace_input = example if example.shape[0] >= 2 else example.repeat(2, *[1] * (example.dim() - 1))
    checks: dict[str, tuple[torch.Tensor]] = {
        "random": (random_like(example, batch=3, seed=1),),
        "random_batch1": (random_like(example, batch=1, seed=2),),
    }
    if dynamic:
        other = _other_length(length)
        checks[f"random_length{other}"] = (random_like(example, batch=2, length=other, seed=3),)
    if real is not None:
        checks["real"] = (real,)
        checks["real_batch1"] = (real[:1],)
    options = dict(method=method, input_names=("x",), output_names=("y",), tolerance=tolerance, opset=opset)
    try:
        return export_module(
            net, (trace_input,), path, fmt, dynamic_axes={"x": x_axes, "y": {0: "batch"}}, checks=checks, **options
        )
    except ParityError as err:
        if not (dynamic and dynamic_length == "auto"):
            raise
        reason = str(err)
    # the network takes any length in eager mode, but this export does not follow it: fix the length instead
    del checks[f"random_length{_other_length(length)}"]
    result = export_module(
        net, (trace_input,), path, fmt, dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, checks=checks, **options
    )
    result.notes.append(
        f"the length axis is fixed to {length} steps in this {FORMAT_NAMES[fmt]} export although "
        f"{type(net).__name__} takes any length eagerly: with a dynamic length, {reason}"
    )
    return result
