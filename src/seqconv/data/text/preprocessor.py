"""Texts: raw review text -> cleaned -> token ids -> padded ``[B, L]`` batches, and logits -> labels.

:class:`TextPreprocessor` is fitted on the training texts only, and is what the datamodule, ``predict.py`` and the
export sidecar all use: cleaning, tokenizing, truncation and padding are written once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from seqconv.data.preprocessor import ClassifierPreprocessor
from seqconv.data.text.dataset import pad_batch
from seqconv.data.text.sources import clean_review
from seqconv.data.text.tokenizers import TextTokenizer, create_tokenizer, tokenizer_from_state
from seqconv.errors import ConfigError

__all__ = ["TextPreprocessor"]


class TextPreprocessor(ClassifierPreprocessor):
    """Raw texts -> ``x`` ``[B, L]`` int64 token ids (right-padded) and ``mask`` ``[B, L]``; logits -> labels.

    Steps: :func:`~seqconv.data.text.clean_review` (IMDB line-break markup), the fitted tokenizer, the first
    ``max_length`` ids (an empty text becomes one ``<unk>``, so every row has a real position to pool), padding
    with the tokenizer's ``<pad>`` id.

    Args:
        tokenizer: the tokenizer (fitted, or fitted by :meth:`fit`).
        max_length: keep the first ``max_length`` tokens of each text.
        classes: class names in label order (set by :meth:`fit` when ``None``).
    """

    domain = "text"

    def __init__(self, tokenizer: TextTokenizer, max_length: int = 800, classes: Sequence[str] | None = None) -> None:
        if max_length < 1:
            raise ConfigError(f"data.max_length must be >= 1, got {max_length}")
        self.tokenizer, self.max_length = tokenizer, int(max_length)
        self.classes: list[str] | None = [str(c) for c in classes] if classes is not None else None

    @classmethod
    def create(
        cls, tokenizer: dict[str, Any], max_length: int, classes: Sequence[str] | None = None
    ) -> TextPreprocessor:
        """An unfitted preprocessor from the ``data.tokenizer`` options (``kind`` and that tokenizer's options)."""
        return cls(create_tokenizer(**tokenizer), max_length, classes)

    @property
    def is_fitted(self) -> bool:
        return self.tokenizer.is_fitted and self.classes is not None

    def settings(self) -> dict[str, Any]:
        # the tokenizer options only shape fitting: a restored, fitted tokenizer is used as it is
        return {"max_length": self.max_length}

    # -- fitting ------------------------------------------------------------------------------------------------
    @staticmethod
    def clean(texts: Sequence[str]) -> list[str]:
        """The texts as the tokenizer sees them (:func:`~seqconv.data.text.clean_review`)."""
        return [clean_review(text) for text in texts]

    def fit(self, cleaned_texts: Sequence[str], classes: Sequence[str]) -> TextPreprocessor:
        """Fit the tokenizer on the cleaned training texts (unless it is fitted already) and fix the classes."""
        if not self.tokenizer.is_fitted:
            self.tokenizer.fit(cleaned_texts)
        self.classes = [str(c) for c in classes]
        return self

    # -- raw text -> model input -----------------------------------------------------------------------------------
    def encode(self, cleaned_texts: Sequence[str]) -> tuple[list[list[int]], int, int]:
        """Token ids of cleaned texts, truncated to ``max_length``; returns ``(ids, empty, truncated)`` counts."""
        sequences, empty, truncated = self.tokenizer.encode_batch(list(cleaned_texts)), 0, 0
        for i, seq in enumerate(sequences):
            if not seq:  # an empty text: one <unk>, so that every row has a real position to pool
                sequences[i], empty = [self.tokenizer.unk_id], empty + 1
            elif len(seq) > self.max_length:
                sequences[i], truncated = seq[: self.max_length], truncated + 1
        return sequences, empty, truncated

    def collate(self, sequences: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]:
        """``x`` ``[B, L]`` ids right-padded to the longest sequence and ``mask`` ``[B, L]`` (``True`` at tokens)."""
        x, mask = pad_batch([torch.as_tensor(s, dtype=torch.long) for s in sequences], self.tokenizer.pad_id)
        return {"x": x, "mask": mask}

    def transform(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Raw texts -> a model batch (``x`` and ``mask``)."""
        sequences, _, _ = self.encode(self.clean(texts))
        return self.collate(sequences)

    # -- state --------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        if not self.is_fitted:
            raise RuntimeError("the text preprocessor is not fitted: call fit() on the training texts first")
        return {
            "domain": self.domain,
            "tokenizer": self.tokenizer.state_dict(),
            "max_length": self.max_length,
            "classes": list(self.classes),
            "pad_id": self.tokenizer.pad_id,
            "unk_id": self.tokenizer.unk_id,
            **self._calibration_state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TextPreprocessor:
        restored = cls(tokenizer_from_state(state["tokenizer"]), state["max_length"], state["classes"])
        restored._restore_calibration(state)
        return restored

    def describe(self) -> list[str]:
        return [
            "replace the HTML line breaks '<br />' with spaces and strip the ends (seqconv.data.text.clean_review)",
            f"tokenize with the {self.tokenizer.kind} tokenizer in the tokenizer file (ids {self.tokenizer.pad_id} = "
            f"<pad>, {self.tokenizer.unk_id} = <unk> for unknown tokens)",
            f"keep the first {self.max_length} ids; an empty text becomes [{self.tokenizer.unk_id}]",
            f"input x: [B, L] int64 ids, right-padded with {self.tokenizer.pad_id} to the batch's longest text",
            self._output_step(),
        ]

    def input_spec(self) -> dict[str, Any]:
        return {"layout": "[B, L] token ids", "dtype": "int64"}
