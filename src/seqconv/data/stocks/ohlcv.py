"""Reading and validating Yahoo-style OHLCV price CSVs."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from seqconv.errors import DataError

__all__ = ["NAN_POLICIES", "day_string", "normalize_column", "read_ohlcv"]

NAN_POLICIES = ("error", "drop", "ffill")


def normalize_column(name: str) -> str:
    """``"Adj Close"``, ``"adj_close"`` and ``"AdjClose"`` all become ``"adjclose"``."""
    return re.sub(r"[\s_\-]+", "", str(name)).lower()


def day_string(timestamp: pd.Timestamp) -> str:
    """``YYYY-MM-DD`` of any timestamp (``Timestamp.date()`` fails outside Python's year range 1-9999)."""
    return str(timestamp).split(" ")[0]


def _line(row: int) -> int:
    """File line of data row ``row`` (0-based): the header is line 1."""
    return row + 2


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"{path}: the file is empty; expected a CSV with a header such as Date,Open,High,Low,Close")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataError(
            f"{path}: line {line} is not valid UTF-8 (byte {raw[err.start]:#04x} at offset {err.start}); "
            "re-save the file as UTF-8, e.g. `iconv -f latin1 -t utf-8 in.csv > out.csv`"
        ) from None


def read_ohlcv(
    path: str | Path,
    columns: list[str],
    date_column: str = "date",
    nan_policy: str = "error",
    fix: str = "set data.features / data.target / data.date_column to columns that exist",
) -> pd.DataFrame:
    """Read ``columns`` of a price CSV, indexed by date, validated.

    Column names match case-insensitively and ignore spaces and underscores (``Adj Close`` = ``adjclose``).

    Args:
        path: CSV file with a header row.
        columns: normalized names of the numeric columns to return, e.g. ``["close", "volume"]``.
        date_column: normalized name of the date column.
        nan_policy: what to do with empty or NaN cells: ``"error"`` (default), ``"drop"`` the rows, or
            ``"ffill"`` (carry the last value forward; a gap in the first row is still an error).
        fix: what a missing column message tells the user to do.

    Returns:
        A float64 frame with a sorted, unique ``DatetimeIndex`` and the requested columns.

    Raises:
        DataError: a missing or unreadable file, a missing column, a non-numeric or unparseable value,
            unhandled NaN gaps, or unsorted or duplicated dates; the message names the file, line and column.
    """
    path = Path(path)
    if nan_policy not in NAN_POLICIES:
        raise DataError(f"unknown nan_policy={nan_policy!r}; choose one of {list(NAN_POLICIES)}")
    if not path.is_file():
        raise DataError(f"{path}: no such file; check data.path (relative paths start at the launch directory)")
    text = _decode(path)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise DataError(f"{path}: not a readable CSV ({err})") from None
    frame.columns = [normalize_column(c) for c in frame.columns]
    missing = [c for c in [date_column, *columns] if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {missing}; {fix}; the file has {list(frame.columns)} "
            "(names are matched case-insensitively, ignoring spaces and underscores)"
        )
    if frame.empty:
        raise DataError(f"{path}: the file has a header but no data rows")

    dates = pd.to_datetime(frame[date_column], errors="coerce", format="mixed")
    bad = np.flatnonzero(dates.isna().to_numpy())
    if bad.size:
        row = bad[0]
        raise DataError(
            f"{path}: line {_line(row)}, column {date_column!r}: cannot parse {frame[date_column].iloc[row]!r} "
            f"as a date ({bad.size} such row(s))"
        )
    values = {}
    for column in columns:
        cells = frame[column].str.strip()
        numbers = pd.to_numeric(cells.replace({"": None, "null": None, "nan": None, "NaN": None}), errors="coerce")
        bad = np.flatnonzero(
            numbers.isna().to_numpy() & cells.ne("").to_numpy() & ~cells.str.lower().isin(["null", "nan"]).to_numpy()
        )
        if bad.size:
            row = bad[0]
            raise DataError(
                f"{path}: line {_line(row)}, column {column!r}: {cells.iloc[row]!r} is not a number "
                f"({bad.size} such cell(s)); fix or remove those rows"
            )
        values[column] = numbers.to_numpy(dtype=np.float64)
    out = pd.DataFrame(values, index=pd.DatetimeIndex(dates, name="date"))

    order = out.index.to_numpy()
    dup = np.flatnonzero(out.index.duplicated())
    if dup.size:
        row = dup[0]
        raise DataError(
            f"{path}: line {_line(row)}: date {day_string(out.index[row])} appears more than once "
            f"({dup.size} duplicate(s)); remove the duplicated rows"
        )
    unsorted = np.flatnonzero(order[1:] < order[:-1])
    if unsorted.size:
        row = unsorted[0] + 1
        raise DataError(
            f"{path}: line {_line(row)}: date {day_string(out.index[row])} comes after "
            f"{day_string(out.index[row - 1])}; the rows must be in ascending date order (sort the file by date)"
        )

    gaps = out.isna().to_numpy()
    if gaps.any():
        rows, cols = np.nonzero(gaps)
        where = f"line {_line(rows[0])}, column {columns[cols[0]]!r}"
        if nan_policy == "error":
            raise DataError(
                f"{path}: {where} is empty or NaN ({int(gaps.any(axis=1).sum())} row(s) with gaps); "
                "fix the file, or set data.nan_policy=drop or data.nan_policy=ffill"
            )
        if nan_policy == "drop":
            out = out[~gaps.any(axis=1)]
        else:
            if gaps[0].any():
                raise DataError(
                    f"{path}: {where}: the first row has a gap that nan_policy=ffill cannot fill; "
                    "use data.nan_policy=drop"
                )
            out = out.ffill()
    if not np.isfinite(out.to_numpy()).all():
        rows, cols = np.nonzero(~np.isfinite(out.to_numpy()))
        raise DataError(f"{path}: column {columns[cols[0]]!r} holds an infinite value near data row {rows[0]}")
    return out
