"""Vocabulary: a token <-> id table built from token counts, with padding and unknown tokens.

A sorted ``Counter`` and a dict, kept rather than Hugging Face's ``WordLevelTrainer``: on the same words it
builds the same table (ties alphabetical, same ``min_freq`` and ``max_size``), but it counts them through its
own pipeline, slower and splitting Unicode differently (measurements in :mod:`seqconv.data.text.tokenizers`).
Saved as a plain token list in id order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

__all__ = ["PAD", "SPECIALS", "UNK", "Vocabulary"]

PAD = "<pad>"
UNK = "<unk>"
SPECIALS = (PAD, UNK)  # ids 0 and 1 in every seqconv vocabulary


class Vocabulary:
    """Maps tokens to ids; ``<pad>`` is id 0, ``<unk>`` id 1, then tokens by falling frequency.

    Args:
        tokens: every token in id order, the special tokens first.
    """

    def __init__(self, tokens: Sequence[str]) -> None:
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary starts with {list(SPECIALS)}, got {list(tokens[:2])}")
        self.itos = list(tokens)
        self.stoi = {token: i for i, token in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("a vocabulary lists each token once")

    @classmethod
    def build(cls, counts: Counter[str], min_freq: int = 1, max_size: int | None = None) -> Vocabulary:
        """Keep the tokens seen at least ``min_freq`` times, most frequent first (ties in alphabetical order),
        up to ``max_size`` entries in all (special tokens included)."""
        if min_freq < 1:
            raise ValueError(f"min_freq must be >= 1, got {min_freq}")
        if max_size is not None and max_size <= len(SPECIALS):
            raise ValueError(f"max_size must leave room beyond the {len(SPECIALS)} special tokens, got {max_size}")
        kept = sorted(
            (token for token, count in counts.items() if count >= min_freq and token not in SPECIALS),
            key=lambda token: (-counts[token], token),
        )
        if max_size is not None:
            kept = kept[: max_size - len(SPECIALS)]
        return cls([*SPECIALS, *kept])

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def unk_id(self) -> int:
        return 1

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def lookup(self, tokens: Iterable[str]) -> list[int]:
        """Ids of ``tokens``; unknown ones map to ``<unk>``."""
        get, unk = self.stoi.get, self.unk_id
        return [get(token, unk) for token in tokens]

    def tokens(self, ids: Iterable[int]) -> list[str]:
        """Tokens of ``ids``."""
        return [self.itos[i] for i in ids]
