"""Movie reviews (IMDB, Maas et al. 2011) or your own labelled texts -> tokenized, padded batches."""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from seqconv.data.baseline_inputs import BaselineInputs
from seqconv.data.datamodule import SeqDataModule, batched, check_choice, check_fraction
from seqconv.data.download import ArchiveError, ChecksumError, DownloadError, extract_archive, fetch_and_extract
from seqconv.data.splits import SPLITS, stratified_holdout
from seqconv.data.text.dataset import TokenizedDataset
from seqconv.data.text.preprocessor import TextPreprocessor
from seqconv.data.text.sampler import BucketBatchSampler
from seqconv.data.text.sources import (
    LabelledTexts,
    ReviewCorpus,
    find_class_folders,
    fingerprint,
    read_class_folders,
    read_table,
)
from seqconv.data.text.tokenizers import TextTokenizer, tokenizer_from_state
from seqconv.errors import ConfigError, DataError
from seqconv.utils.io import write_atomic

__all__ = ["IMDB_SHA256", "IMDB_URL", "ReviewsDataModule"]

log = logging.getLogger(__name__)

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
# sha256 of aclImdb_v1.tar.gz (84,125,825 bytes). Stanford publishes no checksum; this is the digest that the
# Hugging Face dataset card and several independent loaders record (torchtext checks the matching MD5,
# 7c2ac02c03563afcf9b574c7e56c153a)
IMDB_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
_ARCHIVES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz", ".zip")
_CACHE_VERSION = 1  # bump when the cached tensors change meaning
UNKNOWN_LABELS = ("error", "skip")


class ReviewsDataModule(SeqDataModule):
    """Binary sentiment of movie reviews, or any labelled texts, as padded token-id batches.

    By default downloads the Large Movie Review Dataset (``aclImdb``: 25k train / 25k test reviews, ``neg`` and
    ``pos``) into ``data_dir`` in :meth:`prepare_data`, verifying its sha256. ``url`` points at a mirror;
    ``path`` at a local ``aclImdb`` folder (one sub-folder per class under ``train/`` and ``test/``), an archive
    of one, or a CSV / TSV / JSON Lines / Parquet table.

    The validation split is a seeded, stratified ``val_fraction`` of train; the tokenizer is fit on the
    remaining training texts only, by the :class:`TextPreprocessor` that also serves prediction. Batches are
    dicts: ``x`` ``[B, L]`` int64 ids (right-padded per batch to the longest sequence, at most ``max_length``),
    ``mask`` ``[B, L]`` (``True`` at real tokens), ``y`` ``[B]`` class indices and ``length`` ``[B]``. Tokenized
    splits are cached under ``data_dir/tokenized``, keyed by a hash of the source and the preprocessing settings.

    Args:
        data_dir: download and cache folder.
        url: where to download the archive (when ``path`` is unset).
        sha256: expected sha256 of that archive; ``None`` skips the check (e.g. for your own mirror).
        path: a local source instead of the download (see above).
        text_column: table column holding the text.
        label_column: table column holding the label.
        split_column: table column saying ``train`` / ``test`` (or ``val``) per row; without it (``None`` or
            absent) a seeded stratified ``test_fraction`` of the rows is the test split.
        classes: class names in label order; labels outside them are an error. ``None``: the class folders
            (``["neg", "pos"]`` for IMDB) or the sorted labels of a table's training rows.
        val_fraction: share of the training rows held out for validation.
        test_fraction: share of a table's rows used for test when it has no split column.
        split_seed: seed of the validation and test draws (independent of the training seed).
        tokenizer: ``kind`` (``"word"``, ``"char"`` or ``"subword"``) and that tokenizer's options, e.g.
            ``{"kind": "word", "min_freq": 2, "max_size": 30000}``.
        max_length: keep the first ``max_length`` tokens of each text.
        batch_size: texts per batch.
        bucket: batch texts of similar length together (less padding, faster).
        num_workers: DataLoader worker processes.
        pin_memory: page-locked batches for faster host-to-GPU copies.
        cache: cache the tokenized splits on disk.
        vocab_file: also write the fitted tokenizer as JSON here (the training run's folder by default), for
            prediction on raw text and for ``model.net.pretrained_embeddings``.
        unknown_labels: labels outside the known classes (``classes``, or those of a restored model): ``"error"``
            stops listing the unknown and the known names; ``"skip"`` leaves those texts out, counted in the log.
        test_only: every text of the source is test data, whatever its split (``eval.py`` on another labelled
            set); needs a restored, fitted preprocessor, and nothing is fitted or cached.
    """

    def __init__(
        self,
        data_dir: str = "data/imdb",
        url: str = IMDB_URL,
        sha256: str | None = IMDB_SHA256,
        path: str | None = None,
        text_column: str = "text",
        label_column: str = "label",
        split_column: str | None = "split",
        classes: list[str] | None = None,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        split_seed: int = 0,
        tokenizer: dict[str, Any] | None = None,
        max_length: int = 800,
        batch_size: int = 64,
        bucket: bool = True,
        num_workers: int = 0,
        pin_memory: bool = False,
        cache: bool = True,
        vocab_file: str | None = None,
        unknown_labels: str = "error",
        test_only: bool = False,
    ) -> None:
        for key, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
            check_fraction(key, value)
        check_choice("unknown_labels", unknown_labels, UNKNOWN_LABELS)
        if classes is not None and len(set(map(str, classes))) < 2:
            raise ConfigError(f"data.classes needs at least two distinct names, got {classes}")
        self.tokenizer_config = dict(tokenizer or {"kind": "word"})
        # fails on a bad tokenizer option or max_length now, not after reading the data
        preprocessor = TextPreprocessor.create(self.tokenizer_config, max_length, classes)
        super().__init__(preprocessor, batch_size, num_workers, pin_memory)
        self.save_hyperparameters(logger=False)
        self.data_dir = Path(data_dir)
        self._corpus: ReviewCorpus | None = None  # the texts read by setup(), kept for baseline_inputs()
        self.expected_classes: list[str] | None = preprocessor.classes

    collate_fn = staticmethod(batched)

    @property
    def tokenizer(self) -> TextTokenizer:
        """The preprocessor's tokenizer (fitted after :meth:`setup`)."""
        return self.preprocessor.tokenizer

    @property
    def classes(self) -> list[str] | None:
        """Class names in label order (after :meth:`setup`, or as configured)."""
        return self.preprocessor.classes

    # -- sizes that flow into the network and the task ----------------------------------------------------------
    @property
    def dims(self) -> dict[str, int]:
        """Network sizes implied by the data: ``vocab_size``, ``padding_idx``, ``num_classes``."""
        if not self.preprocessor.is_fitted:
            raise RuntimeError("call setup() before reading dims")
        return {
            "vocab_size": self.tokenizer.vocab_size,
            "padding_idx": self.tokenizer.pad_id,
            "num_classes": len(self.classes),
        }

    @property
    def task_kwargs(self) -> dict[str, Any]:
        """``num_classes`` and ``class_names`` for the classification task."""
        if not self.preprocessor.is_fitted:
            raise RuntimeError("call setup() before reading task_kwargs")
        return {"num_classes": len(self.classes), "class_names": list(self.classes)}

    # -- locating the source ----------------------------------------------------------------------------------
    @property
    def source(self) -> str:
        """Human-readable name of the data source."""
        return f"data.path={self.hparams.path!r}" if self.hparams.path else f"data.url={self.hparams.url!r}"

    def prepare_data(self) -> None:
        """Download and extract the archive (or extract ``path``'s archive) once; later calls reuse the cache."""
        self._locate()

    def _locate(self) -> Path:
        """The class-folder root or the table file to read; downloads or extracts on first use."""
        try:
            if self.hparams.path is None:
                extracted = fetch_and_extract(self.hparams.url, self.data_dir, self.hparams.sha256)
                return self._class_root(extracted, f"the archive from {self.hparams.url}")
            path = Path(self.hparams.path).expanduser()
            if not path.exists():
                raise DataError(
                    f"data.path={str(path)!r}: no such file or folder; point it at an aclImdb folder, its "
                    ".tar.gz, or a CSV / TSV / JSONL / Parquet file"
                )
            if path.is_dir():
                return self._class_root(path, f"data.path={str(path)!r}")
            name = path.name.lower()
            if name.endswith(_ARCHIVES):
                stem = next(path.name[: -len(s)] for s in _ARCHIVES if name.endswith(s))
                return self._class_root(extract_archive(path, self.data_dir / "extracted" / stem), str(path))
            return path
        except ChecksumError as err:
            raise DataError(
                f"{err} If {self.hparams.url} is a mirror with a different archive, set data.sha256 to its checksum "
                "(or data.sha256=null to skip the check)."
            ) from err
        except (DownloadError, ArchiveError) as err:
            raise DataError(f"{err} (reviews source: {self.source}; cache folder: {self.data_dir})") from err

    @staticmethod
    def _class_root(folder: Path, what: str) -> Path:
        root = find_class_folders(folder)
        if root is None:
            found = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))[:10]
            raise DataError(
                f"{what}: expected the aclImdb layout (train/<class>/*.txt and test/<class>/*.txt, directly or "
                f"under aclImdb/), found {found} in {folder}"
            )
        return root

    # -- reading, splitting, tokenizing -------------------------------------------------------------------------
    def _read(self, location: Path) -> ReviewCorpus:
        hp = self.hparams
        corpus = (
            read_class_folders(location, self.expected_classes)
            if location.is_dir()
            else read_table(location, hp.text_column, hp.label_column, hp.split_column)
        )
        if corpus.undecodable:
            log.warning(
                "%d review file(s) or line(s) were not valid UTF-8 and were decoded with replacement characters "
                "(first: %s)",
                corpus.undecodable,
                corpus.first_undecodable,
            )
        if hp.test_only:  # every text is test data, whatever split the source gives it
            everything = LabelledTexts()
            for part in corpus.splits.values():
                everything.texts += part.texts
                everything.labels += part.labels
                everything.rows += part.rows
            corpus.splits = {"test": everything}
            return corpus
        if "all" in corpus.splits:
            log.info(
                "%s has no %r column: a stratified %.0f%% of the rows is the test split",
                location.name,
                hp.split_column,
                100 * hp.test_fraction,
            )
            rest, test = _stratified_split(corpus.splits.pop("all"), hp.test_fraction, hp.split_seed + 1)
            corpus.splits.update(train=rest, test=test)
        if "val" not in corpus.splits:
            train, val = _stratified_split(corpus.splits["train"], hp.val_fraction, hp.split_seed)
            corpus.splits.update(train=train, val=val)
        return corpus

    def _resolve_classes(self, corpus: ReviewCorpus) -> list[str]:
        if self.preprocessor.classes is not None:
            return self.preprocessor.classes
        if corpus.classes is not None:
            return corpus.classes
        return sorted(set(corpus.splits["train"].labels))

    def _label_ids(self, split: str, texts: LabelledTexts, classes: list[str]) -> list[int]:
        index = {name: i for i, name in enumerate(classes)}
        unknown = Counter(label for label in texts.labels if label not in index)
        if unknown:
            found = dict(sorted(Counter(texts.labels).items()))
            first = next(i for i, label in enumerate(texts.labels) if label not in index)
            where = f"data row {texts.rows[first]}" if texts.rows else f"{split} review {first + 1}"
            raise DataError(
                f"{self.source}: the {split} split has labels {sorted(unknown)} outside the known classes "
                f"{classes} (first at {where}); labels found with their counts: {found}. Fix the "
                f"{self.hparams.label_column!r} column, list every class in data.classes, or leave those texts "
                "out with data.unknown_labels=skip"
            )
        return [index[label] for label in texts.labels]

    @property
    def _splits(self) -> tuple[str, ...]:
        return ("test",) if self.hparams.test_only else SPLITS

    def _drop_unknown(self, corpus: ReviewCorpus, classes: list[str]) -> None:
        """``data.unknown_labels=skip``: leave out the texts whose label is not one of ``classes``, and log them."""
        known, dropped = set(classes), Counter()
        for split, texts in corpus.splits.items():
            keep = [i for i, label in enumerate(texts.labels) if label in known]
            dropped.update(label for label in texts.labels if label not in known)
            if not keep:
                raise DataError(f"{self.source}: no {split} text has a label among the classes {classes}")
            if len(keep) < len(texts):
                corpus.splits[split] = LabelledTexts(
                    [texts.texts[i] for i in keep],
                    [texts.labels[i] for i in keep],
                    [texts.rows[i] for i in keep] if texts.rows else [],
                )
        if dropped:
            log.warning(
                "data.unknown_labels=skip: left out %d text(s) whose labels are outside the classes %s: %s",
                sum(dropped.values()),
                classes,
                dict(sorted(dropped.items())),
            )

    def _cache_key(self, location: Path) -> str:
        hp = self.hparams
        settings = {
            "version": _CACHE_VERSION,
            # a verified download is identified by its checksum; a local source by its content (or file stats)
            "source": fingerprint(Path(hp.path).expanduser()) if hp.path else (hp.sha256 or fingerprint(location)),
            "columns": [hp.text_column, hp.label_column, hp.split_column],
            "classes": hp.classes,
            "splits": [hp.val_fraction, hp.test_fraction, hp.split_seed],
            "tokenizer": self.tokenizer_config,
            "max_length": hp.max_length,
            # skipping changes which rows the splits hold (kept out of the key otherwise: existing caches stay valid)
            **({"unknown_labels": "skip"} if hp.unknown_labels == "skip" else {}),
        }
        return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:20]

    def _tokenize(self, corpus: ReviewCorpus, classes: list[str]) -> dict[str, Any]:
        """Fit the preprocessor on train (unless one was restored) and encode every split."""
        pre = self.preprocessor
        texts = {split: pre.clean(corpus.splits[split].texts) for split in self._splits}
        if not pre.tokenizer.is_fitted:
            pre.fit(texts["train"], classes)
            log.info(
                "fit a %s tokenizer on %d training texts: %d ids",
                pre.tokenizer.kind,
                len(texts["train"]),
                pre.tokenizer.vocab_size,
            )
        splits, empty, truncated = {}, 0, 0
        for split in self._splits:
            sequences, split_empty, split_truncated = pre.encode(texts[split])
            empty, truncated = empty + split_empty, truncated + split_truncated
            labels = self._label_ids(split, corpus.splits[split], classes)
            data = TokenizedDataset.from_lists(sequences, labels, pre.tokenizer.pad_id)
            splits[split] = {"ids": data.ids, "offsets": data.offsets, "labels": data.labels}
        if empty:
            log.warning("%d review(s) are empty after cleaning; each is encoded as a single <unk> token", empty)
        log.info("%d review(s) truncated to data.max_length=%d tokens", truncated, pre.max_length)
        return {"tokenizer": pre.tokenizer.state_dict(), "classes": classes, "splits": splits}

    def setup(self, stage: str | None = None) -> None:
        """Read, split and tokenize the reviews (or load them from the cache); build the split datasets."""
        if self.datasets:
            return
        location = self._locate()
        cache_file = self.data_dir / "tokenized" / f"{self._cache_key(location)}.pt"
        restored = self.tokenizer.state_dict() if self.tokenizer.is_fitted else None
        if self.hparams.test_only and restored is None:
            raise ConfigError(
                "data.test_only=true tests a trained model on the whole source: it needs the model's fitted "
                "preprocessor (eval.py ckpt_path=... restores it)"
            )
        cached = self.hparams.cache and not self.hparams.test_only  # the cache holds train/val/test splits
        bundle = None
        if cached and cache_file.is_file():
            bundle = torch.load(cache_file, weights_only=True)
            if restored is not None and bundle["tokenizer"] != restored:
                log.info("%s was tokenized with another vocabulary; re-tokenizing with the restored one", cache_file)
                bundle = None
            else:
                log.info("loaded the tokenized reviews from %s", cache_file)
        if bundle is None:
            corpus = self._read(location)
            classes = self._resolve_classes(corpus)
            if self.hparams.unknown_labels == "skip":
                self._drop_unknown(corpus, classes)
            bundle = self._tokenize(corpus, classes)
            self._corpus = corpus
            if cached and restored is None:
                write_atomic(cache_file, lambda f: torch.save(bundle, f))
        if self.classes is not None and self.classes != bundle["classes"]:
            raise DataError(f"{self.source}: classes {bundle['classes']} differ from the expected {self.classes}")
        if not self.tokenizer.is_fitted:
            self.preprocessor.tokenizer = tokenizer_from_state(bundle["tokenizer"])
        self.preprocessor.fit([], bundle["classes"])
        for split in self._splits:
            part = bundle["splits"][split]
            self.datasets[split] = TokenizedDataset(part["ids"], part["offsets"], part["labels"], self.tokenizer.pad_id)
            counts = torch.bincount(part["labels"], minlength=len(self.classes)).tolist()
            log.info(
                "%s: %d reviews %s, mean length %.0f tokens",
                split,
                len(self.datasets[split]),
                dict(zip(self.classes, counts, strict=True)),
                self.datasets[split].lengths.float().mean(),
            )
        if self.hparams.vocab_file:
            self.save_vocab(self.hparams.vocab_file)

    # -- what the baselines read ------------------------------------------------------------------------------
    def baseline_inputs(self) -> BaselineInputs:
        """The cleaned training and test texts with their class indices (after :meth:`setup`: the texts it read,
        or, when it loaded the tokenized cache, which holds only ids, the source read again)."""
        if self.classes is None:
            raise RuntimeError("call setup() before asking for the baseline inputs")
        corpus, self._corpus = self._corpus, None  # read once per run at most
        if corpus is None:
            corpus = self._read(self._locate())
            if self.hparams.unknown_labels == "skip":
                self._drop_unknown(corpus, self.classes)
        train, test = corpus.splits["train"], corpus.splits["test"]
        return BaselineInputs(
            domain="text",
            classes=list(self.classes),
            train_inputs=self.preprocessor.clean(train.texts),
            train_labels=self._label_ids("train", train, self.classes),
            test_inputs=self.preprocessor.clean(test.texts),
            test_labels=self._label_ids("test", test, self.classes),
        )

    @property
    def baseline_cache(self) -> Path | None:
        """Where baseline results are cached: beside the tokenized splits, under the same key (``None`` with
        ``data.cache=false``)."""
        if not self.hparams.cache:
            return None
        return self.data_dir / "tokenized" / self._cache_key(self._locate())

    def save_vocab(self, path: str | Path) -> Path:
        """Write the fitted tokenizer and the class names as JSON (what :meth:`state_dict` holds)."""
        path = Path(path)
        text = json.dumps({**self.tokenizer.state_dict(), "classes": self.classes}, ensure_ascii=False)
        if not path.is_file() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return path

    # -- loaders: length buckets on one device, the shared loader under DDP ---------------------------------------
    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        dataset = self.datasets[split]
        distributed = self.trainer is not None and self.trainer.world_size > 1
        if not self.hparams.bucket or distributed:  # under DDP, Lightning's DistributedSampler shards instead
            return super()._loader(split, shuffle)
        # seeded by (seed + epoch), never the global generator: a resumed run sees the same batches
        sampler = BucketBatchSampler(dataset.lengths, self.batch_size, shuffle=shuffle, seed=torch.initial_seed())
        return DataLoader(
            dataset,
            batch_sampler=sampler,
            collate_fn=batched,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
        )


def _stratified_split(texts: LabelledTexts, fraction: float, seed: int) -> tuple[LabelledTexts, LabelledTexts]:
    """Split off a seeded, stratified ``fraction`` of the rows (:func:`stratified_holdout`); both parts keep the
    original order."""
    held = stratified_holdout(texts.labels, fraction, seed)
    keep, out = LabelledTexts(), LabelledTexts()
    for i, (text, label) in enumerate(zip(texts.texts, texts.labels, strict=True)):
        part = out if held[i] else keep
        part.texts.append(text)
        part.labels.append(label)
        if texts.rows:
            part.rows.append(texts.rows[i])
    if not keep.texts or not out.texts:
        raise DataError(f"{len(texts)} rows are too few to split off {fraction:.0%}; use more data")
    return keep, out
