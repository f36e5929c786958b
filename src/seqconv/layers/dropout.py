"""Per-value dropout with a cheaper mask on CPUs.

``torch.nn.Dropout`` draws its mask with ``bernoulli_``; on CPUs torch takes MKL's vectorised generator on Intel
processors only, and elsewhere (the AMD machine this project is measured on) draws one Mersenne-Twister number per
value, serially: a quarter of a TCN training step there (a 64 x 32 x 30 mask: 0.45 ms, one mask per convolution).
:class:`Dropout` draws 64-bit random words instead and cuts each into four 16-bit draws, one per value: a draw
below ``round(p * 65536)`` (counted from the bottom of its range) drops its value, the others are scaled by
``65536 / (65536 - that)``. The drop probability is ``p`` rounded to a multiple of ``1 / 65536``, the scale keeps
every value's expectation exact, and masks come from torch's generator, so ``torch.manual_seed`` repeats them.
Off the CPU, under TorchScript and in evaluation mode it is ``torch.nn.Dropout``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Dropout"]

_LANES = 2**16  # values of a 16-bit draw


class Dropout(nn.Dropout):
    """``torch.nn.Dropout`` (per value, probability ``p``, kept values scaled by ``1 / (1 - p)``) with the mask
    drawn 16 bits per value on CPUs; see the module docstring."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting() or not self.training or x.device.type != "cpu":
            return F.dropout(x, self.p, self.training, self.inplace)
        return self._dropout_cpu(x)

    @torch.jit.unused  # TorchScript (inference exports) takes F.dropout above
    def _dropout_cpu(self, x: torch.Tensor) -> torch.Tensor:
        dropped = round(self.p * _LANES)
        if not 0 < dropped < _LANES:
            return F.dropout(x, self.p, self.training, self.inplace)
        n = x.numel()
        words = torch.empty((n + 3) // 4, dtype=torch.int64).random_(-(2**63), None)  # all 64 bits random
        draws = words.view(torch.int16)[:n].view(x.shape)  # 4 draws per word, uniform over [-32768, 32767]
        keep = torch.empty(x.shape, dtype=x.dtype)  # the comparison written as 0/1 values straight into it
        torch.ge(draws, dropped - _LANES // 2, out=keep).mul_(_LANES / (_LANES - dropped))
        return x.mul_(keep) if self.inplace else x * keep
