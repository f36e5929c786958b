"""Waveform augmentations keep shapes, do what they say, and never touch evaluation clips."""

from __future__ import annotations

import pytest
import torch

from seqconv.data.audio import (
    AudioClipDataset,
    AudioDecodeError,
    AudioPreprocessor,
    WaveformAugment,
    add_noise,
    apply_gain,
    time_shift,
)
from seqconv.errors import ConfigError


def test_time_shift_delays_or_advances_with_zero_fill():
    wave = torch.arange(1.0, 6.0)
    assert time_shift(wave, 2).tolist() == [0, 0, 1, 2, 3]
    assert time_shift(wave, -2).tolist() == [3, 4, 5, 0, 0]
    assert time_shift(wave, 0) is wave
    assert time_shift(wave, 7).tolist() == [0] * 5


def test_gain_in_decibels():
    assert apply_gain(torch.ones(3), 20.0).tolist() == pytest.approx([10.0] * 3)


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 30.0])
def test_add_noise_hits_the_requested_snr(snr_db):
    torch.manual_seed(0)
    wave, noise = torch.randn(8000), torch.randn(8000) * 3
    noisy = add_noise(wave, noise, snr_db)
    measured = 10 * torch.log10(wave.square().mean() / (noisy - wave).square().mean())
    assert measured.item() == pytest.approx(snr_db, abs=1e-3)
    assert torch.equal(add_noise(torch.zeros(10), noise[:10], 5.0), torch.zeros(10))


@pytest.mark.parametrize("speed", [0.9, 1.1])
def test_speed_perturbation_changes_length_by_the_factor(speed):
    augment = WaveformAugment(8000, speeds=[speed])
    assert augment.perturb_speed(torch.randn(8000)).shape[0] == pytest.approx(8000 / speed, abs=1)


def test_augment_keeps_the_shape_and_changes_the_clip():
    torch.manual_seed(0)
    augment = WaveformAugment(8000, noise_prob=1.0, noise="gaussian")
    wave = torch.randn(8000)
    out = augment(wave)
    assert out.shape == wave.shape and not torch.equal(out, wave)


def _best_segment(residual: torch.Tensor, clip: torch.Tensor) -> tuple[float, int]:
    """|cosine similarity| of ``residual`` [L] with its best-matching window of ``clip`` [T], and where it starts."""
    windows = clip.unfold(0, residual.shape[0], 1)  # [T - L + 1, L]
    cosine = (windows @ residual) / (windows.norm(dim=1) * residual.norm())
    start = int(cosine.abs().argmax())
    return float(cosine[start].abs()), start


@pytest.mark.parametrize("noise", ["auto", "background"])
def test_background_noise_segments_are_used(noise):
    torch.manual_seed(0)
    augment = WaveformAugment(800, speeds=[], shift_seconds=0, gain_db=0, noise_prob=1.0, snr_db=0.0, noise=noise)
    wave = torch.randn(800)
    background = [torch.randn(2000)]  # a noise no other source reproduces: the output must contain a piece of it
    out = augment(wave, background)
    assert out.shape == wave.shape and (out - out.mean()).abs().mean() > 0  # still has the signal
    residual = out - wave  # what the augmentation added: a scaled segment of the background clip
    similarity, start = _best_segment(residual, background[0])
    assert similarity == pytest.approx(1.0, abs=1e-5)
    scale = residual.norm() / background[0][start : start + 800].norm()
    torch.testing.assert_close(residual, scale * background[0][start : start + 800], rtol=1e-4, atol=1e-5)
    snr = 10 * torch.log10(wave.square().mean() / residual.square().mean())
    assert snr.item() == pytest.approx(0.0, abs=1e-3)
    # a clip shorter than the wave is tiled: the residual repeats with the clip's period and matches its tiling
    short_clip = torch.randn(100)
    short = augment(torch.ones(800), [short_clip])
    assert short.shape == (800,)
    residual = short - 1.0
    torch.testing.assert_close(residual[100:], residual[:-100], rtol=1e-4, atol=1e-5)
    similarity, _ = _best_segment(residual, short_clip.repeat(9))
    assert similarity == pytest.approx(1.0, abs=1e-5)


def test_gaussian_noise_ignores_the_background_clips():
    torch.manual_seed(0)
    augment = WaveformAugment(800, speeds=[], shift_seconds=0, gain_db=0, noise_prob=1.0, snr_db=0.0, noise="gaussian")
    wave, background = torch.randn(800), torch.randn(2000)
    similarity, _ = _best_segment(augment(wave, [background]) - wave, background)
    assert similarity < 0.5


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"noise": "pink"}, "data.augment.noise"),
        ({"noise_prob": 2.0}, "noise_prob"),
        ({"snr_db": [30, 10]}, "low > high"),
        ({"snr_db": [1, 2, 3]}, "snr_db"),
        ({"speeds": [0.0]}, "speeds"),
        ({"shift_seconds": -1}, "shift_seconds"),
    ],
)
def test_bad_settings_name_the_config_key(kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        WaveformAugment(8000, **kwargs)


def _dataset(train: bool) -> AudioClipDataset:
    clips = [torch.randn(6000), torch.randn(12000), torch.randn(8000)]
    augment = WaveformAugment(8000, noise_prob=1.0, noise="gaussian")
    return AudioClipDataset([0, 1, 2], AudioPreprocessor(8000, 8000), clips=clips, train=train, augment=augment)


def test_dataset_items_have_the_clip_length_in_both_modes():
    for train in (True, False):
        dataset = _dataset(train)
        for i in range(len(dataset)):
            item = dataset[i]
            assert item["x"].shape == (8000,) and item["y"].dtype == torch.long


def test_evaluation_items_are_deterministic_and_unaugmented():
    dataset = _dataset(train=False)
    for i in range(len(dataset)):
        first, second = dataset[i]["x"], dataset[i]["x"]
        assert torch.equal(first, second)
    clip = dataset.clips[1]  # 12000 samples: the centre 8000 are kept, untouched
    assert torch.equal(dataset[1]["x"], clip[2000:10000])


def test_training_items_vary():
    torch.manual_seed(0)
    dataset = _dataset(train=True)
    assert not torch.equal(dataset[0]["x"], dataset[0]["x"])


def test_lazy_decoding_names_the_file_and_the_preload_option(tmp_path):
    path = tmp_path / "gone.wav"
    path.write_bytes(b"")
    dataset = AudioClipDataset([0], AudioPreprocessor(8000, 800), clips=None, paths=[path])
    with pytest.raises(AudioDecodeError, match=r"gone\.wav: empty file.*data\.preload=true"):
        dataset[0]
