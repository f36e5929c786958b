"""Audio files -> mono float waveforms at one sample rate, with a clear error naming any file that cannot be used.

Decoding uses ``soundfile`` (libsndfile: wav, flac, ogg and more); resampling uses torchaudio. Each waveform is
a 1-D float32 tensor ``[T]``.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from seqconv.errors import ConfigError, DataError

__all__ = [
    "AUDIO_SUFFIXES",
    "AudioDecodeError",
    "BAD_FILE_POLICIES",
    "NORMALIZE_MODES",
    "BadFiles",
    "fix_length",
    "load_audio",
    "normalize_clip",
    "probe_audio",
]

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
BAD_FILE_POLICIES = ("skip", "error")
NORMALIZE_MODES = ("peak", "rms", "none")
_WARN_LIMIT = 20  # per-file warnings before the rest are only counted


class AudioDecodeError(DataError):
    """A file that cannot be decoded into audio.

    Attributes:
        path: the file.
        reason: what is wrong with it.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = Path(path), reason


class BadFiles:
    """Applies ``data.on_bad_file`` to files that cannot be used.

    ``"skip"`` logs a warning naming each file (the first 20; the rest are counted) and keeps a list of them in
    :attr:`skipped`; ``"error"`` raises :class:`DataError` naming the first one.

    Args:
        policy: ``"skip"`` or ``"error"``.
    """

    def __init__(self, policy: str = "skip") -> None:
        if policy not in BAD_FILE_POLICIES:
            raise ConfigError(f"unknown data.on_bad_file={policy!r}; choose one of {list(BAD_FILE_POLICIES)}")
        self.policy = policy
        self.skipped: list[tuple[str, str]] = []

    def report(self, path: str | Path, reason: str) -> None:
        """Skip ``path`` (with a warning) or raise, according to the policy."""
        if self.policy == "error":
            raise DataError(f"{path}: {reason} (set data.on_bad_file=skip to leave such files out with a warning)")
        self.skipped.append((str(path), reason))
        if len(self.skipped) <= _WARN_LIMIT:
            log.warning("skipping %s: %s", path, reason)

    def summarize(self, what: str, total: int) -> None:
        """Log how many of ``total`` files were skipped so far."""
        if self.skipped:
            hidden = len(self.skipped) - _WARN_LIMIT
            more = f"; {hidden} not listed above" if hidden > 0 else ""
            log.warning("%s: skipped %d of %d files (data.on_bad_file=skip%s)", what, len(self.skipped), total, more)


def _wav_truncation(path: Path) -> str | None:
    """For a RIFF/WAVE file, why its ``data`` chunk is shorter than its header says, or ``None``.

    libsndfile silently shortens such files to what is present, so this reads the chunk headers itself.
    """
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            ident, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if ident == b"data":
                if size in (0, 0xFFFFFFFF):  # streaming writers leave the size unset
                    return None
                present = path.stat().st_size - f.tell()
                if present < size:
                    return f"truncated: the header announces {size} bytes of samples but only {present} are present"
                return None
            f.seek(size + (size & 1), 1)  # chunks are word-aligned


def probe_audio(path: str | Path) -> str | None:
    """Check a file's header without decoding the samples: why it cannot be used, or ``None`` if it looks fine."""
    path = Path(path)
    if path.suffix.lower() not in AUDIO_SUFFIXES:
        return f"not an audio file (suffix {path.suffix or 'none'!r}; expected one of {list(AUDIO_SUFFIXES)})"
    try:
        if path.stat().st_size == 0:
            return "empty file (0 bytes)"
        info = sf.info(str(path))
        truncated = _wav_truncation(path)
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        return f"cannot be decoded ({err})"
    if truncated:
        return truncated
    if info.frames == 0:
        return "zero-length audio (no samples)"
    return None


def load_audio(path: str | Path, sample_rate: int) -> torch.Tensor:
    """Decode ``path``, mix it down to mono and resample it to ``sample_rate``.

    Args:
        path: a wav, flac or ogg file.
        sample_rate: sample rate of the result, in Hz.

    Returns:
        ``[T]`` float32 waveform.

    Raises:
        AudioDecodeError: the file is not audio, empty, corrupt, truncated or has no samples; the message names
            it.
    """
    path = Path(path)
    problem = probe_audio(path)
    if problem is not None:
        raise AudioDecodeError(path, problem)
    try:
        with sf.SoundFile(str(path)) as f:
            expected, source_rate = f.frames, f.samplerate
            data = f.read(dtype="float32", always_2d=True)  # [T, channels]
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise AudioDecodeError(path, f"cannot be decoded ({err})") from None
    if len(data) < expected:
        raise AudioDecodeError(path, f"truncated: decoded {len(data)} of the {expected} frames its header announces")
    if not np.isfinite(data).all():
        raise AudioDecodeError(path, "holds NaN or infinite samples")
    wave = torch.from_numpy(data).mean(dim=1)  # [T, channels] -> [T]
    if source_rate != sample_rate:
        wave = AF.resample(wave, source_rate, sample_rate)
    return wave.contiguous()


def normalize_clip(wave: torch.Tensor, mode: str) -> torch.Tensor:
    """``"peak"``: scale to a maximum ``|x|`` of 1; ``"rms"``: zero mean, unit variance; ``"none"``: unchanged.

    Silent clips are left as they are. ``[T] -> [T]``.
    """
    if mode == "peak":
        peak = wave.abs().max()
        return wave / peak if peak > 0 else wave
    if mode == "rms":
        centred = wave - wave.mean()
        std = centred.std() if wave.numel() > 1 else torch.tensor(0.0)
        return centred / std if std > 0 else centred
    if mode == "none":
        return wave
    raise ConfigError(f"unknown data.normalize={mode!r}; choose one of {list(NORMALIZE_MODES)}")


def fix_length(
    wave: torch.Tensor, length: int, random: bool = False, randint: Callable[[int], int] | None = None
) -> torch.Tensor:
    """Crop or zero-pad ``[T]`` to ``[length]``.

    Evaluation (``random=False``) keeps the centre of a long clip and pads a short one equally on both sides;
    training (``random=True``) picks the crop start, or the position of the short clip inside the padding,
    uniformly at random.

    Args:
        wave: ``[T]`` waveform.
        length: output length.
        random: random instead of centred placement.
        randint: ``randint(n)`` returns an integer in ``[0, n]``; defaults to torch's global generator.
    """
    extra = abs(wave.shape[0] - length)
    if extra == 0:
        return wave
    if random:
        draw = randint or (lambda n: int(torch.randint(n + 1, ()).item()))
        offset = draw(extra)
    else:
        offset = extra // 2
    if wave.shape[0] > length:
        return wave[offset : offset + length]
    return torch.nn.functional.pad(wave, (offset, extra - offset))  # [T] -> [length]
