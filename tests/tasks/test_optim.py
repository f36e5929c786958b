"""Schedulers: a whole-run schedule (OneCycleLR) is stepped per batch over exactly the run's steps; others per epoch."""

import functools

import lightning as L
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from seqconv.errors import ConfigError
from seqconv.tasks import ClassificationTask, build_optimization
from seqconv.tasks.optim import spans_run

ONE_CYCLE = functools.partial(torch.optim.lr_scheduler.OneCycleLR, max_lr=0.1)
PLATEAU = functools.partial(torch.optim.lr_scheduler.ReduceLROnPlateau, mode="min")


class _LearningRates(L.Callback):
    def __init__(self) -> None:
        self.rates: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.rates.append(trainer.optimizers[0].param_groups[0]["lr"])


def _loader(n: int) -> DataLoader:
    x = torch.randn(n, 1, 4, generator=torch.Generator().manual_seed(0))
    return DataLoader([{"x": x[i], "y": int(x[i, 0, 0] > 0)} for i in range(n)], batch_size=8)


def _fit(scheduler, **trainer_kwargs) -> tuple[_LearningRates, L.Trainer]:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    task = ClassificationTask(net, functools.partial(torch.optim.SGD, lr=0.1), num_classes=2, scheduler=scheduler)
    rates = _LearningRates()
    trainer = L.Trainer(
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        callbacks=[rates], **trainer_kwargs,
    )  # fmt: skip
    trainer.fit(task, train_dataloaders=_loader(40), val_dataloaders=_loader(16))
    return rates, trainer


def test_one_cycle_spans_exactly_the_runs_steps_and_is_stepped_per_batch():
    rates, trainer = _fit(ONE_CYCLE, max_epochs=3)  # 5 batches per epoch: 15 steps
    assert trainer.global_step == 15
    # the same schedule stepped by hand over 15 steps: warm-up to max_lr, then anneal to ~0
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    reference = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=15)
    expected = []
    for _ in range(15):
        expected.append(opt.param_groups[0]["lr"])
        opt.step()
        reference.step()
    assert rates.rates == pytest.approx(expected)
    assert len(set(rates.rates[:5])) == 5  # changes within an epoch, not once per epoch
    assert max(rates.rates) == pytest.approx(0.1, rel=0.05) and rates.rates[-1] < 0.01


def test_one_cycle_follows_max_steps_and_limit_train_batches():
    rates, trainer = _fit(ONE_CYCLE, max_epochs=10, limit_train_batches=2, max_steps=7)
    assert trainer.global_step == 7 and len(rates.rates) == 7
    assert rates.rates[-1] < 0.01  # annealed by the last of the 7 steps: the schedule was sized to 7


def test_plateau_steps_once_per_epoch_on_the_monitored_metric():
    optimization = build_optimization(nn.Linear(2, 2), functools.partial(torch.optim.SGD, lr=0.1), PLATEAU, "val/loss")
    assert optimization["lr_scheduler"]["interval"] == "epoch"
    assert optimization["lr_scheduler"]["monitor"] == "val/loss"


@pytest.mark.parametrize(
    ("scheduler", "expected"),
    [
        (ONE_CYCLE, True),
        (functools.partial(torch.optim.lr_scheduler.OneCycleLR, max_lr=0.1, total_steps=100), False),
        (functools.partial(torch.optim.lr_scheduler.OneCycleLR, max_lr=0.1, epochs=3, steps_per_epoch=5), False),
        (PLATEAU, False),
        (functools.partial(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=10), False),
    ],
    ids=["one-cycle", "given-total", "given-epochs", "plateau", "cosine"],
)
def test_spans_run_only_when_the_length_is_left_to_the_trainer(scheduler, expected):
    assert spans_run(scheduler) is expected


def test_a_whole_run_schedule_without_a_finite_length_names_the_keys():
    with pytest.raises(ConfigError, match=r"trainer\.max_epochs or trainer\.max_steps.*model\.scheduler\.total_steps"):
        build_optimization(
            nn.Linear(2, 2), functools.partial(torch.optim.SGD, lr=0.1), ONE_CYCLE, "val/loss", float("inf")
        )


def test_resuming_a_one_cycle_run_with_a_longer_budget_stops_before_training(tmp_path):
    """The schedule's length comes back from the checkpoint: asking for more epochs is refused up front."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    def fit(max_epochs: int, ckpt_path=None) -> L.Trainer:
        torch.manual_seed(0)
        net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
        task = ClassificationTask(net, functools.partial(torch.optim.SGD, lr=0.1), num_classes=2, scheduler=ONE_CYCLE)
        trainer = L.Trainer(
            max_epochs=max_epochs, logger=False, enable_progress_bar=False, enable_model_summary=False,
            callbacks=[ModelCheckpoint(dirpath=tmp_path, filename="last")],
        )  # fmt: skip
        trainer.fit(task, train_dataloaders=_loader(40), val_dataloaders=_loader(16), ckpt_path=ckpt_path)
        return trainer

    fit(2)
    assert fit(2, tmp_path / "last.ckpt").global_step == 10  # the same budget resumes (nothing left to do)
    with pytest.raises(ConfigError, match=r"spans 10 steps, and this run asks for 15: resume with the trainer"):
        fit(3, tmp_path / "last.ckpt")
