"""Temporal convolutional network: causal residual blocks with exponentially growing dilation."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seqconv.layers.checkpoint import run_blocks
from seqconv.layers.receptive_field import compose_geometry
from seqconv.layers.residual import ResidualBlock

__all__ = ["TemporalConvNet"]


class TemporalConvNet(nn.Module):
    """A stack of causal :class:`ResidualBlock` s, block ``i`` dilated by ``dilation_base ** i``.

    Bai et al. 2018, "An Empirical Evaluation of Generic Convolutional and Recurrent Networks for Sequence
    Modeling". Output ``t`` depends only on inputs ``<= t``; the receptive field is
    ``1 + 2 * (kernel_size - 1) * sum(dilation_base ** i)``.

    Args:
        in_channels: input channels ``C_in``.
        channels: output channels of each block; its length sets the depth.
        kernel_size: kernel width of every convolution.
        dilation_base: growth factor of the dilation from one block to the next.
        norm: ``"batch"``, ``"layer"`` or ``"none"`` (``"group"`` would mix time steps and is refused).
        act: activation name.
        dropout: dropout inside each block.
    """

    def __init__(
        self,
        in_channels: int,
        channels: Sequence[int],
        kernel_size: int = 3,
        dilation_base: int = 2,
        norm: str = "layer",
        act: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not channels:
            raise ValueError("channels must list at least one block width, e.g. channels=[32, 32, 32]")
        if dilation_base < 1:
            raise ValueError(f"dilation_base must be >= 1, got {dilation_base}")
        widths = [in_channels, *channels]
        self.blocks = nn.ModuleList(
            ResidualBlock(
                widths[i],
                widths[i + 1],
                kernel_size,
                dilation=dilation_base**i,
                padding="causal",
                norm=norm,
                act=act,
                dropout=dropout,
            )
            for i in range(len(channels))
        )
        self.in_channels = in_channels
        self.out_channels = widths[-1]
        self.grad_checkpointing = False

    def geometry(self) -> tuple[int, int]:
        """``(receptive_field, stride)`` of the stack."""
        return compose_geometry(block.geometry() for block in self.blocks)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute block activations in the backward pass instead of storing them."""
        self.grad_checkpointing = enable

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C_in, L] -> [B, channels[-1], L]``, causal."""
        if self.grad_checkpointing and not torch.jit.is_scripting():
            return run_blocks(self.blocks, x, True)
        for block in self.blocks:
            x = block(x)
        return x
