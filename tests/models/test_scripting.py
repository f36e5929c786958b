"""torch.jit.script compiles every network (what many deployments still load) and matches eager."""

import warnings

import pytest
import torch

from seqconv.models import AudioClassifier, TCNForecaster, TextCNN, TimeSeriesCNN

NETWORKS = {
    "tscnn": (lambda: TimeSeriesCNN(2, 30, norm="batch", dropout=0.1), (3, 2, 30)),
    "tcn": (lambda: TCNForecaster(2, channels=[8, 8, 8]), (3, 2, 50)),
    "tcn_batchnorm": (lambda: TCNForecaster(1, norm="batch"), (2, 1, 20)),
}


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_scripted_network_matches_eager(name):
    build, shape = NETWORKS[name]
    torch.manual_seed(0)
    net = build().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script is deprecated, still widely deployed
        scripted = torch.jit.script(net)
    x = torch.randn(*shape)
    torch.testing.assert_close(scripted(x), net(x))


@pytest.mark.parametrize(
    ("head", "frontend"), [("avg", "waveform"), ("flatten", "waveform"), ("avg", "mel"), ("avg", "mfcc")]
)
def test_audio_classifier_scripts(head, frontend):
    torch.manual_seed(0)
    net = AudioClassifier(num_classes=3, input_length=800, head=head, frontend=frontend).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.script(net)
    x = torch.randn(2, 800)
    torch.testing.assert_close(scripted(x), net(x))


@pytest.mark.parametrize(
    "options", [{}, {"pool": "avgmax", "bigram_buckets": 64, "bigram_dim": 4}, {"ngram_buckets": 31}]
)
def test_textcnn_scripts(options):
    torch.manual_seed(0)
    net = TextCNN(vocab_size=50, num_classes=2, padding_idx=0, **options)
    net.init_from_data([{"x": torch.randint(1, 50, (6, 12)), "y": torch.arange(6) % 2}])
    net.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.script(net)
    x = torch.randint(1, 50, (3, 12))
    x[0, 8:] = 0  # padding
    torch.testing.assert_close(scripted(x), net(x))
