"""Non-finite values never reach the weights or the best checkpoint."""

import functools

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader

from seqconv.tasks import ClassificationTask


class _BreaksAfterEpoch(nn.Module):
    """A classifier whose outputs turn NaN in evaluation from epoch ``k`` on (as a diverged model's would)."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 2)
        self.k, self.epoch = k, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.linear(x.flatten(1))
        return logits * float("nan") if not self.training and self.epoch >= self.k else logits


class _EpochCounter(L.Callback):
    def on_train_epoch_start(self, trainer, pl_module):
        pl_module.net.epoch = trainer.current_epoch


def _loader() -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 1, 4, generator=g)
    return DataLoader([{"x": x[i], "y": int(x[i, 0, 0] > 0)} for i in range(32)], batch_size=8)


def test_a_nan_validation_loss_never_becomes_the_best_checkpoint(tmp_path):
    task = ClassificationTask(_BreaksAfterEpoch(k=2), functools.partial(torch.optim.SGD, lr=0.1), num_classes=2)
    checkpoint = ModelCheckpoint(
        dirpath=tmp_path, filename="epoch_{epoch}", auto_insert_metric_name=False, monitor="val/loss", save_top_k=1
    )
    trainer = L.Trainer(
        max_epochs=4, callbacks=[checkpoint, _EpochCounter()], logger=False, enable_progress_bar=False,
        accelerator="cpu", num_sanity_val_steps=0,
    )  # fmt: skip
    trainer.fit(task, _loader(), _loader())
    assert torch.isnan(trainer.callback_metrics["val/loss"])  # the last epochs really were NaN
    assert checkpoint.best_model_path.rsplit("/", 1)[-1] in ("epoch_0.ckpt", "epoch_1.ckpt")  # before the NaNs
    state = torch.load(checkpoint.best_model_path, weights_only=True)["state_dict"]
    assert all(torch.isfinite(v).all() for v in state.values())
