"""TCNForecaster: a causal temporal convolutional network that forecasts from the last time step."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seqconv.layers import StreamingModule, TemporalConvNet, check_bcl

__all__ = ["TCNForecaster"]


class TCNForecaster(StreamingModule):
    """A :class:`~seqconv.layers.TemporalConvNet` with a linear head on its last time step.

    Bai et al. 2018. Every output sees only the past: the features at step ``t`` depend on inputs ``<= t``,
    and the forecast is read from the last step, so the model accepts any window length; windows shorter than
    :meth:`receptive_field` simply see zero padding before the window starts.

    :meth:`stream` runs :meth:`forward_sequence` chunk by chunk, a forecast at every new step, with the state of
    its :class:`~seqconv.layers.TemporalConvNet` (call ``.eval()`` first: dropout off, BatchNorm running statistics).

    Args:
        in_channels: input channels (features per time step).
        out_features: predicted values per window.
        channels: width of each residual block; depth is ``len(channels)``.
        kernel_size: kernel width.
        dilation_base: dilation growth per block.
        norm: ``"layer"``, ``"batch"`` or ``"none"``.
        act: activation name.
        dropout: dropout inside the blocks.
        spatial_dropout: zero whole channels (the paper's "spatial dropout"; one draw per channel, several times
            cheaper on CPUs than a draw per value) instead of single values.
    """

    def __init__(
        self,
        in_channels: int,
        out_features: int = 1,
        channels: Sequence[int] = (32, 32, 32, 32),
        kernel_size: int = 3,
        dilation_base: int = 2,
        norm: str = "layer",
        act: str = "relu",
        dropout: float = 0.1,
        spatial_dropout: bool = False,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_features  # of forward_sequence and stream: [B, out_features, L]
        self.tcn = TemporalConvNet(
            in_channels, channels, kernel_size, dilation_base, norm, act, dropout, spatial_dropout=spatial_dropout
        )
        self.head = nn.Linear(self.tcn.out_channels, out_features)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute block activations in the backward pass instead of storing them."""
        self.tcn.set_grad_checkpointing(enable)

    def receptive_field(self) -> int:
        """Input steps seen by one output step."""
        return self.tcn.geometry()[0]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C_in, L] -> [B, H, L]``, causal."""
        if not torch.jit.is_scripting():
            check_bcl(x, self.in_channels, "TCNForecaster")
        return self.tcn(x)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, H, L] -> [B, out_features]`` from the last step."""
        return self.head(x[:, :, -1])

    def forward_sequence(self, x: torch.Tensor) -> torch.Tensor:
        """A forecast at every step: ``[B, C_in, L] -> [B, out_features, L]``, causal."""
        return self._head_per_step(self.forward_features(x))

    def _head_per_step(self, h: torch.Tensor) -> torch.Tensor:
        return self.head(h.transpose(1, 2)).transpose(1, 2)  # [B, H, L] -> [B, L, H] -> [B, L, out] -> [B, out, L]

    def check_streamable(self, where: str = "") -> None:
        """Raise ``ValueError`` saying what to change when the network cannot stream (e.g. BatchNorm in train mode)."""
        self.tcn.check_streamable(f"{where or type(self).__name__}.tcn")

    def _state_shapes(self) -> list[tuple[int, int]]:
        return self.tcn._state_shapes()

    def _stream(self, x: torch.Tensor, state: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        h, state = self.tcn._stream(x, state)  # [B, C_in, T] -> [B, H, T]
        return self._head_per_step(h), state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C_in, L] -> [B, out_features]``."""
        return self.forward_head(self.forward_features(x))
