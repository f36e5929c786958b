"""AudioClipDataset: labelled clips -> fixed-length waveforms, augmented in training only."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch.utils.data import Dataset

from seqconv.data.audio.augment import WaveformAugment
from seqconv.data.audio.decode import AudioDecodeError
from seqconv.data.audio.preprocessor import AudioPreprocessor

__all__ = ["AudioClipDataset"]


class AudioClipDataset(Dataset):
    """Items ``{"x": [length] float32 waveform, "y": class index}``; batches collate to ``x [B, T]``, ``y [B]``.

    Clips are either decoded already (``clips``, the default: every file was checked in ``setup``) or decoded
    on access from ``paths`` (for data sets too large to hold in memory; their headers were checked in
    ``setup`` and a decoding failure names the file).

    Args:
        labels: class index of each clip.
        preprocessor: decodes clips on access and crops or pads them to its ``clip_length``.
        clips: decoded, normalized ``[T_i]`` waveforms (:meth:`AudioPreprocessor.decode`), or ``None`` to decode
            ``paths`` on access.
        paths: the source file of each clip.
        train: random crop and augmentation; otherwise centred and deterministic.
        augment: training augmentation, or ``None``.
        background: background-noise clips for ``augment``.
    """

    def __init__(
        self,
        labels: Sequence[int],
        preprocessor: AudioPreprocessor,
        clips: Sequence[torch.Tensor] | None = None,
        paths: Sequence[Path] = (),
        train: bool = False,
        augment: WaveformAugment | None = None,
        background: Sequence[torch.Tensor] = (),
    ) -> None:
        if clips is None and len(paths) != len(labels):
            raise ValueError(f"got {len(paths)} paths for {len(labels)} labels")
        self.labels = torch.as_tensor(list(labels), dtype=torch.long)
        self.clips, self.paths = clips, list(paths)
        self.preprocessor = preprocessor
        self.train, self.augment, self.background = train, augment, list(background)

    def __len__(self) -> int:
        return len(self.labels)

    def clip(self, index: int) -> torch.Tensor:
        """The decoded, normalized ``[T]`` clip ``index`` before cropping."""
        if self.clips is not None:
            return self.clips[index]
        try:
            return self.preprocessor.decode(self.paths[index])
        except AudioDecodeError as err:
            raise AudioDecodeError(
                err.path, f"{err.reason}; with data.preload=true every file is decoded and checked in setup()"
            ) from None

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        wave = self.clip(index)  # [T]
        augment = self.augment if self.train else None
        if augment is not None:
            wave = augment.perturb_speed(wave)  # [T] -> [T / speed]
        wave = self.preprocessor.fit_length(wave, random=self.train)  # [T] -> [clip_length]
        if augment is not None:
            wave = augment(wave, self.background)
        return {"x": wave, "y": self.labels[index]}
