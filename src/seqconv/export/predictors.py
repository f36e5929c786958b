"""Raw inputs -> predictions, driven by a sidecar description (from an export, or built from a checkpoint).

* forecasting: a price CSV -> the next value of the target column in price units, or ``horizon`` values by
  feeding each forecast back as the next input;
* audio: a WAV (FLAC, OGG) file or a folder of them -> class and probabilities per file;
* text: a UTF-8 file with one text per line -> label and probability per line.

The model is any callable ``x -> y`` on batch-first tensors (eager network, TorchScript, ``torch.export`` or
onnxruntime), so the same preprocessing serves all of them.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from seqconv.errors import ConfigError, DataError
from seqconv.export.exporters import flatten_tensors
from seqconv.utils import write_json_atomic

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
def _csv_columns(path: Path) -> list[str]:
    from seqconv.data.ohlcv import normalize_column

    try:
        header = pd.read_csv(path, nrows=0, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as err:
        raise DataError(f"input={str(path)!r}: not a readable CSV ({err})") from None
    return [normalize_column(c) for c in header.columns]


def forecast_csv(predict: Predict, sidecar: dict[str, Any], path: str | Path, horizon: int = 1) -> list[dict]:
    """Forecast the value after the last row of a price CSV, in price units.

    Args:
        predict: the network, ``[B, C, L] -> [B, 1]`` scaled forecasts.
        sidecar: the run's description (:func:`~seqconv.export.sidecar.describe_run`).
        path: a CSV with a date column and the columns the model was trained on, in ascending date order.
        horizon: forecasts to chain: each one is appended to the series as the next observed value (needs a
            model of the target column alone, trained to forecast one step ahead).

    Returns:
        One row per step ``1..horizon``: ``step``, ``last_date``, ``last_price``, ``forecast``.

    Raises:
        DataError: missing columns, too few rows for the window, or values the transform cannot take.
        ConfigError: ``horizon > 1`` for a model whose inputs are not the target alone.
    """
    from seqconv.data.ohlcv import normalize_column, read_ohlcv

    path, pre, post = Path(path), sidecar["preprocessing"], sidecar["postprocessing"]
    features = [normalize_column(c) for c in pre["columns"]]
    target, date_column = normalize_column(pre["target"]), normalize_column(pre["date_column"])
    window, transform = int(pre["window"]), pre["transform"]
    if horizon < 1:
        raise ConfigError(f"horizon must be >= 1, got {horizon}")
    if horizon > 1 and (features != [target] or int(pre["horizon"]) != 1):
        raise ConfigError(
            f"horizon={horizon} feeds each forecast back as the next input, which needs a model of the target alone "
            f"trained one step ahead (data.features=[{target}], data.horizon=1); this one reads {features} and "
            f"forecasts {pre['horizon']} step(s) ahead: use horizon=1"
        )
    if not path.is_file():
        raise DataError(f"input={str(path)!r}: no such file; pass a CSV of prices")
    columns = list(dict.fromkeys([*features, target]))
    found = _csv_columns(path)
    missing = [c for c in [date_column, *columns] if c not in found]
    if missing:
        raise DataError(
            f"input={str(path)!r}: missing column(s) {missing}; the model was trained on {columns} (dates in "
            f"{date_column!r}) and the file has {found}. Names match case-insensitively, ignoring spaces and '_'"
        )
    frame = read_ohlcv(path, columns, date_column)
    need = window + (1 if transform == "log_return" else 0)
    if len(frame) < need:
        extra = " (log returns take one row more)" if transform == "log_return" else ""
        raise DataError(
            f"input={str(path)!r} has {len(frame)} rows; the model reads windows of {window} steps and needs at "
            f"least {need} rows{extra}"
        )
    values = frame[features].to_numpy(dtype=np.float64)[-need:]  # [N, C]
    prices = frame[target].to_numpy(dtype=np.float64)[-need:]  # [N]
    if transform == "log_return" and (values <= 0).any():
        row, col = np.argwhere(values <= 0)[0]
        raise DataError(
            f"input={str(path)!r}: column {features[col]!r} has the non-positive value {values[row, col]} in the "
            f"last {need} rows; a log-return model needs positive prices"
        )
    scaler = pre["feature_scaler"]
    mean, std = np.asarray(scaler["mean"]), np.asarray(scaler["std"])
    last_date, last_price = str(frame.index[-1].date()), float(prices[-1])
    rows = []
    for step in range(1, horizon + 1):
        inputs = np.diff(np.log(values), axis=0) if transform == "log_return" else values  # [window, C]
        x = torch.as_tensor(((inputs - mean) / std).T[None], dtype=torch.float32)  # [window, C] -> [1, C, window]
        scaled = float(predict(x).reshape(-1)[0])
        value = scaled * post["target_std"] + post["target_mean"]
        forecast = value if transform == "level" else float(prices[-1] * np.exp(value))
        rows.append({"step": step, "last_date": last_date, "last_price": last_price, "forecast": forecast})
        values = np.vstack([values[1:], [[forecast]]]) if step < horizon else values
        prices = np.append(prices[1:], forecast)
    return rows


# -- classification --------------------------------------------------------------------------------------------
def _classified(names: list[str], logits: torch.Tensor, meta: list[dict]) -> list[dict]:
    probs = torch.softmax(logits, dim=-1)  # [B, K]
    rows = []
    for item, p in zip(meta, probs.tolist(), strict=True):
        best = int(np.argmax(p))
        rows.append(
            {**item, "label": names[best], "probability": p[best], "probabilities": dict(zip(names, p, strict=True))}
        )
    return rows


def _class_names(sidecar: dict[str, Any], count: int) -> list[str]:
    names = sidecar["postprocessing"].get("class_names") or [str(i) for i in range(count)]
    if len(names) != count:
        raise ConfigError(f"the model returns {count} logits but its description names {len(names)} classes")
    return [str(n) for n in names]


def _run_batches(predict: Predict, batches: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([predict(x) for x in batches])


def classify_audio(predict: Predict, sidecar: dict[str, Any], path: str | Path, batch_size: int = 64) -> list[dict]:
    """Classify one audio file, or every audio file under a folder (recursively, sorted).

    Returns:
        One row per file: ``file``, ``label``, ``probability`` and ``probabilities`` (class -> probability).

    Raises:
        DataError: no such file, a folder without audio files, or a file that is not (decodable) audio.
    """
    from seqconv.data.audio import AUDIO_SUFFIXES, fix_length, load_audio, normalize_clip

    path, pre = Path(path), sidecar["preprocessing"]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
        if not files:
            raise DataError(f"input={str(path)!r}: the folder holds no audio files ({', '.join(AUDIO_SUFFIXES)})")
    elif path.is_file():
        files = [path]
    else:
        raise DataError(f"input={str(path)!r}: no such file or folder; pass a WAV file or a folder of them")
    rate, length = int(pre["sample_rate"]), int(pre["clip_samples"])
    clips = [fix_length(normalize_clip(load_audio(f, rate), pre["normalize"]), length) for f in files]  # [T] each
    batches = [torch.stack(clips[i : i + batch_size]) for i in range(0, len(clips), batch_size)]  # [B, T]
    logits = _run_batches(predict, batches)
    return _classified(_class_names(sidecar, logits.shape[-1]), logits, [{"file": str(f)} for f in files])


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


def classify_text(predict: Predict, sidecar: dict[str, Any], path: str | Path, batch_size: int = 64) -> list[dict]:
    """Classify each non-blank line of a UTF-8 text file.

    Returns:
        One row per line: ``line`` (1-based), ``text``, ``label``, ``probability`` and ``probabilities``.

    Raises:
        DataError: no such file, not UTF-8, or no text in it.
    """
    from seqconv.data.text import clean_review, pad_batch, tokenizer_from_state

    pre = sidecar["preprocessing"]
    lines = _read_lines(Path(path))
    tokenizer = tokenizer_from_state(pre["tokenizer"])
    max_length = pre.get("max_length")
    sequences = []
    for _, text in lines:
        ids = tokenizer.encode(clean_review(text))[:max_length] or [tokenizer.unk_id]
        sequences.append(torch.tensor(ids, dtype=torch.long))
    batches = [pad_batch(sequences[i : i + batch_size], pre["pad_id"])[0] for i in range(0, len(lines), batch_size)]
    logits = _run_batches(predict, batches)  # [N, K]
    meta = [{"line": number, "text": text} for number, text in lines]
    return _classified(_class_names(sidecar, logits.shape[-1]), logits, meta)


def predict_file(
    predict: Predict, sidecar: dict[str, Any], path: str | Path, horizon: int = 1, batch_size: int = 64
) -> list[dict]:
    """Dispatch on ``sidecar["task"]``: forecasting, audio or text."""
    task = sidecar["task"]
    if task == "forecasting":
        return forecast_csv(predict, sidecar, path, horizon)
    if task == "audio":
        return classify_audio(predict, sidecar, path, batch_size)
    if task == "text":
        return classify_text(predict, sidecar, path, batch_size)
    raise ConfigError(f"prediction on raw inputs supports forecasting, audio and text models, not task {task!r}")


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
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as f:
            f.write(_csv_text(rows))
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return output
