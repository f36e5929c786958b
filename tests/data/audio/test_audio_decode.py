"""Decoding (mono, resampling, formats), length fixing, normalization and the bad-file policy."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import soundfile as sf
import torch

from seqconv.data.audio import AudioDecodeError, BadFiles, fix_length, load_audio, normalize_clip, probe_audio
from seqconv.errors import ConfigError, DataError


@pytest.mark.parametrize(
    ("suffix", "source_rate", "channels"),
    [(".wav", 8000, 1), (".wav", 16000, 1), (".flac", 22050, 1), (".ogg", 8000, 1), (".wav", 44100, 2)],
)
def test_load_audio_gives_mono_at_the_target_rate(tmp_path, make_clip, suffix, source_rate, channels):
    path = make_clip(tmp_path / f"clip{suffix}", 2, source_rate, 0.5, channels)
    wave = load_audio(path, 8000)
    assert wave.dtype == torch.float32 and wave.dim() == 1
    assert wave.shape[0] == 4000  # 0.5 s at 8 kHz, whatever the source rate
    spectrum = torch.fft.rfft(wave).abs()
    assert spectrum.argmax().item() / 0.5 == pytest.approx(600, abs=4)  # the 600 Hz tone survives resampling


def test_stereo_is_mixed_down_by_averaging(tmp_path):
    left, right = np.full(800, 0.5, np.float32), np.full(800, -0.25, np.float32)
    sf.write(str(tmp_path / "st.wav"), np.stack([left, right], axis=1), 8000, subtype="FLOAT")
    assert torch.allclose(load_audio(tmp_path / "st.wav", 8000), torch.full((800,), 0.125))


def _write_bytes(path, data: bytes):
    path.write_bytes(data)
    return path


@pytest.fixture
def bad_files(tmp_path, make_clip):
    good = make_clip(tmp_path / "good.wav", 1, 8000, 0.5).read_bytes()
    flac = make_clip(tmp_path / "good.flac", 1, 8000, 2.0).read_bytes()
    sf.write(str(tmp_path / "zero.wav"), np.zeros(0, np.float32), 8000)
    return {
        "empty": (_write_bytes(tmp_path / "empty.wav", b""), "empty file"),
        "corrupt": (_write_bytes(tmp_path / "corrupt.wav", b"RIFF\x00\x00garbage" * 20), "cannot be decoded"),
        "header-only": (_write_bytes(tmp_path / "header.wav", good[:30]), "cannot be decoded"),
        "truncated-wav": (_write_bytes(tmp_path / "trunc.wav", good[: len(good) // 2]), "truncated"),
        "truncated-flac": (_write_bytes(tmp_path / "trunc.flac", flac[: len(flac) // 2]), "cannot be decoded"),
        "zero-length": (tmp_path / "zero.wav", "zero-length"),
        "text-as-wav": (_write_bytes(tmp_path / "notes.wav", b"not audio at all\n" * 10), "cannot be decoded"),
        "non-audio-suffix": (_write_bytes(tmp_path / "notes.txt", b"hello\n"), "not an audio file"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "empty",
        "corrupt",
        "header-only",
        "truncated-wav",
        "truncated-flac",
        "zero-length",
        "text-as-wav",
        "non-audio-suffix",
    ],
)
def test_bad_files_raise_an_error_naming_the_file(bad_files, case):
    path, fragment = bad_files[case]
    with pytest.raises(AudioDecodeError, match=fragment) as info:
        load_audio(path, 8000)
    assert str(path) in str(info.value) and info.value.path == path
    assert isinstance(info.value, DataError)
    if case != "truncated-flac":  # libsndfile finds a broken flac stream only while decoding it
        assert probe_audio(path) is not None


def test_probe_accepts_good_files(tmp_path, make_clip):
    assert probe_audio(make_clip(tmp_path / "a.ogg", 0, 8000, 0.2)) is None


@pytest.mark.parametrize(("length", "expected"), [(8000, 8000), (3000, 3000), (12000, 12000)])
def test_fix_length_crops_or_pads_to_the_length(length, expected):
    wave = torch.arange(1, 8001, dtype=torch.float32)
    assert fix_length(wave, length).shape == (expected,)
    assert fix_length(wave, length, random=True).shape == (expected,)


def test_fix_length_centres_in_evaluation_and_randomizes_in_training():
    wave = torch.arange(1, 11, dtype=torch.float32)
    assert fix_length(wave, 4).tolist() == [4, 5, 6, 7]
    assert fix_length(wave, 14).tolist() == [0, 0, *range(1, 11), 0, 0]
    assert fix_length(wave, 4, random=True, randint=lambda n: 0).tolist() == [1, 2, 3, 4]
    assert fix_length(wave, 4, random=True, randint=lambda n: n).tolist() == [7, 8, 9, 10]
    assert fix_length(wave, 12, random=True, randint=lambda n: n).tolist() == [0, 0, *range(1, 11)]
    torch.manual_seed(0)
    starts = {fix_length(wave, 4, random=True)[0].item() for _ in range(50)}
    assert starts == {1, 2, 3, 4, 5, 6, 7}


def test_normalize_modes():
    wave = torch.tensor([0.0, 0.5, -0.25, 0.25])
    assert normalize_clip(wave, "peak").abs().max() == 1.0
    rms = normalize_clip(wave, "rms")
    assert rms.mean().abs() < 1e-6 and rms.std() == pytest.approx(1.0)
    assert torch.equal(normalize_clip(wave, "none"), wave)
    assert torch.equal(normalize_clip(torch.zeros(5), "peak"), torch.zeros(5))  # silence stays silence
    with pytest.raises(ConfigError, match="data.normalize"):
        normalize_clip(wave, "max")


def test_bad_file_policy_skip_warns_and_counts(tmp_path, caplog):
    bad = BadFiles("skip")
    with caplog.at_level(logging.WARNING):
        bad.report(tmp_path / "a.wav", "empty file (0 bytes)")
        bad.report(tmp_path / "b.wav", "truncated")
        bad.summarize("digits", 10)
    assert [p for p, _ in bad.skipped] == [str(tmp_path / "a.wav"), str(tmp_path / "b.wav")]
    assert str(tmp_path / "a.wav") in caplog.text and "skipped 2 of 10 files" in caplog.text


def test_bad_file_policy_error_names_the_file(tmp_path):
    with pytest.raises(DataError, match=r"a\.wav: empty file.*on_bad_file=skip"):
        BadFiles("error").report(tmp_path / "a.wav", "empty file (0 bytes)")
    with pytest.raises(ConfigError, match="on_bad_file"):
        BadFiles("ignore")
