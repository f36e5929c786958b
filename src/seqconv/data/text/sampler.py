"""Length bucketing: batches of similar-length sequences, so that little of each batch is padding."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

__all__ = ["BucketBatchSampler"]


class BucketBatchSampler(Sampler[list[int]]):
    """Yield index batches whose sequences have similar lengths.

    With ``shuffle``, each epoch shuffles all indices, cuts them into buckets of ``bucket_batches`` batches,
    sorts each bucket by length, splits it into batches and shuffles the order of all batches: batches stay
    random while the padding shrinks. Without ``shuffle`` (evaluation) the indices are sorted by length.

    Args:
        lengths: length of every sequence.
        batch_size: sequences per batch.
        shuffle: randomise as above; otherwise a fixed, length-sorted order.
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        bucket_batches: batches per sorting bucket (larger: less padding, less randomness).
        seed: base seed; ``None`` draws one from torch's global generator each epoch (so
            ``seed_everything`` makes runs reproducible, like ``RandomSampler``).
    """

    def __init__(
        self,
        lengths: Sequence[int] | torch.Tensor,
        batch_size: int,
        shuffle: bool = True,
        drop_last: bool = False,
        bucket_batches: int = 50,
        seed: int | None = None,
    ) -> None:
        if batch_size < 1 or bucket_batches < 1:
            raise ValueError(f"batch_size and bucket_batches must be >= 1, got {batch_size}, {bucket_batches}")
        self.lengths = torch.as_tensor(lengths, dtype=torch.long)
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.bucket_batches, self.seed = bucket_batches, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use the shuffling of ``epoch`` (with a fixed ``seed``); Lightning calls this every epoch."""
        self.epoch = epoch

    def __len__(self) -> int:
        n = len(self.lengths)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        if not self.shuffle:
            order = torch.argsort(self.lengths, stable=True)
            batches = list(torch.split(order, self.batch_size))
        else:
            generator = torch.Generator()
            if self.seed is None:
                generator.manual_seed(int(torch.empty((), dtype=torch.int64).random_().item()))
            else:
                generator.manual_seed(self.seed + self.epoch)
            perm = torch.randperm(len(self.lengths), generator=generator)
            batches = []
            for bucket in torch.split(perm, self.batch_size * self.bucket_batches):
                bucket = bucket[torch.argsort(self.lengths[bucket], stable=True)]
                batches.extend(torch.split(bucket, self.batch_size))
            batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
        for batch in batches:
            if self.drop_last and len(batch) < self.batch_size:
                continue
            yield batch.tolist()
