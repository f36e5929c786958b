"""The DataLoader every seqconv datamodule hands to Lightning."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
from torch.utils.data import DataLoader, Dataset

from seqconv.data.samplers import train_sampler

__all__ = ["make_loader"]


def make_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    trainer: L.Trainer | None,
    num_workers: int = 0,
    pin_memory: bool = False,
    collate_fn: Callable[[Any], Any] | None = None,
) -> DataLoader:
    """A loader whose shuffling depends only on ``(seed, epoch)`` (see :func:`train_sampler`), so that a resumed
    run and a DDP run see the same batches as an uninterrupted single-process one."""
    sampler = train_sampler(len(dataset), shuffle, trainer)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        generator=sampler.generator if sampler is not None else None,
        collate_fn=collate_fn,
        num_workers=num_workers,
        pin_memory=pin_memory,
        persistent_workers=num_workers > 0,
    )
