"""Figures a task saves into its run dir and hands to the loggers that take images.

matplotlib loads when the first figure is drawn (after test), not when seqconv is imported: ``plt`` is
``matplotlib.pyplot`` with the Agg backend, resolved on first use (``from seqconv.tasks.figures import plt`` inside
the function that draws).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import lightning as L
import numpy as np
import torch

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["confusion_figure", "publish_figure", "reliability_figure"]  # and `plt`, on first use (below)


def _pyplot() -> ModuleType:
    """``matplotlib.pyplot`` on the Agg backend (files only, no display), imported on the first call."""
    import matplotlib

    matplotlib.use("Agg")  # a no-op once chosen
    import matplotlib.pyplot as plt

    return plt


def __getattr__(name: str) -> ModuleType:
    """``plt``: matplotlib loads only when a figure is drawn (PEP 562)."""
    if name == "plt":
        return _pyplot()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def publish_figure(task: L.LightningModule, fig: Figure, name: str) -> Path:
    """Save ``fig`` as ``<default_root_dir>/<name>.png``, log it to TensorBoard (``add_figure``) or to loggers
    with ``log_image`` (W&B) under ``test/<name>``, and close it."""
    out = Path(task.trainer.default_root_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.png"
    fig.savefig(path, dpi=100)
    for logger in task.loggers:
        experiment = getattr(logger, "experiment", None)
        if hasattr(experiment, "add_figure"):  # TensorBoard
            experiment.add_figure(f"test/{name}", fig, global_step=task.global_step)
        elif hasattr(logger, "log_image"):  # W&B and others
            logger.log_image(key=f"test/{name}", images=[str(path)])
    _pyplot().close(fig)
    return path


def confusion_figure(matrix: torch.Tensor, class_names: Sequence[str]) -> Figure:
    """A confusion matrix ``[K, K]`` (rows: true class, columns: predicted) with the counts written in."""
    size = max(4.0, 0.5 * len(class_names) + 2)
    fig, ax = _pyplot().subplots(figsize=(size, size))
    ax.imshow(matrix.numpy(), cmap="Blues")
    ticks = range(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=45, ha="right")
    ax.set_yticks(ticks, class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in ticks:
        for j in ticks:
            ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=8)
    fig.tight_layout()
    return fig


def reliability_figure(bins: dict[str, list[float]], ece: float, title: str = "") -> Figure:
    """A reliability diagram: accuracy against mean confidence per bin (bars), the diagonal of perfect
    calibration, and the share of predictions per bin below; ``bins`` as from
    :meth:`~seqconv.tasks.calibration.ReliabilityBins.bins`."""
    lower, upper = np.asarray(bins["lower"]), np.asarray(bins["upper"])
    width, count = upper - lower, np.asarray(bins["count"])
    accuracy = np.nan_to_num(np.asarray(bins["accuracy"]))
    confidence = np.asarray(bins["confidence"])
    fig, (top, bottom) = _pyplot().subplots(2, 1, figsize=(5, 6), height_ratios=[3, 1], sharex=True)
    top.bar(lower, accuracy, width=width, align="edge", edgecolor="black", color="tab:blue", label="accuracy")
    gap = np.where(count > 0, np.nan_to_num(confidence) - accuracy, 0.0)
    top.bar(lower, gap, bottom=accuracy, width=width, align="edge", color="tab:red", alpha=0.3, label="gap")
    top.plot([0, 1], [0, 1], "k--", linewidth=1, label="perfect calibration")
    top.set_ylabel("accuracy")
    top.set_ylim(0, 1)
    top.set_title(f"{title + ': ' if title else ''}ECE {ece:.4f}")
    top.legend(loc="upper left", fontsize=8)
    bottom.bar(lower, count / max(count.sum(), 1), width=width, align="edge", edgecolor="black", color="gray")
    bottom.set_xlabel("confidence (top-1 probability)")
    bottom.set_ylabel("share")
    bottom.set_xlim(0, 1)
    fig.tight_layout()
    return fig
