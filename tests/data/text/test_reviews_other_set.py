"""A trained model's tokenizer and class map restored into another labelled table (``test_only``, as ``eval.py
data=reviews data.path=...`` does): every row is test data, labels are matched by name, unknown labels are
refused listing unknown and known names (or skipped and counted)."""

import logging

import pytest

from seqconv.data.text import ReviewsDataModule, TextPreprocessor
from seqconv.errors import ConfigError, DataError


def _model_preprocessor(classes) -> dict:
    pre = TextPreprocessor.create({"kind": "word", "min_freq": 1}, max_length=800)
    return pre.fit(["a good film", "a bad film", "fine"], classes).state_dict()


def _table(path, labels) -> str:
    rows = ["text,label,split"]
    rows += [f"review {i} good,{label},{('train', 'test')[i % 2]}" for i, label in enumerate(labels)]
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def _other_set(tmp_path, labels, classes, **kwargs) -> ReviewsDataModule:
    table = _table(tmp_path / "other.csv", labels)
    dm = ReviewsDataModule(data_dir=str(tmp_path / "cache"), path=table, test_only=True, vocab_file=None, **kwargs)
    dm.load_state_dict({"preprocessor": _model_preprocessor(classes)})
    dm.prepare_data()
    dm.setup("test")
    return dm


def test_every_row_is_test_data_with_labels_matched_by_name(tmp_path):
    labels = ["neg", "pos", "pos", "neg", "pos"]  # sorted, this table's own order would be neg, pos
    dm = _other_set(tmp_path, labels, classes=["pos", "neg"])
    assert set(dm.datasets) == {"test"}
    # the table's train rows (neg, pos, pos), then its test rows (pos, neg), by the model's indices
    assert dm.datasets["test"].labels.tolist() == [1, 0, 0, 0, 1]
    assert not (tmp_path / "cache" / "tokenized").exists()  # nothing cached from a model's evaluation


def test_unknown_labels_are_refused_listing_unknown_and_known(tmp_path):
    with pytest.raises(DataError, match=r"labels \['meh'\] outside the known classes \['neg', 'pos'\].*skip"):
        _other_set(tmp_path, ["neg", "meh", "pos", "meh"], classes=["neg", "pos"])


def test_unknown_labels_can_be_skipped_and_are_counted(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        dm = _other_set(tmp_path, ["neg", "meh", "pos", "meh"], classes=["neg", "pos"], unknown_labels="skip")
    assert dm.datasets["test"].labels.tolist() == [0, 1]
    assert "left out 2 text(s)" in caplog.text and "'meh': 2" in caplog.text


def test_test_only_needs_a_restored_model(tmp_path):
    dm = ReviewsDataModule(data_dir=str(tmp_path / "c"), path=_table(tmp_path / "t.csv", ["a", "b"]), test_only=True)
    with pytest.raises(ConfigError, match="data.test_only=true"):
        dm.setup("test")
