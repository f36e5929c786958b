"""AudioFrontend: waveforms ``[B, T]`` -> network input ``[B, C, L]`` (raw, log-mel or MFCC), on the model's device.

torchaudio loads when a spectral frontend is built, not when :mod:`seqconv.models` is imported (a forecasting run
never needs it).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["FRONTENDS", "AudioFrontend"]

FRONTENDS = ("waveform", "mel", "mfcc")


class AudioFrontend(nn.Module):
    """The entry of an audio model: adds the channel axis, or computes log-compressed spectral features.

    * ``"waveform"``: ``[B, T] -> [B, 1, T]``.
    * ``"mel"``: log mel spectrogram ``log(mel + 1e-6)``, ``[B, T] -> [B, n_mels, 1 + T // hop_length]``.
    * ``"mfcc"``: the DCT-II (orthonormal) of that, ``[B, T] -> [B, n_mfcc, 1 + T // hop_length]``.

    Spectral features use a centred Hann window of ``win_seconds`` every ``hop_seconds``. In training,
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
        self.mel = None
        # SpecAugment's masks, i.i.d. per clip on [B, 1, F, L]; empty when off
        self.spec_augment = nn.ModuleList()
        dct = torch.empty(0)
        if kind != "waveform":
            import torchaudio.functional as AF
            from torchaudio.transforms import FrequencyMasking, MelSpectrogram, TimeMasking

            self.mel = MelSpectrogram(sample_rate, n_fft=self.n_fft, hop_length=self.hop_length, n_mels=n_mels)
            if freq_mask:
                self.spec_augment.append(FrequencyMasking(freq_mask, iid_masks=True))
            if time_mask:
                self.spec_augment.append(TimeMasking(time_mask, iid_masks=True))
            if kind == "mfcc":
                dct = AF.create_dct(n_mfcc, n_mels, norm="ortho")
        # [n_mels, n_mfcc] DCT for MFCC; empty otherwise (always present, so that TorchScript can compile forward)
        self.register_buffer("dct", dct, persistent=False)

    def geometry(self) -> tuple[int, int]:
        """``(receptive_field, stride)`` in input samples: ``(1, 1)`` for waveforms, else ``(n_fft, hop)``."""
        return (1, 1) if self.mel is None else (self.n_fft, self.hop_length)

    def output_length(self, length: int) -> int:
        """``L`` of the output for ``T = length`` input samples."""
        return length if self.mel is None else 1 + length // self.hop_length

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
        if self.mel is None:
            return wave.unsqueeze(1)  # [B, T] -> [B, 1, T]
        if not torch.jit.is_scripting():
            self._check_length(wave)
        power = self.mel(wave)  # [B, T] -> [B, n_mels, L]
        if self.training and len(self.spec_augment) > 0:
            power = self._mask(power)
        features = torch.log(power + 1e-6)
        if self.kind == "mfcc":
            features = (features.transpose(1, 2) @ self.dct).transpose(1, 2)  # [B, n_mels, L] -> [B, n_mfcc, L]
        return features
