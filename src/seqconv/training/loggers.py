"""Loggers that continue a run when it is resumed instead of starting it over."""

from __future__ import annotations

import csv
import netrc
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers import CSVLogger, WandbLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter

__all__ = ["RUN_ID_FILE", "ResumableCSVLogger", "SeqconvWandbLogger", "finish_wandb_run"]

RUN_ID_FILE = "wandb_run_id"


class _AppendingWriter(ExperimentWriter):
    """Lightning's CSV writer deletes an existing ``metrics.csv``; this one keeps it and appends."""

    def _check_log_dir_exists(self) -> None:
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as f:
                self.metrics_keys = list(csv.DictReader(f).fieldnames or [])


class ResumableCSVLogger(CSVLogger):
    """A :class:`~lightning.pytorch.loggers.CSVLogger` that appends to the run's ``metrics.csv`` when a run
    is resumed in the same directory (``ckpt_path=last``)."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment


def _api_key_configured() -> bool:
    """Whether W&B could log in without asking: a key in the environment or in ~/.netrc."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def _multirun_group() -> str | None:
    """``<task>-<sweep dir name>`` inside a Hydra multirun, so that its jobs form one W&B group."""
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    hydra_cfg = HydraConfig.get()
    return f"{hydra_cfg.job.name}-{Path(hydra_cfg.sweep.dir).name}"


def _run_id(save_dir: Path) -> str:
    """The W&B run id stored in the run dir (created on first use), so a resumed run continues the same W&B run."""
    path = save_dir / RUN_ID_FILE
    if path.is_file():
        return path.read_text().strip()
    save_dir.mkdir(parents=True, exist_ok=True)
    run_id = secrets.token_hex(4)
    try:
        with open(path, "x") as f:  # another rank may have won the race: then use its id
            f.write(run_id)
    except FileExistsError:
        return path.read_text().strip()
    return run_id


class SeqconvWandbLogger(WandbLogger):
    """Lightning's :class:`~lightning.pytorch.loggers.WandbLogger` with seqconv's defaults.

    * offline when no API key is configured (``WANDB_API_KEY`` or ``~/.netrc``), online otherwise;
      ``offline=true|false`` forces it;
    * the run id lives in ``<run dir>/wandb_run_id``: ``ckpt_path=last`` continues the same W&B run;
    * the jobs of a Hydra multirun form one W&B group.

    Args:
        save_dir: the run dir; W&B writes under ``<save_dir>/wandb``.
        project: W&B project.
        offline: ``None`` decides from the API key as above.
        group: W&B group; ``None`` groups multirun jobs by sweep.
        log_model: upload checkpoints as W&B artifacts (``True`` at the end, ``"all"`` as they are saved).
        **kwargs: passed on to :class:`~lightning.pytorch.loggers.WandbLogger` and ``wandb.init``.
    """

    def __init__(
        self,
        save_dir: str,
        project: str = "seqconv",
        offline: bool | None = None,
        group: str | None = None,
        log_model: bool | str = False,
        **kwargs: Any,
    ) -> None:
        save_path = Path(save_dir)
        offline = not _api_key_configured() if offline is None else offline
        super().__init__(
            save_dir=str(save_path),
            project=project,
            offline=offline,
            id=_run_id(save_path),
            resume="allow",
            group=group if group is not None else _multirun_group(),
            log_model=log_model,
            **kwargs,
        )


def finish_wandb_run() -> None:
    """Close the active W&B run (if any) so that the next job of a multirun starts its own."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish()
