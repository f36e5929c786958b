"""Checkpoints written atomically: a kill during a save never leaves a truncated file behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from seqconv.utils.io import write_atomic

__all__ = ["AtomicCheckpointIO"]


class AtomicCheckpointIO(TorchCheckpointIO):
    """Save to a temporary file in the target directory, fsync it, ``os.replace`` it over the target, then
    fsync the directory. Readers see the old checkpoint or the new one, never half of one. Local paths only;
    remote URLs fall back to Lightning's own saving."""

    def _write(self, checkpoint: dict[str, Any], f: BinaryIO) -> None:
        torch.save(checkpoint, f)

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None) -> None:
        if "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        write_atomic(path, lambda f: self._write(checkpoint, f))
