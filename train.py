"""Train a model: ``python train.py model=tscnn data=stocks`` (see conf/train.yaml)."""

from seqconv.cli.train import entry

if __name__ == "__main__":
    entry()
