"""A stateful wrapper around a pure streaming step: feed steps or chunks, reset streams one by one."""

from __future__ import annotations

import torch
from torch import nn

from seqconv.layers import check_bcl
from seqconv.streaming.step import StreamingStep, streaming_step

__all__ = ["Streamer"]


class Streamer(nn.Module):
    """Keeps the state of ``batch_size`` independent streams between calls of a :class:`StreamingStep`.

    Example::

        streamer = Streamer.for_network(forecaster, batch_size=8)
        for chunk in chunks:            # [8, C_in, T], any T >= 1 (or [8, C_in] for a single step)
            y = streamer(chunk)         # [8, C_out, T] (or [8, C_out])
        streamer.reset(done)            # done: [8] bool, restart those streams only

    Args:
        step: the pure step.
        batch_size: number of streams ``B``; every call feeds all of them.
    """

    def __init__(self, step: StreamingStep, batch_size: int) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.step, self.batch_size = step, batch_size
        self.state: list[torch.Tensor] = []
        self.reset()

    @classmethod
    def for_network(cls, net: nn.Module, batch_size: int) -> Streamer:
        """Stream ``net`` (a ``TCNForecaster`` or ``TemporalConvNet``, see :func:`streaming_step`)."""
        return cls(streaming_step(net), batch_size)

    def _reference(self) -> torch.Tensor:
        return next(self.step.parameters())

    @torch.no_grad()
    def reset(self, mask: torch.Tensor | None = None) -> None:
        """Restart every stream, or those where ``mask`` (``[B]`` bool) is ``True``; the others keep their state."""
        if mask is None:
            ref = self._reference()
            self.state = self.step.initial_state(self.batch_size, ref.dtype, ref.device)
            return
        mask = torch.as_tensor(mask, dtype=torch.bool, device=self.state[0].device if self.state else None)
        if mask.shape != (self.batch_size,):
            raise ValueError(f"reset mask must be [B] = [{self.batch_size}] booleans, got {tuple(mask.shape)}")
        keep = ~mask[:, None, None]  # [B] -> [B, 1, 1]
        self.state = [s * keep for s in self.state]

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Feed the next steps of every stream.

        Args:
            x: ``[B, C_in, T]`` (a chunk of ``T >= 1`` steps) or ``[B, C_in]`` (one step).

        Returns:
            ``[B, C_out, T]``, or ``[B, C_out]`` for a single step.
        """
        single = x.dim() == 2
        if single:
            x = x.unsqueeze(-1)  # [B, C_in] -> [B, C_in, 1]
        check_bcl(x, self.step.in_channels, "Streamer")
        if x.shape[0] != self.batch_size:
            raise ValueError(
                f"Streamer holds {self.batch_size} streams but got a batch of {x.shape[0]}; feed all streams every "
                "call (reset() the idle ones), or build a Streamer with another batch_size"
            )
        if x.shape[-1] < 1:
            raise ValueError("Streamer got an empty chunk (T = 0); feed at least one step")
        y, self.state = self.step(x, self.state)
        return y.squeeze(-1) if single else y
