"""ClassificationTask: cross-entropy, accuracy, macro F1, AUROC, per-class results, a confusion matrix and the
expected calibration error with a reliability diagram, around any classifier."""

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

from seqconv.data.preprocessor import ClassifierPreprocessor
from seqconv.errors import ConfigError
from seqconv.tasks.base import SPLITS, SeqTask
from seqconv.tasks.baselines import check_baselines
from seqconv.tasks.calibration import ECE_BINS, ReliabilityBins
from seqconv.tasks.figures import confusion_figure, publish_figure, reliability_figure

__all__ = ["CALIBRATIONS", "ClassificationTask", "per_class_report"]

CALIBRATIONS = ("temperature",)

log = logging.getLogger(__name__)


class ClassificationTask(SeqTask):
    """Train a network that maps ``batch["x"]`` to class logits ``[B, num_classes]``.

    Logs ``{split}/loss``, ``{split}/acc``, ``{split}/f1_macro`` and, for two classes, ``{split}/auroc``; in
    testing also ``test/ece``, the expected calibration error over 15 confidence bins (:class:`ReliabilityBins`).
    At the end of testing the confusion matrix and the reliability diagram are saved as
    ``confusion_matrix.png`` / ``reliability.png`` (each with a ``.json``) in the trainer's ``default_root_dir``
    and handed to loggers that take images, and :attr:`test_report` holds precision, recall, F1 and support per
    class (``{"per_class": {name: {...}}}``, what ``metrics.json`` nests under ``per_class``).

    When the datamodule's preprocessor holds a fitted temperature (``calibration="temperature"``, fitted by
    ``train.py`` on the validation split), ``test/ece`` and the diagram are those of its calibrated
    probabilities (:meth:`~seqconv.data.preprocessor.ClassifierPreprocessor.probabilities`, what ``predict.py``
    reports) and ``test/ece_uncalibrated`` is the network's own; accuracy, F1, AUROC and the loss do not change.

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
        baselines: baselines ``train.py`` fits on the training split and scores beside the network once the
            network is tested (:mod:`seqconv.tasks.baselines`): ``"majority"`` and/or ``"linear"``; ``None``: none.
        calibration: ``"temperature"``: ``train.py`` fits one temperature on the validation split after training
            (:func:`~seqconv.tasks.calibration.fit_temperature`) and stores it in the preprocessor; ``None``: none.
    """

    progress_bar_metrics = ("loss", "acc")

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
        baselines: Sequence[str] | None = None,
        calibration: str | None = None,
    ) -> None:
        super().__init__(net, optimizer, scheduler, monitor, nonfinite_loss, max_skipped_batches, train_metrics)
        if num_classes < 2:
            raise ConfigError(f"classification needs at least 2 classes, the data has {num_classes}")
        if not 0.0 <= label_smoothing < 1.0:
            raise ConfigError(f"task.label_smoothing must be in [0, 1), got {label_smoothing}")
        if class_weights is not None and len(class_weights) != num_classes:
            raise ConfigError(f"task.class_weights has {len(class_weights)} entries for {num_classes} classes")
        if calibration is not None and calibration not in CALIBRATIONS:
            raise ConfigError(f"unknown task.calibration={calibration!r}; choose one of {list(CALIBRATIONS)} or null")
        self.baselines, self.calibration = check_baselines(baselines), calibration
        self.save_hyperparameters(logger=False, ignore=["net", "optimizer", "scheduler"])
        self.class_names = list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
        weights = torch.tensor(class_weights, dtype=torch.float32) if class_weights is not None else None
        self.register_buffer("class_weights", weights, persistent=False)
        self.metrics = nn.ModuleDict({f"{s}_metrics": self._metrics(num_classes) for s in SPLITS})
        self.confusion = MulticlassConfusionMatrix(num_classes)
        self.reliability = ReliabilityBins(ECE_BINS)
        self.reliability_uncalibrated = ReliabilityBins(ECE_BINS)
        self._calibrator: ClassifierPreprocessor | None = None

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

    def _loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, target, weight=self.class_weights, label_smoothing=self.hparams.label_smoothing)

    def _forward_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        members = getattr(self.net, "forward_members", None)
        if self.training and members is not None:  # an ensemble (net.combine joins them): each member learns
            outputs = members(batch["x"])  # on its own loss; train/loss is their mean
            loss = torch.stack([self._loss(m, batch["y"]) for m in outputs]).mean()
            return loss, self.net.combine(outputs)
        logits = self(batch["x"])
        return self._loss(logits, batch["y"]), logits

    def _update_metrics(self, split: str, outputs: torch.Tensor, batch: dict[str, torch.Tensor]) -> None:
        probs, target = outputs.detach().float().softmax(dim=-1), batch["y"]
        for name, metric in self.metrics[f"{split}_metrics"].items():
            metric.update(probs[:, 1] if name == "auroc" else probs, target)
        if split == "test":
            self.confusion.update(probs, target)
            if self._calibrator is None:
                self.reliability.update(probs, target)
            else:
                self.reliability.update(self._calibrator.probabilities(outputs.detach()), target)
                self.reliability_uncalibrated.update(probs, target)

    def _compute_metrics(self, split: str) -> dict[str, torch.Tensor]:
        collection = self.metrics[f"{split}_metrics"]
        values = collection.compute()
        collection.reset()
        if split == "test":
            values["ece"] = self.reliability.compute()
            if self._calibrator is not None:
                values["ece_uncalibrated"] = self.reliability_uncalibrated.compute()
        return values

    def on_test_epoch_start(self) -> None:
        # the calibration predict.py applies: the datamodule's preprocessor, when it holds a temperature
        datamodule = self.trainer.datamodule
        pre = datamodule.preprocessor if datamodule is not None else None
        calibrated = isinstance(pre, ClassifierPreprocessor) and pre.temperature is not None
        self._calibrator = pre if calibrated else None

    def on_test_epoch_end(self) -> None:
        super().on_test_epoch_end()  # logs test/ece from the bins, which are read once more below
        matrix = self.confusion.compute().cpu()
        bins, ece = self.reliability.bins(), float(self.reliability.compute())
        self.confusion.reset()
        self.reliability.reset()
        self.reliability_uncalibrated.reset()
        self.test_report = {"per_class": per_class_report(matrix, self.class_names)}
        if self.trainer.is_global_zero and not self.trainer.sanity_checking:
            self._save_figures(matrix, bins, ece)

    def _save_figures(self, matrix: torch.Tensor, bins: dict[str, list[float]], ece: float) -> None:
        temperature = self._calibrator.temperature if self._calibrator is not None else None
        out = Path(self.trainer.default_root_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "confusion_matrix.json").write_text(
            json.dumps({"classes": self.class_names, "matrix": matrix.tolist()}, indent=1)
        )
        publish_figure(self, confusion_figure(matrix, self.class_names), "confusion_matrix")
        (out / "reliability.json").write_text(
            json.dumps({"ece": ece, "temperature": temperature, "bins": bins}, indent=1)
        )
        title = "uncalibrated" if temperature is None else f"temperature {temperature:.3g}"
        publish_figure(self, reliability_figure(bins, ece, title), "reliability")


def per_class_report(matrix: torch.Tensor, class_names: Sequence[str]) -> dict[str, dict[str, float | int]]:
    """Precision, recall, F1 and support of each class from a confusion matrix ``[K, K]`` (rows: true class,
    columns: predicted), as scikit-learn's ``classification_report`` gives them (0 where a ratio has no
    denominator)."""
    matrix = matrix.double()
    hits = matrix.diagonal()  # [K]
    support, predicted = matrix.sum(dim=1), matrix.sum(dim=0)  # [K], [K]
    precision = torch.where(predicted > 0, hits / predicted.clamp(min=1), 0.0)
    recall = torch.where(support > 0, hits / support.clamp(min=1), 0.0)
    total = precision + recall
    f1 = torch.where(total > 0, 2 * precision * recall / total.clamp(min=1e-300), 0.0)
    return {
        name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(n)}
        for name, p, r, f, n in zip(class_names, precision, recall, f1, support, strict=True)
    }
