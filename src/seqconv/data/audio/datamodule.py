"""Audio classification datamodules: FSDD spoken digits (downloaded) and class-folder data sets (local)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from seqconv.data.audio.augment import WaveformAugment
from seqconv.data.audio.dataset import AudioClipDataset
from seqconv.data.audio.decode import AudioDecodeError, BadFiles, load_audio, probe_audio
from seqconv.data.audio.preprocessor import AudioPreprocessor
from seqconv.data.audio.sources import AudioItem, find_fsdd_recordings, folder_items, fsdd_items
from seqconv.data.baseline_inputs import BaselineInputs
from seqconv.data.datamodule import SeqDataModule, check_choice, check_fraction
from seqconv.data.download import ArchiveError, DownloadError, fetch_and_extract
from seqconv.data.splits import SPLITS, STAGE_SPLITS
from seqconv.errors import ConfigError, DataError

__all__ = ["FSDD_URL", "AudioDataModule", "AudioFolderDataModule", "DigitsDataModule"]

log = logging.getLogger(__name__)

FSDD_URL = "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/v1.0.10.zip"
UNKNOWN_LABELS = ("error", "skip")


class AudioDataModule(SeqDataModule):
    """Labelled audio clips -> fixed-length mono waveforms ``x [B, T]`` with class indices ``y [B]``.

    Subclasses say where the clips are (:meth:`list_items`). ``setup`` decodes every file of the splits it
    needs in the main process, mixes it to mono, resamples it to ``sample_rate`` and normalizes it, so a bad
    file is reported (with its name) before training starts, never inside a DataLoader worker. Clips are
    cropped or zero-padded to ``clip_seconds``: at random positions in training, centred in evaluation.

    Decoding, normalization and cropping go through the :class:`AudioPreprocessor`, whose class index map,
    sample rate and clip length travel with every checkpoint (:meth:`state_dict`), so ``eval.py`` and
    ``predict.py`` map class names to the same indices and prepare clips the same way.

    Args:
        sample_rate: sample rate the clips are resampled to, in Hz.
        clip_seconds: clip length in seconds; ``T = round(clip_seconds * sample_rate)``.
        normalize: per-clip ``"peak"`` (max ``|x|`` = 1), ``"rms"`` (zero mean, unit variance) or ``"none"``.
        augment: training augmentation (``None`` for none).
        on_bad_file: ``"skip"`` (warn, naming the file, and count) or ``"error"`` (fail naming the file).
        preload: decode every clip in ``setup`` and keep it in memory; ``False`` checks only the headers in
            ``setup`` and decodes on access (for data sets larger than memory).
        val_fraction: share of training clips moved to validation where the source defines no validation set.
        seed: seed of those random splits (independent of the training seed).
        batch_size: clips per batch.
        num_workers: DataLoader worker processes.
        pin_memory: page-locked batches for faster host-to-GPU copies.
        unknown_labels: classes outside those of a restored model: ``"error"`` stops listing the unknown and the
            known names; ``"skip"`` leaves their clips out, counted in the log.
        test_only: every clip is test data, whatever its split (``eval.py`` on another labelled set).
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        clip_seconds: float = 1.0,
        normalize: str = "peak",
        augment: WaveformAugment | None = None,
        on_bad_file: str = "skip",
        preload: bool = True,
        val_fraction: float = 0.1,
        seed: int = 42,
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
        unknown_labels: str = "error",
        test_only: bool = False,
    ) -> None:
        check_choice("unknown_labels", unknown_labels, UNKNOWN_LABELS)
        if clip_seconds <= 0:
            raise ConfigError(f"data.clip_seconds must be positive, got {clip_seconds}")
        check_fraction("val_fraction", val_fraction, low_inclusive=True)
        if augment is not None and augment.sample_rate != sample_rate:
            raise ConfigError(
                f"data.augment.sample_rate={augment.sample_rate} differs from data.sample_rate={sample_rate}; "
                "set it to ${data.sample_rate}"
            )
        preprocessor = AudioPreprocessor(sample_rate, round(clip_seconds * sample_rate), normalize)
        super().__init__(preprocessor, batch_size, num_workers, pin_memory)
        self.augment, self.preload = augment, preload
        self.bad_files = BadFiles(on_bad_file)
        self.val_fraction, self.seed = val_fraction, seed
        self.unknown_labels, self.test_only = unknown_labels, test_only
        self._items: list[AudioItem] | None = None
        self._background_paths: list[Path] = []

    @property
    def sample_rate(self) -> int:
        return self.preprocessor.sample_rate

    @property
    def clip_length(self) -> int:
        return self.preprocessor.clip_length

    @property
    def classes(self) -> list[str] | None:
        """Class names in index order (after :meth:`setup`, or restored from a checkpoint)."""
        return self.preprocessor.classes

    # -- what a source provides -------------------------------------------------------------------------
    def list_items(self) -> tuple[list[AudioItem], list[Path]]:
        """The labelled clips with their split, and background-noise files (subclasses)."""
        raise NotImplementedError

    # -- sizes that flow into the network and the task ---------------------------------------------------
    @property
    def dims(self) -> dict[str, int]:
        """Network sizes implied by the data: ``in_channels``, ``input_length``, ``num_classes``, ``sample_rate``."""
        return {
            "in_channels": 1,
            "input_length": self.clip_length,
            "num_classes": len(self._classes()),
            "sample_rate": self.sample_rate,
        }

    @property
    def task_kwargs(self) -> dict[str, Any]:
        """``num_classes`` and ``class_names`` for the classification task."""
        return {"num_classes": len(self._classes()), "class_names": list(self._classes())}

    def _classes(self) -> list[str]:
        if self.classes is None:
            raise RuntimeError("call setup() before reading the classes")
        return self.classes

    # -- decoding -----------------------------------------------------------------------------------------
    def _decode(self, paths: Sequence[Path]) -> list[torch.Tensor | None]:
        """Decoded, normalized clips (``None`` for a skipped file); headers only without ``preload``."""
        out: list[torch.Tensor | None] = []
        for path in paths:
            if not self.preload:
                problem = probe_audio(path)
                if problem is not None:
                    self.bad_files.report(path, problem)
                out.append(torch.empty(0) if problem is None else None)
                continue
            try:
                out.append(self.preprocessor.decode(path))
            except AudioDecodeError as err:
                self.bad_files.report(err.path, err.reason)
                out.append(None)
        return out

    def _build(self, split: str, items: list[AudioItem], background: list[torch.Tensor]) -> AudioClipDataset:
        clips = self._decode([item.path for item in items])
        kept = [(item, clip) for item, clip in zip(items, clips, strict=True) if clip is not None]
        if not kept:
            raise DataError(
                f"the {split} split has no usable clips ({len(items)} listed, all skipped); see the warnings above"
            )
        index = {name: i for i, name in enumerate(self._classes())}
        counts = Counter(item.label for item, _ in kept)
        log.info("%s: %d clips, %d classes", split, len(kept), len(counts))
        if split == "train":
            absent = [c for c in self._classes() if c not in counts]
            if absent:
                log.warning("classes %s have no training clips; the model cannot learn them", absent)
        return AudioClipDataset(
            labels=[index[item.label] for item, _ in kept],
            preprocessor=self.preprocessor,
            clips=[clip for _, clip in kept] if self.preload else None,
            paths=[item.path for item, _ in kept],
            train=split == "train",
            augment=self.augment if split == "train" else None,
            background=background if split == "train" else (),
        )

    def _background(self) -> list[torch.Tensor]:
        """Background-noise clips for augmentation (decoded, never normalized or used as a class)."""
        if self.augment is None or self.augment.noise_prob == 0 or self.augment.noise == "gaussian":
            return []
        clips = []
        for path in self._background_paths:
            try:
                clips.append(load_audio(path, self.sample_rate))
            except AudioDecodeError as err:
                self.bad_files.report(err.path, err.reason)
        if self.augment.noise == "background" and not clips:
            raise ConfigError(
                "data.augment.noise=background, but the data set has no usable background clips (a "
                "_background_noise_ folder of audio files); use data.augment.noise=gaussian or auto"
            )
        return clips

    def setup(self, stage: str | None = None) -> None:
        """List the clips (once), fix the class index map, and decode the splits that ``stage`` needs."""
        if self._items is None:
            if self.test_only and self.classes is None:
                raise ConfigError(
                    "data.test_only=true tests a trained model on the whole data set: it needs the model's fitted "
                    "preprocessor (eval.py ckpt_path=... restores it)"
                )
            self._items, self._background_paths = self.list_items()
            if self.test_only:
                self._items = [replace(item, split="test") for item in self._items]
            labels = sorted({item.label for item in self._items})
            if self.classes is None:
                self.preprocessor.fit(labels)
            unknown = Counter(item.label for item in self._items if item.label not in self.classes)
            if unknown and self.unknown_labels == "error":
                raise DataError(
                    f"the data has classes {sorted(unknown)} that the checkpoint's model was not trained on (its "
                    f"classes: {self.classes}); remove those folders, select classes with data.classes, or leave "
                    "their clips out with data.unknown_labels=skip"
                )
            if unknown:
                self._items = [item for item in self._items if item.label not in unknown]
                log.warning(
                    "data.unknown_labels=skip: left out %d clip(s) of classes outside the model's %s: %s",
                    sum(unknown.values()),
                    self.classes,
                    dict(sorted(unknown.items())),
                )
        splits = STAGE_SPLITS.get(stage, SPLITS) if stage is not None else SPLITS
        if self.test_only:
            splits = tuple(split for split in splits if split == "test")
        todo = [split for split in splits if split not in self.datasets]
        background = self._background() if "train" in todo else []
        for split in todo:
            items = [item for item in self._items if item.split == split]
            if not items:
                raise DataError(f"the {split} split is empty; check the data's split settings (data.*_fraction)")
            self.datasets[split] = self._build(split, items, background)
        if todo:
            self.bad_files.summarize(type(self).__name__, len(self._items))

    # -- what the baselines read ------------------------------------------------------------------------------
    def baseline_inputs(self) -> BaselineInputs:
        """The training and test clips as the network sees them in evaluation (centred, cropped or padded; no
        augmentation), from the clips decoded in :meth:`setup`, with their class indices."""
        self.setup("fit")
        self.setup("test")
        train, test = self.datasets["train"], self.datasets["test"]
        return BaselineInputs(
            domain="audio",
            classes=list(self._classes()),
            train_inputs=_CentredClips(train),
            train_labels=train.labels.tolist(),
            test_inputs=_CentredClips(test),
            test_labels=test.labels.tolist(),
            sample_rate=self.sample_rate,
        )

    #: baselines on audio are not cached on disk (the decoded clips live in memory only)
    baseline_cache: Path | None = None


class _CentredClips(Sequence[torch.Tensor]):
    """A clip dataset's ``[clip_length]`` waveforms, centred and without augmentation, decoded on access."""

    def __init__(self, dataset: AudioClipDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.dataset.preprocessor.fit_length(self.dataset.clip(index))


class DigitsDataModule(AudioDataModule):
    """The Free Spoken Digit Dataset (FSDD): ``recordings/{digit}_{speaker}_{index}.wav``, 8 kHz mono, 10 classes.

    Downloaded from its GitHub release archive into ``cache_dir`` (temporary file, optional sha256, atomic
    move, safe extraction, no second download), or read from a local copy at ``path``.

    Args:
        url: archive to download (``http(s)://``, ``file://`` or a local path to a ``.zip`` / ``.tar.gz``).
        sha256: expected sha256 of the archive, or ``None`` to skip the check.
        path: a local FSDD copy (the folder that holds ``recordings/``); skips the download.
        cache_dir: where the archive is downloaded and extracted.
        split: ``"standard"`` (recordings 0-4 are the test set) or ``"speaker"`` (``test_speakers`` are).
        test_speakers: speakers held out for testing with ``split="speaker"``.
        val_speakers: speakers held out for validation; ``None`` carves ``val_fraction`` of the training clips.
        **kwargs: as :class:`AudioDataModule`.
    """

    def __init__(
        self,
        url: str | None = FSDD_URL,
        sha256: str | None = None,
        path: str | None = None,
        cache_dir: str = "data/fsdd",
        split: str = "standard",
        test_speakers: Sequence[str] | None = None,
        val_speakers: Sequence[str] | None = None,
        sample_rate: int = 8000,
        **kwargs: Any,
    ) -> None:
        super().__init__(sample_rate=sample_rate, **kwargs)
        if path is None and not url:
            raise ConfigError("set data.url (an FSDD archive to download) or data.path (a local FSDD copy)")
        self.url, self.sha256, self.path, self.cache_dir = url, sha256, path, Path(cache_dir)
        self.split, self.test_speakers, self.val_speakers = split, test_speakers, val_speakers

    def _root(self) -> Path:
        if self.path is not None:
            return Path(self.path)
        try:
            return fetch_and_extract(self.url, self.cache_dir, self.sha256)
        except (DownloadError, ArchiveError, FileExistsError, ValueError) as err:
            raise DataError(f"FSDD: {err}") from err

    def prepare_data(self) -> None:
        """Download and extract the archive (once)."""
        self._root()

    def list_items(self) -> tuple[list[AudioItem], list[Path]]:
        recordings = find_fsdd_recordings(self._root())
        items = fsdd_items(
            recordings,
            self.bad_files,
            split=self.split,
            test_speakers=self.test_speakers,
            val_speakers=self.val_speakers,
            val_fraction=self.val_fraction,
            seed=self.seed,
        )
        return items, []


class AudioFolderDataModule(AudioDataModule):
    """One sub-folder of audio files per class (the layout of Google Speech Commands).

    ``validation_list.txt`` / ``testing_list.txt`` are honoured when present; otherwise seeded stratified
    fractions are held out. Clips in ``_background_noise_`` feed noise augmentation and are never a class.

    Args:
        path: the data set's root folder (required; ``None`` fails in ``prepare_data`` with a hint).
        test_fraction: share of training clips moved to test when there is no ``testing_list.txt``.
        classes: class folders to use (all when ``None``).
        **kwargs: as :class:`AudioDataModule`.
    """

    def __init__(
        self,
        path: str | None = None,
        test_fraction: float = 0.1,
        classes: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not 0.0 <= test_fraction < 1.0 or self.val_fraction + test_fraction >= 1.0:
            raise ConfigError(
                f"data.test_fraction={test_fraction} must be in [0, 1) and leave clips for training together "
                f"with data.val_fraction={self.val_fraction}"
            )
        self.path, self.test_fraction, self.class_filter = path, test_fraction, classes

    def prepare_data(self) -> None:
        """Check that ``path`` is set (nothing to download)."""
        self._path()

    def _path(self) -> Path:
        if self.path is None:
            raise ConfigError(
                "data=audio_folder needs data.path=<a folder with one sub-folder of audio files per class>"
            )
        return Path(self.path)

    def list_items(self) -> tuple[list[AudioItem], list[Path]]:
        return folder_items(
            self._path(),
            self.bad_files,
            val_fraction=self.val_fraction,
            test_fraction=self.test_fraction,
            seed=self.seed,
            classes=self.class_filter,
        )
