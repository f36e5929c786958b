"""Tokenizers: splitting rules, vocabulary limits, round trips, train-only fitting and JSON persistence."""

import json
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqconv.data.text import (
    TOKENIZERS,
    CharTokenizer,
    SubwordTokenizer,
    Vocabulary,
    WordTokenizer,
    create_tokenizer,
    load_tokenizer,
    tokenizer_from_state,
)
from seqconv.errors import ConfigError

TRAIN = [
    "The movie was GREAT, wasn't it?",
    "A great, great film!",
    "The plot was thin... but the acting was great.",
    "Worst movie ever; I'd never watch it again.",
]


def fitted(kind: str, **options):
    defaults = {"subword": {"max_size": 120, "min_freq": 1}}.get(kind, {})
    return create_tokenizer(kind, **{**defaults, **options}).fit(TRAIN)


def test_word_tokenizer_lowercases_and_keeps_punctuation_and_contractions():
    tok = WordTokenizer()
    assert tok.split("Wasn't it GREAT?! (yes)") == ["wasn't", "it", "great", "?", "!", "(", "yes", ")"]
    assert WordTokenizer(lowercase=False).split("Great!") == ["Great", "!"]


def test_special_tokens_come_first_and_tokens_by_falling_frequency():
    tok = fitted("word")
    assert tok.tokens()[:2] == ["<pad>", "<unk>"] and (tok.pad_id, tok.unk_id) == (0, 1)
    assert tok.tokens()[2:4] == [".", "great"]  # 5 and 4 times
    assert 0 not in tok.encode("anything at all")


def test_min_freq_and_max_size_bound_the_vocabulary():
    assert fitted("word", min_freq=3).tokens() == ["<pad>", "<unk>", ".", "great", "the", "was"]  # ties: a-z
    small = fitted("word", max_size=4)
    assert small.vocab_size == 4 and small.tokens() == ["<pad>", "<unk>", ".", "great"]
    with pytest.raises(ConfigError, match="max_size"):
        WordTokenizer(max_size=2)


def test_a_token_seen_only_outside_training_is_unknown():
    tok = fitted("word")
    ids = tok.encode("the zyzzyva was great")
    assert ids[1] == tok.unk_id and tok.unk_id not in (ids[0], ids[2], ids[3])
    assert tok.decode(ids) == "the <unk> was great"


@pytest.mark.parametrize("kind", sorted(TOKENIZERS))
def test_round_trip_of_training_text(kind):
    tok = fitted(kind)
    text = TRAIN[1]
    if kind == "char":
        assert tok.decode(tok.encode(text)) == text  # exact: every character is in the alphabet
    else:  # words and punctuation, lower-cased, separated by single spaces
        assert tok.decode(tok.encode(text)) == " ".join(WordTokenizer().split(text))


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("ΟΔΟΣ", ["οδος"]),  # str.lower() knows the final sigma
        ("x\x1cy", ["x", "y"]),  # Python's \s includes the separators \x1c-\x1f
        ("cafe\u0301", ["cafe", "\u0301"]),  # Python's \w has no combining marks: the accent is its own token
    ],
)
def test_word_split_follows_python_unicode_rules(text, tokens):
    """Pins the splits that Hugging Face's WordLevel + Split(regex) would change, and with them saved ids."""
    assert WordTokenizer().split(text) == tokens


@pytest.mark.parametrize("model", SubwordTokenizer.MODELS)
def test_subword_tokenizer_splits_unseen_words_into_known_pieces(model):
    tok = fitted("subword", model=model)
    pieces = [tok.tokens()[i] for i in tok.encode("greatest")]
    assert len(pieces) > 1 and pieces[0] != "<unk>" and all(p.startswith("##") for p in pieces[1:])
    assert tok.decode(tok.encode("the great movie")) == "the great movie"


@pytest.mark.parametrize("kind", sorted(TOKENIZERS))
def test_state_dict_is_plain_json_and_restores_an_identical_tokenizer(kind, tmp_path):
    tok = fitted(kind)
    state = json.loads(json.dumps(tok.state_dict()))
    for restored in (tokenizer_from_state(state), load_tokenizer(tok.save(tmp_path / "vocab.json"))):
        assert type(restored) is type(tok) and restored.config() == tok.config()
        assert restored.tokens() == tok.tokens()
        for text in [*TRAIN, "unseen words: zyzzyva!"]:
            assert restored.encode(text) == tok.encode(text)


def test_unfitted_tokenizer_says_to_fit_first():
    with pytest.raises(RuntimeError, match="fit"):
        CharTokenizer().encode("abc")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"kind": "bytes"}, "choose one of ['word', 'char', 'subword']"),
        ({"kind": "word", "min_frequency": 2}, "has no option(s) ['min_frequency']; valid: ['lowercase', 'min_freq'"),
        ({"kind": "subword", "model": "unigram"}, "choose one of ['bpe', 'wordpiece']"),
    ],
)
def test_bad_options_name_the_valid_ones(kwargs, fragment):
    with pytest.raises(ConfigError) as err:
        create_tokenizer(**kwargs)
    assert fragment in str(err.value)


def test_vocabulary_rejects_a_table_without_the_special_tokens_first():
    with pytest.raises(ValueError, match="starts with"):
        Vocabulary(["a", "<pad>", "<unk>"])


WORDS = st.lists(st.sampled_from(["good", "bad", "film", "plot", "!", ",", "isn't"]), min_size=1, max_size=30)


@settings(max_examples=50, deadline=None)
@given(words=WORDS)
def test_word_round_trip_property(words):
    tok = WordTokenizer().fit([" ".join(["good bad film plot ! , isn't"])])
    text = " ".join(words)
    ids = tok.encode(text)
    assert tok.unk_id not in ids and tok.pad_id not in ids
    assert tok.decode(ids) == text


@settings(max_examples=50, deadline=None)
@given(text=st.text(alphabet=string.ascii_letters + " .,!?", max_size=60))
def test_char_round_trip_property(text):
    tok = CharTokenizer().fit([string.ascii_letters + " .,!?"])
    assert tok.decode(tok.encode(text)) == text and len(tok.encode(text)) == len(text)
