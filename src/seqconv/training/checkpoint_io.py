"""Checkpoints written atomically (a kill during a save never leaves a truncated file behind), and read back
safely (``weights_only``) with the run config and fitted preprocessor that ``train.py`` stores in them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from seqconv.errors import ConfigError
from seqconv.utils.io import write_atomic

__all__ = ["CONFIG_KEY", "PREPROCESSOR_KEY", "AtomicCheckpointIO", "load_run_checkpoint"]

# where train.py stores the resolved run config and the fitted preprocessor in every checkpoint
CONFIG_KEY, PREPROCESSOR_KEY = "seqconv_config", "seqconv_preprocessor"


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


def load_run_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a ``train.py`` checkpoint on the CPU (``weights_only``: no pickled code), with a clear error for a
    missing, foreign or outdated file.

    Raises:
        ConfigError: no such file, not a PyTorch checkpoint, or not one that ``train.py`` wrote.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"ckpt_path={str(path)!r}: no such file (look under <run dir>/checkpoints/)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any load failure means "not a (safe) checkpoint"
        raise ConfigError(f"ckpt_path={str(path)!r} is not a readable PyTorch checkpoint ({err})") from None
    if not isinstance(checkpoint, dict) or CONFIG_KEY not in checkpoint:
        raise ConfigError(
            f"ckpt_path={str(path)!r} is not a seqconv training checkpoint (no stored run config); "
            "pass a .ckpt written by train.py"
        )
    if PREPROCESSOR_KEY not in checkpoint:
        raise ConfigError(
            f"ckpt_path={str(path)!r} was written by an earlier seqconv that did not store the fitted preprocessor "
            "(scalers, tokenizer, class map) with the weights; retrain it with this version"
        )
    return checkpoint
