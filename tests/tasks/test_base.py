"""SeqTask's per-step bookkeeping: the epoch training loss, the step loss's logging cadence, CPU batches."""

import csv
import functools
import warnings

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.trainer.connectors import data_connector
from torch import nn
from torch.utils.data import DataLoader

from seqconv.tasks import ClassificationTask


class _StepLosses(L.Callback):
    """Every training step's loss and batch size, as the task computed them."""

    def __init__(self) -> None:
        self.losses: list[tuple[float, int]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.losses.append((float(outputs["loss"]), len(batch["y"])))


def _loader(n: int, batch_size: int) -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 1, 4, generator=g)
    return DataLoader([{"x": x[i], "y": int(x[i, 0, 0] > 0)} for i in range(n)], batch_size=batch_size)


def _task() -> ClassificationTask:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    return ClassificationTask(net, functools.partial(torch.optim.SGD, lr=0.1), num_classes=2)


def test_epoch_training_loss_is_the_item_weighted_mean_and_step_losses_follow_the_logger_cadence(tmp_path, monkeypatch):
    steps, task = _StepLosses(), _task()
    calls = []
    log = task.log
    monkeypatch.setattr(task, "log", lambda name, *a, **k: (calls.append(name), log(name, *a, **k))[1])
    trainer = L.Trainer(
        max_epochs=2,
        logger=CSVLogger(tmp_path, name="", version=""),
        log_every_n_steps=3,
        callbacks=[steps],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    # 7 batches per epoch, the last one short (2 items): the epoch loss must weight items, not batches
    trainer.fit(task, train_dataloaders=_loader(50, 8), val_dataloaders=_loader(16, 8))
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    epoch_losses = [float(r["train/loss"]) for r in rows if r.get("train/loss")]
    for epoch in range(2):
        mine = steps.losses[epoch * 7 : (epoch + 1) * 7]
        expected = sum(loss * n for loss, n in mine) / sum(n for _, n in mine)
        assert epoch_losses[epoch] == pytest.approx(expected, rel=1e-5)
    logged = {int(r["step"]): float(r["train/loss_step"]) for r in rows if r.get("train/loss_step")}
    # Lightning writes step values every log_every_n_steps steps (step k logged as k - 1): exactly those are logged
    assert sorted(logged) == [s for s in range(14) if (s + 1) % 3 == 0]
    assert calls.count("train/loss_step") == len(logged)  # self.log is not called for steps nobody sees
    for step, value in logged.items():
        assert value == pytest.approx(steps.losses[step][0], rel=1e-5)


def _bare_trainer() -> L.Trainer:
    """One epoch, nothing besides the loop: no logger, checkpoints, progress bar or summary."""
    return L.Trainer(
        max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False
    )


def test_without_logger_or_progress_bar_the_step_loss_is_not_logged():
    trainer = _bare_trainer()
    task = _task()
    trainer.fit(task, train_dataloaders=_loader(16, 8))
    assert "train/loss_step" not in trainer.callback_metrics
    assert "train/loss" in trainer.callback_metrics


def test_the_progress_bar_shows_the_headline_values_and_the_loggers_get_every_value():
    trainer = _bare_trainer()
    trainer.fit(_task(), train_dataloaders=_loader(16, 8), val_dataloaders=_loader(16, 8))
    assert set(trainer.progress_bar_metrics) == {"val/loss", "val/acc"}
    assert {"val/loss", "val/acc", "val/f1_macro", "val/auroc", "train/loss"} <= set(trainer.callback_metrics)


def test_cpu_batches_are_handed_over_as_they_are():
    task = _task()
    batch = {"x": torch.zeros(2, 1, 4), "y": torch.zeros(2, dtype=torch.long)}
    assert task.transfer_batch_to_device(batch, torch.device("cpu"), 0) is batch
    moved = task.transfer_batch_to_device(batch, torch.device("meta"), 0)
    assert moved is not batch and moved["x"].device.type == "meta"


def test_fitting_with_a_datamodule_does_not_warn_about_the_batch_transfer_hook():
    class _Data(L.LightningDataModule):
        def train_dataloader(self):
            return _loader(16, 8)

    class _DataWithHook(_Data):
        def transfer_batch_to_device(self, batch, device, dataloader_idx):
            return batch

    def warnings_of(datamodule):
        trainer = _bare_trainer()
        data_connector.warning_cache.clear()  # Lightning warns once per process
        with warnings.catch_warnings(record=True) as caught:  # the filters in force, every warning recorded
            trainer.fit(_task(), datamodule=datamodule)
        return [str(w.message) for w in caught if "transfer_batch_to_device" in str(w.message)]

    assert warnings_of(_Data()) == []  # the task's hook runs, as intended: no notice
    # a datamodule's own hook wins over the task's, and Lightning's notice of that is kept
    assert any("both `LightningModule` and `LightningDataModule`" in m for m in warnings_of(_DataWithHook()))
