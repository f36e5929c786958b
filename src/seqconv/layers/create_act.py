"""Activation layers by name."""

from __future__ import annotations

from torch import nn

__all__ = ["ACTIVATIONS", "get_act_layer", "create_act"]

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "tanh": nn.Tanh,
    "none": nn.Identity,
}


def get_act_layer(name: str) -> type[nn.Module]:
    """Return the activation class registered under ``name``.

    Raises:
        ValueError: ``name`` is unknown; the message lists the valid names.
    """
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation act={name!r}; choose one of {sorted(ACTIVATIONS)}") from None


def create_act(name: str) -> nn.Module:
    """Instantiate the activation registered under ``name``."""
    return get_act_layer(name)()
