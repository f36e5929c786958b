"""Streaming equals offline: random chunks, a batch of independent streams, per-stream reset, exported steps."""

import warnings

import pytest
import torch
from torch import nn

from seqconv.export import load_runner
from seqconv.layers import ConvNormAct, ResidualBlock, SeparableConvNormAct, TemporalConvNet
from seqconv.models import TCNForecaster, TimeSeriesCNN
from seqconv.streaming import Streamer, export_streaming_step, streaming_step

TOL = 1e-5


def _randomize_norms(net: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BatchNorm statistics and affine parameters, so that a norm bug cannot hide behind identities."""
    generator = torch.Generator().manual_seed(seed)
    for module in net.modules():
        if isinstance(module, nn.BatchNorm1d | nn.LayerNorm):
            module.weight.data = 1 + 0.3 * torch.randn(module.weight.shape, generator=generator)
            module.bias.data = 0.3 * torch.randn(module.bias.shape, generator=generator)
        if isinstance(module, nn.BatchNorm1d):
            module.running_mean = 0.5 * torch.randn(module.running_mean.shape, generator=generator)
            module.running_var = 0.5 + torch.rand(module.running_var.shape, generator=generator)
    return net.eval()


def _chunks(length: int, seed: int, largest: int = 9) -> list[int]:
    generator = torch.Generator().manual_seed(seed)
    sizes, total = [], 0
    while total < length:
        size = min(int(torch.randint(1, largest + 1, (1,), generator=generator)), length - total)
        sizes.append(size)
        total += size
    return sizes


def _stream(streamer: Streamer, x: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    outputs, start = [], 0
    for size in sizes:
        outputs.append(streamer(x[:, :, start : start + size]))
        start += size
    return torch.cat(outputs, dim=-1)  # [B, C_out, L]


CONFIGS = [
    pytest.param(dict(norm=norm, kernel_size=k, dilation_base=d), id=f"{norm}-k{k}-d{d}")
    for norm in ("batch", "layer", "none")
    for k, d in ((3, 2), (2, 3), (5, 1))
]


@pytest.mark.parametrize("options", CONFIGS)
@pytest.mark.parametrize("seed", [0, 1])
def test_forecaster_streaming_equals_forward_sequence(options, seed):
    torch.manual_seed(seed)
    net = _randomize_norms(TCNForecaster(3, 2, channels=(8, 16, 16), dropout=0.2, **options), seed)
    x = torch.randn(4, 3, 61)
    offline = net.forward_sequence(x)
    streamed = _stream(Streamer.for_network(net, batch_size=4), x, _chunks(61, seed))
    assert streamed.shape == offline.shape == (4, 2, 61)
    torch.testing.assert_close(streamed, offline, atol=TOL, rtol=0)


@pytest.mark.parametrize("norm", ["batch", "layer", "none"])
def test_tcn_features_stream_one_step_at_a_time(norm):
    torch.manual_seed(0)
    tcn = _randomize_norms(TemporalConvNet(2, [6, 6, 10], kernel_size=3, norm=norm))
    x = torch.randn(3, 2, 40)
    streamer = Streamer.for_network(tcn, batch_size=3)
    steps = torch.stack([streamer(x[:, :, t]) for t in range(40)], dim=-1)  # 40 x [B, C] -> [B, C, L]
    torch.testing.assert_close(steps, tcn(x), atol=TOL, rtol=0)


def test_a_stream_is_independent_of_the_others_in_its_batch():
    torch.manual_seed(0)
    net = _randomize_norms(TCNForecaster(1, 1, channels=(8, 8), norm="batch"))
    x = torch.randn(3, 1, 30)
    streamed = _stream(Streamer.for_network(net, 3), x, _chunks(30, 3))
    alone = _stream(Streamer.for_network(net, 1), x[1:2], _chunks(30, 4))
    torch.testing.assert_close(streamed[1:2], alone, atol=TOL, rtol=0)


def test_reset_restarts_one_stream_and_leaves_the_others_untouched():
    torch.manual_seed(0)
    net = _randomize_norms(TCNForecaster(2, 1, channels=(8, 8, 8), norm="layer"))
    first, second = torch.randn(3, 2, 25), torch.randn(3, 2, 20)
    streamer = Streamer.for_network(net, batch_size=3)
    _stream(streamer, first, _chunks(25, 0))
    streamer.reset(torch.tensor([False, True, False]))
    after = _stream(streamer, second, _chunks(20, 1))
    continued = net.forward_sequence(torch.cat([first, second], dim=-1))[:, :, 25:]  # streams 0 and 2 go on
    restarted = net.forward_sequence(second[1:2])  # stream 1 starts afresh
    torch.testing.assert_close(after[[0, 2]], continued[[0, 2]], atol=TOL, rtol=0)
    torch.testing.assert_close(after[1:2], restarted, atol=TOL, rtol=0)


def test_reset_without_mask_restarts_every_stream():
    net = TCNForecaster(1, 1, channels=(4, 4)).eval()
    x = torch.randn(2, 1, 12)
    streamer = Streamer.for_network(net, 2)
    streamer(x)
    streamer.reset()
    torch.testing.assert_close(streamer(x), net.forward_sequence(x), atol=TOL, rtol=0)


def test_streaming_never_reads_the_future():
    net = _randomize_norms(TCNForecaster(1, 1, channels=(4, 4)))
    x = torch.randn(1, 1, 20)
    changed = x.clone()
    changed[:, :, 12:] += 5.0
    a = _stream(Streamer.for_network(net, 1), x, [5, 7, 8])
    b = _stream(Streamer.for_network(net, 1), changed, [5, 7, 8])
    torch.testing.assert_close(a[:, :, :12], b[:, :, :12], atol=0, rtol=0)
    assert not torch.allclose(a[:, :, 12:], b[:, :, 12:])


def test_state_sizes_follow_the_dilations_and_the_receptive_field():
    net = TCNForecaster(2, 1, channels=(8, 8, 8), kernel_size=3, dilation_base=2)
    step = streaming_step(net)
    assert step.state_shapes() == [(2, 2), (8, 2), (8, 4), (8, 4), (8, 8), (8, 8)]  # (k - 1) * d per conv
    assert 1 + sum(p for _, p in step.state_shapes()) == net.receptive_field()


@pytest.mark.parametrize(
    ("net", "fragment"),
    [
        (TimeSeriesCNN(1, 16), "TimeSeriesCNN is not a causal network"),
        (nn.Linear(2, 2), "Linear is not a causal network"),
    ],
)
def test_non_causal_networks_are_refused_with_the_reason(net, fragment):
    with pytest.raises(ValueError, match=fragment):
        streaming_step(net)


def test_a_centred_conv_cannot_stream():
    with pytest.raises(ValueError, match="padding='same'.*future"):
        streaming_step(ConvNormAct(2, 2, 3, padding="same"))


LAYERS = {
    "conv": lambda: ConvNormAct(2, 4, 3, dilation=2, padding="causal", norm="batch"),
    "pointwise": lambda: ConvNormAct(2, 4, 1, norm="layer"),
    "separable": lambda: SeparableConvNormAct(2, 6, 3, padding="causal", norm="layer"),
    "residual": lambda: ResidualBlock(2, 4, 2, dilation=3, padding="causal", norm="batch"),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_a_scripted_layer_step_streams_like_the_offline_layer(name):
    torch.manual_seed(0)
    layer = _randomize_norms(LAYERS[name]())
    step = streaming_step(layer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script is deprecated, still widely deployed
        scripted = torch.jit.script(step)
    x = torch.randn(3, 2, 23)
    state, outputs, start = step.initial_state(3), [], 0
    for size in _chunks(23, 6):
        y, state = scripted(x[:, :, start : start + size], state)
        outputs.append(y)
        start += size
    torch.testing.assert_close(torch.cat(outputs, dim=-1), layer(x), atol=TOL, rtol=0)


def test_streamer_checks_its_inputs():
    streamer = Streamer.for_network(TCNForecaster(2, 1, channels=(4,)), batch_size=3)
    with pytest.raises(ValueError, match="holds 3 streams but got a batch of 2"):
        streamer(torch.randn(2, 2, 5))
    with pytest.raises(ValueError, match="transpose"):
        streamer(torch.randn(3, 5, 2))
    with pytest.raises(ValueError, match=r"\[B\] = \[3\]"):
        streamer.reset(torch.tensor([True, False]))


CASES = [("onnx", "trace"), ("torchscript", "trace"), ("torchscript", "script"), ("export", "trace")]


@pytest.mark.parametrize(("fmt", "method"), CASES, ids=[f"{f}-{m}" for f, m in CASES])
@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_exported_streaming_step_streams_like_the_offline_network(tmp_path, fmt, method, norm):
    torch.manual_seed(0)
    net = _randomize_norms(TCNForecaster(2, 1, channels=(8, 8, 8), norm=norm))
    step = streaming_step(net)
    path = tmp_path / f"step.{fmt}"
    result = export_streaming_step(step, path, fmt, method=method, chunk=4)
    assert path.is_file() and max(result.max_abs_diff.values()) <= 1e-5
    runner = load_runner(path, fmt)
    x = torch.randn(3, 2, 33)  # another batch size and other chunk lengths than the export's example
    state, outputs, start = step.initial_state(3), [], 0
    for size in _chunks(33, 5):
        out = runner(x[:, :, start : start + size], state)
        y, state = (out[0], list(out[1:])) if fmt == "onnx" else out
        outputs.append(y)
        start += size
    torch.testing.assert_close(torch.cat(outputs, dim=-1), net.forward_sequence(x), atol=1e-5, rtol=0)
