"""Token-id sequences stored flat, served as padded batches with a padding mask."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import Dataset

__all__ = ["TokenizedDataset", "pad_batch"]


def pad_batch(sequences: Sequence[torch.Tensor], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad 1-D id tensors to the longest one.

    Returns:
        ``x`` ``[B, L]`` int64 ids and ``mask`` ``[B, L]`` bool, ``True`` at real tokens.
    """
    lengths = torch.tensor([len(s) for s in sequences])
    x = pad_sequence([s.long() for s in sequences], batch_first=True, padding_value=pad_id)  # [B, L]
    mask = torch.arange(x.shape[1])[None, :] < lengths[:, None]  # [B, L]
    return x, mask


class TokenizedDataset(Dataset):
    """Labelled id sequences kept as one flat tensor plus offsets (compact, and cheap to cache with torch.save).

    Items are dicts: ``x`` ``[L]`` ids, ``y`` the class index, ``length`` ``L``. ``__getitems__`` serves a whole
    batch at once: ``x`` ``[B, L_max]`` right-padded with ``pad_id``, ``mask`` ``[B, L_max]`` (``True`` at real
    tokens), ``y`` ``[B]``, ``length`` ``[B]``; each batch is padded only to its own longest sequence.

    Args:
        ids: ``[N_tokens]`` every sequence's ids, one after another.
        offsets: ``[N + 1]`` where each sequence starts (and the end of the last).
        labels: ``[N]`` class indices.
        pad_id: the padding id.
    """

    def __init__(self, ids: torch.Tensor, offsets: torch.Tensor, labels: torch.Tensor, pad_id: int) -> None:
        if len(offsets) != len(labels) + 1:
            raise ValueError(f"{len(labels)} labels need {len(labels) + 1} offsets, got {len(offsets)}")
        self.ids, self.offsets, self.labels, self.pad_id = ids, offsets, labels, pad_id

    @classmethod
    def from_lists(cls, sequences: Sequence[Sequence[int]], labels: Sequence[int], pad_id: int) -> TokenizedDataset:
        """Pack Python lists of ids."""
        lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
        offsets = torch.zeros(len(sequences) + 1, dtype=torch.long)
        torch.cumsum(lengths, 0, out=offsets[1:])
        ids = torch.tensor([i for s in sequences for i in s], dtype=torch.int32)
        return cls(ids, offsets, torch.tensor(labels, dtype=torch.long), pad_id)

    @property
    def lengths(self) -> torch.Tensor:
        """``[N]`` sequence lengths."""
        return self.offsets[1:] - self.offsets[:-1]

    def __len__(self) -> int:
        return len(self.labels)

    def sequence(self, index: int) -> torch.Tensor:
        """``[L]`` int64 ids of item ``index``."""
        return self.ids[self.offsets[index] : self.offsets[index + 1]].long()

    def __getitems__(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        x, mask = pad_batch([self.sequence(i) for i in indices], self.pad_id)
        idx = torch.as_tensor(indices, dtype=torch.long)
        return {"x": x, "mask": mask, "y": self.labels[idx], "length": mask.sum(dim=1)}

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"x": self.sequence(index), "y": self.labels[index], "length": self.lengths[index]}
