"""A trained model's class map restored into another audio data set (``test_only``, as ``eval.py data=...`` does):
labels are matched by name whatever the folder order, the whole set is test data, and unknown classes are refused
(or skipped and counted)."""

from __future__ import annotations

import logging

import pytest

from seqconv.data.audio import AudioFolderDataModule, AudioPreprocessor
from seqconv.errors import ConfigError, DataError


def _other_set(folder_tree, classes, **kwargs) -> AudioFolderDataModule:
    dm = AudioFolderDataModule(path=str(folder_tree), sample_rate=8000, clip_seconds=0.5, test_only=True, **kwargs)
    dm.load_state_dict({"preprocessor": AudioPreprocessor(8000, 4000, classes=classes).state_dict()})
    dm.prepare_data()
    dm.setup("test")
    return dm


def test_labels_follow_the_models_class_order_not_the_folders(folder_tree):
    model_classes = ["yes", "down", "up"]  # the folders sort as down, up, yes
    dm = _other_set(folder_tree, model_classes)
    test = dm.datasets["test"]
    assert set(dm.datasets) == {"test"} and len(test) == 18  # every clip, listed for val and test or not
    for path, label in zip(test.paths, test.labels.tolist(), strict=True):
        assert path.parent.name == model_classes[label]
    assert dm.task_kwargs["class_names"] == model_classes


def test_a_class_the_model_does_not_know_is_refused_naming_unknown_and_known(folder_tree):
    with pytest.raises(DataError, match=r"classes \['yes'\].*its classes: \['up', 'down'\].*unknown_labels=skip"):
        _other_set(folder_tree, ["up", "down"])


def test_unknown_classes_can_be_skipped_and_are_counted(folder_tree, caplog):
    with caplog.at_level(logging.WARNING):
        dm = _other_set(folder_tree, ["up", "down"], unknown_labels="skip")
    assert len(dm.datasets["test"]) == 12
    assert "left out 6 clip(s)" in caplog.text and "'yes': 6" in caplog.text


def test_test_only_needs_a_restored_model_and_unknown_labels_a_known_policy(folder_tree):
    dm = AudioFolderDataModule(path=str(folder_tree), sample_rate=8000, test_only=True)
    with pytest.raises(ConfigError, match=r"data.test_only=true .* \(eval.py ckpt_path"):
        dm.setup("test")
    with pytest.raises(ConfigError, match=r"data.unknown_labels='drop'; choose one of \['error', 'skip'\]"):
        AudioFolderDataModule(path=str(folder_tree), unknown_labels="drop")
