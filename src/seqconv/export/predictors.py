"""Raw inputs -> predictions, through the run's fitted preprocessor (restored from a checkpoint or a sidecar).

* forecasting: a price CSV -> the next value of the target column in price units, or ``horizon`` values by
  feeding each forecast back as the next input;
* audio: a WAV (FLAC, OGG) file or a folder of them -> class and probabilities per file;
* text: a UTF-8 file with one text per line -> label and probability per line.

Every transform is the preprocessor's (:mod:`seqconv.data.preprocessor`); this module only reads the input
files, batches, and calls the model. The model is any callable ``x -> y`` on batch-first tensors (eager network,
TorchScript, ``torch.export`` or onnxruntime), so the same preprocessing serves all of them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from seqconv.data.audio.decode import AUDIO_SUFFIXES
from seqconv.data.audio.preprocessor import AudioPreprocessor
from seqconv.data.preprocessor import Preprocessor
from seqconv.data.stocks.preprocessor import StocksPreprocessor
from seqconv.data.text.preprocessor import TextPreprocessor
from seqconv.errors import ConfigError, DataError
from seqconv.export.exporters import flatten_tensors
from seqconv.utils.io import write_atomic, write_json_atomic

__all__ = [
    "OUTPUT_SUFFIXES",
    "Predict",
    "as_predict_fn",
    "check_output_path",
    "classify_audio",
    "classify_text",
    "forecast_csv",
    "predict_file",
    "write_predictions",
]

Predict = Callable[[torch.Tensor], torch.Tensor]
OUTPUT_SUFFIXES = (".csv", ".json")


def as_predict_fn(runner: Callable[..., Any]) -> Predict:
    """``x -> y`` from a runner that may return a tensor, or a list of tensors (onnxruntime), without autograd."""

    def predict(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return flatten_tensors(runner(x))[0].float()

    return predict


# -- forecasting -----------------------------------------------------------------------------------------------
def forecast_csv(predict: Predict, pre: StocksPreprocessor, path: str | Path, horizon: int = 1) -> list[dict]:
    """Forecast the value after the last row of a price CSV, in price units.

    Args:
        predict: the network, ``[B, C, L] -> [B, 1]`` scaled forecasts.
        pre: the run's fitted stocks preprocessor.
        path: a CSV with a date column and the columns the model was trained on, in ascending date order.
        horizon: forecasts to chain: each one is appended to the series as the next observed value (needs a
            model of the target column alone, trained to forecast one step ahead).

    Returns:
        One row per step ``1..horizon``: ``step``, ``last_date``, ``last_price``, ``forecast``.

    Raises:
        DataError: missing columns, too few rows for the window, or values the transform cannot take.
        ConfigError: ``horizon > 1`` for a model whose inputs are not the target alone.
    """
    path = Path(path)
    if horizon < 1:
        raise ConfigError(f"horizon must be >= 1, got {horizon}")
    if horizon > 1 and (pre.features != [pre.target] or pre.horizon != 1):
        raise ConfigError(
            f"horizon={horizon} feeds each forecast back as the next input, which needs a model of the target alone "
            f"trained one step ahead (data.features=[{pre.target}], data.horizon=1); this one reads {pre.features} "
            f"and forecasts {pre.horizon} step(s) ahead: use horizon=1"
        )
    source = f"input={str(path)!r}"
    if not path.is_file():
        raise DataError(f"{source}: no such file; pass a CSV of prices")
    frame = pre.read(path, fitted_model=True).iloc[-pre.rows_needed :]
    last_date, last_price = str(frame.index[-1].date()), float(frame[pre.target].iloc[-1])
    rows = []
    for step in range(1, horizon + 1):
        x = pre.model_input(frame, source)  # [1, C, window]
        scaled = predict(x).reshape(-1)[:1].double()  # [1]
        last = torch.tensor([float(frame[pre.target].iloc[-1])], dtype=torch.float64)
        forecast = float(pre.to_price(scaled, last)[0])
        rows.append({"step": step, "last_date": last_date, "last_price": last_price, "forecast": forecast})
        if step < horizon:  # the forecast becomes the next observed value (features == [target] here)
            following = frame.index[-1] + pd.Timedelta(days=1)
            frame = pd.concat([frame.iloc[1:], pd.DataFrame({pre.target: [forecast]}, index=[following])])
    return rows


# -- classification --------------------------------------------------------------------------------------------
def _run_batches(predict: Predict, batches: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([predict(x) for x in batches])


def classify_audio(predict: Predict, pre: AudioPreprocessor, path: str | Path, batch_size: int = 64) -> list[dict]:
    """Classify one audio file, or every audio file under a folder (recursively, sorted).

    Returns:
        One row per file: ``file``, ``label``, ``probability`` and ``probabilities`` (class -> probability).

    Raises:
        DataError: no such file, a folder without audio files, or a file that is not (decodable) audio.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
        if not files:
            raise DataError(f"input={str(path)!r}: the folder holds no audio files ({', '.join(AUDIO_SUFFIXES)})")
    elif path.is_file():
        files = [path]
    else:
        raise DataError(f"input={str(path)!r}: no such file or folder; pass a WAV file or a folder of them")
    batches = [pre.transform(files[i : i + batch_size]) for i in range(0, len(files), batch_size)]  # [B, T] each
    return pre.postprocess(_run_batches(predict, batches), [{"file": str(f)} for f in files])


def _read_lines(path: Path) -> list[tuple[int, str]]:
    if not path.is_file():
        raise DataError(f"input={str(path)!r}: no such file; pass a UTF-8 text file with one text per line")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataError(f"input={str(path)!r}: line {line} is not valid UTF-8; re-save the file as UTF-8") from None
    lines = [(i, line.strip()) for i, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise DataError(f"input={str(path)!r} holds no text; put one text per line")
    return lines


def classify_text(predict: Predict, pre: TextPreprocessor, path: str | Path, batch_size: int = 64) -> list[dict]:
    """Classify each non-blank line of a UTF-8 text file.

    Returns:
        One row per line: ``line`` (1-based), ``text``, ``label``, ``probability`` and ``probabilities``.

    Raises:
        DataError: no such file, not UTF-8, or no text in it.
    """
    lines = _read_lines(Path(path))
    texts = [text for _, text in lines]
    batches = [pre.transform(texts[i : i + batch_size])["x"] for i in range(0, len(texts), batch_size)]  # [B, L]
    meta = [{"line": number, "text": text} for number, text in lines]
    return pre.postprocess(_run_batches(predict, batches), meta)


def predict_file(
    predict: Predict, pre: Preprocessor, path: str | Path, horizon: int = 1, batch_size: int = 64
) -> list[dict]:
    """Dispatch on the preprocessor's domain: forecasting, audio or text."""
    if isinstance(pre, StocksPreprocessor):
        return forecast_csv(predict, pre, path, horizon)
    if isinstance(pre, AudioPreprocessor):
        return classify_audio(predict, pre, path, batch_size)
    if isinstance(pre, TextPreprocessor):
        return classify_text(predict, pre, path, batch_size)
    raise ConfigError(f"prediction on raw inputs supports forecasting, audio and text models, not {pre.domain!r}")


# -- output ----------------------------------------------------------------------------------------------------
def check_output_path(output: str | Path | None) -> Path | None:
    """Validate ``output`` before any work: ``None`` (print) or a ``.csv`` / ``.json`` path."""
    if output is None:
        return None
    output = Path(output)
    if output.suffix.lower() not in OUTPUT_SUFFIXES:
        raise ConfigError(f"output={str(output)!r}: end the name in {' or '.join(OUTPUT_SUFFIXES)} to pick the format")
    if output.is_dir():
        raise ConfigError(f"output={str(output)!r} is a folder; name a file")
    return output


def _flat(row: dict) -> dict:
    flat = {k: v for k, v in row.items() if k != "probabilities"}
    flat.update({f"p_{name}": p for name, p in row.get("probabilities", {}).items()})
    return flat


def _csv_text(rows: list[dict]) -> str:
    flat = [_flat(r) for r in rows]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(flat[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat)
    return buffer.getvalue()


def write_predictions(rows: list[dict], output: str | Path) -> Path:
    """Write ``rows`` as CSV (probabilities as ``p_<class>`` columns) or JSON, by suffix, atomically."""
    output = check_output_path(output)
    if output.suffix.lower() == ".json":
        return write_json_atomic(output, {"predictions": rows})
    text = _csv_text(rows)
    return write_atomic(output, lambda f: f.write(text.encode()))
