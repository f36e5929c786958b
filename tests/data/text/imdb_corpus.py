"""Builders of a tiny movie-review corpus in the aclImdb layout (as files, a folder or a .tar.gz)."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

POSITIVE = ["a great film , i loved it", "wonderful acting and a great story", "loved every minute . great fun !"]
NEGATIVE = ["an awful film , i hated it", "boring acting and an awful story", "hated every minute . awful mess !"]
TEST_ONLY = "zyzzyva"  # appears in test reviews only: must be out of vocabulary


def reviews(split: str, label: str, n: int = 10) -> dict[str, bytes]:
    """``n`` reviews of one class; test reviews mention a word the training data never uses."""
    base = POSITIVE if label == "pos" else NEGATIVE
    files = {}
    for i in range(n):
        text = f"{base[i % len(base)]}<br /><br />review number {i} ."
        if split == "test":
            text += f" {TEST_ONLY}"
        files[f"aclImdb/{split}/{label}/{i}_{7 if label == 'pos' else 2}.txt"] = text.encode()
    return files


def corpus_files(extra: dict[str, bytes] | None = None) -> dict[str, bytes]:
    files = {}
    for split in ("train", "test"):
        for label in ("neg", "pos"):
            files.update(reviews(split, label))
    files["aclImdb/train/unsup/0_0.txt"] = b"unlabelled reviews are ignored"
    files["aclImdb/README"] = b"tiny aclImdb"
    files.update(extra or {})
    return files


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def write_tar(path: Path, files: dict[str, bytes], extra: tuple[tarfile.TarInfo, ...] = ()) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info, io.BytesIO(b"x" * info.size))
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
