"""AudioClassifier and AudioFrontend: shapes, inferred flatten size, batch consistency, checkpointing, masking."""

from __future__ import annotations

import pytest
import torch

from seqconv.models import AudioClassifier
from seqconv.models.audio_frontend import AudioFrontend

CLASSIC = {
    "channels": (16, 32),
    "kernel_sizes": (3, 3),
    "strides": (1, 1),
    "pool_size": 2,
    "padding": "valid",
    "norm": "none",
    "head": "flatten",
    "hidden": 64,
}
SPECTRAL = {"channels": (32, 32), "kernel_sizes": (3, 3), "strides": (1, 1), "pool_size": 2}
PRESETS = {
    "m5": {},
    "classic": CLASSIC,
    "mel": {**SPECTRAL, "frontend": "mel"},
    "mfcc": {**SPECTRAL, "frontend": "mfcc"},
}


@pytest.mark.parametrize("preset", PRESETS)
def test_logits_shape_for_both_input_layouts(preset):
    torch.manual_seed(0)
    net = AudioClassifier(10, 4000, 8000, **PRESETS[preset]).eval()
    wave = torch.randn(3, 4000)
    logits = net(wave)
    assert logits.shape == (3, 10)
    assert torch.allclose(net(wave.unsqueeze(1)), logits)  # [B, 1, T] is the same clip


def test_m5_feature_shape_and_receptive_field():
    net = AudioClassifier(10, 8000)
    # T=8000 -> conv stride 16 -> 500 -> pool 4 -> 125 -> 32 (ceil) -> 8 -> 2
    assert net.forward_features(torch.randn(2, 8000)).shape == (2, 64, 2)
    assert net.feature_length(8000) == 2
    assert net.receptive_field() > 80


@pytest.mark.parametrize("length", [800, 1001, 8000, 16000])
def test_classic_flatten_size_follows_the_clip_length(length):
    net = AudioClassifier(5, length, **CLASSIC)
    after = -(-(-(-(length - 2) // 2) - 2) // 2)  # valid k3, ceil pool 2, valid k3, ceil pool 2
    assert net.classifier[0].in_features == 32 * after
    assert net(torch.randn(2, length)).shape == (2, 5)


@pytest.mark.parametrize("kind", ["waveform", "mel", "mfcc"])
def test_frontend_shapes(kind):
    frontend = AudioFrontend(kind, 16000, n_mels=40, n_mfcc=13)
    out = frontend(torch.randn(2, 16000))
    channels = {"waveform": 1, "mel": 40, "mfcc": 13}[kind]
    assert out.shape == (2, channels, frontend.output_length(16000))
    if kind != "waveform":
        assert out.shape[-1] == 101 and frontend.geometry() == (400, 160)


@pytest.mark.parametrize(
    ("sample_rate", "win", "hop"), [(8000, 0.025, 0.010), (16000, 0.025, 0.010), (8000, 0.032, 0.016)]
)
def test_mel_power_equals_torchaudios_mel_spectrogram(sample_rate, win, hop):
    """The conv-based STFT + mel bank reproduces torchaudio's MelSpectrogram (torch.stft) on random and tonal input."""
    from torchaudio.transforms import MelSpectrogram

    frontend = AudioFrontend("mel", sample_rate, n_mels=40, win_seconds=win, hop_seconds=hop)
    reference = MelSpectrogram(sample_rate, n_fft=frontend.n_fft, hop_length=frontend.hop_length, n_mels=40)
    t = torch.arange(sample_rate, dtype=torch.float32) / sample_rate
    waves = torch.stack([torch.randn(sample_rate, generator=torch.Generator().manual_seed(0)), torch.sin(440 * t)])
    ours, theirs = frontend._mel_power(waves), reference(waves)
    assert ours.shape == theirs.shape
    assert torch.allclose(ours, theirs, rtol=1e-3, atol=1e-3 * float(theirs.max()))
    # and the features the network sees (the log), where small bands matter too: the largest gap, 2.5e-3, is in a
    # pure tone's empty bands (power ~1e-6 against a peak of ~1e4, float32 rounding in either transform)
    assert torch.allclose(frontend(waves), torch.log(theirs + 1e-6), atol=5e-3)


def test_a_checkpoint_from_the_torchaudio_spectrogram_still_loads():
    """Earlier mel models saved MelSpectrogram's window and filter bank; both are fixed, so they are dropped."""
    net = AudioClassifier(10, 4000, 8000, **PRESETS["mel"])
    state = net.state_dict()
    state["frontend.mel.spectrogram.window"] = torch.hann_window(200)
    state["frontend.mel.mel_scale.fb"] = torch.zeros(101, 40)
    fresh = AudioClassifier(10, 4000, 8000, **PRESETS["mel"]).eval()
    fresh.load_state_dict(state)  # strict: nothing unexpected, nothing missing
    wave = torch.randn(2, 4000)
    assert torch.equal(fresh(wave), net.eval()(wave))


@pytest.mark.parametrize("preset", PRESETS)
def test_batch_consistency_in_eval_mode(preset):
    """Item-by-item equals batched: nothing (BatchNorm, log clamp, masking) couples clips in evaluation."""
    torch.manual_seed(0)
    net = AudioClassifier(10, 4000, 8000, **PRESETS[preset])
    net.train()
    net(torch.randn(8, 4000))  # move BatchNorm running statistics away from their initial values
    net.eval()
    wave = torch.randn(5, 4000) * torch.tensor([[0.01], [0.1], [1.0], [3.0], [10.0]])
    batched = net(wave)
    single = torch.cat([net(wave[i : i + 1]) for i in range(5)])
    torch.testing.assert_close(batched, single, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("preset", ["m5", "mel"])
def test_gradient_checkpointing_leaves_outputs_and_gradients_unchanged(preset):
    torch.manual_seed(0)
    net = AudioClassifier(10, 4000, 8000, **PRESETS[preset]).train()
    wave = torch.randn(4, 4000)
    plain = net(wave)
    plain.square().sum().backward()
    grads = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    net.set_grad_checkpointing(True)
    checkpointed = net(wave)
    checkpointed.square().sum().backward()
    torch.testing.assert_close(checkpointed, plain)
    for p, g in zip(net.parameters(), grads, strict=True):
        torch.testing.assert_close(p.grad, g)


def test_specaugment_masks_in_training_only():
    torch.manual_seed(0)
    frontend = AudioFrontend("mel", 8000, n_mels=40, freq_mask=10, time_mask=20)
    wave = torch.randn(4, 8000)
    frontend.eval()
    clean = frontend(wave)
    assert torch.equal(frontend(wave), clean)
    frontend.train()
    masked = frontend(wave)
    assert masked.shape == clean.shape and not torch.equal(masked, clean)
    floor = torch.log(torch.tensor(1e-6))
    assert ((masked == floor) & (clean != floor)).any()  # masked bins read as silence
    differs = (masked != clean).flatten(1).any(dim=1)
    assert differs.all()  # every clip gets its own mask
    with pytest.raises(ValueError, match="need frontend='mel' or 'mfcc'"):
        AudioFrontend("waveform", 8000, time_mask=5)


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: AudioClassifier(10, 4000)(torch.randn(4000)), r"add the batch axis with x\.unsqueeze\(0\)"),
        (lambda: AudioClassifier(10, 4000)(torch.randn(2, 2, 4000)), r"mix them down to mono with x\.mean\(1\)"),
        (lambda: AudioClassifier(10, 4000, **CLASSIC)(torch.randn(2, 3000)), "built for 4000-sample clips"),
        (lambda: AudioClassifier(10, 4, **CLASSIC), "too few for stage 2"),
        (lambda: AudioClassifier(10, 4000, head="mean"), "unknown head='mean'"),
        (lambda: AudioClassifier(10, 4000, channels=(8, 8)), "one entry per stage"),
        (lambda: AudioClassifier(10, 4000, frontend="stft"), "unknown frontend='stft'"),
        (lambda: AudioClassifier(10, 4000, 8000, frontend="mel")(torch.randn(2, 50)), "too short for a 200-sample"),
    ],
    ids=["1d", "stereo", "flatten-length", "too-short", "head", "stages", "frontend", "short-for-window"],
)
def test_mistakes_fail_with_a_message(make, fragment):
    with pytest.raises(ValueError, match=fragment):
        make()


def test_pooling_head_takes_any_length():
    net = AudioClassifier(10, 8000).eval()
    assert net(torch.randn(2, 12345)).shape == (2, 10)
    assert net(torch.randn(2, 64)).shape == (2, 10)


@pytest.mark.parametrize("preset", ["m5", "mel"])
def test_export_matches_eager(preset):
    net = AudioClassifier(10, 4000, 8000, **PRESETS[preset]).eval()
    wave = torch.randn(2, 4000)
    exported = torch.export.export(net, (wave,)).module()
    torch.testing.assert_close(exported(wave), net(wave))
