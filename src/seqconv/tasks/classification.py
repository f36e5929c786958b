"""ClassificationTask: cross-entropy, accuracy, macro F1, AUROC and a confusion matrix around any classifier."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    BinaryAUROC,
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
)

from seqconv.errors import ConfigError
from seqconv.tasks.base import SPLITS, SeqTask
from seqconv.tasks.figures import plt, publish_figure

__all__ = ["ClassificationTask"]

log = logging.getLogger(__name__)


class ClassificationTask(SeqTask):
    """Train a network that maps ``batch["x"]`` to class logits ``[B, num_classes]``.

    Logs ``{split}/loss``, ``{split}/acc``, ``{split}/f1_macro`` and, for two classes, ``{split}/auroc``. At the
    end of testing the confusion matrix is saved as ``confusion_matrix.png`` (and ``.json``) in the trainer's
    ``default_root_dir`` and handed to loggers that take images.

    Args:
        net: the network.
        optimizer: ``_partial_`` optimizer factory taking ``params``.
        num_classes: number of classes, from the datamodule.
        class_names: names of the classes in index order, from the datamodule.
        scheduler: optional ``_partial_`` scheduler factory taking ``optimizer``.
        label_smoothing: cross-entropy label smoothing in ``[0, 1)``.
        class_weights: optional per-class loss weights (length ``num_classes``).
        monitor: metric a scheduler like ``ReduceLROnPlateau`` watches.
        nonfinite_loss: ``"raise"`` or ``"skip"`` a batch whose training loss is NaN or infinite.
        max_skipped_batches: with ``"skip"``, how many batches may be skipped before training stops.
        train_metrics: also compute the metrics on training batches (only ``train/loss`` otherwise).
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        num_classes: int,
        class_names: Sequence[str] | None = None,
        scheduler: Callable[..., Any] | None = None,
        label_smoothing: float = 0.0,
        class_weights: Sequence[float] | None = None,
        monitor: str = "val/loss",
        nonfinite_loss: str = "raise",
        max_skipped_batches: int = 10,
        train_metrics: bool = False,
    ) -> None:
        super().__init__(net, optimizer, scheduler, monitor, nonfinite_loss, max_skipped_batches, train_metrics)
        if num_classes < 2:
            raise ConfigError(f"classification needs at least 2 classes, the data has {num_classes}")
        if not 0.0 <= label_smoothing < 1.0:
            raise ConfigError(f"task.label_smoothing must be in [0, 1), got {label_smoothing}")
        if class_weights is not None and len(class_weights) != num_classes:
            raise ConfigError(f"task.class_weights has {len(class_weights)} entries for {num_classes} classes")
        self.save_hyperparameters(logger=False, ignore=["net", "optimizer", "scheduler"])
        self.class_names = list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
        weights = torch.tensor(class_weights, dtype=torch.float32) if class_weights is not None else None
        self.register_buffer("class_weights", weights, persistent=False)
        self.metrics = nn.ModuleDict({f"{s}_metrics": self._metrics(num_classes) for s in SPLITS})
        self.confusion = MulticlassConfusionMatrix(num_classes)

    @staticmethod
    def _metrics(num_classes: int) -> MetricCollection:
        metrics: dict[str, nn.Module] = {
            "acc": MulticlassAccuracy(num_classes, average="micro"),
            "f1_macro": MulticlassF1Score(num_classes, average="macro"),
        }
        if num_classes == 2:
            metrics["auroc"] = BinaryAUROC()
        return MetricCollection(metrics)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, num_classes]``."""
        return self.net(x)

    def _forward_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self(batch["x"])
        loss = F.cross_entropy(
            logits, batch["y"], weight=self.class_weights, label_smoothing=self.hparams.label_smoothing
        )
        return loss, logits

    def _update_metrics(self, split: str, outputs: torch.Tensor, batch: dict[str, torch.Tensor]) -> None:
        probs, target = outputs.detach().float().softmax(dim=-1), batch["y"]
        for name, metric in self.metrics[f"{split}_metrics"].items():
            metric.update(probs[:, 1] if name == "auroc" else probs, target)
        if split == "test":
            self.confusion.update(probs, target)

    def _compute_metrics(self, split: str) -> dict[str, torch.Tensor]:
        collection = self.metrics[f"{split}_metrics"]
        values = collection.compute()
        collection.reset()
        return values

    def on_test_epoch_end(self) -> None:
        super().on_test_epoch_end()
        matrix = self.confusion.compute().cpu()
        self.confusion.reset()
        if self.trainer.is_global_zero and not self.trainer.sanity_checking:
            self._save_confusion(matrix)

    def _save_confusion(self, matrix: torch.Tensor) -> None:
        out = Path(self.trainer.default_root_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "confusion_matrix.json").write_text(
            json.dumps({"classes": self.class_names, "matrix": matrix.tolist()}, indent=1)
        )
        size = max(4.0, 0.5 * len(self.class_names) + 2)
        fig, ax = plt.subplots(figsize=(size, size))
        ax.imshow(matrix.numpy(), cmap="Blues")
        ticks = range(len(self.class_names))
        ax.set_xticks(ticks, self.class_names, rotation=45, ha="right")
        ax.set_yticks(ticks, self.class_names)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        for i in ticks:
            for j in ticks:
                ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=8)
        fig.tight_layout()
        publish_figure(self, fig, "confusion_matrix")
