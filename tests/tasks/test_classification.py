import functools

import lightning as L
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from seqconv.errors import ConfigError
from seqconv.tasks import ClassificationTask


def _task(num_classes: int = 2, **kwargs) -> ClassificationTask:
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, num_classes))
    return ClassificationTask(net, functools.partial(torch.optim.Adam, lr=0.05), num_classes=num_classes, **kwargs)


def _loader(n: int = 64, num_classes: int = 2) -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 1, 4, generator=g)
    y = (x[:, 0, 0] > 0).long() if num_classes == 2 else torch.randint(0, num_classes, (n,), generator=g)
    items = [{"x": x[i], "y": y[i]} for i in range(n)]
    return DataLoader(items, batch_size=16)


def test_learns_a_separable_problem_and_writes_the_confusion_matrix(tmp_path):
    task = _task(class_names=["neg", "pos"])
    trainer = L.Trainer(
        max_epochs=15,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        default_root_dir=tmp_path,
        accelerator="cpu",
    )
    trainer.fit(task, _loader(), _loader())
    metrics = trainer.test(task, _loader(), verbose=False)[0]
    assert metrics["test/acc"] > 0.9
    assert {"test/loss", "test/f1_macro", "test/auroc"} <= metrics.keys()
    assert (tmp_path / "confusion_matrix.png").stat().st_size > 0
    matrix = __import__("json").loads((tmp_path / "confusion_matrix.json").read_text())
    assert matrix["classes"] == ["neg", "pos"] and sum(map(sum, matrix["matrix"])) == 64


def test_multiclass_has_no_auroc_and_weights_must_match_classes():
    assert "auroc" not in _task(num_classes=3).metrics["val_metrics"]
    with pytest.raises(ConfigError, match="class_weights has 2 entries for 3 classes"):
        _task(num_classes=3, class_weights=[1.0, 2.0])
    with pytest.raises(ConfigError, match="label_smoothing"):
        _task(label_smoothing=1.0)


def test_an_ensembles_members_each_learn_on_their_own_loss():
    from seqconv.models import TextCNN

    torch.manual_seed(0)
    batch = {"x": torch.randint(1, 30, (6, 10)), "y": torch.tensor([0, 1, 0, 1, 1, 0])}
    kim = TextCNN(30, 2, embedding_dim=8, num_filters=4, dropout=0.0)
    both = TextCNN(30, 2, embedding_dim=8, num_filters=4, dropout=0.0, ngram_buckets=17)
    both.load_state_dict(kim.state_dict(), strict=False)  # the same CNN member
    both.init_from_data([batch])
    tasks = [ClassificationTask(net, torch.optim.SGD, num_classes=2).train() for net in (kim, both)]
    losses = [task._forward_loss(batch)[0] for task in tasks]
    cnn, ngrams = both.forward_members(batch["x"])
    expected = (nn.functional.cross_entropy(cnn, batch["y"]) + nn.functional.cross_entropy(ngrams, batch["y"])) / 2
    torch.testing.assert_close(losses[1], expected)
    for loss in losses:
        loss.backward()
    # the n-gram member changes nothing in the CNN's gradients but their scale (the mean of two losses)
    members = dict(both.named_parameters())
    for name, p in kim.named_parameters():
        torch.testing.assert_close(members[name].grad, p.grad / 2, msg=name)
    assert both.ngrams.scale.grad.abs().sum() > 0
    tasks[1].eval()  # validation and test score what is served: the combined logits
    loss, logits = tasks[1]._forward_loss(batch)
    torch.testing.assert_close(logits, both(batch["x"]))
    torch.testing.assert_close(loss, nn.functional.cross_entropy(both(batch["x"]), batch["y"]))
