"""Streaming for causal layers: ``stream(x, state) -> (y, new_state)`` with the state explicit in and out.

Offline, a causal convolution pads its input with ``(kernel_size - 1) * dilation`` zeros on the left
(:func:`~seqconv.layers.get_padding`). Streaming replaces those zeros by the last ``(kernel_size - 1) * dilation``
inputs the convolution has seen, kept as its state ``[B, C_in, (kernel_size - 1) * dilation]``; a zero state is
exactly the offline padding. A chunk of ``T`` new steps then costs ``T`` output steps per layer instead of a window.

The state is a list of tensors passed in and returned by every call and nothing is kept between calls, so the
step traces, scripts and exports to ONNX as it is.
"""

from __future__ import annotations

import torch
from torch import nn

from seqconv.layers.checks import check_bcl

__all__ = ["StreamingModule"]


class StreamingModule(nn.Module):
    """A layer that also runs chunk by chunk when it is causal: ``stream(x, state) -> (y, new_state)``.

    Feed a sequence in chunks of any sizes, passing each call's state to the next, and the concatenated outputs
    equal ``forward`` over the whole sequence. Streams in a batch are independent: zeroing one stream's rows of
    every state tensor restarts that stream alone.

    Subclasses set ``in_channels`` and ``out_channels`` (of ``x`` and ``y``) and implement
    :meth:`check_streamable`, ``_state_shapes`` and ``_stream`` (the unchecked step, called by parent layers).
    """

    def check_streamable(self, where: str = "") -> None:
        """Raise ``ValueError`` saying what to change when this layer cannot stream as configured and in its mode.

        Args:
            where: the layer's name in the error message (its path in a parent); defaults to its class name.
        """
        raise NotImplementedError

    def _state_shapes(self) -> list[tuple[int, int]]:
        raise NotImplementedError

    def _stream(self, x: torch.Tensor, state: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        raise NotImplementedError

    def state_shapes(self) -> list[tuple[int, int]]:
        """``(channels, steps)`` of each state tensor, each ``[B, channels, steps]``.

        Raises:
            ValueError: the layer cannot stream (see :meth:`check_streamable`).
        """
        self.check_streamable()
        return self._state_shapes()

    def initial_state(
        self, batch_size: int, dtype: torch.dtype = torch.float32, device: str | torch.device | None = None
    ) -> list[torch.Tensor]:
        """Zero state for ``batch_size`` streams: the offline left padding."""
        return [torch.zeros(batch_size, c, p, dtype=dtype, device=device) for c, p in self.state_shapes()]

    def stream(self, x: torch.Tensor, state: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Run the next chunk.

        Args:
            x: ``[B, C_in, T]``, the next ``T >= 1`` steps of ``B`` streams.
            state: from :meth:`initial_state` or the previous call; shapes as :meth:`state_shapes`.

        Returns:
            ``y`` ``[B, C_out, T]`` and the new state, the same shapes as ``state``.

        Raises:
            ValueError: the layer cannot stream (see :meth:`check_streamable`), or ``x`` or ``state`` is malformed.
        """
        if not torch.jit.is_scripting():
            self._check_stream(x, state)
        return self._stream(x, state)

    @torch.jit.unused
    def _check_stream(self, x: torch.Tensor, state: list[torch.Tensor]) -> None:
        name = type(self).__name__
        shapes = self.state_shapes()
        check_bcl(x, self.in_channels, f"{name}.stream")
        if x.shape[-1] < 1:
            raise ValueError(f"{name}.stream got an empty chunk (T = 0); feed at least one step")
        if len(state) != len(shapes):
            raise ValueError(
                f"{name}.stream expects {len(shapes)} state tensors (see state_shapes()), got {len(state)}; "
                "start from initial_state(batch_size) and pass each call's new state to the next"
            )
        for i, (s, (c, p)) in enumerate(zip(state, shapes, strict=True)):
            if tuple(s.shape) != (x.shape[0], c, p):
                raise ValueError(
                    f"{name}.stream: state[{i}] must be [B, C, P] = [{x.shape[0]}, {c}, {p}] for a batch of "
                    f"{x.shape[0]} streams, got {tuple(s.shape)}; start from initial_state({x.shape[0]}) and pass "
                    "each call's new state to the next"
                )
