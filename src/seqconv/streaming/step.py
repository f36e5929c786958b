"""Pure streaming steps for causal networks: ``(x, state) -> (y, state)`` with the state explicit in and out.

Offline, a causal convolution pads its input with ``(kernel_size - 1) * dilation`` zeros on the left. Streaming
replaces those zeros by the last ``(kernel_size - 1) * dilation`` inputs the layer has seen: each causal conv
keeps them as its state, ``[B, C_in, (kernel_size - 1) * dilation]``, and a zero state is exactly the offline
padding. A chunk of ``T`` new steps then costs ``T`` output steps per layer instead of a whole window.

The steps share their parameters with the network they wrap (no copy) and are written for TorchScript (trace
and script) and ONNX export: the state is a list of tensors, nothing is kept between calls.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqconv.layers import ChannelLayerNorm, ConvNormAct, ResidualBlock, TemporalConvNet
from seqconv.models import TCNForecaster

__all__ = ["StreamingConv", "StreamingResidualBlock", "StreamingTCN", "streaming_step"]


class _StepLayerNorm(nn.Module):
    """:class:`~seqconv.layers.ChannelLayerNorm` written without ``super()`` so that TorchScript can script it."""

    def __init__(self, norm: ChannelLayerNorm) -> None:
        super().__init__()
        self.weight, self.bias = norm.weight, norm.bias
        self.normalized_shape, self.eps = tuple(norm.normalized_shape), norm.eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, T] -> [B, C, T]``, normalised over ``C`` at each step."""
        y = F.layer_norm(x.transpose(1, 2), self.normalized_shape, self.weight, self.bias, self.eps)  # [B, T, C]
        return y.transpose(1, 2)  # [B, T, C] -> [B, C, T]


def _per_step(norm: nn.Module) -> nn.Module:
    """The norm of a causal layer, checked to act on each time step alone (in eval mode)."""
    if isinstance(norm, ChannelLayerNorm):
        return _StepLayerNorm(norm)
    if isinstance(norm, nn.BatchNorm1d | nn.Identity):
        return norm  # BatchNorm1d in eval mode: running statistics, one affine map per channel
    raise ValueError(f"cannot stream a layer normalised by {type(norm).__name__}; use norm='batch', 'layer' or 'none'")


class _Pointwise(nn.Module):
    """A ``kernel_size=1`` :class:`ConvNormAct` (a residual shortcut): per step, so it needs no state."""

    def __init__(self, layer: ConvNormAct) -> None:
        super().__init__()
        if layer.kernel_size != 1 or layer.stride != 1:
            raise ValueError(
                f"expected a 1x1, stride-1 shortcut, got kernel_size={layer.kernel_size}, stride={layer.stride}"
            )
        self.conv, self.norm, self.act, self.drop = layer.conv, _per_step(layer.norm), layer.act, layer.drop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C_in, T] -> [B, C_out, T]``."""
        return self.drop(self.act(self.norm(self.conv(x))))


class StreamingConv(nn.Module):
    """A causal :class:`~seqconv.layers.ConvNormAct` fed chunk by chunk.

    Args:
        layer: a ``padding="causal"``, ``stride=1`` block; its modules are shared, not copied.

    Raises:
        ValueError: the layer is not causal or is strided; the message says why it cannot stream.
    """

    def __init__(self, layer: ConvNormAct) -> None:
        super().__init__()
        if layer.padding != "causal":
            raise ValueError(
                f"cannot stream a ConvNormAct with padding={layer.padding!r}: its outputs depend on future inputs; "
                "only padding='causal' layers stream"
            )
        if layer.stride != 1:
            raise ValueError(f"cannot stream a strided causal conv (stride={layer.stride}); streaming needs stride=1")
        self.in_channels = layer.in_channels
        self.context = layer.pad[0]  # (kernel_size - 1) * dilation
        self.conv, self.norm, self.act, self.drop = layer.conv, _per_step(layer.norm), layer.act, layer.drop

    def initial_state(self, batch_size: int, dtype: torch.dtype = torch.float32, device: str = "cpu") -> torch.Tensor:
        """Zero state ``[B, C_in, (kernel_size - 1) * dilation]``: the offline left padding."""
        return torch.zeros(batch_size, self.in_channels, self.context, dtype=dtype, device=device)

    def forward(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One chunk.

        Args:
            x: ``[B, C_in, T]`` the next ``T >= 1`` steps.
            state: ``[B, C_in, P]`` the previous ``P = (kernel_size - 1) * dilation`` inputs.

        Returns:
            ``y`` ``[B, C_out, T]`` and the new state ``[B, C_in, P]``.
        """
        if self.context == 0:
            return self.drop(self.act(self.norm(self.conv(x)))), state
        full = torch.cat([state, x], dim=-1)  # [B, C_in, P + T]
        y = self.drop(self.act(self.norm(self.conv(full))))  # [B, C_out, T]
        return y, full[:, :, full.shape[-1] - self.context :]


class StreamingResidualBlock(nn.Module):
    """A causal :class:`~seqconv.layers.ResidualBlock` fed chunk by chunk; its state is that of its two convs."""

    def __init__(self, block: ResidualBlock) -> None:
        super().__init__()
        self.conv1, self.conv2 = StreamingConv(block.conv1), StreamingConv(block.conv2)
        self.shortcut = _Pointwise(block.shortcut) if isinstance(block.shortcut, ConvNormAct) else block.shortcut
        self.act, self.drop = block.act, block.drop

    def initial_state(
        self, batch_size: int, dtype: torch.dtype = torch.float32, device: str = "cpu"
    ) -> list[torch.Tensor]:
        """Zero states of ``conv1`` and ``conv2``."""
        return [conv.initial_state(batch_size, dtype, device) for conv in (self.conv1, self.conv2)]

    def forward(
        self, x: torch.Tensor, state1: torch.Tensor, state2: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``[B, C_in, T]`` and both conv states -> ``[B, C_out, T]`` and the new states."""
        h, state1 = self.conv1(x, state1)
        h, state2 = self.conv2(h, state2)
        return self.drop(self.act(h + self.shortcut(x))), state1, state2


class StreamingTCN(nn.Module):
    """The pure streaming step of a :class:`~seqconv.layers.TemporalConvNet`, optionally with a per-step head.

    ``forward(x, state) -> (y, state)``: feed a sequence in chunks of any sizes, passing each call's state to
    the next, and the concatenated outputs equal the offline forward over the whole sequence (``tcn(x)``, or
    ``TCNForecaster.forward_sequence(x)`` with the head). Streams in a batch are independent: zeroing one
    stream's rows of every state tensor restarts that stream alone.

    Args:
        tcn: the network; its modules are shared, not copied. Put it in eval mode (BatchNorm must use its running
            statistics and dropout must be off for outputs to match).
        head: a linear layer applied at every step (``TCNForecaster.head``), or ``None``.
    """

    def __init__(self, tcn: TemporalConvNet, head: nn.Linear | None = None) -> None:
        super().__init__()
        self.in_channels = tcn.in_channels
        self.out_channels = head.out_features if head is not None else tcn.out_channels
        self.blocks = nn.ModuleList(StreamingResidualBlock(block) for block in tcn.blocks)
        self.head = head if head is not None else nn.Identity()
        self.has_head = head is not None

    def state_shapes(self) -> list[tuple[int, int]]:
        """``(channels, steps)`` of each state tensor (two per block); each is ``[B, channels, steps]``."""
        return [(conv.in_channels, conv.context) for block in self.blocks for conv in (block.conv1, block.conv2)]

    def initial_state(
        self, batch_size: int, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"
    ) -> list[torch.Tensor]:
        """Zero state for ``batch_size`` streams (the offline left padding)."""
        return [torch.zeros(batch_size, c, p, dtype=dtype, device=device) for c, p in self.state_shapes()]

    def forward(self, x: torch.Tensor, state: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """One chunk.

        Args:
            x: ``[B, C_in, T]``, the next ``T >= 1`` steps of ``B`` streams.
            state: from :meth:`initial_state` or the previous call.

        Returns:
            ``y`` ``[B, C_out, T]`` (``C_out`` = the head's outputs, or the last block's channels) and the new state.
        """
        new_state: list[torch.Tensor] = []
        for i, block in enumerate(self.blocks):
            x, state1, state2 = block(x, state[2 * i], state[2 * i + 1])
            new_state.append(state1)
            new_state.append(state2)
        if self.has_head:
            x = self.head(x.transpose(1, 2)).transpose(1, 2)  # [B, H, T] -> [B, T, out] -> [B, out, T]
        return x, new_state


def streaming_step(net: nn.Module) -> StreamingTCN:
    """The pure streaming step of a causal network, in eval mode (the shared modules of ``net`` are switched too).

    ``TCNForecaster`` streams its per-step forecasts (``forward_sequence``); a bare ``TemporalConvNet`` streams
    its features.

    Raises:
        ValueError: ``net`` is not causal (e.g. ``TimeSeriesCNN``: centred convs and a flatten head over the whole
            window), with the reason.
    """
    if isinstance(net, TCNForecaster):
        step = StreamingTCN(net.tcn, net.head)
    elif isinstance(net, TemporalConvNet):
        step = StreamingTCN(net)
    else:
        raise ValueError(
            f"{type(net).__name__} is not a causal network and cannot stream: each output depends on the whole "
            "window (centred convs, pooling or a flatten head). Streaming supports TCNForecaster and "
            "TemporalConvNet (model=tcn)"
        )
    return step.eval()
