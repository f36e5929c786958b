"""NBNgramBranch (NBSVM inside a network): the n-grams, the log-count ratios and the logits against hand
computations in plain Python, binary features, padding and training-split-only fitting."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqconv.models.ngrams import NBNgramBranch

VOCAB, PAD, BUCKETS = 20, 0, 13
MODULUS, SCRAMBLE = 2_147_483_647, 1_000_000_007


def reference_ngrams(tokens: list[int], order: int) -> set[int]:
    """The slots of a text's distinct n-grams, with Python's unbounded integers."""
    slots = set(tokens)
    for n in range(2, order + 1):
        for start in range(len(tokens) - n + 1):
            h = tokens[start]
            for token in tokens[start + 1 : start + n]:
                h = (h * VOCAB + token) % MODULUS
            slots.add(VOCAB + (h * SCRAMBLE) % MODULUS % BUCKETS)
    return slots


def padded(texts: list[list[int]], extra: int = 0) -> torch.Tensor:
    length = max(map(len, texts)) + extra
    return torch.tensor([t + [PAD] * (length - len(t)) for t in texts])


TEXTS = st.lists(st.integers(1, VOCAB - 1), min_size=1, max_size=12)


@settings(max_examples=30, deadline=None)
@given(texts=st.lists(TEXTS, min_size=1, max_size=4), order=st.integers(1, 3), extra=st.integers(0, 4))
def test_ngram_ids_are_each_distinct_ngram_once_and_nothing_from_padding(texts, order, extra):
    branch = NBNgramBranch(VOCAB, 2, PAD, buckets=BUCKETS, order=order)
    ids = branch.ngram_ids(padded(texts, extra))
    for row, tokens in zip(ids.tolist(), texts, strict=True):
        real = [i for i in row if i != branch.absent]
        assert sorted(real) == sorted(reference_ngrams(tokens, order))  # each once, none touching padding


def test_log_count_ratios_equal_a_hand_count():
    texts = [[1, 2, 2], [1, 3], [2, 4], [4, 4, 5]]
    labels = [0, 0, 1, 1]
    branch = NBNgramBranch(VOCAB, 2, PAD, buckets=BUCKETS, order=1, alpha=1.0)
    batches = [{"x": padded(texts[:3], 2), "y": torch.tensor(labels[:3])}]
    batches.append({"x": padded(texts[3:]), "y": torch.tensor(labels[3:])})  # batches of other widths
    seen = branch.fit(batches)
    assert seen == 4
    # binary counts per class, smoothed by alpha = 1, over the VOCAB unigram slots
    p = [1.0] * VOCAB
    q = [1.0] * VOCAB
    for tokens, label in zip(texts, labels, strict=True):
        for token in set(tokens):
            (q if label == 0 else p)[token] += 1  # p: class 1, q: class 0
    for token in range(VOCAB):
        r1 = math.log(p[token] / sum(p)) - math.log(q[token] / sum(q))
        assert branch.ratios[token, 1].item() == pytest.approx(r1, abs=1e-6)
        assert branch.ratios[token, 0].item() == pytest.approx(-r1, abs=1e-6)  # one against the rest, 2 classes
    assert branch.ratios[branch.absent].eq(0).all()


def test_three_classes_are_each_against_the_rest():
    branch = NBNgramBranch(VOCAB, 3, PAD, buckets=BUCKETS, order=1, alpha=0.5)
    branch.fit([{"x": padded([[1], [2], [3, 1]]), "y": torch.tensor([0, 1, 2])}])
    # token 1: in 1 of class 0's texts (1 text, 1 distinct token), in 1 of the others' (2 texts, 3 distinct)
    rows = torch.tensor([[0.5] * VOCAB for _ in range(2)])
    rows[0, 1] += 1  # class 0 counts
    rows[1, 1] += 1
    rows[1, 2] += 1
    rows[1, 3] += 1  # the others' counts
    expected = (rows[0, 1] / rows[0].sum()).log() - (rows[1, 1] / rows[1].sum()).log()
    assert branch.ratios[1, 0].item() == pytest.approx(expected.item(), abs=1e-6)


def test_logits_are_the_scaled_ratios_summed_over_distinct_ngrams():
    torch.manual_seed(0)
    branch = NBNgramBranch(VOCAB, 2, PAD, buckets=BUCKETS, order=2, w_adj=0.4, r_adj=10.0)
    with torch.no_grad():
        branch.ratios[:-1].normal_()
    tokens = [3, 5, 3, 5, 7]  # the bigram (3, 5) and the words 3 and 5 repeat: each counts once
    logits = branch(padded([tokens], extra=3))[0]
    expected = sum((branch.scale[g, 0] + 0.4) * branch.ratios[g] / 10.0 for g in reference_ngrams(tokens, 2))
    torch.testing.assert_close(logits, expected)


def test_a_text_of_padding_only_gets_zero_logits_and_gradients_reach_the_scales():
    branch = NBNgramBranch(VOCAB, 2, PAD, buckets=BUCKETS, order=3)
    with torch.no_grad():
        branch.ratios[:-1].fill_(1.0)
    out = branch(torch.tensor([[PAD, PAD], [4, 6]]))
    assert out[0].eq(0).all() and out[1].ne(0).all()
    out.sum().backward()
    touched = branch.scale.grad[:, 0].ne(0).nonzero().flatten().tolist()
    assert sorted(touched) == sorted(reference_ngrams([4, 6], 3))


def test_naive_bayes_start_separates_a_corpus_it_was_fitted_on():
    torch.manual_seed(0)
    good, bad = [1, 2, 3], [7, 8, 9]
    texts = [[good[i % 3], 10 + i % 5, good[(i + 1) % 3]] for i in range(20)]
    texts += [[bad[i % 3], 10 + i % 5, bad[(i + 1) % 3]] for i in range(20)]
    labels = torch.tensor([1] * 20 + [0] * 20)
    branch = NBNgramBranch(VOCAB, 2, PAD, buckets=BUCKETS, order=2)
    branch.fit([{"x": padded(texts), "y": labels}])
    assert branch(padded(texts)).argmax(dim=1).eq(labels).all()


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="buckets >= 1 and order >= 1"):
        NBNgramBranch(VOCAB, 2, buckets=0)
    with pytest.raises(ValueError, match="alpha, r_adj and gain must be positive"):
        NBNgramBranch(VOCAB, 2, alpha=0.0)
    with pytest.raises(ValueError, match="alpha, r_adj and gain must be positive"):
        NBNgramBranch(VOCAB, 2, gain=0.0)


def test_the_gain_scales_the_learning_rate_under_adam_and_leaves_the_start_unchanged():
    x = padded([[3, 5, 7], [4, 6]])
    outputs, steps = [], []
    for gain in (1.0, 5.0):
        torch.manual_seed(0)
        branch = NBNgramBranch(VOCAB, 2, PAD, buckets=BUCKETS, order=2, gain=gain)
        with torch.no_grad():
            branch.ratios[:-1].normal_()
        before = branch(x).detach()
        optimizer = torch.optim.Adam(branch.parameters(), lr=1e-3)
        branch(x)[:, 1].sum().backward()
        optimizer.step()
        outputs.append(before)
        steps.append(branch(x).detach() - before)
    torch.testing.assert_close(outputs[0], outputs[1])  # the same starting logits
    torch.testing.assert_close(steps[1], 5.0 * steps[0])  # Adam's first step moves them 5 times as far
