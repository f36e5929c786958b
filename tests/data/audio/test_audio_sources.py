"""FSDD and class-folder listings: splits, speakers, lists, background noise and bad entries."""

from __future__ import annotations

from collections import Counter

import pytest

from seqconv.data.audio import AudioItem, BadFiles, carve_split, find_fsdd_recordings, folder_items, fsdd_items
from seqconv.errors import ConfigError, DataError


def test_fsdd_standard_split_tests_indices_0_to_4(fsdd_tree):
    items = fsdd_items(fsdd_tree, BadFiles(), val_fraction=0.2, seed=0)
    assert len(items) == 10 * 3 * 8
    test = [i for i in items if i.split == "test"]
    assert {int(i.path.stem.split("_")[2]) for i in test} == set(range(5))
    assert len(test) == 10 * 3 * 5
    val = [i for i in items if i.split == "val"]
    assert Counter(i.label for i in val) == {str(d): 2 for d in range(10)}  # stratified: round(9 * 0.2) per digit
    assert all(int(i.path.stem.split("_")[2]) >= 5 for i in val)


def test_fsdd_validation_split_is_seeded(fsdd_tree):
    def val(seed):
        return {i.path.name for i in fsdd_items(fsdd_tree, BadFiles(), seed=seed) if i.split == "val"}

    assert val(1) == val(1) and val(1) != val(2)


def test_fsdd_speaker_split_holds_out_whole_speakers(fsdd_tree):
    items = fsdd_items(fsdd_tree, BadFiles(), split="speaker", test_speakers=["carol"], val_speakers=["bob"])
    by_split = {s: {i.speaker for i in items if i.split == s} for s in ("train", "val", "test")}
    assert by_split == {"train": {"alice"}, "val": {"bob"}, "test": {"carol"}}


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"split": "speaker"}, "needs data.test_speakers"),
        ({"split": "speaker", "test_speakers": ["dave"]}, r"speaker\(s\) \['dave'\]"),
        ({"split": "speaker", "test_speakers": ["bob"], "val_speakers": ["bob"]}, "disjoint"),
        ({"test_speakers": ["bob"]}, "only applies with data.split=speaker"),
        ({"split": "random"}, "unknown data.split"),
    ],
)
def test_fsdd_split_settings_fail_with_the_config_key(fsdd_tree, kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        fsdd_items(fsdd_tree, BadFiles(), **kwargs)


def test_find_fsdd_recordings_in_the_archive_layout(fsdd_tree):
    assert find_fsdd_recordings(fsdd_tree.parents[1]) == fsdd_tree
    assert find_fsdd_recordings(fsdd_tree.parent) == fsdd_tree
    with pytest.raises(DataError, match="not an FSDD copy"):
        find_fsdd_recordings(fsdd_tree.parents[2])


def test_fsdd_badly_named_and_non_audio_files_go_to_the_policy(tmp_path, make_clip):
    recordings = tmp_path / "recordings"
    make_clip(recordings / "3_ann_7.wav", 3)
    make_clip(recordings / "three.wav", 3)
    (recordings / "notes.txt").write_text("hi")
    (recordings / ".DS_Store").write_bytes(b"\0")
    bad = BadFiles()
    items = fsdd_items(recordings, bad, val_fraction=0.0)
    assert [i.path.name for i in items] == ["3_ann_7.wav"]
    assert sorted(p.rsplit("/", 1)[-1] for p, _ in bad.skipped) == ["notes.txt", "three.wav"]
    with pytest.raises(DataError, match=r"notes\.txt: not an audio file"):
        fsdd_items(recordings, BadFiles("error"))
    (recordings / "notes.txt").unlink()
    with pytest.raises(DataError, match=r"three\.wav: the name does not follow"):
        fsdd_items(recordings, BadFiles("error"))


def test_folder_lists_background_and_classes(folder_tree):
    bad = BadFiles("error")
    items, background = folder_items(folder_tree, bad, seed=0)
    assert sorted({i.label for i in items}) == ["down", "up", "yes"]  # not _background_noise_
    assert [p.name for p in background] == ["white_noise.wav"]  # its README.md is ignored
    assert {i.path.relative_to(folder_tree).as_posix() for i in items if i.split == "val"} == {
        "down/spk0_nohash_0.wav",
        "up/spk0_nohash_0.wav",
        "yes/spk0_nohash_0.wav",
    }
    assert Counter(i.split for i in items) == {"train": 12, "val": 3, "test": 3}
    assert not bad.skipped


def test_folder_without_lists_carves_seeded_splits(folder_tree):
    (folder_tree / "validation_list.txt").unlink()
    (folder_tree / "testing_list.txt").unlink()
    items, _ = folder_items(folder_tree, BadFiles(), val_fraction=0.2, test_fraction=0.2, seed=3)
    counts = Counter((i.label, i.split) for i in items)
    assert all(counts[(c, "val")] == 1 and counts[(c, "test")] == 1 for c in ("down", "up", "yes"))


def test_folder_empty_class_and_non_audio_file(folder_tree, caplog):
    (folder_tree / "empty").mkdir()
    (folder_tree / "up" / "notes.txt").write_text("x")
    bad = BadFiles("skip")
    items, _ = folder_items(folder_tree, bad)
    assert "empty" not in {i.label for i in items}
    reasons = dict(bad.skipped)
    assert "class folder has no audio files" in reasons[str(folder_tree / "empty")]
    assert "not an audio file" in reasons[str(folder_tree / "up" / "notes.txt")]
    with pytest.raises(DataError, match=r"empty: class folder has no audio files"):
        folder_items(folder_tree, BadFiles("error"))
    (folder_tree / "empty").rmdir()
    with pytest.raises(DataError, match=r"notes\.txt: not an audio file"):
        folder_items(folder_tree, BadFiles("error"))


def test_folder_class_filter_and_errors(folder_tree, tmp_path):
    items, _ = folder_items(folder_tree, BadFiles(), classes=["yes", "up"])
    assert {i.label for i in items} == {"up", "yes"}
    with pytest.raises(ConfigError, match=r"no folder \['maybe'\]"):
        folder_items(folder_tree, BadFiles(), classes=["maybe"])
    with pytest.raises(DataError, match="is not a folder"):
        folder_items(tmp_path / "missing", BadFiles())
    (tmp_path / "flat").mkdir()
    with pytest.raises(DataError, match="no class folders"):
        folder_items(tmp_path / "flat", BadFiles())


def test_carve_split_leaves_one_training_item_per_class(tmp_path):
    items = [AudioItem(tmp_path / f"{i}.wav", "a", "train") for i in range(2)] + [
        AudioItem(tmp_path / "t", "a", "test")
    ]
    carved = carve_split(items, 0.9, "val", 0)
    assert Counter(i.split for i in carved) == {"train": 1, "val": 1, "test": 1}
    assert carve_split(items, 0.0, "val", 0) == items
