"""Input checks that turn shape mistakes into messages a user can act on."""

from __future__ import annotations

import torch

__all__ = ["check_bcl"]


def check_bcl(x: torch.Tensor, channels: int, where: str) -> None:
    """Check that ``x`` is ``[B, C, L]`` with ``C == channels``.

    Raises:
        ValueError: ``x`` is not 3-D, or its channel axis is wrong; a ``[B, L, C]`` tensor is recognised and
            the message suggests ``x.transpose(1, 2)``.
    """
    if x.dim() != 3:
        hint = " (add the channel axis with x.unsqueeze(1))" if x.dim() == 2 and channels == 1 else ""
        raise ValueError(f"{where} expects input of shape [B, C, L], got {tuple(x.shape)}{hint}")
    if x.shape[1] != channels:
        hint = ""
        if x.shape[2] == channels:
            hint = "; it looks like [B, L, C]: did you mean x.transpose(1, 2)?"
        raise ValueError(f"{where} expects [B, C, L] with C={channels} channels, got {tuple(x.shape)}{hint}")
