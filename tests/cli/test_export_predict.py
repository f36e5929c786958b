"""End-to-end: train.py -> export.py -> predict.py through the real entry points, and their user errors."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SP500 = REPO / "src/seqconv/datasets/sp500_daily_2000_2020.csv"


class _Run:
    """A finished export.py / predict.py subprocess and its run dir."""

    def __init__(self, proc: subprocess.CompletedProcess, run_dir: Path) -> None:
        self.proc, self.run_dir = proc, run_dir

    @property
    def output(self) -> str:
        return self.proc.stdout + self.proc.stderr


@pytest.fixture
def run_tool(run_entry, tmp_path):
    """``run_entry`` for train.py; export.py and predict.py (which have no trainer) run without its trainer override."""
    counter = iter(range(1000))

    def run(script: str, *overrides: str, command: list[str] | None = None):
        if script == "train.py":
            return run_entry(script, *overrides)
        run_dir = tmp_path / f"tool{next(counter)}"
        args = command or [sys.executable, str(REPO / script)]
        proc = subprocess.run(
            [*args, f"hydra.run.dir={run_dir}", *overrides], cwd=REPO, capture_output=True, text=True, timeout=600
        )
        return _Run(proc, run_dir)

    return run


def _ok(run):
    assert run.proc.returncode == 0, run.output
    return run


def _user_error(run, *fragments):
    assert run.proc.returncode == 2, run.output
    for fragment in fragments:
        assert fragment in run.proc.stderr, run.proc.stderr
    assert "Traceback" not in run.output


@pytest.fixture(scope="module")
def tcn_checkpoint(tmp_path_factory):
    """One train.py TCN checkpoint for the tests of this file, which only read it."""
    root = tmp_path_factory.mktemp("tcn")
    train = subprocess.run(
        [sys.executable, str(REPO / "train.py"), f"hydra.run.dir={root / 'run'}", f"paths.root_dir={root}",
         "trainer.accelerator=cpu", "model=tcn", "data.horizon=3", "debug=limit", "trainer.max_epochs=1",
         "runtime.num_threads=1"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert train.returncode == 0, train.stdout + train.stderr
    return Path(json.loads((root / "run" / "metrics.json").read_text())["best_model_path"])


def test_train_export_predict_chain_for_forecasting(run_tool, tcn_checkpoint, tmp_path):
    model = tmp_path / "exported" / "tcn.onnx"
    export = _ok(run_tool("export.py", f"ckpt_path={tcn_checkpoint}", "format=onnx", f"output={model}"))
    assert "parity max |exported - eager|" in export.proc.stdout and "real " in export.proc.stdout
    sidecar = json.loads((tmp_path / "exported" / "tcn.onnx.json").read_text())
    assert sidecar["inputs"][0]["dynamic_axes"] == {"0": "batch", "2": "length"}
    prices = tmp_path / "prices.csv"
    pd.read_csv(SP500).iloc[:1200].to_csv(prices, index=False)

    from_export = _ok(
        run_tool("predict.py", f"model_path={model}", f"input={prices}", "horizon=3", f"output={tmp_path}/a.csv")
    )
    from_checkpoint = _ok(
        run_tool(
            "predict.py", f"ckpt_path={tcn_checkpoint}", f"input={prices}", "horizon=3", f"output={tmp_path}/b.json"
        )
    )
    assert "3 prediction(s) of TCNForecaster" in from_export.proc.stdout + from_checkpoint.proc.stdout
    exported = list(csv.DictReader((tmp_path / "a.csv").open()))
    direct = json.loads((tmp_path / "b.json").read_text())["predictions"]
    assert [int(r["step"]) for r in exported] == [1, 2, 3]
    last_close = float(pd.read_csv(prices)["close"].iloc[-1])
    for a, b in zip(exported, direct, strict=True):
        assert float(a["forecast"]) == pytest.approx(b["forecast"], rel=1e-5)
        assert float(a["last_price"]) == pytest.approx(last_close)
        assert 0.8 * last_close < b["forecast"] < 1.2 * last_close  # price units, not scaled log returns

    streaming = _ok(run_tool("export.py", f"ckpt_path={tcn_checkpoint}", "format=torchscript", "streaming=true"))
    assert "the streaming step of TCNForecaster" in streaming.proc.stdout


def test_console_script_exports_torch_export_format(run_tool, tcn_checkpoint):
    script = Path(sys.executable).parent / "seqconv-export"
    run = _ok(run_tool("", f"ckpt_path={tcn_checkpoint}", "format=export", command=[str(script)]))
    assert (run.run_dir / "model.pt2").is_file() and (run.run_dir / "model.pt2.json").is_file()


def test_bad_inputs_exit_2_with_a_message_and_write_nothing(run_tool, run_in_process, tcn_checkpoint, tmp_path):
    """The first two run export.py and predict.py as a user does (their own exit status 2, no traceback); the
    others call their main in this process."""
    junk = tmp_path / "junk.ckpt"
    junk.write_text("not a checkpoint")
    _user_error(run_tool("export.py", f"ckpt_path={junk}"), "is not a readable PyTorch checkpoint")
    _user_error(run_tool("predict.py", f"ckpt_path={junk}", "input=x.csv"), "is not a readable PyTorch checkpoint")
    _user_error(
        run_in_process("export.py", f"ckpt_path={tcn_checkpoint}", "expect_model=tscnn"),
        "holds a TCNForecaster",
        "asks for TimeSeriesCNN",
    )
    _user_error(run_in_process("export.py", f"ckpt_path={tcn_checkpoint}", "format=tflite"), "unknown format='tflite'")

    wrong = tmp_path / "wrong.csv"
    pd.DataFrame({"Date": pd.bdate_range("2020-01-01", periods=50).strftime("%Y-%m-%d"), "Price": 1.0}).to_csv(
        wrong, index=False
    )
    out = tmp_path / "out.csv"
    _user_error(
        run_in_process("predict.py", f"ckpt_path={tcn_checkpoint}", f"input={wrong}", f"output={out}"),
        "missing column(s) ['close']",
    )
    short = tmp_path / "short.csv"
    pd.read_csv(SP500).iloc[:10].to_csv(short, index=False)
    _user_error(
        run_in_process("predict.py", f"ckpt_path={tcn_checkpoint}", f"input={short}", f"output={out}"),
        "has 10 rows; the model reads windows of 30 steps",
    )
    _user_error(
        run_in_process("predict.py", f"ckpt_path={tcn_checkpoint}", f"input={short}", "horizon=4", f"output={out}"),
        "horizon=4: this model forecasts steps 1..3 at once",
    )
    _user_error(
        run_in_process("predict.py", f"ckpt_path={tcn_checkpoint}", f"input={short}", f"output={tmp_path}/out.xlsx"),
        "end the name in .csv or .json",
    )
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(("run", "tool"))) == [
        "junk.ckpt",
        "short.csv",
        "wrong.csv",
    ]


def test_text_chain_predicts_a_label_per_line(run_tool, run_in_process, tmp_path):
    table = tmp_path / "reviews.csv"
    good, bad = ["great fun, loved it", "a wonderful film"], ["boring, hated it", "an awful film"]
    pd.DataFrame({"text": (good + bad) * 20, "label": ["pos", "pos", "neg", "neg"] * 20}).to_csv(table, index=False)
    train = _ok(
        run_tool(
            "train.py",
            "model=textcnn",
            "data=reviews",
            f"data.path={table}",
            "data.split_column=null",
            "data.tokenizer.min_freq=1",
            "debug=limit",
            "trainer.max_epochs=1",
            "runtime.num_threads=1",
        )
    )
    model = tmp_path / "text.onnx"
    _ok(run_tool("export.py", f"ckpt_path={train.metrics['best_model_path']}", f"output={model}"))
    assert (tmp_path / "text.onnx.tokenizer.json").is_file()
    texts = tmp_path / "texts.txt"
    texts.write_text("loved this wonderful film\n\nhated it, boring\n")
    _ok(run_tool("predict.py", f"model_path={model}", f"input={texts}", f"output={tmp_path}/labels.json"))
    rows = json.loads((tmp_path / "labels.json").read_text())["predictions"]
    assert [r["line"] for r in rows] == [1, 3] and {r["label"] for r in rows} <= {"neg", "pos"}
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    _user_error(run_in_process("predict.py", f"model_path={model}", f"input={empty}"), "holds no text")


def test_audio_chain_predicts_a_class_per_file(run_tool, run_in_process, tmp_path):
    folder = tmp_path / "clips"
    for label, name in enumerate(("high", "low")):
        (folder / name).mkdir(parents=True)
        for i in range(8):
            wave = 0.5 * np.sin(2 * np.pi * (900 - 500 * label) * np.arange(2000) / 8000)
            sf.write(str(folder / name / f"{i}.wav"), (wave + 0.01 * np.random.default_rng(i).normal(size=2000)), 8000)
    train = _ok(
        run_tool(
            "train.py",
            "model=audiocnn",
            "data=audio_folder",
            f"data.path={folder}",
            "data.sample_rate=8000",
            "data.clip_seconds=0.25",
            "data.val_fraction=0.2",
            "data.test_fraction=0.2",
            "debug=limit",
            "trainer.max_epochs=1",
            "runtime.num_threads=1",
        )
    )
    model = tmp_path / "audio.onnx"
    _ok(run_tool("export.py", f"ckpt_path={train.metrics['best_model_path']}", f"output={model}"))
    _ok(run_tool("predict.py", f"model_path={model}", f"input={folder / 'low'}", f"output={tmp_path}/classes.csv"))
    rows = list(csv.DictReader((tmp_path / "classes.csv").open()))
    assert len(rows) == 8 and {r["label"] for r in rows} <= {"high", "low"}
    assert all(float(r["p_high"]) + float(r["p_low"]) == pytest.approx(1.0, abs=1e-5) for r in rows)
    note = tmp_path / "note.txt"
    note.write_text("not audio")
    _user_error(run_in_process("predict.py", f"model_path={model}", f"input={note}"), "not an audio file")
