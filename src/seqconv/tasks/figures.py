"""Figures a task saves into its run dir and hands to the loggers that take images."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first

__all__ = ["plt", "publish_figure"]


def publish_figure(task: L.LightningModule, fig: plt.Figure, name: str) -> Path:
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
    plt.close(fig)
    return path
