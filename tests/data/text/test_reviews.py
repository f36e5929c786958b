"""ReviewsDataModule against a tiny aclImdb archive served on 127.0.0.1: the real download, checksum, cache,
extraction, splitting and tokenization code runs, and every bad input ends in a DataError that says what to do."""

import json
import logging
import tarfile

import pandas as pd
import pytest
import torch
from imdb_corpus import TEST_ONLY, corpus_files, sha256, write_tar, write_tree

from seqconv.data.text import ReviewsDataModule
from seqconv.errors import ConfigError, DataError


def make(data_dir, **kwargs) -> ReviewsDataModule:
    datamodule = ReviewsDataModule(data_dir=str(data_dir), batch_size=8, **kwargs)
    datamodule.prepare_data()
    datamodule.setup("fit")
    return datamodule


def all_batches(loader) -> dict[str, torch.Tensor]:
    batches = list(loader)
    return {"y": torch.cat([b["y"] for b in batches]), "length": torch.cat([b["length"] for b in batches])}


def test_download_verify_extract_and_serve_padded_batches(served_imdb, tmp_path):
    server, url, checksum = served_imdb
    dm = make(tmp_path / "imdb", url=url, sha256=checksum)
    assert server.requests == ["/aclImdb_v1.tar.gz"]
    assert dm.dims == {"vocab_size": dm.tokenizer.vocab_size, "padding_idx": 0, "num_classes": 2}
    assert dm.task_kwargs == {"num_classes": 2, "class_names": ["neg", "pos"]}
    assert {s: len(d) for s, d in dm.datasets.items()} == {"train": 18, "val": 2, "test": 20}
    batch = next(iter(dm.train_dataloader()))
    assert batch["x"].dtype == torch.int64 and batch["x"].shape[0] == len(batch["y"]) <= 8
    assert torch.equal(batch["mask"], batch["x"] != dm.tokenizer.pad_id)
    assert batch["x"].shape[1] == batch["length"].max()  # padded to the longest review of this batch only
    assert "br" not in dm.tokenizer.tokens() and "<" not in dm.tokenizer.tokens()  # <br /> markup cleaned


def test_a_second_run_downloads_nothing_and_reads_the_token_cache(served_imdb, tmp_path, caplog):
    server, url, checksum = served_imdb
    first = make(tmp_path / "imdb", url=url, sha256=checksum)
    assert len(list((tmp_path / "imdb" / "tokenized").glob("*.pt"))) == 1
    with caplog.at_level(logging.INFO):
        second = make(tmp_path / "imdb", url=url, sha256=checksum)
    assert server.requests == ["/aclImdb_v1.tar.gz"]
    assert "loaded the tokenized reviews" in caplog.text
    for split in ("train", "val", "test"):
        assert torch.equal(first.datasets[split].ids, second.datasets[split].ids)
    changed = make(tmp_path / "imdb", url=url, sha256=checksum, max_length=5)  # another setting, another key
    assert len(list((tmp_path / "imdb" / "tokenized").glob("*.pt"))) == 2
    assert changed.datasets["train"].lengths.max() == 5


def test_the_vocabulary_is_fit_on_train_only(imdb_folder, tmp_path):
    dm = make(tmp_path / "cache", path=str(imdb_folder))
    assert TEST_ONLY not in dm.tokenizer.tokens()
    test = dm.datasets["test"]
    assert all(test.sequence(i)[-1] == dm.tokenizer.unk_id for i in range(len(test)))


def test_validation_is_a_seeded_stratified_part_of_train(imdb_folder, tmp_path):
    dm = make(tmp_path / "a", path=str(imdb_folder), val_fraction=0.2)
    same = make(tmp_path / "b", path=str(imdb_folder), val_fraction=0.2)
    other = make(tmp_path / "c", path=str(imdb_folder), val_fraction=0.2, split_seed=1)
    assert torch.bincount(dm.datasets["val"].labels).tolist() == [2, 2]
    assert torch.equal(dm.datasets["val"].ids, same.datasets["val"].ids)
    assert not torch.equal(dm.datasets["val"].ids, other.datasets["val"].ids)
    train = {tuple(dm.datasets["train"].sequence(i).tolist()) for i in range(16)}
    assert all(tuple(dm.datasets["val"].sequence(i).tolist()) not in train for i in range(4))


def test_every_review_is_served_once_per_epoch(imdb_folder, tmp_path):
    dm = make(tmp_path / "cache", path=str(imdb_folder))
    for loader, split in ((dm.train_dataloader(), "train"), (dm.test_dataloader(), "test")):
        served = all_batches(loader)
        assert sorted(served["y"].tolist()) == sorted(dm.datasets[split].labels.tolist())


def test_state_dict_is_json_and_restores_the_vocabulary_instead_of_refitting(imdb_folder, tmp_path):
    trained = make(tmp_path / "cache", path=str(imdb_folder))
    state = json.loads(json.dumps(trained.state_dict()))
    # as eval.py does: a fresh datamodule, the checkpoint's state, then setup; other tokenizer settings lose
    restored = ReviewsDataModule(
        data_dir=str(tmp_path / "cache"), path=str(imdb_folder), tokenizer={"kind": "word", "max_size": 5}
    )
    restored.load_state_dict(state)
    restored.setup("test")
    assert restored.tokenizer.tokens() == trained.tokenizer.tokens()
    assert torch.equal(restored.datasets["test"].ids, trained.datasets["test"].ids)
    assert restored.task_kwargs == trained.task_kwargs


def test_vocab_file_is_written_as_json(imdb_folder, tmp_path):
    dm = make(tmp_path / "cache", path=str(imdb_folder), vocab_file=str(tmp_path / "run" / "vocab.json"))
    saved = json.loads((tmp_path / "run" / "vocab.json").read_text())
    assert saved["vocab"] == dm.tokenizer.tokens() and saved["classes"] == ["neg", "pos"]


@pytest.mark.parametrize("tokenizer", [{"kind": "char"}, {"kind": "subword", "max_size": 60, "min_freq": 1}])
def test_char_and_subword_tokenizers(imdb_folder, tmp_path, tokenizer):
    dm = make(tmp_path / "cache", path=str(imdb_folder), tokenizer=tokenizer)
    text = dm.tokenizer.decode(dm.datasets["train"].sequence(0).tolist())
    assert "film" in text
    if tokenizer["kind"] == "subword":
        assert dm.dims["vocab_size"] <= 60


def test_non_utf8_and_empty_reviews_are_logged_not_fatal(tmp_path, caplog):
    from imdb_corpus import write_tree

    extra = {"aclImdb/train/pos/98_9.txt": b"caf\xe9 great", "aclImdb/train/neg/99_1.txt": b"<br /><br />  "}
    write_tree(tmp_path / "local", corpus_files(extra))
    with caplog.at_level(logging.INFO):
        dm = make(tmp_path / "cache", path=str(tmp_path / "local"), val_fraction=0.01)
    assert "1 review file(s) or line(s) were not valid UTF-8" in caplog.text and "98_9.txt" in caplog.text
    assert "1 review(s) are empty after cleaning" in caplog.text
    lengths = torch.cat([dm.datasets[s].lengths for s in ("train", "val")])
    assert lengths.min() == 1  # the empty review is one <unk>, so it still has a position to pool


# -- download and archive failures ----------------------------------------------------------------------------


def test_download_failure_names_the_url_and_the_offline_options(served_imdb, tmp_path):
    server, url, checksum = served_imdb
    server.fail("aclImdb_v1.tar.gz", 503)
    with pytest.raises(DataError) as err:
        make(tmp_path / "imdb", url=url, sha256=checksum)
    message = str(err.value)
    assert url in message and "data.url" in message and "data.path" in message
    server.close()
    with pytest.raises(DataError, match="Could not download"):
        make(tmp_path / "imdb", url=url, sha256=checksum)


def test_checksum_mismatch_removes_the_download_and_shows_both_digests(served_imdb, tmp_path):
    _, url, checksum = served_imdb
    with pytest.raises(DataError) as err:
        make(tmp_path / "imdb", url=url, sha256="0" * 64)
    message = str(err.value)
    assert "0" * 64 in message and checksum in message and "data.sha256" in message
    assert not any((tmp_path / "imdb").iterdir())


def test_truncated_download_is_refused(served_imdb, tmp_path):
    server, url, checksum = served_imdb
    server.truncate("aclImdb_v1.tar.gz", 100)
    with pytest.raises(DataError, match="received 100 of"):
        make(tmp_path / "imdb", url=url, sha256=checksum)


def test_corrupt_archive_is_a_data_error(http_server, tmp_path):
    (http_server.root / "aclImdb_v1.tar.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(DataError, match="corrupt or truncated"):
        make(tmp_path / "imdb", url=http_server.url("aclImdb_v1.tar.gz"), sha256=None)


def test_an_archive_member_escaping_the_target_is_refused(http_server, tmp_path):
    evil = tarfile.TarInfo("../../evil.txt")
    evil.size = 1
    archive = write_tar(http_server.root / "aclImdb_v1.tar.gz", corpus_files(), extra=(evil,))
    with pytest.raises(DataError, match=r"Refusing to extract .*'\.\./\.\./evil\.txt'"):
        make(tmp_path / "imdb", url=http_server.url("aclImdb_v1.tar.gz"), sha256=sha256(archive))
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path.parent / "evil.txt").exists()


def test_an_archive_without_the_aclimdb_layout_says_what_it_found(http_server, tmp_path):
    archive = write_tar(http_server.root / "reviews.tar.gz", {"data/reviews.csv": b"text,label\n"})
    with pytest.raises(DataError, match=r"expected the aclImdb layout .* found \['data'\]"):
        make(tmp_path / "imdb", url=http_server.url("reviews.tar.gz"), sha256=sha256(archive))


# -- local sources ------------------------------------------------------------------------------------------------


def test_local_archive_path(tmp_path):
    archive = write_tar(tmp_path / "aclImdb_v1.tar.gz", corpus_files())
    dm = make(tmp_path / "cache", path=str(archive))
    assert len(dm.datasets["test"]) == 20


def reviews_frame(n: int = 20) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "body": [("great film" if i % 2 else "awful film") + f" {i}" for i in range(n)],
            "sentiment": ["positive" if i % 2 else "negative" for i in range(n)],
        }
    )


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_tables_without_split_column_get_a_stratified_test_split(tmp_path, suffix):
    path = tmp_path / f"reviews{suffix}"
    df = reviews_frame()
    {
        ".csv": lambda: df.to_csv(path, index=False),
        ".parquet": lambda: df.to_parquet(path),
        ".jsonl": lambda: df.to_json(path, orient="records", lines=True),
    }[suffix]()
    dm = make(tmp_path / "cache", path=str(path), text_column="body", label_column="sentiment", test_fraction=0.2)
    assert dm.task_kwargs["class_names"] == ["negative", "positive"]
    assert torch.bincount(dm.datasets["test"].labels).tolist() == [2, 2]


def test_table_with_a_split_column(tmp_path):
    path = tmp_path / "reviews.csv"
    reviews_frame().assign(split=["train"] * 14 + ["test"] * 6).to_csv(path, index=False)
    dm = make(tmp_path / "cache", path=str(path), text_column="body", label_column="sentiment")
    assert len(dm.datasets["test"]) == 6 and len(dm.datasets["train"]) + len(dm.datasets["val"]) == 14


def test_labels_outside_the_known_classes_are_listed(tmp_path):
    path = tmp_path / "reviews.csv"
    df = reviews_frame()
    df.loc[3, "sentiment"] = "meh"
    df.to_csv(path, index=False)
    with pytest.raises(DataError) as err:
        make(
            tmp_path / "cache",
            path=str(path),
            text_column="body",
            label_column="sentiment",
            classes=["negative", "positive"],
        )
    message = str(err.value)
    assert "labels ['meh'] outside the known classes ['negative', 'positive']" in message
    assert "first at data row 4" in message and "'meh': 1" in message and "data.classes" in message


def test_a_test_label_never_seen_in_train_is_listed(tmp_path):
    path = tmp_path / "reviews.csv"
    reviews_frame().assign(split=["train"] * 18 + ["test"] * 2, sentiment=["a", "b"] * 9 + ["a", "c"]).to_csv(
        path, index=False
    )
    with pytest.raises(DataError, match=r"the test split has labels \['c'\] outside the known classes \['a', 'b'\]"):
        make(tmp_path / "cache", path=str(path), text_column="body", label_column="sentiment")


def test_a_missing_text_column_lists_the_columns(tmp_path):
    path = tmp_path / "reviews.csv"
    reviews_frame().to_csv(path, index=False)
    expected = r"no column 'text' \(data.text_column\); its columns are \['body', 'sentiment'\]"
    with pytest.raises(DataError, match=expected):
        make(tmp_path / "cache", path=str(path), label_column="sentiment")


def test_a_missing_path_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        make(tmp_path / "cache", path=str(tmp_path / "nope.csv"))


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"tokenizer": {"kind": "bpe"}}, "data.tokenizer.kind='bpe'"),
        ({"tokenizer": {"kind": "word", "max_vocab": 5}}, "no option(s) ['max_vocab']"),
        ({"val_fraction": 0.0}, "data.val_fraction must be in (0, 1)"),
        ({"classes": ["pos"]}, "data.classes needs at least two"),
    ],
)
def test_bad_settings_fail_at_construction(tmp_path, kwargs, fragment):
    with pytest.raises(ConfigError) as err:
        ReviewsDataModule(data_dir=str(tmp_path), **kwargs)
    assert fragment in str(err.value)


def test_the_config_downloads_the_canonical_archive_with_its_checksum():
    from importlib import resources

    from omegaconf import OmegaConf

    from seqconv.data.text import IMDB_SHA256, IMDB_URL

    cfg = OmegaConf.load(str(resources.files("seqconv.conf") / "data" / "reviews.yaml"))
    assert cfg.url == IMDB_URL == "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
    assert cfg.sha256 == IMDB_SHA256 and len(IMDB_SHA256) == 64
    assert cfg._target_ == "seqconv.data.text.ReviewsDataModule"


def test_training_batches_serve_the_train_split_in_order_and_draw_no_random_numbers(imdb_folder, tmp_path):
    dm = make(tmp_path / "cache", path=str(imdb_folder))
    state = torch.get_rng_state()
    batches = list(dm.training_batches(batch_size=5))
    assert torch.equal(torch.get_rng_state(), state)  # a network's data-dependent start leaves training's draws
    train = dm.datasets["train"]
    assert [len(b["y"]) for b in batches] == [5, 5, 5, 3]
    assert torch.equal(torch.cat([b["y"] for b in batches]), train.labels)
    rows = [row[: int(n)] for b in batches for row, n in zip(b["x"], b["length"], strict=True)]
    assert all(torch.equal(row, train.sequence(i).long()) for i, row in enumerate(rows))


def test_the_ngram_ratios_see_the_training_texts_only(tmp_path):
    from seqconv.models import TextCNN

    files = corpus_files()
    rewritten = {k: (b"awful awful great loved hated" if "/test/" in k else v) for k, v in files.items()}
    ratios = []
    for name, corpus in (("a", files), ("b", rewritten)):
        dm = make(tmp_path / name / "cache", path=str(write_tree(tmp_path / name / "src", corpus)), val_fraction=0.1)
        net = TextCNN(**dm.dims, embedding_dim=4, num_filters=2, ngram_buckets=64)
        net.init_from_data(dm.training_batches())
        ratios.append(net.ngrams.ratios)
    assert ratios[0].abs().sum() > 0
    torch.testing.assert_close(ratios[0], ratios[1])


def test_baseline_inputs_reuse_the_texts_setup_read_and_read_again_after_the_token_cache(imdb_folder, tmp_path):
    reads = []
    original = ReviewsDataModule._read

    def counted(self, location):
        reads.append(location)
        return original(self, location)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ReviewsDataModule, "_read", counted)
        fresh = make(tmp_path / "cache", path=str(imdb_folder))
        first = fresh.baseline_inputs()
        assert len(reads) == 1  # the texts setup() read, not a second read
        cached = make(tmp_path / "cache", path=str(imdb_folder))  # tokens from the cache: no texts in memory
        assert len(reads) == 1
        again = cached.baseline_inputs()
        assert len(reads) == 2
    assert again == first and len(first.train_inputs) == 18 and len(first.test_inputs) == 20
