"""Training infrastructure: atomic checkpoints, resuming, seeding, loggers."""

from seqconv.training.callbacks import EpochSeed, SaveRunConfig
from seqconv.training.checkpoint_io import AtomicCheckpointIO
from seqconv.training.loggers import ResumableCSVLogger
from seqconv.training.resume import find_resume_checkpoint, is_valid_checkpoint

__all__ = [
    "AtomicCheckpointIO",
    "EpochSeed",
    "ResumableCSVLogger",
    "SaveRunConfig",
    "find_resume_checkpoint",
    "is_valid_checkpoint",
]
