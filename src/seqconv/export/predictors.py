"""Raw inputs -> predictions, through the run's fitted preprocessor (restored from a checkpoint or a sidecar).

* forecasting: a price CSV -> steps ``1..horizon`` of the target column after its last row, at once (the
  model's direct multi-horizon output), with every quantile;
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

import torch

from seqconv.data.audio.decode import AUDIO_SUFFIXES
from seqconv.data.audio.preprocessor import AudioPreprocessor
from seqconv.data.preprocessor import Preprocessor
from seqconv.data.stocks.preprocessor import StocksPreprocessor, point_index
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
def forecast_csv(predict: Predict, pre: StocksPreprocessor, path: str | Path, horizon: int | None = None) -> list[dict]:
    """Forecast steps ``1..horizon`` after the last row of a price CSV at once (direct multi-horizon, no
    recursion), in answer units (prices, or absolute returns for a volatility model), with every quantile; or of
    every ``*.csv`` in a folder (a panel: each file is the series its name says, scaled with that series' own
    scalers).

    Args:
        predict: the network, ``[B, C, L] -> [B, H]`` (or ``[B, H * Q]``) scaled forecasts.
        pre: the run's fitted stocks preprocessor.
        path: a CSV with a date column and the columns the model was trained on, in ascending date order.
        horizon: steps to return, at most the trained horizon; ``None``: all of them.

    Returns:
        One row per step (and series): ``series``, ``step``, ``last_date``, ``last_price``, ``forecast`` (the
        median for a quantile model) and ``q<level>`` per quantile (e.g. ``q0.1``).

    Raises:
        DataError: missing columns, too few rows for the window, or values the transform cannot take.
        ConfigError: ``horizon`` below 1 or above the trained horizon.
    """
    path = Path(path)
    horizon = pre.horizon if horizon is None else horizon
    if not 1 <= horizon <= pre.horizon:
        raise ConfigError(
            f"horizon={horizon}: this model forecasts steps 1..{pre.horizon} at once (trained with "
            f"data.horizon={pre.horizon}); ask for 1..{pre.horizon}, or retrain with data.horizon={horizon}"
        )
    if path.is_dir():
        files = sorted(p for p in path.glob("*.csv") if p.is_file())
        if not files:
            raise DataError(f"input={str(path)!r}: the folder holds no *.csv files; put one CSV per series")
        return [row for file in files for row in forecast_csv(predict, pre, file, horizon)]
    source = f"input={str(path)!r}"
    if not path.is_file():
        raise DataError(f"{source}: no such file or folder; pass a CSV of prices (or a folder of them)")
    frame = pre.read(path, fitted_model=True)
    x = pre.model_input(frame, source, path.stem)  # [1, C, window]
    last = torch.tensor([float(frame[pre.target].iloc[-1])], dtype=torch.float64)
    answers = pre.to_answer(pre.split_output(predict(x).double()), last, path.stem)[0]  # [H] or [H, Q]
    rows = []
    for k in range(horizon):
        row = {
            "series": path.stem,
            "step": k + 1,
            "last_date": str(frame.index[-1].date()),
            "last_price": float(last[0]),
        }
        if pre.quantiles:
            middle = point_index(pre.quantiles)
            row["forecast"] = float(answers[k, middle])
            row.update({f"q{level:g}": float(value) for level, value in zip(pre.quantiles, answers[k], strict=True)})
        else:
            row["forecast"] = float(answers[k])
        rows.append(row)
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
    predict: Predict, pre: Preprocessor, path: str | Path, horizon: int | None = None, batch_size: int = 64
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
