"""Where labelled clips come from: the FSDD file layout and the class-folder (Speech Commands) layout.

Each source lists :class:`AudioItem` s (file, class name, split, speaker) without decoding anything; files
that cannot belong to the data set (a non-audio file, a badly named recording, an empty class folder) go to
a :class:`~seqconv.data.audio.decode.BadFiles` policy.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from seqconv.data.audio.decode import AUDIO_SUFFIXES, BadFiles
from seqconv.data.splits import stratified_holdout
from seqconv.errors import ConfigError, DataError

__all__ = [
    "BACKGROUND_FOLDER",
    "FSDD_SPLITS",
    "AudioItem",
    "carve_split",
    "find_fsdd_recordings",
    "folder_items",
    "fsdd_items",
]

log = logging.getLogger(__name__)

BACKGROUND_FOLDER = "_background_noise_"
FSDD_SPLITS = ("standard", "speaker")
FSDD_TEST_INDICES = range(5)  # FSDD's README: recordings 0-4 of each digit and speaker are the test set
_FSDD_NAME = re.compile(r"(?P<digit>\d)_(?P<speaker>[^_]+)_(?P<index>\d+)")
_LISTS = {"val": "validation_list.txt", "test": "testing_list.txt"}


@dataclass(frozen=True)
class AudioItem:
    """One labelled clip, not yet decoded.

    Attributes:
        path: the audio file.
        label: class name.
        split: ``"train"``, ``"val"`` or ``"test"``.
        speaker: speaker name where the layout has one.
    """

    path: Path
    label: str
    split: str
    speaker: str | None = None


def _visible_files(folder: Path) -> list[Path]:
    """Files under ``folder`` (recursively), sorted, without hidden files such as ``.DS_Store``."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _audio_files(files: Iterable[Path], bad: BadFiles) -> list[Path]:
    keep = []
    for path in files:
        if path.suffix.lower() in AUDIO_SUFFIXES:
            keep.append(path)
        else:
            bad.report(
                path, f"not an audio file (suffix {path.suffix or 'none'!r}; expected one of {list(AUDIO_SUFFIXES)})"
            )
    return keep


def carve_split(items: Sequence[AudioItem], fraction: float, split: str, seed: int) -> list[AudioItem]:
    """Move a seeded, class-stratified ``fraction`` of the training items to ``split``
    (:func:`~seqconv.data.splits.stratified_holdout`); the rest of ``items`` is returned unchanged."""
    train = [i for i, item in enumerate(items) if item.split == "train"]
    held = stratified_holdout([items[i].label for i in train], fraction, seed)
    moved = {train[j] for j in np.flatnonzero(held)}
    return [replace(item, split=split) if i in moved else item for i, item in enumerate(items)]


# -- FSDD ------------------------------------------------------------------------------------------------
def find_fsdd_recordings(root: str | Path) -> Path:
    """The ``recordings`` folder of an FSDD copy: ``root/recordings``, ``root/<one folder>/recordings`` (the
    GitHub archive's layout), or ``root`` itself when it holds the ``.wav`` files.

    Raises:
        DataError: none of these exists.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"FSDD folder {root} does not exist; check data.path, or unset it to download FSDD")
    candidates = [root / "recordings", *sorted(root.glob("*/recordings"))]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    if any(_FSDD_NAME.fullmatch(p.stem) for p in root.glob("*.wav")):
        return root
    raise DataError(
        f"{root} is not an FSDD copy: found no recordings/ folder with {{digit}}_{{speaker}}_{{index}}.wav files "
        "in it or in one of its sub-folders; point data.path at the folder that holds recordings/"
    )


def fsdd_items(
    recordings: Path,
    bad: BadFiles,
    split: str = "standard",
    test_speakers: Sequence[str] | None = None,
    val_speakers: Sequence[str] | None = None,
    val_fraction: float = 0.1,
    seed: int = 42,
) -> list[AudioItem]:
    """List FSDD recordings ``{digit}_{speaker}_{index}.wav`` with their split.

    ``split="standard"`` puts recordings 0-4 of every digit and speaker in the test set (FSDD's own split);
    ``split="speaker"`` tests on ``test_speakers`` instead, so that the score is for voices never heard in
    training. Validation is ``val_speakers`` when given, else a seeded, class-stratified ``val_fraction`` of
    the remaining recordings.

    Raises:
        ConfigError: an unknown ``split``, a missing or unknown speaker list.
        DataError: no usable recordings.
    """
    if split not in FSDD_SPLITS:
        raise ConfigError(f"unknown data.split={split!r}; choose one of {list(FSDD_SPLITS)}")
    parsed = []
    for path in _audio_files(_visible_files(recordings), bad):
        match = _FSDD_NAME.fullmatch(path.stem)
        if match is None:
            bad.report(path, "the name does not follow FSDD's {digit}_{speaker}_{index}.wav")
            continue
        parsed.append((path, match["digit"], match["speaker"], int(match["index"])))
    if not parsed:
        raise DataError(f"{recordings}: no FSDD recordings ({{digit}}_{{speaker}}_{{index}}.wav) found")
    speakers = sorted({speaker for _, _, speaker, _ in parsed})
    test_set, val_set = set(test_speakers or ()), set(val_speakers or ())
    for key, chosen in (("test_speakers", test_set), ("val_speakers", val_set)):
        unknown = sorted(chosen - set(speakers))
        if unknown:
            raise ConfigError(f"data.{key}: no recordings of speaker(s) {unknown}; the speakers are {speakers}")
    if split == "speaker":
        if not test_set:
            raise ConfigError(
                f"data.split=speaker needs data.test_speakers, e.g. data.test_speakers=[{speakers[-1]}]; "
                f"the speakers are {speakers}"
            )
        if test_set & val_set or not set(speakers) - test_set - val_set:
            raise ConfigError(
                f"data.test_speakers={sorted(test_set)} and data.val_speakers={sorted(val_set)} must be disjoint "
                f"and leave speakers for training (speakers: {speakers})"
            )
    elif test_set:
        raise ConfigError("data.test_speakers only applies with data.split=speaker")

    items = []
    for path, digit, speaker, index in parsed:
        if split == "speaker":
            name = "test" if speaker in test_set else "val" if speaker in val_set else "train"
        else:
            name = "test" if index in FSDD_TEST_INDICES else "val" if speaker in val_set else "train"
        items.append(AudioItem(path, digit, name, speaker))
    return items if val_set else carve_split(items, val_fraction, "val", seed)


# -- class folders -------------------------------------------------------------------------------------
def _read_list(root: Path, name: str) -> set[str] | None:
    path = root / name
    if not path.is_file():
        return None
    return {line.strip().replace("\\", "/") for line in path.read_text().splitlines() if line.strip()}


def folder_items(
    root: str | Path,
    bad: BadFiles,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 42,
    classes: Sequence[str] | None = None,
) -> tuple[list[AudioItem], list[Path]]:
    """List a class-folder data set (the layout of Google Speech Commands): ``root/<class>/<file>``.

    ``validation_list.txt`` and ``testing_list.txt`` in ``root`` (paths like ``yes/0a7c2a8d_nohash_0.wav``)
    assign files to those splits; a split without its list is a seeded, class-stratified fraction of the
    training files. Folders whose name starts with ``_`` or ``.`` are not classes; ``_background_noise_``
    holds noise clips for augmentation.

    Returns:
        The items, and the background-noise files.

    Raises:
        DataError: ``root`` is missing or has no class folders.
        ConfigError: ``classes`` names a folder that does not exist.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"data.path={str(root)!r} is not a folder; point it at a folder with one sub-folder per class")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    if classes is not None:
        found = {p.name for p in folders}
        missing = [c for c in classes if c not in found]
        if missing:
            raise ConfigError(f"data.classes: no folder {missing} in {root}; the class folders are {sorted(found)}")
        folders = [p for p in folders if p.name in set(classes)]
    if not folders:
        raise DataError(f"{root} has no class folders; expected one sub-folder of audio files per class")

    lists = {split: _read_list(root, name) for split, name in _LISTS.items()}
    items: list[AudioItem] = []
    for folder in folders:
        files = _audio_files(_visible_files(folder), bad)
        if not files:
            bad.report(folder, "class folder has no audio files; the class is left out")
            continue
        for path in files:
            key = path.relative_to(root).as_posix()
            split = next((s for s, names in lists.items() if names is not None and key in names), "train")
            items.append(AudioItem(path, folder.name, split))
    if not items:
        raise DataError(f"{root}: no usable audio files in any class folder")
    listed = {item.path.relative_to(root).as_posix() for item in items}
    for split, names in lists.items():
        if names is not None:
            absent = sorted(names - listed)
            if absent and classes is None:
                log.warning("%s: %d entries name no usable file (e.g. %s)", _LISTS[split], len(absent), absent[0])
    for split, fraction, offset in (("val", val_fraction, 0), ("test", test_fraction, 1)):
        if lists[split] is None:
            items = carve_split(items, fraction, split, seed + offset)

    background_dir = root / BACKGROUND_FOLDER
    background = []
    if background_dir.is_dir():  # Speech Commands keeps a README.md there: only audio files count
        background = [p for p in _visible_files(background_dir) if p.suffix.lower() in AUDIO_SUFFIXES]
    return items, background
