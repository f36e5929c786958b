"""Property-based: whatever a review table or review file holds, the readers return texts or raise DataError."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqconv.data.text.sources import read_class_folders, read_table
from seqconv.errors import DataError

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
CELLS = st.one_of(st.text(max_size=20), st.sampled_from(["", '"', '""', "a,b", "\n", "train", "test", "pos", "1"]))


def _check(corpus) -> None:
    for split in corpus.splits.values() if hasattr(corpus, "splits") else []:
        assert all(isinstance(text, str) for text in split.texts)


@SETTINGS
@given(st.binary(max_size=500), st.sampled_from([".csv", ".tsv", ".jsonl", ".parquet"]))
def test_random_bytes_as_a_table(tmp_path, data, suffix):
    path = tmp_path / f"reviews{suffix}"
    path.write_bytes(data)
    try:
        _check(read_table(path, "text", "label", "split"))
    except DataError:
        pass


@SETTINGS
@given(
    st.lists(st.tuples(CELLS, CELLS, CELLS), max_size=10),
    st.sampled_from(["text,label,split", "text,label", "review,sentiment", "text"]),
)
def test_malformed_csv_rows(tmp_path, rows, header):
    path = tmp_path / "reviews.csv"
    body = "\n".join(",".join(row) for row in rows)
    path.write_text(f"{header}\n{body}\n", encoding="utf-8", errors="replace")
    try:
        _check(read_table(path, "text", "label", "split"))
    except DataError:
        pass


@SETTINGS
@given(st.lists(st.binary(max_size=80), min_size=1, max_size=4))
def test_review_files_with_any_bytes(tmp_path, contents):
    root = tmp_path / "aclImdb"
    for split in ("train", "test"):
        for label in ("neg", "pos"):
            folder = root / split / label
            folder.mkdir(parents=True, exist_ok=True)
            for i, data in enumerate(contents):
                (folder / f"{i}_1.txt").write_bytes(data)
    try:
        _check(read_class_folders(root))
    except DataError:
        pass


def test_a_row_with_more_fields_than_the_header_is_an_error(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("text,label\ngood film,pos,extra\n")
    try:
        read_table(path, "text", "label", None)
    except DataError as err:
        assert "more fields than the header" in str(err) and str(path) in str(err)
    else:
        raise AssertionError("the extra field was silently accepted")
