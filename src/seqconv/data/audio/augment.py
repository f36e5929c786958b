"""Waveform augmentations for training: speed perturbation, time shift, gain and additive noise at an SNR.

Stateless functions on ``[T]`` waveforms, and :class:`WaveformAugment`, which draws their random settings per
clip. Spectrogram masking (SpecAugment) runs inside the model instead: see
:class:`seqconv.models.audio_frontend.AudioFrontend`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchaudio.transforms import Resample

from seqconv.errors import ConfigError

__all__ = ["NOISE_SOURCES", "WaveformAugment", "add_noise", "apply_gain", "time_shift"]

NOISE_SOURCES = ("auto", "background", "gaussian")


def time_shift(wave: torch.Tensor, shift: int) -> torch.Tensor:
    """Delay ``[T]`` by ``shift`` samples (advance it when negative), filling with zeros. ``[T] -> [T]``."""
    if shift == 0 or abs(shift) >= wave.shape[0]:
        return wave if shift == 0 else torch.zeros_like(wave)
    out = torch.zeros_like(wave)
    if shift > 0:
        out[shift:] = wave[:-shift]
    else:
        out[:shift] = wave[-shift:]
    return out


def apply_gain(wave: torch.Tensor, gain_db: float) -> torch.Tensor:
    """Scale ``[T]`` by ``gain_db`` decibels."""
    return wave * 10.0 ** (gain_db / 20.0)


def add_noise(wave: torch.Tensor, noise: torch.Tensor, snr_db: float) -> torch.Tensor:
    """Add ``noise`` (same shape as ``wave``) scaled so that signal power / noise power is ``snr_db`` decibels.

    A silent ``wave`` or ``noise`` is returned unchanged.
    """
    signal_power = wave.square().mean()
    noise_power = noise.square().mean()
    if signal_power == 0 or noise_power == 0:
        return wave
    scale = torch.sqrt(signal_power / (noise_power * 10.0 ** (snr_db / 10.0)))
    return wave + scale * noise


def _range(key: str, value: float | Sequence[float], symmetric: bool) -> tuple[float, float]:
    """``x`` -> ``(-x, x)`` (or ``(x, x)``), ``[lo, hi]`` -> ``(lo, hi)``, with a check."""
    if isinstance(value, (int, float)):
        lo, hi = (-float(value), float(value)) if symmetric else (float(value), float(value))
    else:
        if len(value) != 2:
            raise ConfigError(f"data.augment.{key} must be a number or [low, high], got {value!r}")
        lo, hi = float(value[0]), float(value[1])
    if lo > hi:
        raise ConfigError(f"data.augment.{key}=[{lo}, {hi}] has low > high")
    return lo, hi


class WaveformAugment:
    """Random perturbations of training clips; validation and test clips are never augmented.

    :meth:`perturb_speed` runs on the decoded clip (it changes its length), :meth:`__call__` on the clip after
    its length was fixed.

    Args:
        sample_rate: sample rate of the clips, in Hz.
        speeds: speed factors drawn uniformly per clip; a factor ``s`` resamples the clip so that it plays ``s``
            times faster, raising its pitch by the same ratio (Ko et al. 2015). ``[1.0]`` or empty disables it.
        shift_seconds: random time shift in ``[-shift_seconds, shift_seconds]``, zero-filled.
        gain_db: random gain in ``[-gain_db, gain_db]`` decibels, or ``[low, high]``.
        noise_prob: probability of adding noise to a clip.
        snr_db: signal-to-noise ratio of that noise, drawn uniformly from ``[low, high]`` decibels.
        noise: ``"background"`` (random segments of the dataset's background clips), ``"gaussian"`` (white
            noise), or ``"auto"`` (background clips when the dataset has some, else Gaussian).
    """

    def __init__(
        self,
        sample_rate: int,
        speeds: Sequence[float] = (0.9, 1.0, 1.1),
        shift_seconds: float = 0.1,
        gain_db: float | Sequence[float] = 6.0,
        noise_prob: float = 0.0,
        snr_db: float | Sequence[float] = (10.0, 30.0),
        noise: str = "auto",
    ) -> None:
        if noise not in NOISE_SOURCES:
            raise ConfigError(f"unknown data.augment.noise={noise!r}; choose one of {list(NOISE_SOURCES)}")
        if not 0.0 <= noise_prob <= 1.0:
            raise ConfigError(f"data.augment.noise_prob must be in [0, 1], got {noise_prob}")
        if shift_seconds < 0:
            raise ConfigError(f"data.augment.shift_seconds must be >= 0, got {shift_seconds}")
        if any(s <= 0 for s in speeds):
            raise ConfigError(f"data.augment.speeds must all be > 0, got {list(speeds)}")
        self.sample_rate = sample_rate
        self.speeds = [float(s) for s in speeds]
        self.max_shift = round(shift_seconds * sample_rate)
        self.gain_range = _range("gain_db", gain_db, symmetric=True)
        self.snr_range = _range("snr_db", snr_db, symmetric=False)
        self.noise_prob, self.noise = noise_prob, noise
        # one cached resampling kernel per factor: playing s times faster = reading at s * rate
        self._resamplers = {s: Resample(round(sample_rate * s), sample_rate) for s in self.speeds if s != 1.0}

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(speeds={self.speeds}, max_shift={self.max_shift}, gain_db={self.gain_range}, "
            f"noise_prob={self.noise_prob}, snr_db={self.snr_range}, noise={self.noise!r})"
        )

    @staticmethod
    def _uniform(lo: float, hi: float) -> float:
        return lo + (hi - lo) * float(torch.rand(()))

    def perturb_speed(self, wave: torch.Tensor) -> torch.Tensor:
        """``[T] -> [T / s]`` for a speed factor ``s`` drawn from ``speeds``."""
        if not self._resamplers:
            return wave
        speed = self.speeds[int(torch.randint(len(self.speeds), ()))]
        if speed == 1.0:
            return wave
        return self._resamplers[speed](wave)

    def _noise_like(self, wave: torch.Tensor, background: Sequence[torch.Tensor]) -> torch.Tensor:
        if not background or self.noise == "gaussian":
            return torch.randn_like(wave)
        clip = background[int(torch.randint(len(background), ()))]
        if clip.shape[0] < wave.shape[0]:  # tile a short background clip
            clip = clip.repeat(wave.shape[0] // clip.shape[0] + 1)
        start = int(torch.randint(clip.shape[0] - wave.shape[0] + 1, ()))
        return clip[start : start + wave.shape[0]]

    def __call__(self, wave: torch.Tensor, background: Sequence[torch.Tensor] = ()) -> torch.Tensor:
        """Time shift, gain and (with probability ``noise_prob``) noise. ``[L] -> [L]``.

        Args:
            wave: ``[L]`` clip of the final length.
            background: background-noise clips ``[T_i]`` at the same sample rate (used unless
                ``noise="gaussian"``).
        """
        if self.max_shift:
            wave = time_shift(wave, int(torch.randint(-self.max_shift, self.max_shift + 1, ())))
        if self.gain_range != (0.0, 0.0):
            wave = apply_gain(wave, self._uniform(*self.gain_range))
        if self.noise_prob > 0 and float(torch.rand(())) < self.noise_prob:
            wave = add_noise(wave, self._noise_like(wave, background), self._uniform(*self.snr_range))
        return wave
