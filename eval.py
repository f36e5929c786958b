"""Re-test a checkpoint: ``python eval.py ckpt_path=logs/train/runs/<run>/checkpoints/last.ckpt``."""

from seqconv.cli.eval import entry

if __name__ == "__main__":
    entry()
