"""AudioFrontend: waveforms ``[B, T]`` -> network input ``[B, C, L]`` (raw, log-mel or MFCC), on the model's device.

torchaudio loads when a spectral frontend is built, not when :mod:`seqconv.models` is imported (a forecasting run
never needs it).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FRONTENDS", "AudioFrontend"]

FRONTENDS = ("waveform", "mel", "mfcc")


def _dft_basis(n_fft: int) -> torch.Tensor:
    """``[2 * (n_fft // 2 + 1), 1, n_fft]``: the periodic-Hann-windowed one-sided DFT as conv weights, the real
    parts' kernels first, then the imaginary parts' (computed in float64, stored as float32)."""
    n = torch.arange(n_fft, dtype=torch.float64)
    k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)
    angle = 2 * math.pi * k[:, None] * n[None, :] / n_fft  # [bins, n_fft]
    window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
    return torch.cat([window * torch.cos(angle), -window * torch.sin(angle)]).unsqueeze(1).float()


class AudioFrontend(nn.Module):
    """The entry of an audio model: adds the channel axis, or computes log-compressed spectral features.

    * ``"waveform"``: ``[B, T] -> [B, 1, T]``.
    * ``"mel"``: log mel spectrogram ``log(mel + 1e-6)``, ``[B, T] -> [B, n_mels, 1 + T // hop_length]``.
    * ``"mfcc"``: the DCT-II (orthonormal) of that, ``[B, T] -> [B, n_mfcc, 1 + T // hop_length]``.

    Spectral features use a centred Hann window of ``win_seconds`` every ``hop_seconds`` (the power spectrogram
    of torchaudio's ``MelSpectrogram`` with its defaults: reflect padding, periodic Hann window, HTK mel bands
    from 0 Hz to Nyquist, no filter normalisation). The short-time Fourier transform is a strided ``Conv1d``
    with the windowed DFT basis as fixed weights: the same numbers as ``torch.stft`` (relative difference
    ~1e-5), about twice as fast on a CPU at these window sizes, and it exports to ONNX, which ``torch.stft``'s
    complex output does not. In training,
    SpecAugment (Park et al. 2019) zeroes up to ``freq_mask`` mel bands and up to ``time_mask`` frames per
    clip, before the log, so a masked region reads like digital silence; in evaluation nothing is masked.
    The log is taken per element (no batch-wide ``top_db`` clamp), so each clip's features do not depend on
    the rest of the batch.

    Args:
        kind: ``"waveform"``, ``"mel"`` or ``"mfcc"``.
        sample_rate: sample rate of the input, in Hz.
        n_mels: mel bands.
        n_mfcc: cepstral coefficients kept (``"mfcc"``); at most ``n_mels``.
        win_seconds: analysis window length.
        hop_seconds: step between frames.
        freq_mask: widest frequency mask, in mel bands (0 disables it).
        time_mask: widest time mask, in frames (0 disables it).
    """

    # a constant for TorchScript: waveform and spectral front ends compile to separate types, each with only its
    # own branch, as they did when only the spectral one held a spectrogram module
    __constants__ = ["kind"]

    def __init__(
        self,
        kind: str = "waveform",
        sample_rate: int = 16000,
        n_mels: int = 40,
        n_mfcc: int = 20,
        win_seconds: float = 0.025,
        hop_seconds: float = 0.010,
        freq_mask: int = 0,
        time_mask: int = 0,
    ) -> None:
        super().__init__()
        if kind not in FRONTENDS:
            raise ValueError(f"unknown frontend={kind!r}; choose one of {list(FRONTENDS)}")
        if kind == "waveform" and (freq_mask or time_mask):
            raise ValueError("freq_mask and time_mask (SpecAugment) need frontend='mel' or 'mfcc', not 'waveform'")
        if kind == "mfcc" and not 0 < n_mfcc <= n_mels:
            raise ValueError(f"n_mfcc must be in [1, n_mels={n_mels}], got {n_mfcc}")
        self.kind, self.sample_rate = kind, sample_rate
        self.n_fft = max(2, round(win_seconds * sample_rate))
        self.hop_length = max(1, round(hop_seconds * sample_rate))
        self.out_channels = {"waveform": 1, "mel": n_mels, "mfcc": n_mfcc}[kind]
        # SpecAugment's masks, i.i.d. per clip on [B, 1, F, L]; empty when off
        self.spec_augment = nn.ModuleList()
        dct, basis, fbank = torch.empty(0), torch.empty(0), torch.empty(0)
        if kind != "waveform":
            import torchaudio.functional as AF
            from torchaudio.transforms import FrequencyMasking, TimeMasking

            basis = _dft_basis(self.n_fft)
            fbank = AF.melscale_fbanks(
                self.n_fft // 2 + 1, 0.0, float(sample_rate // 2), n_mels, sample_rate, norm=None, mel_scale="htk"
            )
            if freq_mask:
                self.spec_augment.append(FrequencyMasking(freq_mask, iid_masks=True))
            if time_mask:
                self.spec_augment.append(TimeMasking(time_mask, iid_masks=True))
            if kind == "mfcc":
                dct = AF.create_dct(n_mfcc, n_mels, norm="ortho")
        # fixed transforms, rebuilt from the constructor's arguments (not saved); empty for waveforms (always
        # present, so that TorchScript can compile forward): [2 * bins, 1, n_fft] windowed DFT (cosines, then
        # negated sines), [bins, n_mels] mel filter bank, [n_mels, n_mfcc] DCT for MFCC
        self.register_buffer("stft_basis", basis, persistent=False)
        self.register_buffer("fbank", fbank, persistent=False)
        self.register_buffer("dct", dct, persistent=False)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        # checkpoints written while the spectrogram was torchaudio's MelSpectrogram carry its window and filter
        # bank; both are fixed by the constructor's arguments, so they are dropped rather than refused
        for key in ("mel.spectrogram.window", "mel.mel_scale.fb"):
            state_dict.pop(prefix + key, None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def geometry(self) -> tuple[int, int]:
        """``(receptive_field, stride)`` in input samples: ``(1, 1)`` for waveforms, else ``(n_fft, hop)``."""
        return (1, 1) if self.kind == "waveform" else (self.n_fft, self.hop_length)

    def output_length(self, length: int) -> int:
        """``L`` of the output for ``T = length`` input samples."""
        return length if self.kind == "waveform" else 1 + length // self.hop_length

    def _mel_power(self, wave: torch.Tensor) -> torch.Tensor:
        """``[B, T] -> [B, n_mels, 1 + T // hop]``: mel-band power of centred, Hann-windowed frames."""
        half = self.n_fft // 2
        padded = F.pad(wave.unsqueeze(1), (half, half), mode="reflect")  # [B, T] -> [B, 1, T + n_fft]
        spec = F.conv1d(padded, self.stft_basis, stride=self.hop_length)  # -> [B, 2 * bins, L]: Re, then Im
        bins = self.stft_basis.shape[0] // 2
        power = spec[:, :bins] ** 2 + spec[:, bins:] ** 2  # [B, bins, L]
        return (power.transpose(1, 2) @ self.fbank).transpose(1, 2)  # [B, bins, L] -> [B, n_mels, L]

    def _mask(self, power: torch.Tensor) -> torch.Tensor:
        specs = power.unsqueeze(1)  # [B, F, L] -> [B, 1, F, L]: one mask per clip
        for mask in self.spec_augment:  # frequency (axis 2), then time (axis 3), set to 0
            specs = mask(specs)
        return specs.squeeze(1)  # [B, 1, F, L] -> [B, F, L]

    @torch.jit.unused
    def _check_length(self, wave: torch.Tensor) -> None:
        if wave.shape[-1] <= self.n_fft // 2:
            raise ValueError(
                f"AudioFrontend({self.kind!r}): {wave.shape[-1]} samples is too short for a {self.n_fft}-sample "
                "window; use longer clips (data.clip_seconds) or a shorter win_seconds"
            )

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``[B, T] -> [B, out_channels, L]`` with ``L`` given by :meth:`output_length`."""
        if self.kind == "waveform":
            return wave.unsqueeze(1)  # [B, T] -> [B, 1, T]
        if not torch.jit.is_scripting():
            self._check_length(wave)
        power = self._mel_power(wave)  # [B, T] -> [B, n_mels, L]
        if self.training and len(self.spec_augment) > 0:
            power = self._mask(power)
        features = torch.log(power + 1e-6)
        if self.kind == "mfcc":
            features = (features.transpose(1, 2) @ self.dct).transpose(1, 2)  # [B, n_mels, L] -> [B, n_mfcc, L]
        return features
