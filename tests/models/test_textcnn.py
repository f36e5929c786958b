"""TextCNN (Kim 2014): padding never wins the max-pool, batching changes nothing, and the options do what they say."""

import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqconv.data.text import WordTokenizer
from seqconv.errors import ConfigError
from seqconv.models import TextCNN

VOCAB, PAD = 50, 0


def net(**kwargs) -> TextCNN:
    torch.manual_seed(0)
    options = {"embedding_dim": 16, "num_filters": 8, **kwargs}
    model = TextCNN(VOCAB, 3, padding_idx=PAD, **options)
    model.init_from_data([{"x": torch.randint(1, VOCAB, (12, 9)), "y": torch.arange(12) % 3}])  # n-gram ratios
    return model.eval()


def padded(sequences: list[list[int]], extra: int = 0) -> torch.Tensor:
    """Right-pad to the longest sequence plus ``extra`` steps."""
    length = max(map(len, sequences)) + extra
    return torch.tensor([s + [PAD] * (length - len(s)) for s in sequences])


def test_shapes_and_receptive_field():
    model = net(kernel_sizes=(2, 3, 7))
    assert model(torch.randint(1, VOCAB, (4, 30))).shape == (4, 3)
    assert model.forward_features(torch.randint(1, VOCAB, (4, 30))).shape == (4, 3 * 8)
    assert model.receptive_field() == 7


TOKENS = st.lists(st.integers(1, VOCAB - 1), min_size=1, max_size=20)


# Kim's network, with the average beside the max and a bag of bigrams, and with the NBSVM n-gram branch
VARIANTS = [{}, {"pool": "avgmax", "bigram_buckets": 64, "bigram_dim": 4}, {"ngram_buckets": 31, "ngram_order": 3}]


@pytest.mark.parametrize("options", VARIANTS)
@settings(max_examples=25, deadline=None)
@given(tokens=TOKENS, extra=st.integers(1, 12))
def test_appending_padding_leaves_the_logits_unchanged(options, tokens, extra):
    model = net(norm="batch", **options)  # BatchNorm in eval mode too: padded steps must stay out of the pool
    torch.testing.assert_close(model(padded([tokens])), model(padded([tokens], extra)))


def test_avgmax_pooling_and_the_bigram_bag_widen_the_features():
    model = net(pool="avgmax", bigram_buckets=64, bigram_dim=4)
    assert model.num_features == 3 * 8 * 2 + 4
    assert model.forward_features(torch.randint(1, VOCAB, (2, 9))).shape == (2, model.num_features)


def test_the_bigram_bag_is_the_mean_of_the_hashed_adjacent_pairs():
    model = net(bigram_buckets=64, bigram_dim=4)
    tokens = [3, 7, 3, 7, 9]
    pairs = [(a * VOCAB + b) % 64 for a, b in zip(tokens, tokens[1:], strict=False)]  # 4 pairs, one repeated
    expected = model.bigrams.weight[pairs].mean(dim=0)
    features = model.forward_features(padded([tokens], extra=3))[0]
    torch.testing.assert_close(features[-4:], expected)
    swapped = model.forward_features(torch.tensor([[7, 3, 3, 7, 9]]))[0]
    assert not torch.allclose(swapped[-4:], expected)  # word order matters to the bag, unlike to a bag of words
    assert net(bigram_buckets=64, bigram_dim=4).forward_features(torch.tensor([[5]]))[0, -4:].eq(0).all()  # none


def test_the_ngram_member_stands_beside_the_cnn_and_is_fitted_from_the_batches_given():
    model = net(ngram_buckets=31)
    x = padded([[3, 4, 5, 6], [7, 8]])
    cnn = model.forward_head(model.forward_features(x))
    members = model.forward_members(x)
    torch.testing.assert_close(members[0], cnn)
    torch.testing.assert_close(members[1], model.ngrams(x))
    # served: the mean of the members' log-probabilities
    torch.testing.assert_close(model(x), (cnn.log_softmax(-1) + model.ngrams(x).log_softmax(-1)) / 2)
    assert model.ngrams.ratios.abs().sum() > 0 and model.ngrams(x).abs().sum() > 0
    assert net().init_from_data([]) is None  # nothing to initialise without the branch
    with pytest.raises(ValueError, match="ngram_buckets must be >= 0"):
        net(ngram_buckets=-1)


def test_bad_bigram_settings_are_refused():
    with pytest.raises(ValueError, match="bigram_buckets must be >= 0"):
        net(bigram_buckets=-1)


@settings(max_examples=20, deadline=None)
@given(tokens=TOKENS)
def test_the_padding_embedding_never_reaches_the_output(tokens):
    model = net()
    x = padded([tokens], extra=5)
    before = model(x)
    with torch.no_grad():
        model.embedding.weight[PAD] = 100.0  # e.g. a pretrained table with a non-zero padding row
    torch.testing.assert_close(model(x), before)


def test_texts_shorter_than_the_widest_kernel_work():
    model = net(kernel_sizes=(3, 4, 5))
    for length in (1, 2, 4):
        assert torch.isfinite(model(torch.randint(1, VOCAB, (2, length)))).all()


def test_a_row_of_only_padding_gives_finite_logits():
    model = net()
    assert torch.isfinite(model(torch.tensor([[PAD, PAD, PAD], [3, 4, PAD]]))).all()


def test_batch_consistency_item_by_item_equals_batched():
    model = net(norm="batch")
    sequences = [[5, 6, 7, 8, 9, 10, 11], [12, 13], [14, 15, 16, 17], [18]]
    batched = model(padded(sequences))
    single = torch.cat([model(torch.tensor([s])) for s in sequences])
    torch.testing.assert_close(batched, single)


def test_grad_checkpointing_leaves_outputs_and_gradients_unchanged():
    plain = net().train()
    checkpointed = copy.deepcopy(plain)
    checkpointed.set_grad_checkpointing(True)
    x = torch.randint(1, VOCAB, (4, 12))
    torch.manual_seed(1)
    out_plain = plain(x)
    torch.manual_seed(1)
    out_ckpt = checkpointed(x)
    torch.testing.assert_close(out_plain, out_ckpt)
    out_plain.square().sum().backward()
    out_ckpt.square().sum().backward()
    for (name, p), (_, q) in zip(plain.named_parameters(), checkpointed.named_parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, msg=name)


def test_max_norm_bounds_each_class_weight_vector():
    model = net(max_norm=3.0)
    with torch.no_grad():
        model.classifier.parametrizations.weight.original.mul_(100.0)
    norms = model.classifier.weight.norm(dim=1)
    torch.testing.assert_close(norms, torch.full_like(norms, 3.0))
    model(torch.randint(1, VOCAB, (2, 9))).sum().backward()
    assert model.classifier.parametrizations.weight.original.grad is not None


def test_token_ids_are_required_with_a_hint():
    with pytest.raises(ValueError, match=r"token ids \[B, L\] \(int64\), got torch.float32 \[2, 16, 9\]"):
        net()(torch.randn(2, 16, 9))


def test_pretrained_embeddings_from_a_glove_file(tmp_path):
    tokenizer = WordTokenizer().fit(["good film", "bad film", "good plot"])
    vocab_file = tokenizer.save(tmp_path / "vocab.json")
    glove = tmp_path / "glove.txt"
    glove.write_text("good 1 2 3 4\nfilm 5 6 7 8\nunused 0 0 0 0\n")
    size = tokenizer.vocab_size
    model = TextCNN(
        size, 2, embedding_dim=4, pretrained_embeddings=str(glove), vocab_file=str(vocab_file), freeze_embeddings=True
    )
    table = model.embedding.weight
    assert not table.requires_grad
    torch.testing.assert_close(table[tokenizer.encode("good")[0]], torch.tensor([1.0, 2, 3, 4]))
    torch.testing.assert_close(table[tokenizer.encode("film")[0]], torch.tensor([5.0, 6, 7, 8]))
    assert table[0].abs().sum() == 0 and table[tokenizer.encode("plot")[0]].abs().max() <= 0.25
    with pytest.raises(ConfigError, match="set model.net.embedding_dim=4"):
        TextCNN(size, 2, embedding_dim=8, pretrained_embeddings=str(glove), vocab_file=str(vocab_file))
    with pytest.raises(ConfigError, match="model.net.vocab_file"):
        TextCNN(size, 2, embedding_dim=4, pretrained_embeddings=str(glove))


def test_word2vec_header_is_skipped_and_bad_lines_are_reported(tmp_path):
    from seqconv.data.text import load_word_vectors
    from seqconv.errors import DataError

    (tmp_path / "w2v.txt").write_text("2 3\ngood 1 1 1\nfilm 2 2 2\n")
    weights, found = load_word_vectors(tmp_path / "w2v.txt", ["<pad>", "<unk>", "film"])
    assert found == 1 and weights.shape == (3, 3) and weights[2].tolist() == [2.0, 2.0, 2.0]
    (tmp_path / "bad.txt").write_text("good 1 1 1\nfilm 2 2\n")
    with pytest.raises(DataError, match="bad.txt, line 2: 2 values after the token, but line 1 had 3"):
        load_word_vectors(tmp_path / "bad.txt", ["<pad>", "<unk>", "film"])


@pytest.mark.parametrize("options", VARIANTS)
def test_export_matches_eager(options):
    model = net(**options)
    x = torch.randint(1, VOCAB, (2, 11))
    x[1, 6:] = PAD
    exported = torch.export.export(model, (x,))
    torch.testing.assert_close(exported.module()(x), model(x))
