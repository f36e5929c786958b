"""The three splits every datamodule serves, and the one seeded, class-stratified hold-out draw."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["SPLITS", "STAGE_SPLITS", "stratified_holdout"]

SPLITS = ("train", "val", "test")
# the splits each Lightning stage reads
STAGE_SPLITS = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("test",)}


def stratified_holdout(labels: Sequence[str], fraction: float, seed: int) -> np.ndarray:
    """A seeded, class-stratified choice of ``fraction`` of the items, as a ``[N]`` bool mask (``True``: held out).

    Each class with at least two items gives ``min(n - 1, max(1, round(n * fraction)))`` of them, so every class
    keeps at least one item and gives at least one; a class with a single item, or ``fraction <= 0``, gives none.
    Classes are visited in sorted order and each draws a permutation from one generator seeded with ``seed``, so
    the choice depends only on ``(labels, fraction, seed)``.
    """
    labels = np.asarray([str(label) for label in labels])
    held = np.zeros(len(labels), dtype=bool)
    if fraction <= 0:
        return held
    rng = np.random.default_rng(seed)
    for label in sorted(set(labels.tolist())):
        rows = np.flatnonzero(labels == label)
        if len(rows) < 2:
            continue
        count = min(len(rows) - 1, max(1, round(len(rows) * fraction)))
        held[rng.permutation(rows)[:count]] = True
    return held
