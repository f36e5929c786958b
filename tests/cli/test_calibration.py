"""``task.calibration`` end to end: train.py fits the temperature (a classifier) or the conformal quantile offsets
(a quantile forecaster) into the best checkpoint's preprocessor; eval.py, predict.py from the checkpoint and
predict.py from an ONNX export all apply it."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra

from seqconv.cli.predict import predict
from seqconv.export import load_run

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
_WORDS = {"pos": ["great", "fine", "loved"], "neg": ["awful", "dull", "hated"], "both": ["film", "plot", "the"]}


def _table(path: Path) -> Path:
    rng = np.random.default_rng(1)
    rows = []
    for i in range(160):
        label = ("neg", "pos")[i % 2]
        words = list(rng.choice(_WORDS["both"], size=6)) + [str(rng.choice(_WORDS[label]))]
        if rng.random() < 0.25:  # label noise: something to calibrate
            label = ("pos", "neg")[i % 2]
        rows.append({"text": " ".join(words), "label": label, "split": "test" if i >= 130 else "train"})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _predict(source: str, path: Path, inputs: Path) -> list[dict]:
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module("seqconv.conf", version_base="1.3"):
            cfg = compose("predict", overrides=[f"{source}={path}", f"input={inputs}"])
    finally:
        GlobalHydra.instance().clear()
    return predict(cfg)


def _export_onnx(best: Path, tmp_path: Path) -> Path:
    model = tmp_path / "exported" / "model.onnx"
    export = subprocess.run(
        [sys.executable, str(REPO / "export.py"), f"hydra.run.dir={tmp_path / 'export'}", f"ckpt_path={best}",
         "format=onnx", f"output={model}"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert export.returncode == 0, export.stdout + export.stderr
    return model


def test_the_fitted_temperature_reaches_eval_predict_and_the_export(run_entry, tmp_path):
    table = _table(tmp_path / "reviews.csv")
    data = ["model=textcnn", "data=reviews", f"data.path={table}", f"data.data_dir={tmp_path / 'cache'}"]
    small = ["model.net.embedding_dim=8", "model.net.num_filters=4", "data.batch_size=16", "data.tokenizer.min_freq=1"]
    train = run_entry(
        "train.py", *data, *small, "task.calibration=temperature", "trainer.max_epochs=3", "seed=0",
        "runtime.num_threads=1", "task.baselines=null",
    )  # fmt: skip
    assert train.proc.returncode == 0, train.output
    best = Path(train.metrics["best_model_path"])
    temperature = torch.load(best, map_location="cpu", weights_only=True)["seqconv_preprocessor"]["temperature"]
    assert temperature is not None and temperature > 0 and temperature != 1.0
    assert {"test/ece", "test/ece_uncalibrated"} <= train.metrics.keys()

    evaluated = run_entry("eval.py", f"ckpt_path={best}", "runtime.num_threads=1")
    assert evaluated.proc.returncode == 0, evaluated.output
    for key in ("test/ece", "test/ece_uncalibrated", "test/acc"):
        assert evaluated.metrics[key] == pytest.approx(train.metrics[key], abs=1e-6), key

    model = _export_onnx(best, tmp_path)
    texts = pd.read_csv(table).query("split == 'test'")["text"].tolist()
    lines = tmp_path / "texts.txt"
    lines.write_text("\n".join(texts) + "\n")
    run = load_run(best)
    with torch.no_grad():
        logits = run.net(run.preprocessor.transform(texts)["x"]).double()
    expected = torch.softmax(logits / temperature, dim=-1)
    for source, path in (("ckpt_path", best), ("model_path", model)):
        rows = _predict(source, path, lines)
        got = torch.tensor([[r["probabilities"][c] for c in run.class_names] for r in rows], dtype=torch.float64)
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=0, msg=source)


def test_calibration_without_a_validation_split_exits_2_before_training(run_in_process, tmp_path):
    table = _table(tmp_path / "reviews.csv")
    run = run_in_process(
        "train.py", "model=textcnn", "data=reviews", f"data.path={table}", f"data.data_dir={tmp_path / 'cache'}",
        "task.calibration=temperature", "+trainer.limit_val_batches=0", "trainer.max_epochs=1",
    )  # fmt: skip
    assert run.proc.returncode == 2, run.output
    assert "task.calibration=temperature" in run.proc.stderr and "validation split" in run.proc.stderr
    assert "Traceback" not in run.output
    assert not (run.run_dir / "metrics.json").exists() and not list(run.run_dir.glob("checkpoints/*.ckpt"))


# -- forecasting: task.calibration=conformal --------------------------------------------------------------------------
def _prices(path: Path, rows: int = 400) -> Path:
    rng = np.random.default_rng(5)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, rows)))
    dates = pd.bdate_range("2015-01-01", periods=rows).strftime("%Y-%m-%d")
    pd.DataFrame({"Date": dates, "Close": close}).to_csv(path, index=False)
    return path


def test_the_conformal_offsets_reach_eval_predict_and_the_export(run_entry, tmp_path):
    prices = _prices(tmp_path / "prices.csv")
    train = run_entry(
        "train.py", "model=tcn", f"data.path={prices}", "data.window=20", "data.horizon=2", "model.net.channels=[8,8]",
        "task.quantiles=[0.1,0.5,0.9]", "task.calibration=conformal", "trainer.max_epochs=2", "seed=0",
        "runtime.num_threads=1", "logger=none",
    )  # fmt: skip
    assert train.proc.returncode == 0, train.output
    best = Path(train.metrics["best_model_path"])
    offsets = torch.load(best, map_location="cpu", weights_only=True)["seqconv_preprocessor"]["quantile_offsets"]
    assert len(offsets) == 2 and all(len(row) == 3 and row[1] == 0.0 for row in offsets)
    assert any(row[0] != 0.0 or row[2] != 0.0 for row in offsets)

    evaluated = run_entry("eval.py", f"ckpt_path={best}", "runtime.num_threads=1")
    assert evaluated.proc.returncode == 0, evaluated.output
    for key in ("test/coverage", "test/interval_width", "test/pinball", "test/mse"):
        assert evaluated.metrics[key] == pytest.approx(train.metrics[key], rel=1e-6), key

    model = _export_onnx(best, tmp_path)
    run = load_run(best)
    pre = run.preprocessor
    frame = pre.read(prices)
    with torch.no_grad():
        raw = run.net(pre.model_input(frame, str(prices))).double().reshape(2, 3)  # [H, Q], uncalibrated
    shifted = raw.sort(dim=-1).values + torch.tensor(offsets, dtype=torch.float64)
    median = shifted[:, 1]  # unshifted: the point forecast stays the network's
    shifted = torch.stack([shifted[:, 0].minimum(median), median, shifted[:, 2].maximum(median)], dim=-1)
    expected = pre.to_answer(shifted[None], torch.tensor([float(frame["close"].iloc[-1])], dtype=torch.float64))[0]
    for source, path in (("ckpt_path", best), ("model_path", model)):
        rows = _predict(source, path, prices)
        got = torch.tensor([[r["q0.1"], r["q0.5"], r["q0.9"]] for r in rows], dtype=torch.float64)
        torch.testing.assert_close(got, expected, atol=0, rtol=1e-5, msg=source)


def test_conformal_calibration_without_quantiles_exits_2_before_training(run_in_process, tmp_path):
    run = run_in_process(
        "train.py", "model=tcn", f"data.path={_prices(tmp_path / 'p.csv')}", "task.calibration=conformal"
    )
    assert run.proc.returncode == 2, run.output
    assert "task.calibration=conformal calibrates quantile forecasts" in run.proc.stderr
    assert "Traceback" not in run.output
    assert not list(run.run_dir.glob("checkpoints/*.ckpt"))


def test_conformal_calibration_without_a_validation_split_exits_2_before_training(run_in_process, tmp_path):
    run = run_in_process(
        "train.py", "model=tcn", f"data.path={_prices(tmp_path / 'p.csv')}", "task.quantiles=[0.1,0.5,0.9]",
        "task.calibration=conformal", "+trainer.limit_val_batches=0", "trainer.max_epochs=1",
    )  # fmt: skip
    assert run.proc.returncode == 2, run.output
    assert "task.calibration=conformal fits on the validation split" in run.proc.stderr
    assert "Traceback" not in run.output
    assert not (run.run_dir / "metrics.json").exists() and not list(run.run_dir.glob("checkpoints/*.ckpt"))
