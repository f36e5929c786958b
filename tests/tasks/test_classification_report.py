"""Per-class results and calibration error of ClassificationTask, checked against scikit-learn and by hand."""

import functools
import json

import lightning as L
import pytest
import torch
from sklearn.metrics import classification_report
from torch import nn
from torch.utils.data import DataLoader
from torchmetrics.classification import MulticlassCalibrationError

from seqconv.tasks import ClassificationTask
from seqconv.tasks.calibration import ReliabilityBins
from seqconv.tasks.classification import per_class_report

NAMES = ["cat", "dog", "eel", "fox"]


def _test_run(tmp_path, n: int = 90):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(6, len(NAMES)))
    task = ClassificationTask(net, functools.partial(torch.optim.SGD, lr=0.1), len(NAMES), NAMES)
    x = torch.randn(n, 1, 6)
    y = torch.randint(0, len(NAMES), (n,))
    y[:5] = 3  # every class present, and some predictions wrong
    loader = DataLoader([{"x": x[i], "y": y[i]} for i in range(n)], batch_size=16)
    trainer = L.Trainer(logger=False, enable_progress_bar=False, default_root_dir=tmp_path, accelerator="cpu")
    metrics = trainer.test(task, loader, verbose=False)[0]
    with torch.no_grad():
        logits = net(x)
    return task, metrics, logits, y


def test_per_class_results_equal_scikit_learns_classification_report(tmp_path):
    task, _, logits, y = _test_run(tmp_path)
    predicted = logits.argmax(dim=-1)
    expected = classification_report(
        y.numpy(), predicted.numpy(), labels=range(len(NAMES)), target_names=NAMES, output_dict=True, zero_division=0
    )
    ours = task.test_report["per_class"]
    assert list(ours) == NAMES
    for name in NAMES:
        for key, theirs in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score")):
            assert ours[name][key] == pytest.approx(expected[name][theirs], abs=1e-12), (name, key)
        assert ours[name]["support"] == expected[name]["support"]


def test_a_class_never_predicted_or_absent_gets_zeros_like_scikit_learn():
    matrix = torch.tensor([[3, 0, 0], [2, 0, 0], [0, 0, 0]])
    report = per_class_report(matrix, ["a", "b", "c"])
    assert report["a"] == {"precision": 0.6, "recall": 1.0, "f1": pytest.approx(0.75), "support": 3}
    assert report["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2}
    assert report["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_ece_equals_a_hand_computation_on_small_logits():
    # top-1 probabilities chosen through the logits: log-odds of p against 1 - p for two classes
    confidences = torch.tensor([0.95, 0.90, 0.62, 0.55, 0.58, 0.97])
    logits = torch.stack([torch.zeros(6), torch.log(confidences / (1 - confidences))], dim=1)  # class 1 on top
    target = torch.tensor([1, 0, 1, 0, 1, 1])  # hits: yes, no, yes, no, yes, yes
    bins = ReliabilityBins(15)
    bins.update(logits.softmax(dim=-1), target)
    # bins of width 1/15: 0.95, 0.97 -> bin 14; 0.90 -> bin 13; 0.62 -> bin 9; 0.55, 0.58 -> bin 8
    by_hand = (
        abs(2 - (0.95 + 0.97))  # bin 14: 2 hits
        + abs(0 - 0.90)  # bin 13: 0 hits
        + abs(1 - 0.62)  # bin 9: 1 hit
        + abs(1 - (0.55 + 0.58))  # bin 8: 1 hit
    ) / 6
    assert float(bins.compute()) == pytest.approx(by_hand, abs=1e-6)
    table = bins.bins()
    assert table["count"][14] == 2 and table["count"][8] == 2 and sum(table["count"]) == 6
    assert table["accuracy"][13] == 0.0 and table["confidence"][13] == pytest.approx(0.90)


def test_ece_agrees_with_torchmetrics_on_random_logits():
    g = torch.Generator().manual_seed(3)
    probs = (3 * torch.randn(500, 5, generator=g)).softmax(dim=-1)
    target = torch.randint(0, 5, (500,), generator=g)
    ours, theirs = ReliabilityBins(15), MulticlassCalibrationError(5, n_bins=15, norm="l1")
    for chunk in range(0, 500, 128):  # batch by batch, as in testing
        ours.update(probs[chunk : chunk + 128], target[chunk : chunk + 128])
        theirs.update(probs[chunk : chunk + 128], target[chunk : chunk + 128])
    assert float(ours.compute()) == pytest.approx(float(theirs.compute()), abs=1e-6)


def test_testing_logs_ece_and_writes_the_reliability_diagram(tmp_path):
    _, metrics, logits, y = _test_run(tmp_path)
    bins = ReliabilityBins(15)
    bins.update(logits.softmax(dim=-1), y)
    assert metrics["test/ece"] == pytest.approx(float(bins.compute()), abs=1e-6)
    saved = json.loads((tmp_path / "reliability.json").read_text())
    assert saved["ece"] == pytest.approx(metrics["test/ece"], abs=1e-6) and sum(saved["bins"]["count"]) == len(y)
    assert (tmp_path / "reliability.png").stat().st_size > 0
    assert (tmp_path / "confusion_matrix.png").stat().st_size > 0
