"""Every domain's fitted preprocessor round-trips through JSON and through torch.load(weights_only=True) into an
object that transforms raw input identically, and a restored one refuses data configured otherwise."""

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from seqconv.data import StandardScaler, StocksPreprocessor, load_preprocessor, preprocessor_from_state
from seqconv.data.audio import AudioPreprocessor
from seqconv.data.text import TextPreprocessor
from seqconv.errors import ConfigError


def _stocks(tmp_path):
    rng = np.random.default_rng(0)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 60)))
    frame = pd.DataFrame(
        {"Date": pd.bdate_range("2020-01-01", periods=60).strftime("%Y-%m-%d"), "Close": close, "Volume": close * 10}
    )
    path = tmp_path / "prices.csv"
    frame.to_csv(path, index=False)
    pre = StocksPreprocessor(["close", "volume"], "close", "log_return", window=8, horizon=2)
    inputs, prices, _ = pre.inputs(pre.read(path), str(path))
    pre.fit(inputs[:40], pre.targets(prices)[:40])

    def serve(p):
        scaled = p.split_output(torch.tensor([[0.3, -0.2]]))  # [1, H]
        return p.model_input(p.read(path), str(path)), p.to_answer(scaled, torch.tensor([100.0]))

    return pre, serve


def _text(tmp_path):
    pre = TextPreprocessor.create({"kind": "word", "min_freq": 1}, max_length=6)
    train = ["a great movie", "an awful plot<br />really", "great great acting"]
    pre.fit(pre.clean(train), ["neg", "pos"])
    texts = ["a great<br />plot, never seen before and much too long", "", "awful"]

    def serve(p):
        logits = torch.tensor([[0.1, 0.9], [2.0, -1.0], [0.0, 0.0]])
        return p.transform(texts), [r["probabilities"] for r in p.postprocess(logits, [{}, {}, {}])]

    return pre, serve


def _audio(tmp_path):
    rng = np.random.default_rng(1)
    files = []
    for i, (rate, seconds) in enumerate([(8000, 0.1), (16000, 0.3)]):
        files.append(tmp_path / f"{i}.wav")
        sf.write(str(files[-1]), rng.normal(0, 0.1, int(rate * seconds)).astype(np.float32), rate)
    pre = AudioPreprocessor(8000, 1600, "rms").fit(["no", "yes"])

    def serve(p):
        rows = p.postprocess(torch.tensor([[1.0, 0.0], [0.0, 3.0]]), [{}, {}])
        return p.transform(files), [r["probabilities"] for r in rows]

    return pre, serve


@pytest.mark.parametrize("build", [_stocks, _text, _audio], ids=["stocks", "text", "audio"])
def test_state_round_trips_through_json_and_weights_only_loading(build, tmp_path):
    pre, serve = build(tmp_path)
    state = pre.state_dict()
    from_json = preprocessor_from_state(json.loads(pre.to_json()))
    torch.save({"seqconv_preprocessor": state}, tmp_path / "ckpt.pt")
    from_torch = preprocessor_from_state(torch.load(tmp_path / "ckpt.pt", weights_only=True)["seqconv_preprocessor"])
    from_file = load_preprocessor(pre.save(tmp_path / "pre.json"))
    expected = serve(pre)
    assert len(expected[0]) > 0
    for restored in (from_json, from_torch, from_file):
        assert type(restored) is type(pre) and restored.state_dict() == state
        torch.testing.assert_close(serve(restored), expected, rtol=0, atol=0)


def test_text_transform_cleans_truncates_and_keeps_empty_texts(tmp_path):
    pre, _ = _text(tmp_path)
    batch = pre.transform(["a great<br />plot, never seen before and much too long", "", "awful"])
    assert batch["x"].shape == (3, 6) and batch["mask"].sum(dim=1).tolist() == [6, 1, 1]
    unk = pre.tokenizer.unk_id
    assert batch["x"][1, 0] == unk and batch["x"][1, 1:].eq(pre.tokenizer.pad_id).all()
    assert pre.tokenizer.decode(batch["x"][0].tolist()).split()[:3] == ["a", "great", "plot"]  # <br /> cleaned


def test_stocks_input_is_the_scaled_log_returns_of_the_last_window(tmp_path):
    pre, _ = _stocks(tmp_path)
    frame = pre.read(tmp_path / "prices.csv")
    values = frame[["close", "volume"]].to_numpy()[-9:]
    returns = np.log(values[1:] / values[:-1])  # [8, 2]
    expected = (returns - np.asarray(pre.feature_scaler.mean)) / np.asarray(pre.feature_scaler.std)
    x = pre.model_input(frame, "prices.csv")
    assert x.shape == (1, 2, 8) and x.dtype == torch.float32
    np.testing.assert_allclose(x[0].numpy(), expected.T, rtol=1e-6)
    scaled = torch.tensor([[0.5, -1.0]], dtype=torch.float64)  # steps 1 and 2
    target = pre.target_scaler
    prices = pre.to_answer(scaled, torch.tensor([80.0], dtype=torch.float64))[0]
    assert float(prices[0]) == pytest.approx(80.0 * np.exp(target.mean[0] + 0.5 * target.std[0]))
    assert float(prices[1]) == pytest.approx(80.0 * np.exp(target.mean[1] - 1.0 * target.std[1]))


def test_a_restored_preprocessor_refuses_other_settings_and_other_domains(tmp_path):
    pre, _ = _stocks(tmp_path)
    state = pre.state_dict()
    same = StocksPreprocessor(["close", "volume"], "close", "log_return", window=8, horizon=2, date_column="day")
    restored = same.restore(state)  # the date column names this file's dates: it is not the model's business
    assert restored.feature_scaler == pre.feature_scaler and restored.date_column == "day"
    other = StocksPreprocessor(["close", "volume"], "close", "log_return", window=16, horizon=2)
    with pytest.raises(ConfigError, match=r"trained with window=8, but the data now has 16; drop the data.window"):
        other.restore(state)
    audio = AudioPreprocessor(8000, 1600)
    with pytest.raises(ConfigError, match="holds a forecasting preprocessor, but the data is audio data"):
        audio.restore(state)


def test_unknown_or_damaged_states_are_config_errors():
    with pytest.raises(ConfigError, match=r"names domain 'images'; seqconv knows \['audio', 'forecasting', 'text'\]"):
        preprocessor_from_state({"domain": "images"}, "model.onnx.json")
    with pytest.raises(ConfigError, match="the stored forecasting preprocessor is incomplete"):
        preprocessor_from_state({"domain": "forecasting", "features": ["close"]})


def test_bad_settings_name_the_data_key():
    with pytest.raises(ConfigError, match=r"unknown data.transform='diff'; choose one of \['log_return', 'level'\]"):
        StocksPreprocessor(transform="diff")
    with pytest.raises(ConfigError, match="data.normalize='max'"):
        AudioPreprocessor(8000, 800, normalize="max")
    with pytest.raises(ConfigError, match="data.max_length must be >= 1"):
        TextPreprocessor.create({"kind": "word"}, max_length=0)
    with pytest.raises(RuntimeError, match="call fit"):
        StocksPreprocessor().scale_inputs(np.zeros((3, 1)))
    assert StandardScaler.fit(np.ones((4, 1))).std == [1.0]  # a constant column scales by 1, not by 0
