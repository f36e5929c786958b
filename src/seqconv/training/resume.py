"""Find the checkpoint to resume from: the newest one in a run dir that actually loads."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from seqconv.errors import ConfigError

__all__ = ["find_resume_checkpoint", "is_valid_checkpoint"]

log = logging.getLogger(__name__)


def is_valid_checkpoint(path: Path) -> bool:
    """Whether ``path`` loads as a complete Lightning checkpoint (safely: ``weights_only=True``)."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 - any failure means "not usable"
        return False
    return isinstance(checkpoint, dict) and "state_dict" in checkpoint and "loops" in checkpoint


def _progress(path: Path) -> tuple[int, float]:
    checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    return int(checkpoint.get("global_step", 0)), path.stat().st_mtime


def find_resume_checkpoint(checkpoint_dir: str | Path) -> Path:
    """The valid ``*.ckpt`` in ``checkpoint_dir`` with the most training steps (newest on ties).

    Truncated or unreadable files (a crash mid-save without atomic writes, a full disk) are skipped with a
    warning.

    Raises:
        ConfigError: no valid checkpoint exists there.
    """
    checkpoint_dir = Path(checkpoint_dir)
    candidates = sorted(checkpoint_dir.glob("*.ckpt")) if checkpoint_dir.is_dir() else []
    valid = []
    for path in candidates:
        if is_valid_checkpoint(path):
            valid.append(path)
        else:
            log.warning("skipping %s: not a complete checkpoint", path)
    if not valid:
        raise ConfigError(
            f"ckpt_path=last: no valid checkpoint in {checkpoint_dir}; point hydra.run.dir at the run dir to "
            "resume (the folder that holds checkpoints/), or pass ckpt_path=<file.ckpt>"
        )
    return max(valid, key=_progress)
