"""Review readers: class folders and CSV / TSV / JSONL / Parquet tables, including the files that go wrong."""

import json

import pandas as pd
import pytest
from imdb_corpus import corpus_files, write_tree

from seqconv.data.text import clean_review, find_class_folders, fingerprint, read_class_folders, read_table
from seqconv.errors import DataError


def test_clean_review_removes_imdb_line_breaks():
    assert clean_review("Good.<br /><br />Really<br/>good<BR>!  ") == "Good.  Really good !"


def test_class_folders_read_in_label_order_and_skip_unsup(tmp_path):
    write_tree(tmp_path, corpus_files())
    root = find_class_folders(tmp_path)
    assert root == tmp_path / "aclImdb"
    corpus = read_class_folders(root)
    assert corpus.classes == ["neg", "pos"]
    assert {name: len(split) for name, split in corpus.splits.items()} == {"train": 20, "test": 20}
    train = corpus.splits["train"]
    assert train.labels[:10] == ["neg"] * 10 and not any("unlabelled" in text for text in train.texts)
    assert corpus.undecodable == 0


def test_a_review_that_is_not_utf8_is_decoded_with_replacement_and_counted(tmp_path):
    bad = "aclImdb/train/pos/99_9.txt"
    write_tree(tmp_path, corpus_files({bad: b"caf\xe9 was great"}))
    corpus = read_class_folders(tmp_path / "aclImdb")
    assert corpus.undecodable == 1 and corpus.first_undecodable.endswith("99_9.txt")
    assert "caf\ufffd was great" in corpus.splits["train"].texts


def test_a_missing_class_folder_lists_the_folders_found(tmp_path):
    write_tree(tmp_path, corpus_files())
    with pytest.raises(DataError, match=r"neutral has no \.txt reviews \(class folders found in .*\['neg', 'pos'\]"):
        read_class_folders(tmp_path / "aclImdb", ["neg", "neutral"])


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "review": ["good film", "bad film", "great", "awful", None],
            "stars": [1, 0, 1, 0, 1],
            "part": ["train", "train", "test", "TEST", "validation"],
        }
    )


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_tables_of_every_format_with_custom_columns(tmp_path, suffix):
    path = tmp_path / f"reviews{suffix}"
    df = frame()
    if suffix == ".csv":
        df.to_csv(path, index=False)
    elif suffix == ".tsv":
        df.to_csv(path, index=False, sep="\t")
    elif suffix == ".jsonl":
        df.to_json(path, orient="records", lines=True)
    else:
        df.to_parquet(path)
    corpus = read_table(path, "review", "stars", "part")
    assert corpus.splits["train"].texts == ["good film", "bad film"]
    assert corpus.splits["train"].labels == ["1", "0"]  # labels compare as text, whatever the file's types
    assert corpus.splits["test"].labels == ["1", "0"]
    assert corpus.splits["val"].texts == [""]  # an empty cell is an empty review


def test_a_table_without_split_column_is_returned_whole(tmp_path):
    path = tmp_path / "reviews.csv"
    frame().drop(columns="part").to_csv(path, index=False)
    assert list(read_table(path, "review", "stars", "split").splits) == ["all"]


def test_a_missing_text_column_lists_the_columns(tmp_path):
    path = tmp_path / "reviews.csv"
    frame().to_csv(path, index=False)
    with pytest.raises(DataError) as err:
        read_table(path, "text", "stars", "part")
    message = str(err.value)
    assert "no column 'text' (data.text_column)" in message and "['review', 'stars', 'part']" in message


def test_unknown_split_names_and_empty_labels_are_reported(tmp_path):
    path = tmp_path / "reviews.csv"
    frame().assign(part=["train", "holdout", "test", "test", "train"]).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"the value\(s\) \['holdout'\]"):
        read_table(path, "review", "stars", "part")
    frame().assign(stars=["1", "", "1", "0", "1"]).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"column 'stars' is empty in 1 row\(s\), first at data row\(s\) \[2\]"):
        read_table(path, "review", "stars", "part")


def test_a_csv_that_is_not_utf8_is_read_with_replacement_and_counted(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_bytes(b"text,label\ncaf\xe9 ok,pos\nfine,neg\n")
    corpus = read_table(path, "text", "label", None)
    assert corpus.undecodable == 1 and corpus.splits["all"].texts[0] == "caf\ufffd ok"


def test_unreadable_tables_and_unknown_formats_are_data_errors(tmp_path):
    (tmp_path / "reviews.jsonl").write_text('{"text": "ok", "label": 1}\n{not json\n')
    with pytest.raises(DataError, match="not a readable jsonl file"):
        read_table(tmp_path / "reviews.jsonl", "text", "label", None)
    (tmp_path / "reviews.xlsx").write_text("x")
    with pytest.raises(DataError, match=r"cannot read '\.xlsx' files"):
        read_table(tmp_path / "reviews.xlsx", "text", "label", None)


def test_fingerprint_changes_with_the_content(tmp_path):
    write_tree(tmp_path / "a", corpus_files())
    before = fingerprint(tmp_path / "a")
    assert fingerprint(tmp_path / "a") == before
    (tmp_path / "a" / "aclImdb" / "train" / "pos" / "0_7.txt").write_text("changed, and longer than before")
    assert fingerprint(tmp_path / "a") != before
    (tmp_path / "f.json").write_text(json.dumps([1]))
    assert len(fingerprint(tmp_path / "f.json")) == 64
