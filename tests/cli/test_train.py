"""End-to-end runs of train.py and eval.py through their real Hydra entry points."""

import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

pytestmark = pytest.mark.slow

FORECAST_KEYS = {"test/mse", "test/mae", "test/rmse", "test/mape", "test/persistence_mse", "test/skill", "test/loss"}


@pytest.mark.parametrize("model", ["tscnn", "tcn"])
def test_fast_dev_run_writes_metrics(run_entry, model):
    run = run_entry("train.py", f"model={model}", "debug=fast_dev_run")
    assert run.proc.returncode == 0, run.output
    metrics = run.metrics
    assert FORECAST_KEYS <= metrics.keys()
    assert metrics["test/skill"] == pytest.approx(1 - metrics["test/mse"] / metrics["test/persistence_mse"], rel=1e-4)
    assert "test MSE" in run.proc.stdout and "persistence MSE" in run.proc.stdout
    assert (run.run_dir / ".hydra" / "config.yaml").is_file()


def test_train_then_eval_reproduces_the_test_metrics(run_entry):
    train = run_entry(
        "train.py", "data=stocks_synthetic", "trainer.max_epochs=2", "+trainer.limit_train_batches=3", "seed=0"
    )
    assert train.proc.returncode == 0, train.output
    best = Path(train.metrics["best_model_path"])
    assert best.is_file() and best.parent == train.run_dir / "checkpoints"
    assert (train.run_dir / "checkpoints" / "last.ckpt").is_file()
    evaluated = run_entry("eval.py", f"ckpt_path={best}")
    assert evaluated.proc.returncode == 0, evaluated.output
    for key in FORECAST_KEYS:
        assert evaluated.metrics[key] == pytest.approx(train.metrics[key], rel=1e-5), key


def test_eval_on_another_csv_uses_the_checkpoint_scalers(run_entry, tmp_path):
    train = run_entry("train.py", "debug=limit", "data.window=20")
    assert train.proc.returncode == 0, train.output
    other = tmp_path / "other.csv"
    frame = pd.read_csv(Path(__file__).resolve().parents[2] / "src/seqconv/datasets/sp500_daily_2000_2020.csv")
    frame.iloc[:1500].to_csv(other, index=False)
    evaluated = run_entry("eval.py", f"ckpt_path={train.metrics['best_model_path']}", f"+data.path={other}")
    assert evaluated.proc.returncode == 0, evaluated.output
    assert evaluated.metrics["test/mse"] != pytest.approx(train.metrics["test/mse"])


def test_seed_is_honoured_including_zero(run_entry):
    first, second, other = (
        run_entry("train.py", "debug=fast_dev_run", f"seed={seed}", "runtime.num_threads=1") for seed in (0, 0, 1)
    )
    for run in (first, second, other):
        assert run.proc.returncode == 0, run.output
    assert first.metrics["test/mse"] == second.metrics["test/mse"]
    assert first.metrics["test/mse"] != other.metrics["test/mse"]


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        (["data.path=/no/such/prices.csv"], ["/no/such/prices.csv", "no such file"]),
        (["data.window=2000"], ["fewer than window + horizon", "data.window"]),
        (["model.net.act=swishh"], ["unknown activation act='swishh'", "model.net"]),
        (["data.features=[close,turnover]"], ["missing column(s) ['turnover']"]),
        (["runtime.num_threads=0"], ["runtime.num_threads"]),
    ],
    ids=["missing-file", "window-too-long", "unknown-activation", "unknown-column", "threads"],
)
def test_user_errors_exit_2_with_a_message_and_no_metrics(run_in_process, overrides, fragments):
    run = run_in_process("train.py", "debug=fast_dev_run", *overrides)
    assert run.proc.returncode == 2, run.output
    for fragment in fragments:
        assert fragment in run.proc.stderr
    assert "Traceback" not in run.output
    assert not (run.run_dir / "metrics.json").exists()


def test_bad_csv_names_file_and_line(run_entry, tmp_path):
    """Also the subprocess proof that ``python train.py`` itself exits 2 on a user error, without a traceback (the
    other user errors run ``main`` in this process)."""
    bad = tmp_path / "bad.csv"
    bad.write_text("Date,Close\n2020-01-02,1\n2020-01-03,oops\n")
    run = run_entry("train.py", "debug=fast_dev_run", f"data.path={bad}")
    assert run.proc.returncode == 2, run.output
    assert f"{bad}: line 3, column 'close': 'oops' is not a number" in run.proc.stderr
    assert "Traceback" not in run.output
    assert not (run.run_dir / "metrics.json").exists()


def test_misspelled_key_and_unknown_option_fail_before_training(run_in_process):
    misspelled = run_in_process("train.py", "data.windw=10")
    assert misspelled.proc.returncode == 2
    assert "unknown config key 'data.windw': did you mean data.window?" in misspelled.proc.stderr
    assert "valid keys under data:" in misspelled.proc.stderr and "horizon" in misspelled.proc.stderr
    top_level = run_in_process("train.py", "sed=3")
    assert top_level.proc.returncode == 2 and "did you mean seed?" in top_level.proc.stderr
    nested = run_in_process("train.py", "model=tcn", "model.net.chanels=[3]")
    assert nested.proc.returncode == 2 and "did you mean model.net.channels?" in nested.proc.stderr
    unknown = run_in_process("train.py", "model=resnet")
    assert unknown.proc.returncode != 0
    assert "Available options in 'model'" in unknown.output and "tscnn" in unknown.output
    assert not (misspelled.run_dir / "metrics.json").exists()


def test_eval_rejects_a_file_that_is_not_a_checkpoint(run_entry, tmp_path):
    fake = tmp_path / "fake.ckpt"
    fake.write_text("not a checkpoint")
    run = run_entry("eval.py", f"ckpt_path={fake}")
    assert run.proc.returncode == 2 and "is not a readable PyTorch checkpoint" in run.proc.stderr


def test_console_script_works_from_another_directory(run_entry, tmp_path):
    script = Path(sys.executable).parent / "seqconv-train"
    assert script.exists() or shutil.which("seqconv-train")
    run = run_entry("", "debug=fast_dev_run", cwd=tmp_path, command=[str(script)])
    assert run.proc.returncode == 0, run.output
    assert "test/mse" in run.metrics


def test_training_again_into_a_finished_run_dir_asks_for_ckpt_path_last(run_entry, run_in_process):
    first = run_entry("train.py", "debug=limit", "data=stocks_synthetic")
    assert first.proc.returncode == 0, first.output
    last = first.run_dir / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["epoch"] == 2  # refreshed every epoch, not only on a new best
    again = run_in_process("train.py", "debug=limit", "data=stocks_synthetic", run_dir=first.run_dir)
    assert again.proc.returncode == 2 and "pass ckpt_path=last to resume that run" in again.proc.stderr
    assert torch.load(last, weights_only=True)["epoch"] == 2  # not touched
