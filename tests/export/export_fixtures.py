"""Helpers of the export tests: checkpoints shaped like train.py's (run config, fitted preprocessor, ``net.*``
weights) for every model, without training. (The train = serve tests use checkpoints that train.py wrote.)

Each comes with real data on disk (the built-in S&P 500, a small reviews table, a folder of tones), so the
export's parity check on real inputs and prediction on raw files run the real datamodules.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from hydra.utils import instantiate

from seqconv.data import StandardScaler, StocksPreprocessor
from seqconv.data.audio import AudioPreprocessor
from seqconv.data.text import TextPreprocessor, create_tokenizer
from seqconv.models.ngrams import NBNgramBranch
from seqconv.training import CONFIG_KEY, PREPROCESSOR_KEY

MODELS = ("tscnn", "tcn", "textcnn", "audiocnn", "audiocnn_classic")
SAMPLE_RATE, CLIP = 8000, 2000

_STOCKS = {
    "_target_": "seqconv.data.StocksDataModule",
    "path": None,
    "features": ["close"],
    "target": "close",
    "transform": "log_return",
    "window": 30,
    "horizon": 1,
    "val_fraction": 0.15,
    "test_fraction": 0.15,
    "batch_size": 64,
    "nan_policy": "error",
    "date_column": "date",
}
_NETS = {
    "tscnn": {
        "_target_": "seqconv.models.TimeSeriesCNN",
        "in_channels": 1,
        "input_length": 30,
        "out_features": 1,
        "channels": [8, 16],
        "hidden": 12,
    },
    "tcn": {
        "_target_": "seqconv.models.TCNForecaster",
        "in_channels": 1,
        "out_features": 1,
        "channels": [8, 8, 8],
        "norm": "layer",
    },
    "textcnn": {
        "_target_": "seqconv.models.TextCNN",
        "num_classes": 2,
        "padding_idx": 0,
        "embedding_dim": 16,
        "kernel_sizes": [3, 4, 5],
        "num_filters": 8,
        "ngram_buckets": 31,  # the NBSVM branch too: its hashing, sort and gathers must export
        "pretrained_embeddings": None,
        "vocab_file": None,
    },
    "audiocnn": {
        "_target_": "seqconv.models.AudioClassifier",
        "num_classes": 2,
        "input_length": CLIP,
        "sample_rate": SAMPLE_RATE,
        "channels": [8, 8],
        "kernel_sizes": [40, 3],
        "strides": [4, 1],
        "pool_size": 4,
        "head": "avg",
    },
    "audiocnn_classic": {
        "_target_": "seqconv.models.AudioClassifier",
        "num_classes": 2,
        "input_length": CLIP,
        "sample_rate": SAMPLE_RATE,
        "channels": [4, 8],
        "kernel_sizes": [3, 3],
        "strides": [1, 1],
        "pool_size": 2,
        "padding": "valid",
        "norm": "none",
        "head": "flatten",
        "hidden": 16,
    },
}
POSITIVE = ["great movie, loved it", "a wonderful and moving story", "brilliant acting<br />and a fine plot"]
NEGATIVE = ["terrible movie, hated it", "a boring waste of time", "awful acting and a dull plot"]


def write_reviews(path: Path, rows: int = 60) -> Path:
    rng = random.Random(0)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        for i in range(rows):
            label = ("neg", "pos")[i % 2]
            writer.writerow([rng.choice(POSITIVE if label == "pos" else NEGATIVE), label])
    return path


def write_tones(root: Path, per_class: int = 6) -> Path:
    for label, name in enumerate(("high", "low")):
        for i in range(per_class):
            t = np.arange(CLIP) / SAMPLE_RATE
            wave = 0.5 * np.sin(2 * np.pi * (900 - 500 * label) * t) + 0.01 * np.random.default_rng(i).normal(size=CLIP)
            (root / name).mkdir(parents=True, exist_ok=True)
            sf.write(str(root / name / f"{i}.wav"), wave.astype(np.float32), SAMPLE_RATE)
    return root


def _data(model: str, root: Path) -> tuple[dict, dict, dict]:
    """``(data config, preprocessor state, net config)`` for ``model`` with data under ``root``."""
    net = dict(_NETS[model])
    if model in ("tscnn", "tcn"):
        pre = StocksPreprocessor(
            ["close"],
            "close",
            "log_return",
            30,
            1,
            "date",
            StandardScaler([3e-4], [0.012]),
            StandardScaler([2e-4], [0.011]),
        )
        return dict(_STOCKS), pre.state_dict(), net
    if model == "textcnn":
        table = write_reviews(root / "reviews.csv")
        tokenizer = create_tokenizer("word", min_freq=1).fit(POSITIVE + NEGATIVE)
        data = {
            "_target_": "seqconv.data.text.ReviewsDataModule",
            "data_dir": str(root / "imdb"),
            "path": str(table),
            "split_column": None,
            "tokenizer": {"kind": "word", "min_freq": 1},
            "max_length": 50,
            "vocab_file": None,
            "batch_size": 16,
        }
        net["vocab_size"] = tokenizer.vocab_size
        return data, TextPreprocessor(tokenizer, 50, ["neg", "pos"]).state_dict(), net
    folder = root / "tones"
    if not folder.is_dir():
        write_tones(folder)
    data = {
        "_target_": "seqconv.data.audio.AudioFolderDataModule",
        "path": str(folder),
        "sample_rate": SAMPLE_RATE,
        "clip_seconds": CLIP / SAMPLE_RATE,
        "normalize": "peak",
        "val_fraction": 0.2,
        "test_fraction": 0.3,
        "augment": None,
        "batch_size": 16,
    }
    return data, AudioPreprocessor(SAMPLE_RATE, CLIP, "peak", ["high", "low"]).state_dict(), net


def save_checkpoint(path: Path, config: dict, preprocessor: dict, net: torch.nn.Module) -> Path:
    weights = {f"net.{k}": v for k, v in net.state_dict().items()}
    torch.save({CONFIG_KEY: config, PREPROCESSOR_KEY: preprocessor, "state_dict": weights}, path)
    return path


def build_checkpoint(model: str, root: Path, seed: int = 0) -> Path:
    """A checkpoint of an untrained ``model`` (seeded weights) whose data lives under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    data, state, net_cfg = _data(model, root)
    task = "seqconv.tasks.ForecastingTask" if model in ("tscnn", "tcn") else "seqconv.tasks.ClassificationTask"
    config = {"model": {"net": net_cfg}, "task": {"_target_": task}, "data": data}
    torch.manual_seed(seed)
    net = instantiate(net_cfg, _convert_="all")
    for module in net.modules():  # non-trivial BatchNorm statistics and n-gram log-count ratios
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.normal_(0, 0.1)
            module.running_var.uniform_(0.5, 1.5)
        if isinstance(module, NBNgramBranch):
            module.ratios[:-1].normal_()
    return save_checkpoint(root / f"{model}.ckpt", config, state, net)
