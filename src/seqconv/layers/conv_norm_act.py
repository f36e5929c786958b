"""Conv1d -> norm -> activation -> dropout, the building block of every seqconv model."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqconv.layers.checks import check_bcl
from seqconv.layers.create_act import create_act
from seqconv.layers.create_norm import check_norm_streams, create_norm, norm_mixes_time
from seqconv.layers.dropout import Dropout
from seqconv.layers.padding import conv_output_length, get_padding
from seqconv.layers.streaming import StreamingModule

__all__ = ["ConvNormAct", "SeparableConvNormAct", "create_dropout"]


def _check_positive(**values: int) -> None:
    for key, value in values.items():
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{key} must be a positive integer, got {value!r}")


class ConvNormAct(StreamingModule):
    """``Conv1d -> norm -> activation -> Dropout`` on ``[B, C, L]`` tensors.

    Argument names mirror ``nn.Conv1d``; ``padding`` is a mode instead of an amount:

    * ``"same"``: output length ``ceil(L / stride)``;
    * ``"valid"``: output length ``floor((L - dilation * (kernel_size - 1) - 1) / stride) + 1``;
    * ``"causal"``: ``(kernel_size - 1) * dilation`` zeros on the left only, output length ``ceil(L / stride)``;
      output ``t`` depends on inputs ``<= t * stride`` only.

    A causal, stride-1 block also streams (:meth:`stream`): its state ``[B, C_in, (kernel_size - 1) * dilation]``
    holds the last inputs it has seen in place of the causal zero padding (none when ``kernel_size=1``).

    Args:
        in_channels: input channels ``C_in``.
        out_channels: output channels ``C_out``.
        kernel_size: kernel width.
        stride: step between outputs.
        dilation: spacing between kernel taps.
        groups: blocked connections; must divide both channel counts.
        bias: conv bias; ``None`` means "only when no norm follows".
        padding: ``"same"``, ``"valid"`` or ``"causal"``.
        norm: ``"batch"``, ``"group"``, ``"layer"`` or ``"none"``.
        act: activation name (see :data:`seqconv.layers.ACTIVATIONS`).
        dropout: dropout probability after the activation.
        spatial_dropout: drop whole channels (``nn.Dropout1d``, the "spatial dropout" of Bai et al. 2018's TCN)
            instead of single values; one draw per channel instead of per value, so also much cheaper on CPUs.
        num_groups: groups of ``norm="group"``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        dilation: int = 1,
        groups: int = 1,
        bias: bool | None = None,
        padding: str = "same",
        norm: str = "batch",
        act: str = "relu",
        dropout: float = 0.0,
        num_groups: int = 8,
        spatial_dropout: bool = False,
    ) -> None:
        super().__init__()
        _check_positive(
            in_channels=in_channels,
            out_channels=out_channels,
            kernel_size=kernel_size,
            stride=stride,
            dilation=dilation,
            groups=groups,
        )
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"groups={groups} must divide in_channels={in_channels} and out_channels={out_channels}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if padding == "causal" and norm_mixes_time(norm):
            raise ValueError(
                f"norm={norm!r} pools statistics over time and would let the future leak into a causal "
                "layer; use norm='batch', 'layer' or 'none' with padding='causal'"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.dilation = kernel_size, stride, dilation
        self.padding = padding
        self.pad = get_padding(kernel_size, dilation, padding)
        self.conv = nn.Conv1d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            dilation=dilation,
            groups=groups,
            bias=norm == "none" if bias is None else bias,
        )
        self.norm = create_norm(norm, out_channels, num_groups)
        self.act = create_act(act)
        self.drop = create_dropout(dropout, spatial_dropout)

    def geometry(self) -> tuple[int, int]:
        """``(receptive_field, stride)`` of this block."""
        return self.dilation * (self.kernel_size - 1) + 1, self.stride

    def output_length(self, length: int) -> int:
        """Output length for an input of ``length`` steps."""
        return conv_output_length(length, self.kernel_size, self.stride, self.dilation, sum(self.pad))

    @torch.jit.unused
    def _check_input(self, x: torch.Tensor) -> None:
        check_bcl(x, self.in_channels, type(self).__name__)
        if self.output_length(x.shape[-1]) < 1:
            raise ValueError(
                f"{type(self).__name__}: input length {x.shape[-1]} is shorter than the kernel span "
                f"{self.geometry()[0]} (kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding!r}); use a longer window or a smaller kernel"
            )

    def check_streamable(self, where: str = "") -> None:
        """Raise ``ValueError`` saying what to change unless this block is causal, stride 1 and normalised per step.

        Args:
            where: the block's name in the message; defaults to its class name.
        """
        where = where or type(self).__name__
        if self.pad != get_padding(self.kernel_size, self.dilation, "causal"):  # a span of 1 streams in any mode
            found = f"{where}: cannot stream padding={self.padding!r} with kernel_size={self.kernel_size}"
            if self.pad[1] > 0:
                raise ValueError(
                    f"{found}: each output depends on {self.pad[1]} future inputs; build it with padding='causal'"
                )
            raise ValueError(
                f"{found}: it drops the first {self.geometry()[0] - 1} outputs instead of padding the past; build "
                "it with padding='causal'"
            )
        if self.stride != 1:
            raise ValueError(
                f"{where}: cannot stream a strided conv (stride={self.stride}): one output per {self.stride} inputs "
                "would tie the chunks to the stride; build it with stride=1"
            )
        check_norm_streams(self.norm, f"{where}.norm")

    def _state_shapes(self) -> list[tuple[int, int]]:
        shapes: list[tuple[int, int]] = []
        if self.pad[0] > 0:
            shapes.append((self.in_channels, self.pad[0]))  # [B, C_in, (kernel_size - 1) * dilation]
        return shapes

    def _stream(self, x: torch.Tensor, state: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        if self.pad[0] == 0:
            return self._conv_norm_act(x), state
        full = torch.cat([state[0], x], dim=-1)  # [B, C_in, P + T]: the state replaces the causal zero padding
        y = self._conv_norm_act(full)  # [B, C_out, T]
        return y, [full[:, :, full.shape[-1] - self.pad[0] :]]  # the last P inputs

    def _conv_norm_act(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.act(self.norm(self.conv(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C_in, L] -> [B, C_out, L_out]`` with ``L_out`` given by :meth:`output_length`."""
        if not torch.jit.is_scripting():
            self._check_input(x)
        if self.pad[0] > 0 or self.pad[1] > 0:
            x = F.pad(x, [self.pad[0], self.pad[1]])  # [B, C_in, L + left + right]
        return self._conv_norm_act(x)


def create_dropout(p: float, spatial: bool = False) -> nn.Module:
    """Dropout of ``[B, C, L]`` values with probability ``p``: per value (:class:`~seqconv.layers.dropout.Dropout`),
    or per channel with ``spatial`` (a whole channel of an item zeroed); ``nn.Identity`` for ``p = 0``."""
    if p == 0:
        return nn.Identity()
    return nn.Dropout1d(p) if spatial else Dropout(p)


class SeparableConvNormAct(StreamingModule):
    """Depthwise-separable block: a depthwise :class:`ConvNormAct` then a pointwise (1x1) one.

    Uses ``in_channels * (kernel_size + out_channels)`` weights instead of ``in_channels * out_channels *
    kernel_size``. Arguments as :class:`ConvNormAct`; ``depth_multiplier`` sets the depthwise output channels.
    A causal, stride-1 block streams with the depthwise conv's state (the pointwise one needs none).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        dilation: int = 1,
        padding: str = "same",
        norm: str = "batch",
        act: str = "relu",
        dropout: float = 0.0,
        depth_multiplier: int = 1,
        num_groups: int = 8,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        mid = in_channels * depth_multiplier
        self.depthwise = ConvNormAct(
            in_channels,
            mid,
            kernel_size,
            stride=stride,
            dilation=dilation,
            groups=in_channels,
            padding=padding,
            norm=norm,
            act="none",
            num_groups=num_groups,
        )
        self.pointwise = ConvNormAct(mid, out_channels, 1, norm=norm, act=act, dropout=dropout, num_groups=num_groups)

    def geometry(self) -> tuple[int, int]:
        """``(receptive_field, stride)`` of this block."""
        return self.depthwise.geometry()

    def output_length(self, length: int) -> int:
        """Output length for an input of ``length`` steps."""
        return self.depthwise.output_length(length)

    def check_streamable(self, where: str = "") -> None:
        """Raise ``ValueError`` saying what to change unless both convs stream (causal, stride 1, per-step norm)."""
        where = where or type(self).__name__
        self.depthwise.check_streamable(f"{where}.depthwise")
        self.pointwise.check_streamable(f"{where}.pointwise")

    def _state_shapes(self) -> list[tuple[int, int]]:
        return self.depthwise._state_shapes()  # the pointwise conv has none

    def _stream(self, x: torch.Tensor, state: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        h, state = self.depthwise._stream(x, state)  # [B, C_in, T] -> [B, C_in * depth_multiplier, T]
        return self.pointwise._stream(h, [])[0], state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C_in, L] -> [B, C_out, L_out]``, ``L_out`` as :class:`ConvNormAct`."""
        return self.pointwise(self.depthwise(x))
