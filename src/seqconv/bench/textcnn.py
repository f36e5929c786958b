"""Benchmark: train the default ``model=textcnn data=reviews`` config, report test accuracy and wall time.

Runs the real entry point (``seqconv-train``, i.e. ``train.py``) in a subprocess after preparing the data once in
this process, so the reported training time excludes the download, extraction and tokenization (which are cached
on disk). Paths are relative to the working directory, like ``train.py``'s:

    python -m seqconv.bench.textcnn                                  # IMDB from Stanford
    python -m seqconv.bench.textcnn --url http://127.0.0.1:8000/aclImdb_mirror.tar.gz --sha256 <sha>
    python -m seqconv.bench.textcnn --path /data/aclImdb

Only the epoch budget differs from the defaults (``--max-epochs``, and ``--max-minutes`` as a hard stop of
``trainer.max_time``); the checkpoint with the best validation loss is tested on the full test split.
Writes ``<out>/bench.json`` and prints one summary line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def data_overrides(args: argparse.Namespace) -> list[str]:
    """The Hydra overrides that point both the preparation and the training run at the same data."""
    overrides = [f"paths.data_dir={args.data_dir}"]
    if args.path:
        overrides.append(f"data.path={args.path}")
    if args.url:
        overrides.append(f"data.url={args.url}")
    if args.sha256:
        overrides.append(f"data.sha256={args.sha256}")
    return overrides


def prepare(overrides: list[str]) -> dict:
    """Download, extract and tokenize once (cached on disk), exactly as the training run will."""
    from hydra import compose, initialize_config_module
    from hydra.utils import instantiate

    with initialize_config_module("seqconv.conf", version_base="1.3"):
        cfg = compose("train", overrides=[*overrides, "data=reviews", "data.vocab_file=null", "paths.root_dir=."])
    datamodule = instantiate(cfg.data, _convert_="all")
    datamodule.prepare_data()
    datamodule.setup("fit")
    return {split: len(ds) for split, ds in datamodule.datasets.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m seqconv.bench.textcnn",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", help="data.url: an aclImdb .tar.gz mirror")
    parser.add_argument("--sha256", help="data.sha256 of that archive")
    parser.add_argument("--path", help="data.path: a local aclImdb folder, archive or table")
    parser.add_argument("--data-dir", type=Path, default=Path("data"), help="paths.data_dir (download cache)")
    parser.add_argument("--out", type=Path, default=Path("logs/bench_textcnn"), help="run folder")
    parser.add_argument("--max-epochs", type=int, default=4)
    parser.add_argument("--max-minutes", type=int, default=15, help="hard stop for training (trainer.max_time)")
    parser.add_argument("--threads", type=int, default=2, help="runtime.num_threads")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for the training run")
    args = parser.parse_args()
    args.data_dir, args.out = args.data_dir.resolve(), args.out.resolve()

    overrides = data_overrides(args)
    start = time.perf_counter()
    sizes = prepare(overrides)
    prepare_s = time.perf_counter() - start

    command = [
        sys.executable,
        "-m",
        "seqconv.cli.train",
        "model=textcnn",
        "data=reviews",
        *overrides,
        f"hydra.run.dir={args.out}",
        f"trainer.max_epochs={args.max_epochs}",
        f"+trainer.max_time=00:00:{args.max_minutes:02d}:00",
        f"runtime.num_threads={args.threads}",
        *args.overrides,
    ]
    print(" ".join(command), flush=True)
    start = time.perf_counter()
    proc = subprocess.run(command)
    train_s = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"seqconv.cli.train failed with exit status {proc.returncode}")
    metrics = json.loads((args.out / "metrics.json").read_text())
    result = {
        "test_acc": metrics["test/acc"],
        "test_f1_macro": metrics.get("test/f1_macro"),
        "test_auroc": metrics.get("test/auroc"),
        "split_sizes": sizes,
        "data_prepare_seconds": round(prepare_s, 1),
        "train_py_seconds": round(train_s, 1),
        "command": command,
    }
    (args.out / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"TextCNN: test accuracy {result['test_acc']:.4f} on {sizes['test']} test reviews | train.py wall time "
        f"{train_s / 60:.1f} min (fit + validation + test) | data preparation {prepare_s:.0f} s | {args.out}"
    )


if __name__ == "__main__":
    main()
