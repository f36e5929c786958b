"""Train = serve, per domain: for the same raw items (CSV rows, review texts, audio files), predict.py from the
checkpoint, predict.py from an ONNX export, and the model applied to the datamodule's own test batch give the same
numbers. Every checkpoint here is one that train.py wrote; nothing is built by hand to copy its format."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra

from seqconv.cli.predict import predict
from seqconv.export import load_run
from seqconv.pipeline import restore_datamodule

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
TOLERANCE = 1e-5


def _tool(script: str, tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess:
    run_dir = tmp_path / f"{Path(script).stem}_{len(list(tmp_path.iterdir()))}"
    proc = subprocess.run(
        [sys.executable, str(REPO / script), f"hydra.run.dir={run_dir}", *overrides],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _train(run_entry, *overrides: str) -> Path:
    run = run_entry("train.py", "trainer.max_epochs=1", "runtime.num_threads=1", "logger=none", "seed=0", *overrides)
    assert run.proc.returncode == 0, run.output
    return Path(run.metrics["best_model_path"])


def _export_onnx(ckpt: Path, tmp_path: Path) -> Path:
    model = tmp_path / "exported" / "model.onnx"
    _tool("export.py", tmp_path, f"ckpt_path={ckpt}", "format=onnx", f"output={model}")
    return model


def _predict(source: str, path: Path, inputs: Path, **options) -> list[dict]:
    """predict.py's own function, in this process, on a composed predict config."""
    overrides = [f"{source}={path}", f"input={inputs}", *(f"{k}={v}" for k, v in options.items())]
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module("seqconv.conf", version_base="1.3"):
            cfg = compose("predict", overrides=overrides)
    finally:
        GlobalHydra.instance().clear()
    return predict(cfg)


def _predict_cli(tmp_path: Path, source: str, path: Path, inputs: Path) -> list[dict]:
    """predict.py as a user runs it, writing JSON."""
    output = tmp_path / f"predictions_{len(list(tmp_path.iterdir()))}.json"
    _tool("predict.py", tmp_path, f"{source}={path}", f"input={inputs}", f"output={output}")
    return json.loads(output.read_text())["predictions"]


def _test_split(ckpt: Path):
    """The checkpoint's network and its datamodule's test split, rebuilt from the checkpoint alone."""
    run = load_run(ckpt)
    datamodule = restore_datamodule(run.checkpoint, stage="test")
    return run, datamodule


# -- forecasting ---------------------------------------------------------------------------------------------------
def _prices(path: Path, rows: int = 360) -> Path:
    rng = np.random.default_rng(7)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, rows)))
    volume = 1e6 * np.exp(rng.normal(0, 0.3, rows))
    dates = pd.bdate_range("2015-01-01", periods=rows).strftime("%Y-%m-%d")
    pd.DataFrame({"Date": dates, "Close": close, "Volume": volume}).to_csv(path, index=False)
    return path


def test_forecasting_train_equals_serve(run_entry, tmp_path):
    """Two input channels, three steps at once, three quantiles: every output of the model, served three ways."""
    quantiles = [0.1, 0.5, 0.9]
    overrides = ["data.features=[close,volume]", "data.horizon=3", "task.quantiles=[0.1,0.5,0.9]"]
    prices = _prices(tmp_path / "prices.csv")
    ckpt = _train(
        run_entry, "model=tcn", f"data.path={prices}", "data.window=20", "model.net.channels=[8,8]", *overrides
    )
    run, datamodule = _test_split(ckpt)
    pre, test = datamodule.preprocessor, datamodule.datasets["test"]
    assert pre.quantiles == quantiles
    model = _export_onnx(ckpt, tmp_path)
    columns = [f"q{q:g}" for q in quantiles] if quantiles else ["forecast"]

    raw = pd.read_csv(prices)
    first_test_row = int(raw.index[raw["Date"] == datamodule.periods["test"][0]][0])  # its log return's row
    for i in (0, len(test) // 2, len(test) - 1):
        item = test.__getitems__([i])
        with torch.no_grad():
            answers = pre.to_answer(pre.split_output(run.net(item["x"])).double(), item["last"].double())[0]
        served_by_dm = answers.reshape(pre.horizon, -1)  # [H, Q] (Q = 1 for points)
        # the raw CSV up to the window's last day: predict.py forecasts the steps after it
        window_end = first_test_row + i + pre.window - 1
        upto = tmp_path / f"prices_upto_{i}.csv"
        raw.iloc[: window_end + 1].to_csv(upto, index=False)
        x = pre.model_input(pre.read(upto), str(upto))  # what predict feeds the network
        torch.testing.assert_close(x, item["x"], atol=1e-6, rtol=0)
        from_ckpt = _predict("ckpt_path", ckpt, upto)
        from_onnx = _predict("model_path", model, upto)
        assert from_ckpt[0]["last_price"] == pytest.approx(float(item["last"][0]), rel=1e-6)
        for rows in (from_ckpt, from_onnx):
            assert [r["step"] for r in rows] == list(range(1, pre.horizon + 1))
            got = torch.tensor([[r[c] for c in columns] for r in rows], dtype=torch.float64)  # [H, Q]
            torch.testing.assert_close(got, served_by_dm, rtol=TOLERANCE, atol=0)
    cli = _predict_cli(tmp_path, "model_path", model, upto)
    assert [r["forecast"] for r in cli] == pytest.approx([r["forecast"] for r in from_ckpt], rel=TOLERANCE)


# -- text ------------------------------------------------------------------------------------------------------------
_GOOD = ["great", "wonderful", "moving", "brilliant", "fine", "loved"]
_BAD = ["terrible", "boring", "dull", "awful", "waste", "hated"]
_FILL = ["the", "movie", "plot", "acting", "story", "was", "and", "a", "film"]


def _reviews(path: Path) -> tuple[Path, list[str]]:
    rng = np.random.default_rng(3)
    rows, test_texts = [], []
    for i in range(120):
        label = ("neg", "pos")[i % 2]
        words = list(rng.choice(_FILL, size=int(rng.integers(3, 25)))) + list(
            rng.choice(_GOOD if label == "pos" else _BAD, size=int(rng.integers(1, 4)))
        )
        rng.shuffle(words)
        text = " ".join(words) + (" <br /><br />unseenword!" if i % 7 == 0 else "")
        split = "test" if i >= 100 else "train"
        rows.append({"text": text, "label": label, "split": split})
        if split == "test":
            test_texts.append(text)
    pd.DataFrame(rows).to_csv(path, index=False)
    return path, test_texts


def test_text_train_equals_serve(run_entry, tmp_path):
    table, test_texts = _reviews(tmp_path / "reviews.csv")
    ckpt = _train(
        run_entry, "model=textcnn", "data=reviews", f"data.path={table}", "data.tokenizer.min_freq=1",
        f"data.data_dir={tmp_path / 'cache'}", "data.batch_size=16", "model.net.embedding_dim=16",
        "model.net.num_filters=8",
    )  # fmt: skip
    run, datamodule = _test_split(ckpt)
    test = datamodule.datasets["test"]
    assert len(test) == len(test_texts)
    batch = test.__getitems__(list(range(len(test))))  # the test split, in the table's order
    with torch.no_grad():
        served_by_dm = torch.softmax(run.net(batch["x"]).double(), dim=-1)  # [N, K]
    lines = tmp_path / "test_texts.txt"
    lines.write_text("\n".join(test_texts) + "\n")
    model = _export_onnx(ckpt, tmp_path)
    classes = run.class_names
    for rows in (_predict("ckpt_path", ckpt, lines), _predict("model_path", model, lines)):
        assert [r["text"] for r in rows] == [t.strip() for t in test_texts]
        got = torch.tensor([[r["probabilities"][c] for c in classes] for r in rows], dtype=torch.float64)
        torch.testing.assert_close(got, served_by_dm, atol=TOLERANCE, rtol=0)
        assert [r["label"] for r in rows] == [classes[k] for k in served_by_dm.argmax(dim=-1).tolist()]


# -- audio ------------------------------------------------------------------------------------------------------------
def _clips(root: Path) -> Path:
    """Two classes of tones with varied lengths (crop and pad) and sample rates (resampling), a testing list."""
    rng = np.random.default_rng(5)
    test = []
    for label, freq in (("high", 1200.0), ("low", 300.0)):
        (root / label).mkdir(parents=True)
        for i in range(10):
            rate = (8000, 16000)[i % 2]
            samples = int(rate * rng.uniform(0.15, 0.4))
            t = np.arange(samples) / rate
            wave = 0.4 * np.sin(2 * np.pi * freq * (1 + 0.05 * rng.normal()) * t) + 0.02 * rng.normal(size=samples)
            sf.write(str(root / label / f"{i}.wav"), wave.astype(np.float32), rate)
            if i >= 7:
                test.append(f"{label}/{i}.wav")
    (root / "testing_list.txt").write_text("\n".join(test) + "\n")
    return root


def test_audio_train_equals_serve(run_entry, tmp_path):
    folder = _clips(tmp_path / "clips")
    ckpt = _train(
        run_entry, "model=audiocnn", "data=audio_folder", f"data.path={folder}", "data.sample_rate=8000",
        "data.clip_seconds=0.25", "data.augment=null", "data.batch_size=8",
    )  # fmt: skip
    run, datamodule = _test_split(ckpt)
    test = datamodule.datasets["test"]
    batch = torch.utils.data.default_collate([test[i] for i in range(len(test))])
    with torch.no_grad():
        served_by_dm = torch.softmax(run.net(batch["x"]).double(), dim=-1)  # [N, K]
    expected = {str(path): served_by_dm[k] for k, path in enumerate(test.paths)}
    assert len(expected) == 6
    model = _export_onnx(ckpt, tmp_path)
    classes = run.class_names
    for rows in (_predict("ckpt_path", ckpt, folder), _predict("model_path", model, folder)):
        by_file = {r["file"]: r for r in rows}
        for file, probs in expected.items():
            got = torch.tensor([by_file[file]["probabilities"][c] for c in classes], dtype=torch.float64)
            torch.testing.assert_close(got, probs, atol=TOLERANCE, rtol=0)
            assert by_file[file]["label"] == classes[int(probs.argmax())]
