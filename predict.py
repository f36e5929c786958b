"""Predict on raw inputs: ``python predict.py ckpt_path=<ckpt> input=prices.csv`` (see conf/predict.yaml)."""

from seqconv.cli.predict import entry

if __name__ == "__main__":
    entry()
