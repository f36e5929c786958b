"""Pretrained word vectors (word2vec or GloVe text format) aligned to a vocabulary."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from seqconv.errors import DataError

__all__ = ["load_word_vectors"]

log = logging.getLogger(__name__)


def load_word_vectors(
    path: str | Path, tokens: Sequence[str], padding_idx: int | None = 0, scale: float = 0.25, seed: int = 0
) -> tuple[torch.Tensor, int]:
    """Rows of a word-vector text file for ``tokens``.

    The file has one ``token v1 v2 ... vE`` line per word (GloVe), optionally after a ``count E`` header line
    (word2vec text format). Tokens missing from the file get uniform ``[-scale, scale]`` vectors, as in Kim
    2014; the padding row is zero.

    Args:
        path: the vector file.
        tokens: the vocabulary in id order.
        padding_idx: the row to zero, or ``None``.
        scale: range of the random vectors of missing tokens.
        seed: seed of those random vectors.

    Returns:
        ``[len(tokens), E]`` float32 weights and how many tokens were found in the file.

    Raises:
        DataError: a missing file or a line with a different number of values than the first.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"word vectors file {str(path)!r} does not exist (model.net.pretrained_embeddings)")
    index = {token: i for i, token in enumerate(tokens)}
    found: dict[int, list[float]] = {}
    dim = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            parts = line.rstrip().split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # word2vec header: vocabulary size and dimension
            if dim is None:
                dim = len(parts) - 1
            if len(parts) - 1 != dim:
                raise DataError(
                    f"{path}, line {number}: {len(parts) - 1} values after the token, but line 1 had {dim}; "
                    "is this a word2vec/GloVe text file?"
                )
            token = " ".join(parts[:-dim])  # a few GloVe tokens contain spaces
            row = index.get(token)
            if row is not None and row not in found:
                found[row] = [float(v) for v in parts[-dim:]]
    if dim is None:
        raise DataError(f"word vectors file {str(path)!r} is empty")
    generator = torch.Generator().manual_seed(seed)
    weights = (torch.rand(len(tokens), dim, generator=generator) * 2 - 1) * scale
    if found:
        rows = torch.tensor(list(found), dtype=torch.long)
        weights[rows] = torch.tensor(list(found.values()), dtype=torch.float32)
    if padding_idx is not None:
        weights[padding_idx] = 0.0
    log.info("%s: vectors for %d of %d tokens (%d dimensions)", path.name, len(found), len(tokens), dim)
    return weights, len(found)
