"""Where labelled reviews come from: an ``aclImdb``-style folder (one sub-folder per class) or a table file.

Readers return raw texts and label names; they never crash on bad bytes: text that is not valid UTF-8 is
decoded with replacement characters and counted, so the caller can report it.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from seqconv.data.download import sha256_file
from seqconv.errors import DataError

__all__ = [
    "SPLIT_NAMES",
    "TABLE_FORMATS",
    "LabelledTexts",
    "ReviewCorpus",
    "clean_review",
    "find_class_folders",
    "fingerprint",
    "read_class_folders",
    "read_table",
]

TABLE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
# values of a table's split column, and the split each one means
SPLIT_NAMES = {"train": "train", "test": "test", "val": "val", "valid": "val", "validation": "val", "dev": "val"}
_BREAK_RE = re.compile(r"<br\s*/?>", re.IGNORECASE)


def clean_review(text: str) -> str:
    """Replace the IMDB ``<br />`` line-break markup with spaces and strip the ends."""
    return _BREAK_RE.sub(" ", text).strip()


@dataclass
class LabelledTexts:
    """Texts and their label names, in the same order, with the 1-based data row of each in its table file
    (``rows`` is empty for class folders)."""

    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class ReviewCorpus:
    """What a reader found.

    Attributes:
        splits: ``"train"``, ``"test"`` and optionally ``"val"``; a table without a split column gives ``"all"``.
        classes: class names in index order, when the source defines them (class folders), else ``None``.
        undecodable: files (or table lines) that were not valid UTF-8 and were decoded with replacement.
        first_undecodable: where the first of them is.
    """

    splits: dict[str, LabelledTexts]
    classes: list[str] | None = None
    undecodable: int = 0
    first_undecodable: str | None = None

    def _bad_bytes(self, where: str, count: int = 1) -> None:
        self.undecodable += count
        self.first_undecodable = self.first_undecodable or where


def _decode(raw: bytes) -> tuple[str, int]:
    """UTF-8 text of ``raw`` and the number of lines that needed replacement characters."""
    try:
        return raw.decode("utf-8"), 0
    except UnicodeDecodeError:
        bad = 0
        for line in raw.split(b"\n"):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                bad += 1
        return raw.decode("utf-8", errors="replace"), bad


# -- class folders (the aclImdb layout) ------------------------------------------------------------------------


def find_class_folders(path: Path) -> Path | None:
    """The folder holding ``train/`` and ``test/`` at ``path`` or in ``path/aclImdb``, or ``None``."""
    for root in (path, path / "aclImdb"):
        if (root / "train").is_dir() and (root / "test").is_dir():
            return root
    return None


def read_class_folders(root: Path, classes: list[str] | None = None) -> ReviewCorpus:
    """Read ``root/{train,test}/<class>/*.txt`` (the ``aclImdb`` layout; ``train/unsup`` is ignored).

    Args:
        root: the folder holding ``train/`` and ``test/``.
        classes: the class folders to read, in label order; ``None`` reads every folder of ``train/`` except
            ``unsup``, in alphabetical order (``["neg", "pos"]`` for IMDB).

    Raises:
        DataError: a class folder is missing or empty.
    """
    if classes is None:
        classes = sorted(p.name for p in (root / "train").iterdir() if p.is_dir() and p.name != "unsup")
    if len(classes) < 2:
        raise DataError(
            f"{root / 'train'} has the class folders {classes}; a classifier needs at least two "
            "(the aclImdb layout is train/pos, train/neg, test/pos, test/neg)"
        )
    corpus = ReviewCorpus(splits={}, classes=list(classes))
    for split in ("train", "test"):
        texts = LabelledTexts()
        for name in classes:
            folder = root / split / name
            files = sorted(folder.glob("*.txt")) if folder.is_dir() else []
            if not files:
                found = sorted(p.name for p in (root / split).iterdir() if p.is_dir() and p.name != "unsup")
                raise DataError(
                    f"{folder} has no .txt reviews (class folders found in {root / split}: {found}); "
                    f"set data.classes to the folders to read, e.g. data.classes=[{','.join(found[:2])}]"
                )
            for file in files:
                text, bad = _decode(file.read_bytes())
                if bad:
                    corpus._bad_bytes(str(file))
                texts.texts.append(text)
                texts.labels.append(name)
        corpus.splits[split] = texts
    return corpus


# -- table files ------------------------------------------------------------------------------------------------


def _read_frame(path: Path) -> tuple[pd.DataFrame, int]:
    fmt = TABLE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"data.path={str(path)!r}: cannot read {path.suffix or 'a file without suffix'!r} files; use an "
            f"aclImdb folder, a .tar.gz of one, or a table ({', '.join(TABLE_FORMATS)})"
        )
    try:
        if fmt == "parquet":
            return pd.read_parquet(path), 0
        text, bad = _decode(path.read_bytes())
        if fmt == "jsonl":
            return pd.read_json(io.StringIO(text), lines=True, dtype=False), bad
        # index_col=False + ParserWarning as an error: a row with more fields than the header stops the run
        # instead of silently shifting the columns or dropping the extra cells
        sep = "\t" if fmt == "tsv" else ","
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, index_col=False), bad
    except pd.errors.ParserWarning as err:
        raise DataError(
            f"data.path={str(path)!r}: some rows have more fields than the header ({err}); quote cells that "
            "contain the separator"
        ) from err
    except ValueError as err:  # pandas' parser errors, JSON errors and Arrow's ArrowInvalid are ValueErrors
        raise DataError(f"data.path={str(path)!r} is not a readable {fmt} file: {err}") from err


def read_table(path: Path, text_column: str, label_column: str, split_column: str | None) -> ReviewCorpus:
    """Read reviews from a CSV, TSV, JSON Lines or Parquet file.

    Args:
        path: the file; its suffix gives the format.
        text_column: column holding the review text (empty cells are empty reviews).
        label_column: column holding the label (compared as text: ``1`` and ``"1"`` are the same label).
        split_column: column saying ``train`` / ``test`` (or ``val``) per row; when ``None`` or absent, every
            row goes to the ``"all"`` split and the caller splits it.

    Raises:
        DataError: unreadable file, missing column, empty or unknown split names.
    """
    frame, bad = _read_frame(path)
    frame.columns = [str(c) for c in frame.columns]
    for key, column in (("text_column", text_column), ("label_column", label_column)):
        if column not in frame.columns:
            raise DataError(
                f"data.path={str(path)!r} has no column {column!r} (data.{key}); its columns are "
                f"{list(frame.columns)}: set data.{key} to one of them"
            )
    if frame.empty:
        raise DataError(f"data.path={str(path)!r} has no rows")
    labels = frame[label_column]
    missing = labels.isna() | (labels.astype(str).str.strip() == "")
    if missing.any():
        rows = (np.flatnonzero(missing.to_numpy())[:5] + 1).tolist()
        raise DataError(
            f"data.path={str(path)!r}: column {label_column!r} is empty in {int(missing.sum())} row(s), first "
            f"at data row(s) {rows}; every review needs a label"
        )
    texts = frame[text_column].where(frame[text_column].notna(), "").astype(str).tolist()
    label_names = [_label_name(v) for v in labels.tolist()]
    corpus = ReviewCorpus(splits={})
    if bad:
        corpus._bad_bytes(str(path), bad)
    rows = list(range(1, len(frame) + 1))
    if split_column is None or split_column not in frame.columns:
        corpus.splits["all"] = LabelledTexts(texts, label_names, rows)
        return corpus
    names = frame[split_column].astype(str).str.strip().str.lower()
    unknown = sorted(set(names) - set(SPLIT_NAMES))
    if unknown:
        raise DataError(
            f"data.path={str(path)!r}: column {split_column!r} (data.split_column) has the value(s) {unknown}; "
            f"expected {sorted(SPLIT_NAMES)}. Fix the column, or set data.split_column=null to split at random"
        )
    for name, text, label, row in zip(names, texts, label_names, rows, strict=True):
        split = corpus.splits.setdefault(SPLIT_NAMES[name], LabelledTexts())
        split.texts.append(text)
        split.labels.append(label)
        split.rows.append(row)
    for split in ("train", "test"):
        if split not in corpus.splits:
            raise DataError(
                f"data.path={str(path)!r}: no row has {split_column}={split!r}; both train and test rows are "
                "needed (or set data.split_column=null to split at random)"
            )
    return corpus


def _label_name(value: object) -> str:
    """Labels compare as text; a float that is a whole number (``1.0``, as pandas reads ``1`` next to a NaN)
    is the integer's text."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def fingerprint(path: Path) -> str:
    """A digest that changes when the data at ``path`` changes: the sha256 of a file, or of the names, sizes
    and modification times of every file under a folder."""
    if path.is_file():
        return sha256_file(path)
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            stat = os.stat(os.path.join(root, name))
            relative = os.path.relpath(os.path.join(root, name), path)
            digest.update(f"{relative}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()
