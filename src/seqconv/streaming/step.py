"""The exportable streaming step of a causal network: ``forward(x, state) -> (y, state)``.

The layers own their streaming (:class:`~seqconv.layers.StreamingModule`: ``stream``, ``initial_state``,
``state_shapes``); this module only gives a network's ``stream`` the ``forward`` that tracing, scripting and ONNX
export call, and checks up front that the network can stream.
"""

from __future__ import annotations

import torch
from torch import nn

from seqconv.layers import StreamingModule

__all__ = ["StreamingStep", "streaming_step"]


class StreamingStep(nn.Module):
    """``forward(x, state) -> (y, state)``: the pure streaming step of a causal layer or network, for export.

    Feed a sequence in chunks of any sizes, passing each call's state to the next, and the concatenated outputs
    equal the offline forward over the whole sequence (``TCNForecaster.forward_sequence`` for a forecaster).
    Streams in a batch are independent: zeroing one stream's rows of every state tensor restarts that stream alone.

    Args:
        net: the layer or network; shared, not copied. Put it in eval mode (BatchNorm must use its running
            statistics and dropout must be off for outputs to match), as :func:`streaming_step` does.

    Raises:
        ValueError: ``net`` cannot stream; the message says what to change.
    """

    def __init__(self, net: StreamingModule) -> None:
        super().__init__()
        net.check_streamable()
        self.net = net
        self.in_channels, self.out_channels = net.in_channels, net.out_channels

    def state_shapes(self) -> list[tuple[int, int]]:
        """``(channels, steps)`` of each state tensor; each is ``[B, channels, steps]``."""
        return self.net.state_shapes()

    def initial_state(
        self, batch_size: int, dtype: torch.dtype = torch.float32, device: str | torch.device | None = None
    ) -> list[torch.Tensor]:
        """Zero state for ``batch_size`` streams (the offline left padding)."""
        return self.net.initial_state(batch_size, dtype, device)

    def forward(self, x: torch.Tensor, state: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """One chunk: ``x`` ``[B, C_in, T]`` and the state -> ``y`` ``[B, C_out, T]`` and the new state."""
        return self.net.stream(x, state)


def streaming_step(net: nn.Module) -> StreamingStep:
    """The pure streaming step of a causal network, in eval mode (``net`` itself is switched too).

    ``TCNForecaster`` streams its per-step forecasts (``forward_sequence``); a ``TemporalConvNet`` its features;
    a causal ``ConvNormAct``, ``SeparableConvNormAct`` or ``ResidualBlock`` its outputs.

    Raises:
        ValueError: ``net`` is not causal (e.g. ``TimeSeriesCNN``: centred convs and a flatten head over the whole
            window, or a ``ConvNormAct`` with ``padding="same"``), with the reason and what to change.
    """
    if not isinstance(net, StreamingModule):
        raise ValueError(
            f"{type(net).__name__} is not a causal network and cannot stream: each output depends on the whole "
            "window (centred convs, pooling or a flatten head). Streaming supports TCNForecaster (model=tcn) and "
            "the causal layers of seqconv.layers (TemporalConvNet, ResidualBlock, ConvNormAct with padding='causal')"
        )
    return StreamingStep(net.eval()).eval()
