"""Prediction on raw prices, audio and text: inverse scaling, recursion, the same answers from a checkpoint and an
export, and clear errors on inputs that do not fit."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from export_fixtures import write_tones

from seqconv.data import StandardScaler, StocksPreprocessor, preprocessor_from_state
from seqconv.errors import ConfigError, DataError
from seqconv.export import (
    as_predict_fn,
    check_output_path,
    describe_run,
    export_network,
    forecast_csv,
    load_run,
    load_runner,
    predict_file,
    read_sidecar,
    real_batch,
    write_predictions,
    write_sidecar,
)


def _prices(path, values, start="2020-01-01", extra: dict | None = None):
    frame = pd.DataFrame({"Date": pd.bdate_range(start, periods=len(values)).strftime("%Y-%m-%d"), "Close": values})
    for key, column in (extra or {}).items():
        frame[key] = column
    frame.to_csv(path, index=False)
    return path


def _forecaster(transform="log_return", window=5, features=("close",), horizon=1, mean=0.01, std=2.0):
    """A fitted stocks preprocessor: input scaler (mean, std) per feature, target scaler (0.001, 0.02) per step."""
    targets = StandardScaler([0.001] * horizon, [0.02] * horizon)
    scalers = StandardScaler([mean] * len(features), [std] * len(features)), targets
    return StocksPreprocessor(features, "close", transform, window, horizon, "date", *scalers)


def test_log_return_forecast_is_mapped_back_to_price_units(tmp_path):
    values = [100.0, 101.0, 99.0, 102.0, 103.0, 104.0, 105.0]
    seen = []

    def predict(x):
        seen.append(x)
        return torch.full((1, 1), 0.5)

    rows = forecast_csv(predict, _forecaster(), _prices(tmp_path / "p.csv", values))
    assert rows == [
        {
            "series": "p",
            "step": 1,
            "last_date": "2020-01-09",
            "last_price": 105.0,
            "forecast": pytest.approx(105 * math.exp(0.011)),
        }
    ]
    expected = (np.diff(np.log(values))[-5:] - 0.01) / 2.0  # the last window of scaled log returns
    assert seen[0].shape == (1, 1, 5) and seen[0].dtype == torch.float32
    np.testing.assert_allclose(seen[0][0, 0].numpy(), expected, rtol=1e-6)


def test_a_multi_horizon_model_forecasts_every_step_at_once_without_recursion(tmp_path):
    pre = _forecaster("level", window=3, mean=0.0, std=1.0, horizon=3)
    pre.target_scaler = StandardScaler([0.0, 10.0, 20.0], [1.0, 1.0, 2.0])  # one scaler per step
    calls = []

    def predict(x):  # steps 1..3 from one call: the window's mean, plus 1 and 2
        calls.append(x)
        return torch.stack([x.mean(dim=-1)[:, 0] + k for k in range(3)], dim=1)  # [1, 3]

    rows = forecast_csv(predict, pre, _prices(tmp_path / "p.csv", [1.0, 2.0, 3.0, 6.0]))
    mean = (2 + 3 + 6) / 3
    assert len(calls) == 1  # no forecast is fed back as an input
    assert [r["forecast"] for r in rows] == pytest.approx([mean, 10 + (mean + 1), 20 + 2 * (mean + 2)])
    assert [r["step"] for r in rows] == [1, 2, 3] and {r["last_price"] for r in rows} == {6.0}
    assert [r["step"] for r in forecast_csv(predict, pre, tmp_path / "p.csv", horizon=2)] == [1, 2]


def test_asking_more_steps_than_the_model_was_trained_for_is_an_error(tmp_path):
    pre = _forecaster(horizon=2)
    with pytest.raises(ConfigError, match=r"horizon=3: this model forecasts steps 1..2 at once.*data.horizon=3"):
        forecast_csv(lambda x: torch.zeros(1, 2), pre, tmp_path / "p.csv", horizon=3)
    with pytest.raises(ConfigError, match="horizon=0"):
        forecast_csv(lambda x: torch.zeros(1, 2), pre, tmp_path / "p.csv", horizon=0)


def test_a_quantile_model_returns_every_quantile_sorted_with_the_median_as_forecast(tmp_path):
    pre = _forecaster("level", window=3, mean=0.0, std=1.0, horizon=2)
    pre.target_scaler, pre.quantiles = StandardScaler([0.0, 0.0], [1.0, 1.0]), [0.1, 0.5, 0.9]
    output = torch.tensor([[3.0, 1.0, 2.0, 6.0, 4.0, 5.0]])  # [1, H * Q], unsorted within each step
    rows = forecast_csv(lambda x: output, pre, _prices(tmp_path / "p.csv", [1.0, 2.0, 3.0, 6.0]))
    assert [(r["q0.1"], r["q0.5"], r["q0.9"], r["forecast"]) for r in rows] == [(1, 2, 3, 2), (4, 5, 6, 5)]


@pytest.mark.parametrize(
    ("values", "extra", "fragment"),
    [
        ([100.0] * 5, None, "has 5 rows; the model reads windows of 5 steps and needs at least 6 rows"),
        ([100.0] * 8, {"Open": [1.0] * 8}, None),
        ([100.0, 0.0, 101.0, 102.0, 103.0, 104.0, 105.0], None, "non-positive value 0.0"),
    ],
    ids=["too-short", "extra-columns-are-fine", "non-positive"],
)
def test_price_csv_checks(tmp_path, values, extra, fragment):
    path = _prices(tmp_path / "p.csv", values, extra=extra)
    if fragment is None:
        assert len(forecast_csv(lambda x: torch.zeros(1, 1), _forecaster(), path)) == 1
    else:
        with pytest.raises(DataError, match=fragment):
            forecast_csv(lambda x: torch.zeros(1, 1), _forecaster(), path)


def test_missing_columns_name_what_the_model_was_trained_on(tmp_path):
    path = tmp_path / "p.csv"
    pd.DataFrame({"Date": ["2020-01-01"], "Price": [1.0]}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"missing column\(s\) \['close'\]; the model was trained on \['close'\]"):
        forecast_csv(lambda x: torch.zeros(1, 1), _forecaster(), path)
    with pytest.raises(DataError, match="no such file"):
        forecast_csv(lambda x: torch.zeros(1, 1), _forecaster(), tmp_path / "nope.csv")


@pytest.mark.parametrize("model", ["tscnn", "tcn", "textcnn", "audiocnn", "audiocnn_classic"])
def test_checkpoint_and_export_predict_the_same(checkpoints, tmp_path, model):
    run = load_run(checkpoints(model))
    real = real_batch(run, max_rows=8)
    path = tmp_path / "model.onnx"
    write_sidecar(describe_run(run, export_network(run.net, path, "onnx", real[:4], real=real), real[:4]), path)
    if run.domain == "forecasting":
        source = _prices(tmp_path / "p.csv", list(100 + np.cumsum(np.random.default_rng(0).normal(size=40))))
    elif run.domain == "text":
        source = tmp_path / "reviews.txt"
        source.write_text("a great movie\n\n  terrible, boring<br />waste  \nunseen words only\n")
    else:
        source = write_tones(tmp_path / "clips", per_class=2)
    exported = preprocessor_from_state(read_sidecar(path)["preprocessing"])
    assert exported.state_dict() == run.preprocessor.state_dict()  # the sidecar holds the very same preprocessor
    from_checkpoint = predict_file(as_predict_fn(run.net), run.preprocessor, source, batch_size=3)
    from_export = predict_file(as_predict_fn(load_runner(path, "onnx")), exported, source, batch_size=3)
    assert len(from_checkpoint) == len(from_export) == {"forecasting": 1, "text": 3, "audio": 4}[run.domain]
    for a, b in zip(from_checkpoint, from_export, strict=True):
        if run.domain == "forecasting":
            assert a["forecast"] == pytest.approx(b["forecast"], rel=1e-5)
        else:
            assert a["label"] == b["label"] and a["probability"] == pytest.approx(b["probability"], abs=1e-5)
            assert sum(a["probabilities"].values()) == pytest.approx(1.0)
            assert a["label"] in run.class_names
    if run.domain == "text":
        assert [r["line"] for r in from_checkpoint] == [1, 3, 4]


def test_audio_and_text_inputs_that_do_not_fit(checkpoints, tmp_path):
    audio, text = load_run(checkpoints("audiocnn")), load_run(checkpoints("textcnn"))
    audio_fn, text_fn = as_predict_fn(audio.net), as_predict_fn(text.net)
    not_audio = tmp_path / "notes.txt"
    not_audio.write_text("not audio")
    with pytest.raises(DataError, match="not an audio file"):
        predict_file(audio_fn, audio.preprocessor, not_audio)
    fake = tmp_path / "fake.wav"
    fake.write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(DataError, match="fake.wav: cannot be decoded"):
        predict_file(audio_fn, audio.preprocessor, fake)
    (tmp_path / "empty_folder").mkdir()
    with pytest.raises(DataError, match="holds no audio files"):
        predict_file(audio_fn, audio.preprocessor, tmp_path / "empty_folder")
    blank = tmp_path / "blank.txt"
    blank.write_text("\n   \n")
    with pytest.raises(DataError, match="holds no text; put one text per line"):
        predict_file(text_fn, text.preprocessor, blank)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("fine\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match="line 2 is not valid UTF-8"):
        predict_file(text_fn, text.preprocessor, latin)


def test_predictions_are_written_as_csv_or_json(tmp_path):
    rows = [{"file": "a.wav", "label": "yes", "probability": 0.75, "probabilities": {"no": 0.25, "yes": 0.75}}]
    csv_path = write_predictions(rows, tmp_path / "out" / "p.csv")
    assert csv_path.read_text().splitlines() == ["file,label,probability,p_no,p_yes", "a.wav,yes,0.75,0.25,0.75"]
    json_path = write_predictions(rows, tmp_path / "p.json")
    assert json.loads(json_path.read_text()) == {"predictions": rows}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "p.json"]  # no temporary files left
    with pytest.raises(ConfigError, match="end the name in .csv or .json"):
        check_output_path(tmp_path / "p.xlsx")
