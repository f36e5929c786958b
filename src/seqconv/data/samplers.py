"""Shuffling that depends only on ``(seed, epoch)``, so a resumed run sees the same order."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

__all__ = ["EpochShuffleSampler"]


class EpochShuffleSampler(Sampler[int]):
    """A random permutation of ``range(length)`` drawn from a generator seeded with ``seed + epoch``.

    Lightning calls :meth:`set_epoch` before every training epoch (as it does for ``DistributedSampler``),
    so the order of epoch ``k`` is the same in an uninterrupted run and in a run resumed at epoch ``k``.
    Pass :attr:`generator` to the ``DataLoader`` too: it then draws its worker base seed from it instead of
    from the global generator, which would shift every later dropout mask by one draw.

    Args:
        length: dataset size.
        seed: base seed; ``None`` takes ``torch.initial_seed()`` (what ``seed_everything`` set).
    """

    def __init__(self, length: int, seed: int | None = None) -> None:
        self.length = length
        self.seed = torch.initial_seed() if seed is None else seed
        self.epoch = 0
        self.generator = torch.Generator().manual_seed(self.seed)

    def set_epoch(self, epoch: int) -> None:
        """Select the permutation of ``epoch``."""
        self.epoch = epoch
        self.generator.manual_seed(self.seed + epoch)

    def __iter__(self) -> Iterator[int]:
        self.generator.manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.length, generator=self.generator).tolist())

    def __len__(self) -> int:
        return self.length
