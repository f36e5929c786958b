"""Fixture clips for the audio tests: one tone per class, written with soundfile in both layouts."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

FSDD_SPEAKERS = ("alice", "bob", "carol")
FSDD_TOP = "free-spoken-digit-dataset-1.0.10"


def tone(label: int, sample_rate: int, seconds: float, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A class-specific tone (``300 + 150 * label`` Hz) with a little noise, ``[T]`` or ``[T, channels]``."""
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    wave = 0.5 * np.sin(2 * np.pi * (300 + 150 * label) * t)
    wave += 0.01 * np.random.default_rng(seed).standard_normal(t.size)
    wave = wave.astype(np.float32)
    return wave if channels == 1 else np.stack([wave] * channels, axis=1)


def write_clip(path: Path, label: int, sample_rate: int = 8000, seconds: float = 0.5, channels: int = 1) -> Path:
    """Write a tone for ``label`` (format from the suffix: wav, flac, ogg)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), tone(label, sample_rate, seconds, channels, seed=hash(path.name) % 2**32), sample_rate)
    return path


@pytest.fixture
def make_clip() -> Callable[..., Path]:
    """:func:`write_clip`."""
    return write_clip


def write_fsdd(root: Path, digits: int = 10, per_digit: int = 8, speakers=FSDD_SPEAKERS) -> Path:
    """An FSDD copy in the GitHub archive's layout: ``root/<top>/recordings/{digit}_{speaker}_{index}.wav``."""
    recordings = root / FSDD_TOP / "recordings"
    for speaker in speakers:
        for digit in range(digits):
            for index in range(per_digit):
                write_clip(recordings / f"{digit}_{speaker}_{index}.wav", digit, 8000, 0.3 + 0.05 * (index % 4))
    return recordings


def zip_tree(folder: Path, archive: Path, extra: dict[str, bytes] | None = None) -> Path:
    """Zip everything under ``folder`` with names relative to it, plus ``extra`` raw members."""
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, path.relative_to(folder).as_posix())
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return archive


@pytest.fixture
def make_fsdd() -> Callable[..., Path]:
    """:func:`write_fsdd`."""
    return write_fsdd


@pytest.fixture
def make_zip() -> Callable[..., Path]:
    """:func:`zip_tree`."""
    return zip_tree


@pytest.fixture(scope="session")
def fsdd_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session-wide FSDD-layout tree (10 digits x 3 speakers x 8 recordings); returns its ``recordings``."""
    return write_fsdd(tmp_path_factory.mktemp("fsdd_src"))


@pytest.fixture
def fsdd_url(http_server, fsdd_tree: Path) -> str:
    """URL of ``v1.0.10.zip`` (the FSDD tree, GitHub archive layout) on a local HTTP server."""
    zip_tree(fsdd_tree.parents[1], http_server.root / "v1.0.10.zip")
    return http_server.url("v1.0.10.zip")


@pytest.fixture
def folder_tree(tmp_path: Path) -> Path:
    """A Speech Commands-style tree: 3 classes, mixed formats, rates and channels, lists and background noise."""
    root = tmp_path / "commands"
    for label, name in enumerate(("down", "up", "yes")):
        for i in range(6):
            suffix, rate, channels = [(".wav", 16000, 1), (".flac", 22050, 1), (".ogg", 8000, 1), (".wav", 44100, 2)][
                i % 4
            ]
            write_clip(root / name / f"spk{i}_nohash_0{suffix}", label, rate, 0.8, channels)
    (root / "validation_list.txt").write_text("down/spk0_nohash_0.wav\nup/spk0_nohash_0.wav\nyes/spk0_nohash_0.wav\n")
    (root / "testing_list.txt").write_text("down/spk1_nohash_0.flac\nup/spk1_nohash_0.flac\nyes/spk1_nohash_0.flac\n")
    noise = root / "_background_noise_"
    noise.mkdir()
    sf.write(
        str(noise / "white_noise.wav"), np.random.default_rng(1).standard_normal(16000).astype(np.float32) * 0.1, 16000
    )
    (noise / "README.md").write_text("background clips\n")
    (root / "LICENSE").write_text("license\n")
    return root
