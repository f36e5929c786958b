"""Property-based: whatever bytes or rows a CSV holds, the reader returns clean data or raises DataError."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqconv.data import DataError, read_ohlcv

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**12), 10**12).map(str),
    st.sampled_from(["", "NaN", "null", "nan", "inf", "-", "1e400", "1,5", '"3"', "abc", " 4 ", "\t"]),
    st.text(max_size=8),
)
DATES = st.one_of(
    st.dates().map(str),
    st.sampled_from(["2020-02-30", "", "yesterday", "2020/01/02", "01/02/2020", "20200102"]),
    st.text(max_size=10),
)


def _check(path) -> None:
    try:
        frame = read_ohlcv(path, ["close"])
    except DataError:
        return
    values = frame["close"].to_numpy()
    assert len(values) > 0 and np.isfinite(values).all()
    assert frame.index.is_monotonic_increasing and frame.index.is_unique


@SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes(tmp_path, data):
    path = tmp_path / "random.csv"
    path.write_bytes(data)
    _check(path)


@SETTINGS
@given(st.lists(st.tuples(DATES, CELLS, CELLS), max_size=12), st.sampled_from(["Date,Close,Volume", "date,close", "x"]))
def test_malformed_rows(tmp_path, rows, header):
    path = tmp_path / "rows.csv"
    body = "\n".join(",".join(row) for row in rows)
    path.write_text(f"{header}\n{body}\n", encoding="utf-8", errors="replace")
    _check(path)
