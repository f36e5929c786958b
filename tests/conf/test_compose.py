"""Every file in conf/ composes, and what it describes instantiates."""

import importlib.util
import inspect
import os
from importlib import resources
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import ConfigCompositionException, MissingConfigException
from hydra.types import RunMode
from hydra.utils import get_class, instantiate
from lightning import LightningDataModule, Trainer
from lightning.pytorch.accelerators import CPUAccelerator
from lightning.pytorch.callbacks import EarlyStopping
from lightning.pytorch.loggers.logger import DummyLogger
from lightning.pytorch.strategies import SingleDeviceStrategy, StrategyRegistry
from omegaconf import OmegaConf, open_dict
from omegaconf.errors import ConfigAttributeError

from seqconv.data.datamodule import SeqDataModule
from seqconv.pipeline import build_trainer
from seqconv.tasks import build_optimization

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


@pytest.mark.parametrize("option", _options("data"))
def test_every_datamodule_argument_is_a_key_of_its_data_config(option):
    """A setting the datamodule takes can be overridden as data.<name>=... (a key missing from the file would need
    a + prefix, which the README and the datamodules' own error hints do not use)."""
    cfg = _compose([f"data={option}"])
    datamodule_class = get_class(cfg.data._target_)
    arguments = {  # SeqDataModule's own (preprocessor, shuffle) are set by its subclasses
        name
        for cls in datamodule_class.__mro__
        if "__init__" in vars(cls) and issubclass(cls, SeqDataModule) and cls is not SeqDataModule
        for name, parameter in inspect.signature(cls.__init__).parameters.items()
        if name != "self" and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
    }
    assert arguments - set(cfg.data) == set()


@pytest.mark.parametrize("option", _options("model"))
def test_model_options_compose_and_build_networks_and_optimizers(option):
    cfg = _compose([f"model={option}"])
    net_cfg = cfg.model.net.copy()
    for key in net_cfg.keys():
        if OmegaConf.is_missing(net_cfg, key):
            assert key in DATA_SIZES, f"model/{option}.yaml needs data size {key!r}: add a stand-in to DATA_SIZES"
            net_cfg[key] = DATA_SIZES[key]
    net = instantiate(net_cfg, _convert_="all")
    scheduler = None if cfg.model.scheduler is None else instantiate(cfg.model.scheduler)
    # what configure_optimizers builds, a whole-run schedule sized to 100 steps
    optimization = build_optimization(net, instantiate(cfg.model.optimizer), scheduler, "val/loss", total_steps=100)
    assert (scheduler is None) == ("lr_scheduler" not in optimization)


def _is_configured_as(callback, cls: type, settings: dict) -> bool:
    """``callback`` is a ``cls`` with these settings, stored under their own name or, in Lightning's callbacks,
    as a private ``_name`` (EarlyStopping stores ``min_delta`` negated when it minimises)."""

    def stored(key: str) -> object:
        value = getattr(callback, key if hasattr(callback, key) else f"_{key}")
        return abs(value) if isinstance(callback, EarlyStopping) and key == "min_delta" else value

    return type(callback) is cls and all(stored(key) == value for key, value in settings.items())


def _assert_callbacks_as_configured(trainer: Trainer, callbacks_cfg) -> None:
    """Each configured callback is in the trainer, of its ``_target_`` class, with its configured settings."""
    configured = {name: c for name, c in OmegaConf.to_container(callbacks_cfg, resolve=True).items() if c is not None}
    unmatched = list(trainer.callbacks)
    for name, spec in configured.items():
        cls = get_class(spec["_target_"])
        settings = {key: value for key, value in spec.items() if key != "_target_"}
        if "dirpath" in settings:  # ModelCheckpoint stores the real path
            settings["dirpath"] = os.path.realpath(settings["dirpath"])
        found = [cb for cb in unmatched if _is_configured_as(cb, cls, settings)]
        assert found, f"callbacks.{name}: no {cls.__name__} with {settings} among {trainer.callbacks}"
        unmatched.remove(found[0])
    kept = {get_class(spec["_target_"]) for spec in configured.values()}
    for name in (n for n, c in callbacks_cfg.items() if c is None):  # a callback switched off with null
        default = OmegaConf.load(CONF / "callbacks" / "default.yaml").get(name)
        if default is not None and get_class(default._target_) not in kept:
            assert not any(isinstance(cb, get_class(default._target_)) for cb in trainer.callbacks), name


def _assert_loggers_as_configured(trainer: Trainer, logger_cfg, fast_dev_run: bool) -> None:
    configured = [lg for lg in OmegaConf.to_container(logger_cfg, resolve=True).values() if lg is not None]
    if fast_dev_run:  # Lightning swaps the loggers for a dummy: nothing is written
        assert [type(lg) for lg in trainer.loggers] == ([DummyLogger] if configured else [])
        return
    assert [type(lg) for lg in trainer.loggers] == [get_class(spec["_target_"]) for spec in configured]
    for logger, spec in zip(trainer.loggers, configured, strict=True):
        assert logger.save_dir == spec["save_dir"]
        for key in ("name", "version"):
            if spec.get(key) is not None:
                assert getattr(logger, key) == spec[key], f"{spec['_target_']}.{key}"


def _assert_trainer_as_configured(trainer: Trainer, cfg) -> None:
    t = cfg.trainer
    assert isinstance(trainer, Trainer) and isinstance(trainer.accelerator, CPUAccelerator)
    assert trainer.default_root_dir == t.default_root_dir
    if t.get("fast_dev_run"):
        assert trainer.fast_dev_run is True and trainer.max_epochs == 1
        assert trainer.limit_train_batches == trainer.limit_val_batches == trainer.limit_test_batches == 1
    else:
        assert (trainer.min_epochs, trainer.max_epochs) == (t.min_epochs, t.max_epochs)
        overfit = t.overfit_batches if "overfit_batches" in t else 0.0
        assert trainer.overfit_batches == overfit
        for key in ("limit_train_batches", "limit_val_batches", "limit_test_batches"):
            limit = overfit if overfit and key != "limit_test_batches" else (t[key] if key in t else 1.0)
            assert getattr(trainer, key) == limit, key  # overfitting trains and validates on the same few batches
    assert trainer.check_val_every_n_epoch == t.check_val_every_n_epoch
    assert trainer.log_every_n_steps == t.log_every_n_steps
    assert trainer.gradient_clip_val == t.gradient_clip_val
    assert trainer.precision == t.precision and trainer.num_devices == t.devices
    strategy = t.strategy if "strategy" in t else "auto"
    expected = SingleDeviceStrategy if strategy == "auto" else StrategyRegistry[strategy]["strategy"]
    assert type(trainer.strategy) is expected
    for plugin in t.plugins:
        checkpoint_io = trainer.strategy.checkpoint_io
        uploads_each = any(getattr(lg, "_log_model", None) == "all" for lg in trainer.loggers)
        if "checkpoint_io" in plugin and uploads_each:  # build_trainer writes in the foreground for such loggers
            plugin = plugin.checkpoint_io
        assert isinstance(checkpoint_io, get_class(plugin._target_))
        if "checkpoint_io" in plugin:
            assert isinstance(checkpoint_io.checkpoint_io, get_class(plugin.checkpoint_io._target_))
    if t.get("profiler") is not None:
        assert type(trainer.profiler) is get_class(t.profiler._target_)
        assert (trainer.profiler.dirpath, trainer.profiler.filename) == (t.profiler.dirpath, t.profiler.filename)
    nothing = OmegaConf.create({})  # callbacks=none and logger=none leave the group empty
    _assert_callbacks_as_configured(trainer, cfg.get("callbacks") or nothing)
    _assert_loggers_as_configured(trainer, cfg.get("logger") or nothing, fast_dev_run=bool(t.get("fast_dev_run")))


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
    with open_dict(cfg.trainer):
        if cfg.trainer.accelerator == "gpu":  # a GPU config: check its strategy name, build the rest on the CPU
            assert cfg.trainer.get("strategy", "auto") in [*StrategyRegistry, "auto"]
            cfg.trainer.merge_with({"devices": 1, "strategy": "auto", "precision": "32-true"})
        cfg.trainer.accelerator = "cpu"
    trainer = build_trainer(cfg)  # what train.py builds: the configured callbacks and loggers
    _assert_trainer_as_configured(trainer, cfg)
    if "launcher" in cfg.hydra and cfg.hydra.launcher is not None:
        assert isinstance(get_class(cfg.hydra.launcher._target_), type)
    if overrides[0].startswith("hparams_search="):  # every swept parameter is a key the config has
        assert cfg.hydra.mode == RunMode.MULTIRUN
        missing = object()
        for key in cfg.hydra.sweeper.params:
            assert OmegaConf.select(cfg, key, default=missing) is not missing, f"sweeps {key!r}, not in the config"


def test_eval_config_composes():
    cfg = _compose(["ckpt_path=x.ckpt"], config_name="eval")
    assert cfg.ckpt_path == "x.ckpt" and cfg.data == {}


def test_misspelled_key_fails_at_composition():
    with pytest.raises(ConfigCompositionException, match=r"Could not override 'data\.windw'") as failure:
        _compose(["data.windw=5"])
    assert isinstance(failure.value.__cause__, ConfigAttributeError)
    assert "full_key: data.windw" in str(failure.value.__cause__)


def test_unknown_group_option_lists_the_valid_choices():
    with pytest.raises(
        MissingConfigException,
        match=r"Could not find 'model/resnet'[\s\S]*Available options in 'model'[\s\S]*tcn[\s\S]*tscnn",
    ) as failure:
        _compose(["model=resnet"])
    listed = str(failure.value).split("Available options in 'model':")[1].split("Config search path")[0].split()
    assert listed == _options("model")


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


def test_checkpoints_are_written_in_the_foreground_for_a_logger_that_uploads_each_one(monkeypatch):
    from lightning.pytorch.loggers import CSVLogger
    from lightning.pytorch.plugins.io import AsyncCheckpointIO

    from seqconv.training import AtomicCheckpointIO

    cfg = _compose(["logger=csv", "trainer.accelerator=cpu"])
    assert isinstance(build_trainer(cfg).strategy.checkpoint_io, AsyncCheckpointIO)
    # what WandbLogger(log_model="all") has: it reads each checkpoint file as soon as it is saved
    monkeypatch.setattr(CSVLogger, "_log_model", "all", raising=False)
    checkpoint_io = build_trainer(cfg).strategy.checkpoint_io
    assert type(checkpoint_io) is AtomicCheckpointIO


@pytest.mark.parametrize("option", _options("data"))
def test_each_data_option_brings_its_domains_early_stopping(option):
    stopping = OmegaConf.load(CONF / "stopping" / f"{option}.yaml")  # every data option has one
    trainer = build_trainer(_compose([f"data={option}", "logger=none", "trainer.accelerator=cpu"]))
    (early,) = [c for c in trainer.callbacks if isinstance(c, EarlyStopping)]
    assert (early.patience, abs(early.min_delta)) == (stopping.patience, stopping.min_delta)
    assert trainer.max_epochs == stopping.get("max_epochs", 30)  # a domain's epoch budget, else the default
    assert {p.stem for p in (CONF / "stopping").glob("*.yaml")} == set(_options("data"))  # and nothing else


def test_early_stopping_overrides_win_and_a_data_config_without_defaults_falls_back(tmp_path):
    cfg = _compose(["data=reviews", "callbacks.early_stopping.patience=7", "callbacks.early_stopping.min_delta=0.5"])
    assert (cfg.callbacks.early_stopping.patience, cfg.callbacks.early_stopping.min_delta) == (7, 0.5)
    # a data config of the user's own (no conf/stopping/<name>.yaml): Lightning's usual patience
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "mine.yaml").write_text((CONF / "data" / "stocks.yaml").read_text())
    cfg = _compose([f"hydra.searchpath=[file://{tmp_path}]", "data=mine"])
    assert (cfg.callbacks.early_stopping.patience, cfg.callbacks.early_stopping.min_delta) == (8, 0.0)
    assert cfg.trainer.max_epochs == 30


def test_a_domains_epoch_budget_gives_way_to_trainer_max_epochs():
    assert _compose(["data=digits"]).trainer.max_epochs == 15  # conf/stopping/digits.yaml
    assert _compose(["data=digits", "trainer.max_epochs=40"]).trainer.max_epochs == 40
