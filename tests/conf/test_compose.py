"""Every file in conf/ composes, and what it describes instantiates."""

import importlib.util
from importlib import resources
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from lightning import LightningDataModule
from lightning.pytorch.strategies import StrategyRegistry
from omegaconf import OmegaConf

CONF = Path(str(resources.files("seqconv.conf")))
# stand-ins for the sizes a datamodule provides, to instantiate networks without loading data
DATA_SIZES = {
    "in_channels": 2,
    "input_length": 64,
    "out_features": 1,
    "num_classes": 3,
    "vocab_size": 50,
    "padding_idx": 0,
    "sample_rate": 8000,
}


def _has_ray_plugin() -> bool:
    return importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is not None


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def _compose(overrides: list[str], config_name: str = "train"):
    GlobalHydra.instance().clear()
    paths = ["paths.root_dir=/tmp/seqconv-compose", "paths.output_dir=/tmp/seqconv-compose/run"]
    with initialize_config_module("seqconv.conf", version_base="1.3"):
        cfg = compose(config_name, overrides=[*paths, *overrides], return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    return cfg


@pytest.mark.parametrize("option", _options("data"))
def test_data_options_compose_and_instantiate(option):
    cfg = _compose([f"data={option}"])
    datamodule = instantiate(cfg.data, _convert_="all")
    assert isinstance(datamodule, LightningDataModule)
    assert "_target_" in cfg.task


@pytest.mark.parametrize("option", _options("model"))
def test_model_options_compose_and_build_networks_and_optimizers(option):
    cfg = _compose([f"model={option}"])
    net_cfg = cfg.model.net.copy()
    for key in net_cfg.keys():
        if OmegaConf.is_missing(net_cfg, key):
            assert key in DATA_SIZES, f"model/{option}.yaml needs data size {key!r}: add a stand-in to DATA_SIZES"
            net_cfg[key] = DATA_SIZES[key]
    net = instantiate(net_cfg, _convert_="all")
    optimizer = instantiate(cfg.model.optimizer)(params=net.parameters())
    if cfg.model.scheduler is not None:
        instantiate(cfg.model.scheduler)(optimizer=optimizer)


@pytest.mark.parametrize(
    "overrides",
    [[f"trainer={o}"] for o in _options("trainer")]
    + [[f"logger={o}"] for o in _options("logger")]
    + [[f"callbacks={o}"] for o in _options("callbacks")]
    + [[f"debug={o}"] for o in _options("debug")]
    + [[f"experiment={o}"] for o in _options("experiment")]
    + [[f"hparams_search={o}"] for o in _options("hparams_search")]
    + [[f"hydra/launcher={o}"] for o in _options("hydra/launcher") if o != "ray_local" or _has_ray_plugin()],
    ids=str,
)
def test_other_groups_compose_and_instantiate(overrides):
    cfg = _compose(overrides)
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    loggers = [instantiate(lg) for lg in (cfg.get("logger") or {}).values() if lg is not None]
    cpu_only = {"accelerator": "cpu"}
    if cfg.trainer.accelerator == "gpu":  # a GPU config: check its strategy name, build the rest on the CPU
        assert cfg.trainer.get("strategy", "auto") in [*StrategyRegistry, "auto"]
        cpu_only.update(devices=1, strategy="auto", precision="32-true")
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False, **cpu_only)
    assert trainer is not None


def test_eval_config_composes():
    cfg = _compose(["ckpt_path=x.ckpt"], config_name="eval")
    assert cfg.ckpt_path == "x.ckpt" and cfg.data == {}


def test_misspelled_key_fails_at_composition():
    with pytest.raises(Exception, match="windw"):
        _compose(["data.windw=5"])


def test_unknown_group_option_lists_the_valid_choices():
    with pytest.raises(Exception, match=r"Available options in 'model'[\s\S]*tcn[\s\S]*tscnn"):
        _compose(["model=resnet"])


def test_wandb_sweep_parameters_are_valid_overrides():
    import yaml

    sweep = yaml.safe_load((Path(__file__).resolve().parents[2] / "scripts" / "wandb_sweep_tcn.yaml").read_text())
    fixed = [arg for arg in sweep["command"] if "=" in arg]
    overrides = [
        f"{key}={spec.get('min', (spec.get('values') or [None])[0])}" for key, spec in sweep["parameters"].items()
    ]
    cfg = _compose([*fixed, *overrides])
    assert cfg.model.net._target_.endswith("TCNForecaster")
    assert cfg.optimized_metric == sweep["metric"]["name"]
