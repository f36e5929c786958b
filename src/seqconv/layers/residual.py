"""Residual block on top of :class:`ConvNormAct`."""

from __future__ import annotations

import torch
from torch import nn

from seqconv.layers.conv_norm_act import ConvNormAct, create_dropout
from seqconv.layers.create_act import create_act
from seqconv.layers.receptive_field import compose_geometry
from seqconv.layers.streaming import StreamingModule

__all__ = ["ResidualBlock"]


class ResidualBlock(StreamingModule):
    """Two convolutions with a skip connection: ``act(conv2(conv1(x)) + shortcut(x))`` (He et al. 2016).

    The shortcut is the identity, or a 1x1 :class:`ConvNormAct` when channels or stride change.
    With ``padding="causal"`` this is the temporal block of Bai et al. 2018 ("An Empirical Evaluation of
    Generic Convolutional and Recurrent Networks for Sequence Modeling"), and it streams (:meth:`stream`) with
    the states of its two convolutions (stride 1 only; the 1x1 shortcut needs none).

    Args:
        in_channels: input channels ``C_in``.
        out_channels: output channels ``C_out``.
        kernel_size: kernel width of both convolutions.
        stride: stride of the first convolution and of the shortcut.
        dilation: dilation of both convolutions.
        padding: ``"same"`` or ``"causal"`` (``"valid"`` would break the addition).
        norm: normalization after each convolution.
        act: activation name.
        dropout: dropout after each activation inside the block.
        spatial_dropout: drop whole channels instead of single values (see :func:`create_dropout`).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        dilation: int = 1,
        padding: str = "same",
        norm: str = "batch",
        act: str = "relu",
        dropout: float = 0.0,
        spatial_dropout: bool = False,
    ) -> None:
        super().__init__()
        if padding not in ("same", "causal"):
            raise ValueError(
                f"ResidualBlock needs padding='same' or 'causal' so that both paths keep the length, "
                f"got padding={padding!r}"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.conv1 = ConvNormAct(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            dilation=dilation,
            padding=padding,
            norm=norm,
            act=act,
            dropout=dropout,
            spatial_dropout=spatial_dropout,
        )
        self.conv2 = ConvNormAct(
            out_channels,
            out_channels,
            kernel_size,
            dilation=dilation,
            padding=padding,
            norm=norm,
            act="none",
        )
        self.shortcut: nn.Module = nn.Identity()
        if in_channels != out_channels or stride != 1:
            self.shortcut = ConvNormAct(in_channels, out_channels, 1, stride=stride, norm=norm, act="none")
        self.act = create_act(act)
        self.drop = create_dropout(dropout, spatial_dropout)
        self._conv1_states = len(self.conv1._state_shapes())  # where the streaming state of conv2 starts

    def geometry(self) -> tuple[int, int]:
        """``(receptive_field, stride)`` of the block (the convolution path; the shortcut sees less)."""
        return compose_geometry([self.conv1.geometry(), self.conv2.geometry()])

    def check_streamable(self, where: str = "") -> None:
        """Raise ``ValueError`` saying what to change unless every conv streams (causal, stride 1, per-step norm)."""
        where = where or type(self).__name__
        self.conv1.check_streamable(f"{where}.conv1")
        self.conv2.check_streamable(f"{where}.conv2")
        if isinstance(self.shortcut, ConvNormAct):
            self.shortcut.check_streamable(f"{where}.shortcut")

    def _state_shapes(self) -> list[tuple[int, int]]:
        return self.conv1._state_shapes() + self.conv2._state_shapes()

    def _stream(self, x: torch.Tensor, state: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        h, state1 = self.conv1._stream(x, state[: self._conv1_states])  # [B, C_in, T] -> [B, C_out, T]
        h, state2 = self.conv2._stream(h, state[self._conv1_states :])
        return self.drop(self.act(h + self.shortcut(x))), state1 + state2  # the 1x1 shortcut acts per step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C_in, L] -> [B, C_out, ceil(L / stride)]``."""
        return self.drop(self.act(self.conv2(self.conv1(x)) + self.shortcut(x)))
