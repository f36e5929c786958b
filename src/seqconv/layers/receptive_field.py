"""Receptive field arithmetic for stacks of 1-D layers."""

from __future__ import annotations

from collections.abc import Iterable

from torch import nn

__all__ = ["compose_geometry", "layer_geometry", "receptive_field"]


def _first(v: int | tuple[int, ...]) -> int:
    return v[0] if isinstance(v, tuple) else v


def compose_geometry(geometries: Iterable[tuple[int, int]]) -> tuple[int, int]:
    """Compose per-layer ``(receptive_field, stride)`` pairs of a sequential stack into the stack's pair."""
    field, jump = 1, 1
    for layer_field, stride in geometries:
        field += (layer_field - 1) * jump
        jump *= stride
    return field, jump


def layer_geometry(module: nn.Module) -> tuple[int, int]:
    """``(receptive_field, stride)`` of one layer, in input steps.

    Convolutions and poolings use their kernel, dilation and stride; seqconv blocks report their own through a
    ``geometry()`` method; ``nn.Sequential`` composes its children; anything else (activation, norm, dropout)
    acts per time step: ``(1, 1)``.
    """
    if hasattr(module, "geometry"):
        return module.geometry()
    if isinstance(module, nn.Conv1d):
        return module.dilation[0] * (module.kernel_size[0] - 1) + 1, module.stride[0]
    if isinstance(module, nn.MaxPool1d):
        kernel, dilation = _first(module.kernel_size), _first(module.dilation)
        return dilation * (kernel - 1) + 1, _first(module.stride)
    if isinstance(module, nn.AvgPool1d):
        return _first(module.kernel_size), _first(module.stride)
    if isinstance(module, nn.Sequential):
        return compose_geometry(layer_geometry(m) for m in module)
    return 1, 1


def receptive_field(*layers: nn.Module) -> int:
    """Number of input steps that one output step of ``layers`` (applied in order) can see."""
    return compose_geometry(layer_geometry(m) for m in layers)[0]
