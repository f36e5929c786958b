"""Export a trained model: ``python export.py ckpt_path=<ckpt> format=onnx`` (see conf/export.yaml)."""

from seqconv.cli.export import entry

if __name__ == "__main__":
    entry()
