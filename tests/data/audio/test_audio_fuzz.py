"""Property-based: whatever bytes an audio file holds, decoding returns finite samples or raises DataError."""

import io

import numpy as np
import soundfile as sf
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqconv.data.audio import load_audio, probe_audio
from seqconv.errors import DataError

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SUFFIXES = st.sampled_from([".wav", ".flac", ".ogg"])


def _valid_wav(samples: int, channels: int, rate: int) -> bytes:
    buffer = io.BytesIO()
    data = np.random.default_rng(0).uniform(-0.5, 0.5, (samples, channels)).astype(np.float32)
    sf.write(buffer, data, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _check(path) -> None:
    try:
        probe_audio(path)
        wave = load_audio(path, 8000)
    except DataError:
        return
    assert wave.dim() == 1 and wave.dtype == torch.float32 and len(wave) > 0
    assert torch.isfinite(wave).all()


@SETTINGS
@given(st.binary(max_size=600), SUFFIXES)
def test_random_bytes(tmp_path, data, suffix):
    path = tmp_path / f"clip{suffix}"
    path.write_bytes(data)
    _check(path)


@SETTINGS
@given(
    st.integers(1, 400),
    st.integers(1, 3),
    st.sampled_from([8000, 11025, 44100]),
    st.integers(0, 600),
    st.binary(max_size=64),
)
def test_damaged_wav_files(tmp_path, samples, channels, rate, cut, garbage):
    """A real WAV header followed by a cut-off, overwritten or extended body."""
    data = bytearray(_valid_wav(samples, channels, rate))
    data = data[: max(0, len(data) - cut)] + garbage
    path = tmp_path / "clip.wav"
    path.write_bytes(bytes(data))
    _check(path)
