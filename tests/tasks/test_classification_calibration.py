"""Temperature scaling: never worse on the data it is fitted on, recovers a known temperature, and lives in the
classifier preprocessor (its JSON state and postprocess), so every path from logits to answer applies it."""

import functools

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from seqconv.data.audio.preprocessor import AudioPreprocessor
from seqconv.data.preprocessor import preprocessor_from_state
from seqconv.errors import ConfigError
from seqconv.tasks import ClassificationTask
from seqconv.tasks.calibration import ReliabilityBins, collect_logits, fit_temperature


def _nll(logits: torch.Tensor, target: torch.Tensor, temperature: float) -> float:
    return float(F.cross_entropy(logits.double() / temperature, target))


@pytest.mark.parametrize("seed", range(12))
def test_temperature_scaling_never_raises_the_validation_nll(seed):
    g = torch.Generator().manual_seed(seed)
    n, k = int(torch.randint(2, 300, (1,), generator=g)), int(torch.randint(2, 6, (1,), generator=g))
    scale = [0.01, 0.3, 1.0, 5.0, 40.0][seed % 5]  # under- to wildly over-confident
    logits = scale * torch.randn(n, k, generator=g)
    target = torch.randint(0, k, (n,), generator=g) if seed % 3 else logits.argmax(dim=-1)  # noise, or all right
    temperature = fit_temperature(logits, target)
    assert temperature > 0
    assert _nll(logits, target, temperature) <= _nll(logits, target, 1.0) + 1e-12


def test_fit_recovers_the_temperature_that_made_the_logits_overconfident():
    g = torch.Generator().manual_seed(0)
    true_logits = 2 * torch.randn(20000, 4, generator=g)
    target = torch.multinomial(true_logits.softmax(dim=-1), 1, generator=g).squeeze(1)  # calibrated labels
    assert fit_temperature(3.0 * true_logits, target) == pytest.approx(3.0, rel=0.05)


def test_the_temperature_is_preprocessor_state_applied_before_the_softmax():
    pre = AudioPreprocessor(8000, 800, classes=["no", "yes"])
    assert pre.state_dict()["temperature"] is None
    pre.set_temperature(2.5)
    restored = preprocessor_from_state(pre.state_dict())
    assert restored.temperature == 2.5
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.25]])
    rows = restored.postprocess(logits, [{"file": "a"}, {"file": "b"}])
    expected = torch.softmax(logits.double() / 2.5, dim=-1)
    assert [r["probabilities"]["no"] for r in rows] == pytest.approx(expected[:, 0].tolist(), abs=1e-12)
    torch.testing.assert_close(restored.probabilities(logits), expected)
    assert "temperature 2.5" in restored.describe()[-1] and restored.output_spec()["temperature"] == 2.5
    # a state written before calibration existed reads as uncalibrated
    old = {key: value for key, value in pre.state_dict().items() if key != "temperature"}
    assert preprocessor_from_state(old).temperature is None
    with pytest.raises(ValueError, match="positive and finite"):
        pre.set_temperature(0.0)


def test_testing_reports_ece_before_and_after_the_datamodules_temperature(tmp_path):
    torch.manual_seed(0)
    x, y = torch.randn(200, 1, 4), torch.randint(0, 2, (200,))
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    with torch.no_grad():
        net[1].weight.mul_(20)  # overconfident on noise
    loader = DataLoader([{"x": x[i], "y": y[i]} for i in range(200)], batch_size=50)

    class DataWithTemperature(L.LightningDataModule):
        preprocessor = AudioPreprocessor(8000, 4, classes=["a", "b"])

        def test_dataloader(self):
            return loader

    data = DataWithTemperature()
    logits, target = collect_logits(net, loader)
    data.preprocessor.set_temperature(fit_temperature(logits, target))
    task = ClassificationTask(net, functools.partial(torch.optim.SGD, lr=0.1), 2, calibration="temperature")
    trainer = L.Trainer(logger=False, enable_progress_bar=False, default_root_dir=tmp_path, accelerator="cpu")
    metrics = trainer.test(task, datamodule=data, verbose=False)[0]
    before, after = ReliabilityBins(), ReliabilityBins()
    before.update(logits.softmax(dim=-1), target)
    after.update(data.preprocessor.probabilities(logits), target)
    assert metrics["test/ece_uncalibrated"] == pytest.approx(float(before.compute()), abs=1e-6)
    assert metrics["test/ece"] == pytest.approx(float(after.compute()), abs=1e-6)
    assert metrics["test/ece"] < metrics["test/ece_uncalibrated"]


def test_unknown_calibration_is_refused():
    with pytest.raises(ConfigError, match=r"task.calibration='platt'; choose one of \['temperature'\]"):
        ClassificationTask(nn.Linear(2, 2), torch.optim.SGD, 2, calibration="platt")
