"""What the comparisons measure: composed configs, generated data sets, and one training step per model.

Every model runs at its default sizes on its default data: ``tscnn`` and ``tcn`` on ``data=stocks`` (the
built-in S&P 500), ``audiocnn`` on ``data=digits`` and ``textcnn`` on ``data=reviews``. The suite never downloads:
``digits`` reads a generated FSDD-layout folder (tones, one frequency per digit) and ``reviews`` a generated
table of IMDB-length texts, both through ``data.path``, so their loaders run the real decoding, augmentation,
tokenization and bucketing code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import nn

import seqconv.models
from seqconv.bench.measure import Context
from seqconv.pipeline import build_datamodule, build_task
from seqconv.tasks.optim import param_groups

__all__ = ["MODEL_DATA", "ModelCase", "Workloads", "compose_config", "has_textcnn", "train_step", "typical_batch"]

# each model on its default data (conf/model/<model>.yaml + conf/data/<data>.yaml)
MODEL_DATA = {"tscnn": "stocks", "tcn": "stocks", "audiocnn": "digits", "textcnn": "reviews"}


def has_textcnn() -> bool:
    """Whether this checkout has the text domain (``seqconv.models.TextCNN`` and ``conf/data/reviews.yaml``)."""
    from importlib import resources

    conf = resources.files("seqconv.conf")
    return hasattr(seqconv.models, "TextCNN") and conf.joinpath("data/reviews.yaml").is_file()


def compose_config(overrides: list[str], output_dir: Path) -> DictConfig:
    """The ``train`` config with ``overrides``, as ``train.py`` composes it, with its paths under ``output_dir``."""
    GlobalHydra.instance().clear()
    paths = [f"paths.root_dir={output_dir}", f"paths.output_dir={output_dir}"]
    with initialize_config_module("seqconv.conf", version_base="1.3"):
        cfg = compose("train", overrides=[*paths, *overrides], return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    return cfg


def task_loss(out: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """The task's loss: cross-entropy for class indices, MSE for float targets (a forecaster's ``[B, H]``)."""
    if y.dtype == torch.long:
        return F.cross_entropy(out, y, reduction=reduction)
    return F.mse_loss(out.reshape(y.shape), y, reduction=reduction)


def train_step(net: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> None:
    """Forward, the task's loss (MSE for float targets, cross-entropy for class indices), backward, update."""
    optimizer.zero_grad(set_to_none=True)
    loss = task_loss(net(x), y)
    loss.backward()
    optimizer.step()


@dataclass
class ModelCase:
    """A network at its default sizes with its optimizer and one real training batch.

    Attributes:
        name: how the table names it.
        net: the network (training mode).
        optimizer: the configured optimizer over the task's parameter groups.
        x: inputs of one training batch.
        y: targets of that batch.
    """

    name: str
    net: nn.Module
    optimizer: torch.optim.Optimizer
    x: torch.Tensor
    y: torch.Tensor

    def step(self) -> None:
        """One training step (forward, loss, backward, optimizer step)."""
        train_step(self.net, self.optimizer, self.x, self.y)

    def forward_backward(self) -> None:
        """Forward, loss and backward only: what :func:`~seqconv.bench.measure.count_flops` counts."""
        self.net.zero_grad(set_to_none=True)
        out = self.net(self.x)
        y = self.y
        task_loss(out, y).backward()

    @property
    def shape(self) -> str:
        """The batch shape, for the table."""
        return "x".join(str(s) for s in self.x.shape)


def write_fsdd(root: Path, speakers: int, per_digit: int, seed: int = 0) -> Path:
    """An FSDD-layout folder ``root/recordings/{digit}_{speaker}_{index}.wav``: 8 kHz tones of 0.3-0.7 s."""
    import soundfile as sf

    recordings = root / "recordings"
    if recordings.is_dir():
        return root
    recordings.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for digit in range(10):
        for speaker in range(speakers):
            for index in range(per_digit):
                t = np.arange(int(8000 * rng.uniform(0.3, 0.7))) / 8000
                wave = 0.5 * np.sin(2 * np.pi * (300 + 150 * digit) * t) + 0.01 * rng.standard_normal(t.size)
                sf.write(str(recordings / f"{digit}_spk{speaker}_{index}.wav"), wave.astype(np.float32), 8000)
    return root


def write_reviews(path: Path, count: int, seed: int = 0) -> Path:
    """A JSON Lines table (``text``, ``label``, ``split``) of ``count`` texts with IMDB-like lengths.

    Lengths are log-normal around 175 words (mean about 230, as IMDB's), words Zipf-distributed over 40,000
    made-up ones, so that the vocabulary reaches ``data.tokenizer.max_size`` like the real corpus does.
    """
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, 40_001)
    weights = 1.0 / ranks
    weights /= weights.sum()
    with path.open("w") as f:
        for i in range(count):
            length = int(np.clip(rng.lognormal(np.log(175), 0.6), 10, 2000))
            words = rng.choice(ranks, size=length, p=weights)
            label = "pos" if i % 2 else "neg"
            text = " ".join(f"w{w}" for w in words) + (" great" if label == "pos" else " awful")
            f.write(json.dumps({"text": text, "label": label, "split": "test" if i % 5 == 0 else "train"}) + "\n")
    return path


class Workloads:
    """Configs, datamodules (built once) and model cases for the suite.

    Args:
        ctx: the suite's context; generated data lands in ``ctx.out / "data"``.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.data_root = ctx.out / "data"
        self._datamodules: dict[str, L.LightningDataModule] = {}

    @cached_property
    def fsdd(self) -> Path:
        """The generated FSDD-layout folder: 80 clips per digit (16 in ``--quick``); recordings 0-4 are the test set."""
        speakers, per_digit = (2, 8) if self.ctx.quick else (4, 20)
        return write_fsdd(self.data_root / f"fsdd_{speakers}x{per_digit}", speakers, per_digit)

    @cached_property
    def reviews(self) -> Path:
        """The generated reviews table (4,000 texts; 200 in ``--quick``)."""
        count = 200 if self.ctx.quick else 4000
        return write_reviews(self.data_root / f"reviews_{count}.jsonl", count)

    def data_overrides(self, data: str) -> list[str]:
        """``data=<data>`` plus what points it at local or generated files."""
        extra = {
            "digits": [f"data.path={self.fsdd}"],
            "reviews": [f"data.path={self.reviews}", f"data.data_dir={self.data_root / 'reviews_cache'}"],
        }
        return [f"data={data}", *extra.get(data, [])]

    def config(self, model: str, data: str, overrides: list[str] = (), run: str | None = None) -> DictConfig:
        """The composed ``train`` config of ``model`` on ``data``, its run dir ``out/runs/<run>``.

        Give each ``Trainer`` its own ``run``: Lightning resumes from a ``last.ckpt`` it finds in the run dir.
        """
        output_dir = self.ctx.out / "runs" / (run or f"{model}_{data}")
        quick = ["data.batch_size=8"] if self.ctx.quick else []
        return compose_config([f"model={model}", *self.data_overrides(data), *quick, *overrides], output_dir)

    def datamodule(self, data: str) -> L.LightningDataModule:
        """The datamodule of ``data`` after ``setup("fit")``, built once."""
        if data not in self._datamodules:
            cfg = self.config(_any_model(data), data)
            self._datamodules[data] = build_datamodule(cfg.data)
        return self._datamodules[data]

    def case(self, model: str, data: str | None = None, name: str | None = None) -> ModelCase:
        """``model`` as the pipeline builds it for ``data`` (default: its own), with one real training batch."""
        data = data or MODEL_DATA[model]
        cfg = self.config(model, data)
        datamodule = self.datamodule(data)
        torch.manual_seed(0)
        task, _ = build_task(cfg, datamodule)
        net = task.net.train()
        optimizer = instantiate(cfg.model.optimizer)(params=param_groups(net))
        batch = typical_batch(datamodule)
        return ModelCase(name or model, net, optimizer, batch["x"], batch["y"])


def typical_batch(datamodule: L.LightningDataModule) -> dict[str, torch.Tensor]:
    """A full-size training batch of median length (texts are bucketed by length; other data has one length)."""
    batches = list(datamodule.train_dataloader())
    size = max(len(b["y"]) for b in batches)
    full = sorted((b for b in batches if len(b["y"]) == size), key=lambda b: b["x"].shape[-1])
    return full[len(full) // 2]


def _any_model(data: str) -> str:
    return next(model for model, d in MODEL_DATA.items() if d == data) if data in MODEL_DATA.values() else "tscnn"
