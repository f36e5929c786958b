"""Training infrastructure: atomic checkpoints, resuming, seeding, loggers."""

from seqconv.training.callbacks import EpochSeed, InterruptGuard, SaveRunConfig
from seqconv.training.checkpoint_io import CONFIG_KEY, PREPROCESSOR_KEY, AtomicCheckpointIO, load_run_checkpoint
from seqconv.training.distributed import effective_batch_size, isolated_distributed_job, pin_ddp_relaunch_to_job
from seqconv.training.loggers import ResumableCSVLogger, SeqconvWandbLogger, finish_wandb_run
from seqconv.training.resume import find_resume_checkpoint, is_valid_checkpoint

__all__ = [
    "CONFIG_KEY",
    "PREPROCESSOR_KEY",
    "AtomicCheckpointIO",
    "EpochSeed",
    "InterruptGuard",
    "ResumableCSVLogger",
    "SaveRunConfig",
    "SeqconvWandbLogger",
    "effective_batch_size",
    "find_resume_checkpoint",
    "finish_wandb_run",
    "isolated_distributed_job",
    "is_valid_checkpoint",
    "load_run_checkpoint",
    "pin_ddp_relaunch_to_job",
]
