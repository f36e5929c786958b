r"""Word, character and subword tokenizers that are fit on training text and saved as plain JSON.

Every tokenizer reserves id 0 for ``<pad>`` and id 1 for ``<unk>``. ``state_dict()`` returns JSON-able data
that :func:`tokenizer_from_state` turns back into an identical tokenizer, so evaluation and prediction on raw
text reproduce training exactly.

The word and character tokenizers are plain Python rather than Hugging Face ``tokenizers`` (``WordLevel``
with ``pre_tokenizers.Split`` on the same regex, which :class:`SubwordTokenizer` already depends on),
measured on 25,000 synthetic IMDB-like reviews (40.7 M characters, 2 shared CPU cores):

- Words: the library took 8.4 s to fit and 13.0 s to encode (10.5 s with ``encode_batch_fast``) against
  2.6 s and 4.2 s here. On ASCII text its vocabulary and ids are identical (ties alphabetical, ``min_freq``
  and ``max_size`` the same), but its Oniguruma regex reads Unicode differently, which would change the ids
  of saved vocabularies: ``\w`` takes combining marks (``"cafe\u0301"`` and Devanagari stay one word, where
  Python's ``re`` splits off the mark), ``\s`` leaves out ``\x1c``-``\x1f``, and its ``Lowercase``
  turns a final ``"Σ"`` into ``"σ"`` instead of ``"ς"``.
- Characters: it has no per-character pre-tokenizer; ``Split`` on ``[\s\S]`` gives the same ids but took
  2.75 s to fit and 3.97 s to encode 5,000 reviews, against 0.32 s and 0.36 s for ``list(text)`` here.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from seqconv.data.text.vocab import PAD, SPECIALS, UNK, Vocabulary
from seqconv.errors import ConfigError

__all__ = [
    "TOKENIZERS",
    "CharTokenizer",
    "SubwordTokenizer",
    "TextTokenizer",
    "WordTokenizer",
    "create_tokenizer",
    "load_tokenizer",
    "tokenizer_from_state",
]

# a word (letters, digits, underscore; with an inner apostrophe: "don't") or one punctuation character
_WORD_RE = re.compile(r"\w+(?:'\w+)*|[^\w\s]")


class TextTokenizer(ABC):
    """Text -> token ids. Subclasses set ``kind`` and implement fitting, encoding and (de)serialisation."""

    kind: str = ""

    @property
    @abstractmethod
    def is_fitted(self) -> bool:
        """Whether the tokenizer has a vocabulary."""

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """Number of ids, special tokens included."""

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def unk_id(self) -> int:
        return 1

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """The settings the tokenizer was created with (what :func:`create_tokenizer` takes)."""

    @abstractmethod
    def fit(self, texts: Iterable[str]) -> TextTokenizer:
        """Build the vocabulary from ``texts`` (the training split only); returns ``self``."""

    @abstractmethod
    def encode(self, text: str) -> list[int]:
        """Token ids of one text."""

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of many texts."""
        return [self.encode(text) for text in texts]

    @abstractmethod
    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids`` (padding skipped); the inverse of :meth:`encode` up to normalisation."""

    @abstractmethod
    def tokens(self) -> list[str]:
        """Every token in id order (for aligning pretrained word vectors)."""

    @abstractmethod
    def _vocab_state(self) -> Any: ...

    def state_dict(self) -> dict[str, Any]:
        """Plain, JSON-able data that :func:`tokenizer_from_state` restores."""
        self._check_fitted()
        return {"kind": self.kind, "config": self.config(), "vocab": self._vocab_state()}

    def save(self, path: str | Path) -> Path:
        """Write :meth:`state_dict` as JSON to ``path``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.state_dict(), ensure_ascii=False))
        return path

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise RuntimeError(f"the {self.kind} tokenizer has no vocabulary yet: call fit(train_texts) first")


class _VocabTokenizer(TextTokenizer):
    """A tokenizer that splits text into string tokens and looks them up in a :class:`Vocabulary`."""

    def __init__(self, lowercase: bool = True, min_freq: int = 1, max_size: int | None = None) -> None:
        if min_freq < 1:
            raise ConfigError(f"tokenizer min_freq must be >= 1, got {min_freq}")
        if max_size is not None and max_size <= len(SPECIALS):
            raise ConfigError(f"tokenizer max_size must be > {len(SPECIALS)} (the special tokens), got {max_size}")
        self.lowercase, self.min_freq, self.max_size = lowercase, min_freq, max_size
        self.vocab: Vocabulary | None = None

    @abstractmethod
    def split(self, text: str) -> list[str]:
        """String tokens of ``text`` (after normalisation)."""

    @abstractmethod
    def _join(self, tokens: list[str]) -> str: ...

    @property
    def is_fitted(self) -> bool:
        return self.vocab is not None

    @property
    def vocab_size(self) -> int:
        self._check_fitted()
        return len(self.vocab)

    def config(self) -> dict[str, Any]:
        return {"lowercase": self.lowercase, "min_freq": self.min_freq, "max_size": self.max_size}

    def fit(self, texts: Iterable[str]) -> _VocabTokenizer:
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(self.split(text))
        self.vocab = Vocabulary.build(counts, self.min_freq, self.max_size)
        return self

    def encode(self, text: str) -> list[int]:
        self._check_fitted()
        return self.vocab.lookup(self.split(text))

    def decode(self, ids: Iterable[int]) -> str:
        self._check_fitted()
        return self._join([token for token in self.vocab.tokens(ids) if token != PAD])

    def tokens(self) -> list[str]:
        self._check_fitted()
        return list(self.vocab.itos)

    def _vocab_state(self) -> list[str]:
        return list(self.vocab.itos)


class WordTokenizer(_VocabTokenizer):
    """Words and punctuation marks: ``"Don't stop!" -> ["don't", "stop", "!"]``.

    Args:
        lowercase: lower-case the text first.
        min_freq: keep words seen at least this often in the training text.
        max_size: largest vocabulary, special tokens included; ``None`` keeps every word.
    """

    kind = "word"

    def split(self, text: str) -> list[str]:
        return _WORD_RE.findall(text.lower() if self.lowercase else text)

    def _join(self, tokens: list[str]) -> str:
        return " ".join(tokens)


class CharTokenizer(_VocabTokenizer):
    """Single characters, whitespace included (for character-level CNNs, Zhang et al. 2015).

    Args:
        lowercase: lower-case the text first.
        min_freq: keep characters seen at least this often in the training text.
        max_size: largest alphabet, special tokens included; ``None`` keeps every character.
    """

    kind = "char"

    def __init__(self, lowercase: bool = False, min_freq: int = 1, max_size: int | None = None) -> None:
        super().__init__(lowercase, min_freq, max_size)

    def split(self, text: str) -> list[str]:
        return list(text.lower() if self.lowercase else text)

    def _join(self, tokens: list[str]) -> str:
        return "".join(tokens)


class SubwordTokenizer(TextTokenizer):
    """BPE or WordPiece subwords trained with the Hugging Face ``tokenizers`` library.

    Text is split into words and punctuation marks, then each word into pieces; continuation pieces carry a
    ``##`` prefix, so :meth:`decode` rejoins them into words.

    Args:
        model: ``"bpe"`` or ``"wordpiece"``.
        lowercase: lower-case the text first.
        min_freq: merge only pairs seen at least this often in the training text.
        max_size: vocabulary size to train, special tokens included.
    """

    kind = "subword"
    MODELS = ("bpe", "wordpiece")

    def __init__(self, model: str = "bpe", lowercase: bool = True, min_freq: int = 2, max_size: int = 16000) -> None:
        if model not in self.MODELS:
            raise ConfigError(f"unknown subword tokenizer model={model!r}; choose one of {list(self.MODELS)}")
        if min_freq < 1 or max_size <= len(SPECIALS):
            raise ConfigError(f"subword tokenizer needs min_freq >= 1 and max_size > 2, got {min_freq}, {max_size}")
        self.model, self.lowercase, self.min_freq, self.max_size = model, lowercase, min_freq, max_size
        self._tokenizer = None

    @property
    def is_fitted(self) -> bool:
        return self._tokenizer is not None

    @property
    def vocab_size(self) -> int:
        self._check_fitted()
        return self._tokenizer.get_vocab_size()

    def config(self) -> dict[str, Any]:
        return {"model": self.model, "lowercase": self.lowercase, "min_freq": self.min_freq, "max_size": self.max_size}

    def fit(self, texts: Iterable[str]) -> SubwordTokenizer:
        from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

        options = {"vocab_size": self.max_size, "min_frequency": self.min_freq, "special_tokens": list(SPECIALS)}
        if self.model == "bpe":
            tokenizer = Tokenizer(models.BPE(unk_token=UNK, continuing_subword_prefix="##"))
            trainer = trainers.BpeTrainer(continuing_subword_prefix="##", **options)
        else:
            tokenizer = Tokenizer(models.WordPiece(unk_token=UNK, continuing_subword_prefix="##"))
            trainer = trainers.WordPieceTrainer(continuing_subword_prefix="##", **options)
        if self.lowercase:
            tokenizer.normalizer = normalizers.Lowercase()
        tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
        tokenizer.decoder = decoders.WordPiece(prefix="##", cleanup=False)
        tokenizer.train_from_iterator(texts, trainer)
        self._tokenizer = tokenizer
        return self

    def encode(self, text: str) -> list[int]:
        self._check_fitted()
        return self._tokenizer.encode(text).ids

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        self._check_fitted()
        return [encoding.ids for encoding in self._tokenizer.encode_batch(list(texts))]

    def decode(self, ids: Iterable[int]) -> str:
        self._check_fitted()
        return self._tokenizer.decode(list(ids), skip_special_tokens=True)

    def tokens(self) -> list[str]:
        self._check_fitted()
        vocab = self._tokenizer.get_vocab()
        return sorted(vocab, key=vocab.get)

    def _vocab_state(self) -> dict[str, Any]:
        return json.loads(self._tokenizer.to_str())

    def _load_vocab(self, state: dict[str, Any]) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_str(json.dumps(state))


TOKENIZERS: dict[str, type[TextTokenizer]] = {
    "word": WordTokenizer,
    "char": CharTokenizer,
    "subword": SubwordTokenizer,
}


def create_tokenizer(kind: str = "word", **options: Any) -> TextTokenizer:
    """An unfitted tokenizer of ``kind`` (``"word"``, ``"char"`` or ``"subword"``) with ``options``.

    Raises:
        ConfigError: unknown ``kind`` or option; the message lists the valid ones.
    """
    if kind not in TOKENIZERS:
        raise ConfigError(f"unknown data.tokenizer.kind={kind!r}; choose one of {list(TOKENIZERS)}")
    cls = TOKENIZERS[kind]
    known = list(cls().config())
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ConfigError(f"data.tokenizer: the {kind} tokenizer has no option(s) {unknown}; valid: {known}")
    return cls(**options)


def tokenizer_from_state(state: dict[str, Any]) -> TextTokenizer:
    """The fitted tokenizer saved by :meth:`TextTokenizer.state_dict`."""
    tokenizer = create_tokenizer(state["kind"], **state["config"])
    if isinstance(tokenizer, SubwordTokenizer):
        tokenizer._load_vocab(state["vocab"])
    else:
        tokenizer.vocab = Vocabulary(state["vocab"])
    return tokenizer


def load_tokenizer(path: str | Path) -> TextTokenizer:
    """The fitted tokenizer saved by :meth:`TextTokenizer.save`."""
    return tokenizer_from_state(json.loads(Path(path).read_text()))
