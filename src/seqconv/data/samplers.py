"""Shuffling that depends only on ``(seed, epoch)``, so a resumed run sees the same order.

Not ``torch.utils.data.RandomSampler(generator=g)``: it draws epoch ``k``'s order from wherever ``g`` stands
after ``k`` earlier epochs, and Lightning neither saves that state nor calls ``set_epoch`` on it, so a run
resumed at epoch 2 replays epoch 0's order (seed 7, 10 items: ``[5, 0, 3, ...]`` instead of ``[6, 0, 7, ...]``);
without a generator it also takes one draw from the global generator, which shifts every later dropout mask.
A ``RandomSampler`` subclass that reseeds in ``set_epoch`` would be this class again (one ``torch.randperm``).
"""

from __future__ import annotations

from collections.abc import Iterator

import lightning as L
import torch
from torch.utils.data import Sampler

__all__ = ["EpochShuffleSampler", "train_sampler"]


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


def train_sampler(length: int, shuffle: bool, trainer: L.Trainer | None) -> EpochShuffleSampler | None:
    """The training sampler of a seqconv datamodule.

    On one device: :class:`EpochShuffleSampler` (or ``None`` for the dataset order). Under DDP: ``None``, so
    that Lightning installs its ``DistributedSampler``, which shuffles with the same ``(seed + epoch)``
    permutation and hands every rank its share: two processes then see, step by step, the same global batches
    as one process with twice the batch size. (Lightning shuffles training data under DDP even when
    ``shuffle`` is false.)
    """
    if not shuffle or (trainer is not None and trainer.world_size > 1):
        return None
    return EpochShuffleSampler(length)
