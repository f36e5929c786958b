"""Bad CSVs: each gets a DataError naming the file and the line or column, never a silent NaN."""

import pytest

from seqconv.data import DataError, read_ohlcv

HEADER = "Date,Open,High,Low,Close,Adj Close,Volume\n"


def _row(date: str, close: str = "10.0") -> str:
    return f"{date},1,2,0.5,{close},{close},100\n"


def _write(tmp_path, text: str | bytes, name: str = "prices.csv"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_reads_yahoo_format_case_insensitively(tmp_path):
    path = _write(tmp_path, HEADER + _row("2020-01-02", "3") + _row("2020-01-03", "4"))
    frame = read_ohlcv(path, ["close", "adjclose", "volume"])
    assert list(frame.columns) == ["close", "adjclose", "volume"]
    assert frame["close"].tolist() == [3.0, 4.0]
    assert str(frame.index[0].date()) == "2020-01-02"


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ("", ["is empty"]),
        (HEADER, ["no data rows"]),
        ("Date,Open\n2020-01-02,1\n", ["missing column(s) ['close']", "'open'"]),
        (HEADER + _row("2020-01-02") + _row("2020-01-03", "abc"), ["line 3", "'close'", "'abc' is not a number"]),
        (HEADER + _row("2020-01-02") + _row("not-a-date"), ["line 3", "cannot parse 'not-a-date'"]),
        (HEADER + _row("2020-01-02") + _row("2020-01-03", "") + _row("2020-01-06"), ["line 3", "nan_policy"]),
        (HEADER + _row("2020-01-03") + _row("2020-01-02"), ["line 3", "ascending date order"]),
        (HEADER + _row("2020-01-02") + _row("2020-01-02"), ["line 3", "more than once"]),
    ],
    ids=["empty", "header-only", "missing-close", "non-numeric", "bad-date", "nan-gap", "unsorted", "duplicate"],
)
def test_bad_files_name_the_file_and_the_place(tmp_path, content, fragments):
    path = _write(tmp_path, content)
    with pytest.raises(DataError) as err:
        read_ohlcv(path, ["close"])
    message = str(err.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_ohlcv(tmp_path / "nope.csv", ["close"])


def test_non_utf8_file_names_the_line(tmp_path):
    path = _write(
        tmp_path, HEADER.encode() + _row("2020-01-02").encode() + "2020-01-03,1,2,0.5,1\xe9,1,1\n".encode("latin-1")
    )
    with pytest.raises(DataError, match="line 3 is not valid UTF-8"):
        read_ohlcv(path, ["close"])


def test_nan_policies(tmp_path):
    path = _write(tmp_path, HEADER + _row("2020-01-02", "1") + _row("2020-01-03", "NaN") + _row("2020-01-06", "3"))
    assert read_ohlcv(path, ["close"], nan_policy="drop")["close"].tolist() == [1.0, 3.0]
    assert read_ohlcv(path, ["close"], nan_policy="ffill")["close"].tolist() == [1.0, 1.0, 3.0]
    with pytest.raises(DataError, match="line 3, column 'close' is empty or NaN"):
        read_ohlcv(path, ["close"], nan_policy="error")


def test_ffill_cannot_fill_a_leading_gap(tmp_path):
    path = _write(tmp_path, HEADER + _row("2020-01-02", "") + _row("2020-01-03", "2"))
    with pytest.raises(DataError, match="first row has a gap"):
        read_ohlcv(path, ["close"], nan_policy="ffill")
