"""The declared datamodule contract: every conf/data option builds a SeqDataModule, and anything else is refused."""

from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate

from seqconv.data import SeqDataModule, stratified_holdout
from seqconv.errors import ConfigError
from seqconv.pipeline import check_config

DATA_CONFIGS = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "src/seqconv/conf/data").glob("*.yaml"))


def _compose(*overrides: str):
    GlobalHydra.instance().clear()
    paths = ["paths.root_dir=/tmp/seqconv-contract", "paths.output_dir=/tmp/seqconv-contract/run"]
    try:
        with initialize_config_module("seqconv.conf", version_base="1.3"):
            return compose("train", overrides=[*paths, *overrides])
    finally:
        GlobalHydra.instance().clear()


@pytest.mark.parametrize("data", DATA_CONFIGS)
def test_every_data_config_builds_a_seqdatamodule(data):
    cfg = _compose(f"data={data}")
    datamodule = instantiate(cfg.data, _convert_="all")
    assert isinstance(datamodule, SeqDataModule)
    assert datamodule.batch_size == cfg.data.batch_size and not datamodule.preprocessor.is_fitted
    assert datamodule.state_dict() == {}  # nothing fitted yet: nothing to store


def test_a_datamodule_outside_the_contract_is_refused_before_any_data_loads():
    cfg = _compose("data.batch_size=4")
    cfg.data = {"_target_": "lightning.LightningDataModule"}
    with pytest.raises(ConfigError, match=r"data._target_='lightning.LightningDataModule'.*not a seqconv.data.SeqData"):
        check_config(cfg)


def test_the_stratified_holdout_keeps_every_class_on_both_sides():
    labels = ["a"] * 10 + ["b"] * 3 + ["c"]
    held = stratified_holdout(labels, 0.2, seed=0)
    counts = {label: int(held[np.array(labels) == label].sum()) for label in "abc"}
    assert counts == {"a": 2, "b": 1, "c": 0}  # round(10 * 0.2), at least one, none of a single item
    assert np.array_equal(held, stratified_holdout(labels, 0.2, seed=0))
    assert not np.array_equal(held, stratified_holdout(labels, 0.2, seed=1))
    assert not stratified_holdout(labels, 0.0, seed=0).any()
