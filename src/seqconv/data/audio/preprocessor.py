"""Audio: a file -> mono waveform at one rate -> normalized -> cropped or padded ``[T]``, and logits -> labels.

:class:`AudioPreprocessor` is what the datamodule, the clip dataset, ``predict.py`` and the export sidecar all
use: decoding, resampling, normalization and cropping are composed once, here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from seqconv.data.audio.decode import NORMALIZE_MODES, fix_length, load_audio, normalize_clip
from seqconv.data.preprocessor import ClassifierPreprocessor
from seqconv.errors import ConfigError

__all__ = ["AudioPreprocessor"]


class AudioPreprocessor(ClassifierPreprocessor):
    """Audio files -> ``[B, T]`` float32 mono waveforms of ``clip_length`` samples; logits -> labels.

    Steps: decode and mix down to mono, resample to ``sample_rate`` (:func:`load_audio`), normalize per clip
    (:func:`normalize_clip`), crop the centre of a longer clip or zero-pad a shorter one equally on both sides
    (:func:`fix_length`; training crops at random positions instead).

    Args:
        sample_rate: sample rate the clips are resampled to, in Hz.
        clip_length: samples per clip, ``T``.
        normalize: ``"peak"``, ``"rms"`` or ``"none"``.
        classes: class names in label order (set by :meth:`fit` when ``None``).
    """

    domain = "audio"

    def __init__(
        self, sample_rate: int, clip_length: int, normalize: str = "peak", classes: Sequence[str] | None = None
    ) -> None:
        if sample_rate < 1 or clip_length < 1:
            raise ConfigError(
                f"data.sample_rate and data.clip_seconds must be positive, got {sample_rate} Hz and "
                f"{clip_length} samples"
            )
        if normalize not in NORMALIZE_MODES:
            raise ConfigError(f"unknown data.normalize={normalize!r}; choose one of {list(NORMALIZE_MODES)}")
        self.sample_rate, self.clip_length, self.normalize = int(sample_rate), int(clip_length), normalize
        self.classes: list[str] | None = [str(c) for c in classes] if classes is not None else None

    @property
    def is_fitted(self) -> bool:
        return self.classes is not None

    def settings(self) -> dict[str, Any]:
        return {
            "sample_rate": self.sample_rate,
            "clip_seconds": self.clip_length / self.sample_rate,
            "normalize": self.normalize,
        }

    def fit(self, classes: Sequence[str]) -> AudioPreprocessor:
        """Fix the class index map (the training data's class names, in label order)."""
        self.classes = [str(c) for c in classes]
        return self

    # -- raw audio -> model input ----------------------------------------------------------------------------
    def decode(self, path: str | Path) -> torch.Tensor:
        """One file -> its normalized mono ``[T_i]`` waveform at ``sample_rate`` (any length).

        Raises:
            AudioDecodeError: the file cannot be decoded (the message names it).
        """
        return normalize_clip(load_audio(path, self.sample_rate), self.normalize)

    def fit_length(self, wave: torch.Tensor, random: bool = False) -> torch.Tensor:
        """``[T_i] -> [clip_length]``: centred crop or padding (``random``: at a random position, for training)."""
        return fix_length(wave, self.clip_length, random=random)

    def transform(self, paths: Sequence[str | Path]) -> torch.Tensor:
        """Audio files -> ``x`` ``[B, clip_length]``."""
        return torch.stack([self.fit_length(self.decode(path)) for path in paths])

    # -- state --------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "sample_rate": self.sample_rate,
            "clip_length": self.clip_length,
            "normalize": self.normalize,
            "classes": list(self.classes) if self.classes is not None else None,
            **self._calibration_state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> AudioPreprocessor:
        restored = cls(state["sample_rate"], state["clip_length"], state["normalize"], state["classes"])
        restored._restore_calibration(state)
        return restored

    def describe(self) -> list[str]:
        return [
            f"decode, mix down to mono (mean of the channels), resample to {self.sample_rate} Hz",
            "normalize 'peak': divide by max |x| (silence unchanged); 'rms': subtract the mean, divide by the std; "
            f"'none': unchanged (this model: {self.normalize!r})",
            f"crop the centre of a longer clip, or zero-pad a shorter one equally on both sides, to "
            f"{self.clip_length} samples ({self.clip_length / self.sample_rate:g} s)",
            f"input x: [B, {self.clip_length}] float32 mono waveforms",
            self._output_step(),
        ]

    def input_spec(self) -> dict[str, Any]:
        return {"layout": "[B, T] mono waveforms", "dtype": "float32"}
