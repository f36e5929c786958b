"""The sidecar JSON holds what a consumer needs without seqconv, per domain, and survives a round trip."""

import json

import pytest
import torch

from seqconv.data.text import tokenizer_from_state
from seqconv.errors import ConfigError
from seqconv.export import (
    SCHEMA,
    describe_run,
    export_network,
    load_run,
    read_sidecar,
    real_batch,
    sidecar_path,
    tokenizer_path,
    write_sidecar,
)


def _export(checkpoints, tmp_path, model, fmt="onnx"):
    run = load_run(checkpoints(model))
    real = real_batch(run, max_rows=8)
    path = tmp_path / f"model.{fmt}"
    result = export_network(run.net, path, fmt, real[:4], real=real)
    written = write_sidecar(describe_run(run, result, real[:4]), path)
    return run, path, written


def test_forecasting_sidecar_has_scalers_transform_and_the_fixed_length(checkpoints, tmp_path):
    run, path, written = _export(checkpoints, tmp_path, "tscnn")
    assert written == sidecar_path(path) == tmp_path / "model.onnx.json"
    sidecar = json.loads(written.read_text())
    assert sidecar["schema"] == SCHEMA and sidecar["format"] == "onnx" and sidecar["artifact"] == "model.onnx"
    assert sidecar["task"] == "forecasting" and sidecar["model"]["class"] == "TimeSeriesCNN"
    (x,) = sidecar["inputs"]
    assert x["name"] == "x" and x["layout"] == "[B, C, L]" and x["dtype"] == "float32"
    assert x["shape"] == ["batch", 1, 30] and x["dynamic_axes"] == {"0": "batch"}
    assert "flatten head fixes the input length" in x["length"]
    pre, post = sidecar["preprocessing"], sidecar["postprocessing"]
    assert pre["features"] == ["close"] and pre["target"] == "close" and pre["window"] == 30
    (scalers,) = pre["scalers"].values()  # one series, its own scalers
    assert pre["transform"] == "log_return" and scalers["feature"] == run.preprocessor.feature_scaler.to_dict()
    assert post["target_mean"] == [2e-4] and post["target_std"] == [0.011] and post["horizon"] == 1
    assert "last_price * exp(target_mean[k] + target_std[k] * y_k)" in post["formula"]
    assert max(sidecar["parity"]["max_abs_diff"].values()) <= sidecar["parity"]["tolerance"]


def test_tcn_sidecar_declares_a_dynamic_length(checkpoints, tmp_path):
    _, _, written = _export(checkpoints, tmp_path, "tcn")
    (x,) = json.loads(written.read_text())["inputs"]
    assert x["shape"] == ["batch", 1, "length"] and x["dynamic_axes"] == {"0": "batch", "2": "length"}
    assert x["length"].startswith("any length")


def test_text_sidecar_writes_the_tokenizer_beside_the_model(checkpoints, tmp_path):
    run, path, written = _export(checkpoints, tmp_path, "textcnn")
    sidecar = json.loads(written.read_text())
    pre = sidecar["preprocessing"]
    assert "tokenizer" not in pre and pre["tokenizer_file"] == tokenizer_path(path).name
    assert pre["pad_id"] == 0 and pre["unk_id"] == 1 and pre["max_length"] == 50
    assert json.loads(tokenizer_path(path).read_text())["kind"] == "word"
    assert sidecar["inputs"][0]["dtype"] == "int64" and sidecar["inputs"][0]["shape"] == ["batch", "length"]
    assert sidecar["postprocessing"]["class_names"] == ["neg", "pos"]
    tokenizer = tokenizer_from_state(json.loads(tokenizer_path(path).read_text()))
    original = run.preprocessor.tokenizer
    assert tokenizer.encode("a great movie") == original.encode("a great movie")
    assert read_sidecar(path)["preprocessing"]["tokenizer"] == run.preprocessor.tokenizer.state_dict()


def test_audio_sidecar_has_sample_rate_clip_length_and_classes(checkpoints, tmp_path):
    _, _, written = _export(checkpoints, tmp_path, "audiocnn_classic")
    sidecar = json.loads(written.read_text())
    pre = sidecar["preprocessing"]
    assert pre["sample_rate"] == 8000 and pre["clip_length"] == 2000 and "to 2000 samples (0.25 s)" in pre["steps"][2]
    assert pre["normalize"] == "peak"
    assert sidecar["inputs"][0]["shape"] == ["batch", 2000] and sidecar["inputs"][0]["layout"].startswith("[B, T]")
    assert sidecar["postprocessing"]["class_names"] == ["high", "low"]


def test_read_sidecar_refuses_a_missing_or_foreign_file(tmp_path):
    model = tmp_path / "model.onnx"
    model.write_bytes(b"")
    with pytest.raises(ConfigError, match="no sidecar model.onnx.json beside it"):
        read_sidecar(model)
    sidecar_path(model).write_text(json.dumps({"hello": 1}))
    with pytest.raises(ConfigError, match="not a seqconv export sidecar"):
        read_sidecar(model)
    sidecar_path(model).write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        read_sidecar(model)


def test_a_checkpoint_description_needs_no_export(checkpoints):
    sidecar = describe_run(load_run(checkpoints("tcn")), example=torch.randn(2, 1, 30))
    assert sidecar["format"] == "checkpoint" and sidecar["artifact"] is None and "parity" not in sidecar
