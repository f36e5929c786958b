"""Audio datamodules end to end on fixture data: real download, batches, class map, bad files, eval state."""

from __future__ import annotations

import json
import logging

import pytest
import torch

from seqconv.data.audio import AudioFolderDataModule, DigitsDataModule, WaveformAugment
from seqconv.errors import ConfigError, DataError


def _digits(url, tmp_path, **kwargs) -> DigitsDataModule:
    kwargs.setdefault("augment", WaveformAugment(8000, noise_prob=0.5))
    return DigitsDataModule(url=url, cache_dir=str(tmp_path / "cache"), batch_size=16, **kwargs)


def test_digits_downloads_once_and_serves_batches(fsdd_url, http_server, tmp_path):
    dm = _digits(fsdd_url, tmp_path)
    dm.prepare_data()
    dm.setup("fit")
    assert http_server.requests == ["/v1.0.10.zip"]
    assert dm.dims == {"in_channels": 1, "input_length": 8000, "num_classes": 10, "sample_rate": 8000}
    assert dm.task_kwargs == {"num_classes": 10, "class_names": [str(d) for d in range(10)]}
    batch = next(iter(dm.train_dataloader()))
    assert batch["x"].shape == (16, 8000) and batch["x"].dtype == torch.float32
    assert batch["y"].shape == (16,) and batch["y"].dtype == torch.long
    assert len(dm.datasets["train"]) + len(dm.datasets["val"]) == 10 * 3 * 3
    assert "test" not in dm.datasets  # decoded only when a test stage asks for it
    dm.setup("test")
    assert len(dm.datasets["test"]) == 10 * 3 * 5

    again = _digits(fsdd_url, tmp_path)
    again.prepare_data()
    again.setup()
    assert http_server.requests == ["/v1.0.10.zip"]  # cached: no second download


def test_state_dict_is_json_and_restores_the_class_map(fsdd_url, tmp_path):
    dm = _digits(fsdd_url, tmp_path)
    dm.prepare_data()
    dm.setup("fit")
    state = json.loads(json.dumps(dm.state_dict()))
    assert state == {
        "preprocessor": {
            "domain": "audio",
            "classes": [str(d) for d in range(10)],
            "sample_rate": 8000,
            "clip_length": 8000,
            "normalize": "peak",
            "temperature": None,  # set by task.calibration=temperature
        }
    }
    restored = _digits(fsdd_url, tmp_path)
    restored.load_state_dict(state)
    restored.setup("test")
    assert restored.classes == state["preprocessor"]["classes"] and set(restored.datasets) == {"test"}
    resampled = _digits(fsdd_url, tmp_path, sample_rate=16000, augment=None)
    with pytest.raises(ConfigError, match="trained with sample_rate=8000.*data.sample_rate"):
        resampled.load_state_dict(state)


def test_eval_refuses_classes_the_model_never_saw(folder_tree, make_clip):
    dm = AudioFolderDataModule(path=str(folder_tree))
    pre = {
        "domain": "audio",
        "classes": ["down", "up"],
        "sample_rate": 16000,
        "clip_length": 16000,
        "normalize": "peak",
    }
    dm.load_state_dict({"preprocessor": pre})
    with pytest.raises(DataError, match=r"classes \['yes'\].*not trained on"):
        dm.setup("test")


def test_download_failures_become_data_errors(http_server, fsdd_tree, tmp_path):
    http_server.fail("v1.0.10.zip", 404)
    with pytest.raises(DataError, match="FSDD: Could not download.*404.*data.url"):
        _digits(http_server.url("v1.0.10.zip"), tmp_path).prepare_data()


def test_archive_member_escaping_the_target_is_refused(http_server, fsdd_tree, tmp_path, make_zip):
    archive = make_zip(fsdd_tree.parents[1], http_server.root / "evil.zip", {"../../escaped.wav": b"RIFF"})
    with pytest.raises(DataError, match=r"Refusing to extract.*\.\./\.\./escaped\.wav"):
        _digits(http_server.url(archive.name), tmp_path).prepare_data()
    assert not (tmp_path / "escaped.wav").exists() and not (tmp_path / "cache" / "evil").exists()


def test_bad_recordings_are_skipped_with_a_count_or_fail(tmp_path, caplog, make_fsdd):
    recordings = make_fsdd(tmp_path / "copy", digits=2, per_digit=6, speakers=("ann",))
    (recordings / "0_ann_6.wav").write_bytes(b"")
    good = (recordings / "1_ann_0.wav").read_bytes()
    (recordings / "1_ann_6.wav").write_bytes(good[: len(good) // 3])
    (recordings / "README.txt").write_text("not audio")
    dm = DigitsDataModule(url=None, path=str(recordings.parent), batch_size=4, augment=None)
    with caplog.at_level(logging.WARNING):
        dm.setup()
    assert len(dm.bad_files.skipped) == 3
    assert "0_ann_6.wav" in caplog.text and "1_ann_6.wav" in caplog.text and "skipped 3 of" in caplog.text
    assert sum(len(d) for d in dm.datasets.values()) == 2 * 6  # the good ones
    strict = DigitsDataModule(url=None, path=str(recordings.parent), on_bad_file="error", augment=None)
    with pytest.raises(DataError, match=r"README\.txt: not an audio file"):
        strict.setup()


def test_lazy_mode_checks_headers_in_setup(tmp_path, make_fsdd):
    recordings = make_fsdd(tmp_path / "copy", digits=2, per_digit=8, speakers=("ann",))
    (recordings / "0_ann_8.wav").write_bytes(b"junk")
    dm = DigitsDataModule(url=None, path=str(recordings.parent), preload=False, batch_size=4, augment=None)
    dm.setup()
    assert [p.rsplit("/", 1)[-1] for p, _ in dm.bad_files.skipped] == ["0_ann_8.wav"]
    assert dm.datasets["test"].clips is None
    assert next(iter(dm.test_dataloader()))["x"].shape == (4, 8000)


def test_folder_datamodule_mixes_rates_and_channels(folder_tree):
    augment = WaveformAugment(16000, noise_prob=1.0, noise="background")
    dm = AudioFolderDataModule(path=str(folder_tree), batch_size=4, augment=augment, on_bad_file="error")
    dm.prepare_data()
    dm.setup()
    assert dm.classes == ["down", "up", "yes"]
    assert {s: len(d) for s, d in dm.datasets.items()} == {"train": 12, "val": 3, "test": 3}
    assert len(dm.datasets["train"].background) == 1 and not dm.datasets["val"].background
    for split in ("train", "val", "test"):
        assert next(iter(dm._loader(split, False)))["x"].shape[1] == 16000


def test_folder_datamodule_needs_a_path_and_background_when_asked(tmp_path, folder_tree):
    with pytest.raises(ConfigError, match="data.path="):
        AudioFolderDataModule().prepare_data()
    (folder_tree / "_background_noise_" / "white_noise.wav").unlink()
    dm = AudioFolderDataModule(
        path=str(folder_tree), augment=WaveformAugment(16000, noise_prob=1.0, noise="background")
    )
    with pytest.raises(ConfigError, match="noise=background"):
        dm.setup()


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"normalize": "max"}, "data.normalize"),
        ({"on_bad_file": "ignore"}, "data.on_bad_file"),
        ({"val_fraction": 1.5}, "data.val_fraction"),
        ({"clip_seconds": 0}, "data.clip_seconds"),
        ({"augment": WaveformAugment(16000)}, "data.augment.sample_rate"),
        ({"url": None}, "data.url"),
    ],
)
def test_settings_fail_early_with_the_config_key(kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        DigitsDataModule(**kwargs)
