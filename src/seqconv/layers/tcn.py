"""Temporal convolutional network: causal residual blocks with exponentially growing dilation."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seqconv.layers.checkpoint import run_blocks
from seqconv.layers.receptive_field import compose_geometry
from seqconv.layers.residual import ResidualBlock
from seqconv.layers.streaming import StreamingModule

__all__ = ["TemporalConvNet"]


class TemporalConvNet(StreamingModule):
    """A stack of causal :class:`ResidualBlock` s, block ``i`` dilated by ``dilation_base ** i``.

    Bai et al. 2018, "An Empirical Evaluation of Generic Convolutional and Recurrent Networks for Sequence
    Modeling". Output ``t`` depends only on inputs ``<= t``; the receptive field is
    ``1 + 2 * (kernel_size - 1) * sum(dilation_base ** i)``.

    It streams (:meth:`stream`, in eval mode with ``norm="batch"``) with two state tensors per block, one per
    convolution, ``[B, C, (kernel_size - 1) * dilation_base ** i]``; together they hold the receptive field.

    Args:
        in_channels: input channels ``C_in``.
        channels: output channels of each block; its length sets the depth.
        kernel_size: kernel width of every convolution.
        dilation_base: growth factor of the dilation from one block to the next.
        norm: ``"batch"``, ``"layer"`` or ``"none"`` (``"group"`` would mix time steps and is refused).
        act: activation name.
        dropout: dropout inside each block.
        spatial_dropout: drop whole channels (Bai et al.'s "spatial dropout") instead of single values.
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
        spatial_dropout: bool = False,
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
                spatial_dropout=spatial_dropout,
            )
            for i in range(len(channels))
        )
        self.in_channels = in_channels
        self.out_channels = widths[-1]
        self._block_states = [len(block._state_shapes()) for block in self.blocks]  # streaming state tensors
        self.grad_checkpointing = False

    def geometry(self) -> tuple[int, int]:
        """``(receptive_field, stride)`` of the stack."""
        return compose_geometry(block.geometry() for block in self.blocks)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute block activations in the backward pass instead of storing them."""
        self.grad_checkpointing = enable

    def check_streamable(self, where: str = "") -> None:
        """Raise ``ValueError`` saying what to change unless every block streams (e.g. BatchNorm in train mode)."""
        where = where or type(self).__name__
        for i, block in enumerate(self.blocks):
            block.check_streamable(f"{where}.blocks.{i}")

    def _state_shapes(self) -> list[tuple[int, int]]:
        return [shape for block in self.blocks for shape in block._state_shapes()]

    def _stream(self, x: torch.Tensor, state: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        new_state: list[torch.Tensor] = []
        for i, block in enumerate(self.blocks):
            start = len(new_state)  # the states of the blocks before this one
            x, block_state = block._stream(x, state[start : start + self._block_states[i]])
            new_state.extend(block_state)
        return x, new_state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C_in, L] -> [B, channels[-1], L]``, causal."""
        if self.grad_checkpointing and not torch.jit.is_scripting():
            return run_blocks(self.blocks, x, True)
        for block in self.blocks:
            x = block(x)
        return x
