"""A training checkpoint -> the plain network (no Lightning), its run config and its fitted preprocessor."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from seqconv.data.preprocessor import DOMAINS, Preprocessor, preprocessor_from_state
from seqconv.errors import ConfigError, DataError
from seqconv.pipeline import restore_datamodule
from seqconv.training.checkpoint_io import CONFIG_KEY, PREPROCESSOR_KEY, load_run_checkpoint

__all__ = ["DOMAINS", "LoadedRun", "expected_model_class", "load_run", "real_batch"]

_NET_PREFIX = "net."


@dataclass
class LoadedRun:
    """What a checkpoint holds, ready for inference.

    Attributes:
        net: the network in eval mode, on the CPU.
        config: the resolved run config (``config["model"]["net"]`` is the filled network config).
        preprocessor: the fitted preprocessor that built the training batches (scalers, tokenizer, class map).
        ckpt_path: where it was read from.
        checkpoint: the whole checkpoint (plain data and tensors).
    """

    net: nn.Module
    config: dict[str, Any]
    preprocessor: Preprocessor
    ckpt_path: Path
    checkpoint: dict[str, Any]

    @property
    def net_config(self) -> dict[str, Any]:
        """The network's config, data-derived sizes filled in."""
        return self.config["model"]["net"]

    @property
    def model_name(self) -> str:
        """Class name of the network, e.g. ``"TCNForecaster"``."""
        return self.net_config["_target_"].rsplit(".", 1)[-1]

    @property
    def domain(self) -> str:
        """One of :data:`~seqconv.data.preprocessor.DOMAINS`, as the preprocessor declares it."""
        return self.preprocessor.domain

    @property
    def class_names(self) -> list[str] | None:
        """Class names in index order (classification runs)."""
        classes = getattr(self.preprocessor, "classes", None)
        return list(classes) if classes is not None else None

    def example_input(self, batch: int = 2, length: int = 64) -> torch.Tensor:
        """A random input batch of the right kind, for exporting without the data: ``[B, L]`` token ids (text),
        ``[B, T]`` waveforms (audio) or ``[B, C, L]``; ``length`` is used where the network does not fix it."""
        cfg = self.net_config
        generator = torch.Generator().manual_seed(0)
        if "vocab_size" in cfg:
            return torch.randint(0, int(cfg["vocab_size"]), (batch, length), generator=generator)
        length = int(cfg.get("input_length") or length)
        if self.domain == "audio":
            return torch.randn(batch, length, generator=generator)
        return torch.randn(batch, int(cfg.get("in_channels", 1)), length, generator=generator)


def expected_model_class(expect_model: str) -> str:
    """The class named by ``expect_model``: a ``conf/model`` name (``tcn``) or a class name (``TCNForecaster``)."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_module("seqconv.conf", version_base="1.3"):
            target = compose("train", overrides=[f"model={expect_model}"]).model.net._target_
    except Exception:  # noqa: BLE001 - not a model config name: take it as a class name
        target = expect_model
    finally:
        GlobalHydra.instance().clear()
    return target.rsplit(".", 1)[-1]


def _instantiate(net_cfg: dict[str, Any], where: str) -> nn.Module:
    cfg = dict(net_cfg)
    if cfg.get("pretrained_embeddings") is not None:
        cfg["pretrained_embeddings"] = None  # the trained embeddings are in the checkpoint's weights
    try:
        return instantiate(OmegaConf.create(cfg), _convert_="all")
    except Exception as err:  # noqa: BLE001 - any failure here means the stored config cannot build a network
        raise ConfigError(f"{where}: cannot build the network its config describes ({err})") from None


def load_run(path: str | Path, expect_model: str | None = None) -> LoadedRun:
    """Load a ``train.py`` checkpoint (``weights_only``, no pickled code) into a plain network in eval mode.

    Args:
        path: the ``.ckpt`` file.
        expect_model: refuse the checkpoint unless its network is this one: a ``conf/model`` name (``tcn``) or a
            class name (``TCNForecaster``); ``None`` accepts any.

    Raises:
        ConfigError: not a seqconv checkpoint, another model than ``expect_model``, or weights that do not fit
            the network its config describes (the message lists the mismatched keys).
    """
    checkpoint = load_run_checkpoint(path)
    path = Path(path)
    config = checkpoint[CONFIG_KEY]
    preprocessor = preprocessor_from_state(checkpoint[PREPROCESSOR_KEY], str(path))
    net_cfg = config.get("model", {}).get("net")
    if not isinstance(net_cfg, dict) or "_target_" not in net_cfg:
        raise ConfigError(f"{path}: the stored run config has no model.net._target_; pass a .ckpt written by train.py")
    target = net_cfg["_target_"]
    if expect_model is not None:
        expected = expected_model_class(expect_model)
        if expected != target.rsplit(".", 1)[-1]:
            raise ConfigError(
                f"{path} holds a {target.rsplit('.', 1)[-1]} ({target}), but expect_model={expect_model!r} asks for "
                f"{expected}; pass a checkpoint of that model, or drop expect_model"
            )
    net = _instantiate(net_cfg, str(path))
    weights = {k[len(_NET_PREFIX) :]: v for k, v in checkpoint.get("state_dict", {}).items() if k.startswith("net.")}
    if not weights:
        raise ConfigError(f"{path}: the checkpoint holds no network weights (no 'net.*' entries in its state_dict)")
    ours = net.state_dict()
    missing = sorted(set(ours) - set(weights))
    unexpected = sorted(set(weights) - set(ours))
    resized = sorted(k for k in set(ours) & set(weights) if ours[k].shape != weights[k].shape)
    if missing or unexpected or resized:
        detail = "; ".join(
            f"{what} {keys[:4]}{' ...' if len(keys) > 4 else ''}"
            for what, keys in (("missing", missing), ("unexpected", unexpected), ("other shapes", resized))
            if keys
        )
        raise ConfigError(
            f"{path}: the weights do not fit the {target.rsplit('.', 1)[-1]} that the checkpoint's config describes "
            f"({detail}); the file mixes one model's config with another model's weights"
        )
    net.load_state_dict(weights)
    return LoadedRun(net.eval(), config, preprocessor, path, checkpoint)


def real_batch(run: LoadedRun, data_overrides: DictConfig | dict | None = None, max_rows: int = 64) -> torch.Tensor:
    """The first ``max_rows`` inputs of the checkpoint's test split (its datamodule, fitted preprocessor restored).

    Raises:
        DataError: the data cannot be loaded (e.g. it is not on this machine); the message names the fix.
    """
    try:
        datamodule = restore_datamodule(run.checkpoint, data_overrides, stage="test")
        batch = next(iter(datamodule.test_dataloader()))
    except (ConfigError, DataError, InstantiationException, OSError, StopIteration) as err:
        raise DataError(
            f"cannot load the test split of {run.ckpt_path}'s data ({run.config['data'].get('_target_')}) for the "
            f"parity check on real inputs: {err or 'the split is empty'}; point data.* at the data (e.g. "
            "+data.path=...), or set real_inputs=false to check on random inputs only"
        ) from None
    return batch["x"][:max_rows]
