"""A bag of word n-grams weighted by naive-Bayes log-count ratios: NBSVM inside a network.

Wang & Manning 2012 ("Baselines and Bigrams") scale each text's binary n-gram features by the ratio of how often
each n-gram occurs in one class's training texts against the others' (the naive-Bayes log-count ratio ``r``) and
fit a linear model on top. :class:`NBNgramBranch` computes ``r`` from the training split once
(:meth:`NBNgramBranch.fit`) and learns one scale per n-gram on top of it, as in Jeremy Howard's "NBSVM++"
(fast.ai, 2018): a text's logits are ``sum over its distinct n-grams g of (gain * w[g] + w_adj) * r[g] / r_adj``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

__all__ = ["NBNgramBranch"]

# n-grams of two or more tokens are hashed without overflowing int64: h <- (h * vocab + id) mod _MODULUS (a prime
# below 2**31), then scrambled by _SCRAMBLE (below 2**31) before the bucket is taken
_MODULUS = 2_147_483_647
_SCRAMBLE = 1_000_000_007 % _MODULUS


class NBNgramBranch(nn.Module):
    """``[B, L]`` token ids -> ``[B, C]`` logits from the text's distinct word n-grams (orders ``1..order``).

    Unigrams are the token ids themselves; longer n-grams are hashed into ``buckets`` slots after them. N-grams
    that touch ``padding_idx`` and repeats of an n-gram within a text count nothing (binary features), so the
    logits do not depend on padding. The log-count ratios are a buffer, zero until :meth:`fit` has seen the
    training texts (a checkpoint restores them); the per-n-gram scales ``w`` are trained.

    Args:
        vocab_size: number of token ids.
        num_classes: number of classes ``C``.
        padding_idx: the padding id.
        buckets: hash slots of the n-grams of two or more tokens.
        order: the longest n-gram (1: words only; 3: words, bigrams and trigrams).
        alpha: additive smoothing of the counts in the log-count ratios.
        w_adj: offset of the learned scales (NBSVM++: 0.4), so that training starts near naive Bayes.
        r_adj: divisor of the ratios (NBSVM++: 10).
        gain: the scales enter as ``gain * w``: under Adam, whose steps have the learning rate's size whatever the
            gradient's, ``gain`` multiplies this branch's learning rate (NBSVM++ trained at 1e-2; a CNN beside it
            trains at about 2e-3).
    """

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        padding_idx: int = 0,
        buckets: int = 1 << 20,
        order: int = 3,
        alpha: float = 1.0,
        w_adj: float = 0.4,
        r_adj: float = 10.0,
        gain: float = 1.0,
    ) -> None:
        super().__init__()
        if buckets < 1 or order < 1:
            raise ValueError(f"NBNgramBranch needs buckets >= 1 and order >= 1, got {buckets} and {order}")
        if vocab_size >= _MODULUS or buckets >= _MODULUS:
            raise ValueError(f"vocab_size and buckets must be below {_MODULUS}")
        if alpha <= 0 or r_adj <= 0 or gain <= 0:
            raise ValueError(f"alpha, r_adj and gain must be positive, got {alpha}, {r_adj} and {gain}")
        self.vocab_size, self.num_classes, self.padding_idx = vocab_size, num_classes, padding_idx
        self.buckets, self.order, self.alpha, self.w_adj, self.r_adj = buckets, order, alpha, w_adj, r_adj
        self.gain = gain
        self.modulus, self.scramble = _MODULUS, _SCRAMBLE
        self.absent = vocab_size + (buckets if order > 1 else 0)  # the slot of padding n-grams and repeats
        # per-n-gram log-count ratios [T + 1, C] (the last row, the absent slot, stays 0) and learned scales
        self.register_buffer("ratios", torch.zeros(self.absent + 1, num_classes))
        self.scale = nn.Parameter(torch.empty(self.absent + 1, 1).uniform_(-0.1 / gain, 0.1 / gain))

    def ngram_ids(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, L]`` ids -> ``[B, M]`` slot of each distinct n-gram of each row, the absent slot elsewhere
        (sorted within a row; ``M`` = ``L`` per order)."""
        x = x.long()
        real = x != self.padding_idx  # [B, L]
        slots = [torch.where(real, x, self.absent)]
        h, ok = x, real
        for n in range(2, self.order + 1):
            h = (h[:, :-1] * self.vocab_size + x[:, n - 1 :]) % self.modulus  # [B, L - n + 1]
            ok = ok[:, :-1] & real[:, n - 1 :]
            slot = self.vocab_size + (h * self.scramble) % self.modulus % self.buckets
            slots.append(torch.where(ok, slot, self.absent))
        ids, _ = torch.sort(torch.cat(slots, dim=1), dim=1)  # [B, M]
        repeat = torch.zeros_like(ids, dtype=torch.bool)
        repeat[:, 1:] = ids[:, 1:] == ids[:, :-1]
        return torch.where(repeat, self.absent, ids)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, L]`` token ids -> ``[B, C]`` logits."""
        ids = self.ngram_ids(x)  # [B, M]
        ratios = self.ratios[ids]  # [B, M, C]; 0 at the absent slot
        scales = self.gain * self.scale[ids] + self.w_adj  # [B, M, 1]
        return (scales * ratios).sum(dim=1) / self.r_adj  # [B, M, C] -> [B, C]

    @torch.no_grad()
    def fit(self, batches: Iterable[dict[str, Any]]) -> int:
        """Set the log-count ratios from the training split's batches (``x`` ``[B, L]`` ids, ``y`` ``[B]``
        classes): for class ``c``, ``log(p_c[g] / |p_c|_1) - log(q_c[g] / |q_c|_1)`` where ``p_c`` counts the
        texts of class ``c`` holding n-gram ``g`` (plus ``alpha``) and ``q_c`` those of the other classes.
        Returns the number of texts seen."""
        counts = torch.zeros(self.num_classes, self.absent + 1, dtype=torch.float64)
        seen = 0
        for batch in batches:
            ids, labels = self.ngram_ids(batch["x"]), batch["y"].long()  # [B, M], [B]
            rows = labels[:, None].expand_as(ids)
            counts.index_put_(
                (rows.reshape(-1), ids.reshape(-1)), torch.ones(ids.numel(), dtype=counts.dtype), accumulate=True
            )
            seen += len(labels)
        counts = counts[:, :-1]  # [C, T]: the absent slot is no n-gram
        own = counts + self.alpha
        others = counts.sum(dim=0, keepdim=True) - counts + self.alpha  # the other classes' counts
        ratios = (own / own.sum(dim=1, keepdim=True)).log() - (others / others.sum(dim=1, keepdim=True)).log()
        self.ratios.zero_()
        self.ratios[:-1] = ratios.T.to(self.ratios.dtype)
        return seen
