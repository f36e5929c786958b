"""TimeSeriesCNN: the classic two-stage Conv1d forecaster with a flatten head."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seqconv.layers import ConvNormAct, check_bcl, conv_output_length, create_act, receptive_field, run_blocks

__all__ = ["TimeSeriesCNN"]


class TimeSeriesCNN(nn.Module):
    """Conv1d stages (``ConvNormAct`` with ``"same"`` padding, then ``MaxPool1d``), flatten, two linear layers.

    With the defaults this is the classic tutorial network: ``Conv1d 1->64 k3 -> ReLU -> MaxPool 2 ->
    Conv1d 64->128 k3 -> ReLU -> MaxPool 2 -> Flatten -> Linear 50 -> ReLU -> Linear 1``; the flatten size
    follows from ``input_length`` instead of being typed by hand.

    Args:
        in_channels: input channels (features per time step).
        input_length: window length ``L``; the flatten head fixes it.
        out_features: predicted values per window.
        channels: output channels of each conv stage.
        kernel_size: conv kernel width.
        groups: conv groups of every stage after the first (must divide their channels).
        pool_size: max-pooling width and stride after each stage (1 disables pooling).
        hidden: width of the hidden linear layer.
        norm: normalization after each conv (``"none"`` is the classic network).
        act: activation name.
        dropout: dropout after each conv stage and the hidden layer.
    """

    def __init__(
        self,
        in_channels: int,
        input_length: int,
        out_features: int = 1,
        channels: Sequence[int] = (64, 128),
        kernel_size: int = 3,
        groups: int = 1,
        pool_size: int = 2,
        hidden: int = 50,
        norm: str = "none",
        act: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if kernel_size > input_length:
            raise ValueError(
                f"TimeSeriesCNN: kernel_size={kernel_size} is larger than the window input_length={input_length}; "
                "use a smaller kernel_size or a longer window (data.window)"
            )
        self.in_channels, self.input_length = in_channels, input_length
        stages: list[nn.Module] = []
        widths = [in_channels, *channels]
        length = input_length
        for i in range(len(channels)):
            conv = ConvNormAct(
                widths[i], widths[i + 1], kernel_size, groups=groups if i else 1, norm=norm, act=act, dropout=dropout
            )
            pool = nn.MaxPool1d(pool_size) if pool_size > 1 else nn.Identity()
            stages.append(nn.Sequential(conv, pool))
            length = conv_output_length(conv.output_length(length), pool_size, pool_size) if pool_size > 1 else length
            if length < 1:
                raise ValueError(
                    f"TimeSeriesCNN: input_length={input_length} is too short for {len(channels)} stages of "
                    f"max-pooling by {pool_size} (nothing is left after stage {i + 1}); use a window of at "
                    f"least {pool_size ** len(channels)} steps, fewer channels stages, or pool_size=1"
                )
        self.stages = nn.ModuleList(stages)
        self.flat_features = widths[-1] * length
        self.head = nn.Sequential(
            nn.Flatten(),  # [B, C, L'] -> [B, C * L']
            nn.Linear(self.flat_features, hidden),
            create_act(act),
            nn.Dropout(dropout) if dropout > 0 else nn.Identity(),
            nn.Linear(hidden, out_features),
        )
        self.grad_checkpointing = False

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute stage activations in the backward pass instead of storing them."""
        self.grad_checkpointing = enable

    def receptive_field(self) -> int:
        """Input steps seen by one position of the last conv stage."""
        return receptive_field(*self.stages)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C_in, L] -> [B, channels[-1], L']`` where ``L'`` is ``L`` halved (floored) per pooled stage."""
        if not torch.jit.is_scripting():
            self._check_input(x)
        if self.grad_checkpointing and not torch.jit.is_scripting():
            return run_blocks(self.stages, x, True)
        for stage in self.stages:
            x = stage(x)
        return x

    @torch.jit.unused
    def _check_input(self, x: torch.Tensor) -> None:
        check_bcl(x, self.in_channels, "TimeSeriesCNN")
        if x.shape[-1] != self.input_length:
            raise ValueError(
                f"TimeSeriesCNN was built for windows of {self.input_length} steps (its flatten head fixes the "
                f"length), got [B, C, L]={tuple(x.shape)}"
            )

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, L'] -> [B, out_features]``."""
        return self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C_in, L] -> [B, out_features]``."""
        return self.forward_head(self.forward_features(x))
