"""End-to-end: backtest.py writes its table, forecasts and figure; a killed backtest finishes only what is
missing and lands on the same numbers; bad fold settings exit 2 before any training."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from seqconv.backtest import plan_folds
from seqconv.cli import backtest as backtest_cli
from seqconv.cli._overrides import _compose as compose_config
from seqconv.cli.backtest import backtest, worker_count
from seqconv.errors import ConfigError
from seqconv.training.checkpoint_io import CONFIG_KEY

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def _backtest(
    tmp_path: Path, name: str, *overrides: str, logger: str = "none", env: dict | None = None, multirun: bool = False
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable, str(REPO / "backtest.py"), *(["-m"] if multirun else []),
            f"hydra.run.dir={tmp_path / name}", "trainer.accelerator=cpu", "trainer.max_epochs=1",
            "runtime.num_threads=1", f"logger={logger}", "model=tcn", "model.net.channels=[8,8]", *overrides,
        ],
        cwd=REPO, capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip


def _prices(tmp_path: Path, seed: int, rows: int = 200, start: str = "2012-01-02") -> Path:
    """A random-walk price series in a Yahoo-style CSV (Date, Close), business days from ``start``."""
    close = 50 * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, 0.01, rows)))
    path = tmp_path / f"prices_{seed}.csv"
    dates = pd.bdate_range(start, periods=rows).strftime("%Y-%m-%d")
    pd.DataFrame({"Date": dates, "Close": close}).to_csv(path, index=False)
    return path


def test_backtest_writes_every_forecast_and_a_resumed_run_equals_an_uninterrupted_one(tmp_path):
    prices = _prices(tmp_path, seed=4, rows=260)
    out = tmp_path / "bt"
    options = (
        f"data.path={prices}", "data.window=20", "data.horizon=3", "task.quantiles=[0.1,0.5,0.9]",
        "backtest.folds=3", "backtest.step=15", f"backtest.dir={out}",
    )  # fmt: skip
    first = _backtest(tmp_path, "first", *options)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "backtest: 3 folds, 9 forecast points" in first.stdout
    result = json.loads((out / "backtest.json").read_text())
    assert [f["index"] for f in result["folds"]] == [0, 1, 2] and all(f["refits"] for f in result["folds"])
    for key in ("mse", "persistence_mse", "skill", "drift_mse", "skill_drift", "coverage", "pinball", "crps"):
        assert key in result["aggregate"], key
    table = pd.read_csv(out / "backtest.csv")
    assert list(table.columns[:10]) == [
        "series", "fold", "cutoff", "date", "step", "actual", "forecast", "q0.1", "q0.5", "q0.9",
    ]  # fmt: skip
    assert {"persistence", "drift", "mean"} <= set(table.columns) and len(table) == 9
    assert (table["q0.1"] <= table["q0.5"]).all() and (table["q0.5"] <= table["q0.9"]).all()
    assert (table["date"] > table["cutoff"]).all()
    assert (out / "backtest.png").stat().st_size > 0

    # "kill" it: fold 2 never ran, fold 1 trained but wrote no result; the same command finishes only those
    shutil.rmtree(out / "folds" / "fold_2")
    (out / "folds" / "fold_1" / "result.json").unlink()
    fold0 = (out / "folds" / "fold_0" / "result.json").stat().st_mtime_ns
    second = _backtest(tmp_path, "second", *options)
    assert second.returncode == 0, second.stdout + second.stderr
    log = second.stdout + second.stderr
    assert "fold 0 (cutoff" in log and "done already" in log
    assert (out / "folds" / "fold_0" / "result.json").stat().st_mtime_ns == fold0
    resumed = json.loads((out / "backtest.json").read_text())
    assert resumed["aggregate"] == pytest.approx(result["aggregate"], rel=1e-6)
    assert pd.read_csv(out / "backtest.csv").equals(table)

    # every fold done (the parallel recipe's second command): the aggregate alone, read from the fold results
    (out / "backtest.json").unlink()
    cfg = compose_config("backtest", [*options[:-1], f"paths.output_dir={out}", "logger=none", "model=tcn"])
    assert backtest(cfg) == pytest.approx(result["aggregate"], rel=1e-6)
    assert (out / "folds" / "fold_0" / "result.json").stat().st_mtime_ns == fold0  # nothing retrained


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        (["backtest.cutoffs=[2030-01-01]"], "outside the data"),
        (["data.cutoff=2019-01-02"], "data.cutoff is set by the backtest per fold"),
        (["task.quantiles=[0.9,0.1]"], "task.quantiles=[0.9, 0.1] must be a non-empty, sorted list"),
        (["task.quantiles=[0.5,0.5]"], "task.quantiles=[0.5, 0.5] must be a non-empty, sorted list of distinct"),
        (["task.quantiles=[0.0,0.5]"], "task.quantiles=[0.0, 0.5] must be a non-empty, sorted list of distinct"),
        (["backtest.cutoffs=[2019-01-02,2018-01-02]"], "must be sorted and fall on distinct rows"),
        (["backtest.folds=3", "backtest.step=3000"], "backtest.folds=3 cutoffs 3000 rows apart need 6002 rows"),
        (["backtest.jobs=2", "backtest.fold=0"], "backtest.jobs runs every fold itself; drop backtest.fold"),
        (["backtest.jobs=0"], "backtest.jobs must be a positive number of worker processes or auto, got 0"),
        (["backtest.jobs=many"], "backtest.jobs must be a positive number of worker processes or auto, got 'many'"),
    ],
)
def test_bad_backtest_settings_are_config_errors_before_training(tmp_path, overrides, fragment):
    paths = [f"paths.root_dir={tmp_path}", f"paths.output_dir={tmp_path / 'bt'}"]
    cfg = compose_config("backtest", [*paths, "logger=none", *overrides])
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        backtest(cfg)
    assert not (tmp_path / "bt" / "folds").exists()


def test_folds_in_worker_processes_or_launcher_jobs_give_the_forecasts_of_one_process(tmp_path, monkeypatch):
    prices = _prices(tmp_path, seed=5)
    options = (f"data.path={prices}", "data.window=20", "data.horizon=3", "backtest.folds=3", "backtest.step=10")
    serial = _backtest(tmp_path, "serial", *options)
    assert serial.returncode == 0, serial.stdout + serial.stderr
    parallel = _backtest(tmp_path, "parallel", *options, "backtest.jobs=2")
    assert parallel.returncode == 0, parallel.stdout + parallel.stderr
    started = f"3 fold group(s) in 2 worker process(es) ({backtest_cli._start_method()})"
    assert (parallel.stdout + parallel.stderr).count(started) == 1  # forked workers repeat nothing of the parent's
    auto = _backtest(tmp_path, "auto", *options, "backtest.jobs=auto")
    assert auto.returncode == 0, auto.stdout + auto.stderr
    workers = worker_count("auto", 3, "cpu")  # this machine's cores and memory
    assert f"backtest.jobs=auto: {workers} process(es)" in auto.stdout + auto.stderr
    one, two = (tmp_path / "serial", tmp_path / "parallel")
    assert (one / "backtest.csv").read_text() == (two / "backtest.csv").read_text()  # both runs: 1 thread, seeded
    assert (tmp_path / "auto" / "backtest.csv").read_text() == (one / "backtest.csv").read_text()
    if backtest_cli._start_method() == "fork":  # the other start method (macOS, Windows, CUDA in use) as well
        monkeypatch.setattr(backtest_cli, "_start_method", lambda: "spawn")
        out = tmp_path / "spawned"
        overrides = [f"paths.output_dir={out}", "trainer.accelerator=cpu", "trainer.max_epochs=1", "logger=none"]
        overrides += ["runtime.num_threads=1", "model=tcn", "model.net.channels=[8,8]", *options, "backtest.jobs=2"]
        backtest(compose_config("backtest", [f"paths.root_dir={tmp_path}", *overrides]))
        assert (out / "backtest.csv").read_text() == (one / "backtest.csv").read_text()
    # the README's launcher recipe: each fold a job of a Hydra launcher (joblib here; SLURM's code path through
    # submitit's local executor), then the aggregate
    for launcher in ("joblib", "slurm_local"):
        shared, sweep = tmp_path / launcher, f"hydra.sweep.dir={tmp_path / f'sweep_{launcher}'}"
        jobs = _backtest(tmp_path, "jobs", *options, f"hydra/launcher={launcher}", "backtest.fold=0,1,2", sweep,
                         f"backtest.dir={shared}", multirun=True)  # fmt: skip
        assert jobs.returncode == 0, jobs.stdout + jobs.stderr
        assert sorted(p.parent.name for p in shared.glob("folds/*/result.json")) == ["fold_0", "fold_1", "fold_2"]
        assert not (shared / "backtest.csv").exists()  # a fold job writes its fold only
        aggregate = _backtest(tmp_path, f"aggregate_{launcher}", *options, f"backtest.dir={shared}")
        assert aggregate.returncode == 0, aggregate.stdout + aggregate.stderr
        assert aggregate.stdout.count("done already") == 3
        assert (shared / "backtest.csv").read_text() == (one / "backtest.csv").read_text(), launcher
    folds = json.loads((two / "backtest.json").read_text())["folds"]
    for fold in folds:  # each fold trained in its own dir, and logged there
        fold_dir = two / "folds" / f"fold_{fold['index']}"
        assert Path(fold["checkpoint"]).parent == fold_dir / "checkpoints"
        assert f"fold {fold['index']} (cutoff" in (fold_dir / "fold.log").read_text()


def test_a_sliding_backtest_that_refits_every_other_fold_trains_on_each_window_and_reuses_models(tmp_path):
    """backtest.window=sliding and backtest.refit_every end to end: each refit trains on its own window of rows
    (the fold's train_start reaches its training config), and the folds between reuse the last model."""
    options = (f"data.path={_prices(tmp_path, seed=7, rows=260)}", "data.window=20", "data.horizon=3",
               "backtest.folds=4", "backtest.step=10", "backtest.window=sliding", "backtest.train_rows=160",
               "backtest.refit_every=2")  # fmt: skip
    run = _backtest(tmp_path, "sliding", *options)
    assert run.returncode == 0, run.stdout + run.stderr
    out = tmp_path / "sliding"
    folds = json.loads((out / "backtest.json").read_text())["folds"]
    assert [f["refits"] for f in folds] == [True, False, True, False]
    assert folds[1]["checkpoint"] == folds[0]["checkpoint"] and folds[3]["checkpoint"] == folds[2]["checkpoint"]
    assert folds[2]["checkpoint"] != folds[0]["checkpoint"]
    assert not (out / "folds" / "fold_1" / "checkpoints").exists()  # nothing trained for a reusing fold
    dates = pd.read_csv(tmp_path / "prices_7.csv")["Date"].tolist()
    for fold in folds:
        assert fold["train_rows"] == 160 and fold["train_start"] > dates[0]  # a window, not every row so far
        trained = torch.load(fold["checkpoint"], map_location="cpu", weights_only=False)[CONFIG_KEY]
        model_fold = folds[fold["model_fold"]]
        assert (trained["data"]["train_start"], trained["data"]["cutoff"]) == (
            model_fold["train_start"], model_fold["cutoff"]
        )  # fmt: skip
    table = pd.read_csv(out / "backtest.csv")
    assert sorted(table["fold"].unique()) == [0, 1, 2, 3] and len(table) == 4 * 3
    assert (table["date"] > table["cutoff"]).all()


def test_a_backtest_logs_each_fold_the_aggregate_and_every_forecast_to_wandb(tmp_path, offline_wandb):
    options = (f"data.path={_prices(tmp_path, seed=6)}", "data.window=20", "data.horizon=3", "backtest.folds=3",
               "backtest.step=10", "task.quantiles=[0.1,0.5,0.9]")  # fmt: skip
    run = _backtest(tmp_path, "wb", *options, logger="wandb", env=offline_wandb.env)
    assert run.returncode == 0, run.stdout + run.stderr
    out = tmp_path / "wb"
    result = json.loads((out / "backtest.json").read_text())
    logged = json.loads(offline_wandb.inspect(out, "--summary", "--json"))["summary"]
    for key in ("mse", "persistence_mse", "skill", "coverage", "crps"):
        assert logged[f"backtest/{key}"] == pytest.approx(result["aggregate"][key]), key
    last = result["folds"][-1]["metrics"]  # per-fold metrics are logged at step = fold; the summary keeps the last
    assert logged["backtest/fold/mse"] == pytest.approx(last["mse"])
    records = [json.loads(line) for line in offline_wandb.inspect(out, "--json").splitlines() if line.startswith("{")]
    history = [r for r in records if r.get("type") == "history" and "backtest/fold/mse" in json.dumps(r)]
    assert len(history) == 3  # one history row per fold
    (table,) = out.glob("wandb/offline-run-*/files/media/table/backtest/forecasts_*.table.json")
    forecasts = json.loads(table.read_text())
    assert len(forecasts["data"]) == len(pd.read_csv(out / "backtest.csv")) == 9
    assert {"fold", "actual", "forecast", "q0.1", "q0.9"} <= set(forecasts["columns"])
    assert len(list(out.glob("folds/fold_*/wandb/offline-run-*"))) == 3  # each fold's training is a run of its own


def test_a_bad_backtest_exits_2_naming_the_fold_and_writes_nothing(tmp_path):
    run = _backtest(tmp_path, "bad", "backtest.folds=3", "backtest.step=2550")
    assert run.returncode == 2, run.stdout + run.stderr
    assert "fold 0 (cutoff" in run.stderr and "training and" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "bad" / "folds").exists()
    # a panel whose series joined late is too short for the first fold: named before any fold trains
    folder = tmp_path / "panel"
    folder.mkdir()
    for name, seed, start, rows in (("long", 0, "2012-01-02", 500), ("late", 1, "2013-01-01", 240)):
        _prices(tmp_path, seed, rows, start).rename(folder / f"{name}.csv")
    run = _backtest(tmp_path, "panel", f"data.path={folder}", "data.window=20", "data.horizon=3", "backtest.folds=3",
                    "backtest.step=100")  # fmt: skip
    assert run.returncode == 2, run.stdout + run.stderr
    assert re.search(r"fold 0 \(cutoff [\d-]+\): late: the (train|val) split has \d+ rows", run.stderr), run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "panel" / "folds").exists()


def test_a_panel_trains_one_model_reports_each_series_and_backtests_every_series(tmp_path, run_entry):
    folder = tmp_path / "panel"
    folder.mkdir()
    for i, (name, level) in enumerate((("alpha", 40.0), ("beta", 900.0))):
        close = level * np.exp(np.cumsum(np.random.default_rng(i).normal(0, 0.01, 240)))
        dates = pd.bdate_range("2015-01-05", periods=240).strftime("%Y-%m-%d")
        pd.DataFrame({"Date": dates, "Close": close}).to_csv(folder / f"{name}.csv", index=False)
    common = ("model=tcn", "model.net.channels=[8,8]", f"data.path={folder}", "data.window=20", "data.horizon=2")
    train = run_entry("train.py", *common, "trainer.max_epochs=1", "runtime.num_threads=1", "logger=none")
    assert train.proc.returncode == 0, train.output
    for name in ("alpha", "beta"):  # metrics.json holds the aggregate and each series under "series"
        assert {"test/mse", "test/persistence_mse", "test/skill"} <= set(train.metrics["series"][name])
    assert "test/mse" in train.metrics and "2 series" in train.output
    predictions = tmp_path / "forecasts.json"
    predict = subprocess.run(
        [sys.executable, str(REPO / "predict.py"), f"ckpt_path={train.metrics['best_model_path']}",
         f"input={folder}", f"output={predictions}", f"hydra.run.dir={tmp_path / 'predict'}"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert predict.returncode == 0, predict.stdout + predict.stderr
    rows = json.loads(predictions.read_text())["predictions"]
    assert [(r["series"], r["step"]) for r in rows] == [("alpha", 1), ("alpha", 2), ("beta", 1), ("beta", 2)]
    assert rows[0]["forecast"] < 100 < rows[2]["forecast"]  # each series in its own price units

    out = tmp_path / "bt"
    run = _backtest(tmp_path, "panel", *common, "backtest.folds=2", "backtest.step=10", f"backtest.dir={out}")
    assert run.returncode == 0, run.stdout + run.stderr
    table = pd.read_csv(out / "backtest.csv")
    assert sorted(table["series"].unique()) == ["alpha", "beta"] and len(table) == 2 * 2 * 2


def test_conformal_calibration_moves_each_folds_intervals_and_never_its_point_forecasts(tmp_path):
    prices = _prices(tmp_path, seed=8, rows=300)
    options = (
        f"data.path={prices}", "data.window=20", "data.horizon=3", "task.quantiles=[0.1,0.5,0.9]",
        "backtest.folds=2", "backtest.step=20", "seed=0",
    )  # fmt: skip
    tables, results = {}, {}
    for name, extra in (("plain", ()), ("conformal", ("task.calibration=conformal",))):
        out = tmp_path / name
        proc = _backtest(tmp_path, f"{name}_run", *options, f"backtest.dir={out}", *extra)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        tables[name] = pd.read_csv(out / "backtest.csv")
        results[name] = json.loads((out / "backtest.json").read_text())
    for fold in results["conformal"]["folds"]:
        pre = torch.load(fold["checkpoint"], map_location="cpu", weights_only=True)["seqconv_preprocessor"]
        offsets = pre["quantile_offsets"]
        assert len(offsets) == 3 and all(row[1] == 0.0 for row in offsets), offsets
    for fold in results["plain"]["folds"]:
        pre = torch.load(fold["checkpoint"], map_location="cpu", weights_only=True)["seqconv_preprocessor"]
        assert pre["quantile_offsets"] is None
    plain, conformal = tables["plain"], tables["conformal"]
    pd.testing.assert_series_equal(plain["forecast"], conformal["forecast"])  # the same networks' medians
    assert not np.allclose(plain[["q0.1", "q0.9"]], conformal[["q0.1", "q0.9"]])
    assert (conformal["q0.1"] <= conformal["forecast"]).all() and (conformal["forecast"] <= conformal["q0.9"]).all()


@pytest.mark.parametrize(
    ("cores", "groups", "accelerator", "cuda", "expected"),
    [
        (4, 20, "cpu", False, 4),  # one worker per core
        (4, 2, "cpu", False, 2),  # no more workers than fold groups
        (4, 0, "cpu", False, 1),  # nothing left to run: this process
        (1, 20, "cpu", False, 1),  # one core: this process
        (4, 20, "gpu", False, 1),  # training on a GPU: this process
        (4, 20, "auto", True, 1),
        (4, 20, "auto", False, 4),
    ],
)
def test_auto_jobs_follow_the_cores_the_fold_groups_and_the_accelerator(
    monkeypatch, cores, groups, accelerator, cuda, expected
):
    monkeypatch.setattr(backtest_cli, "usable_cores", lambda: cores)
    monkeypatch.setattr(backtest_cli, "available_memory", lambda: 64 << 30)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert worker_count("auto", groups, accelerator) == expected
    assert worker_count(3, groups, accelerator) == 3  # a number is taken as given


def test_auto_jobs_leave_each_worker_its_memory(monkeypatch):
    monkeypatch.setattr(backtest_cli, "usable_cores", lambda: 16)
    monkeypatch.setattr(backtest_cli, "available_memory", lambda: int(2.5 * backtest_cli.WORKER_MEMORY))
    assert worker_count("auto", 20, "cpu") == 2
    monkeypatch.setattr(backtest_cli, "available_memory", lambda: backtest_cli.WORKER_MEMORY // 2)
    assert worker_count("auto", 20, "cpu") == 1
    monkeypatch.setattr(backtest_cli, "available_memory", lambda: None)  # unknown: cores and groups decide
    assert worker_count("auto", 20, "cpu") == 16
    memory = backtest_cli.available_memory()
    assert memory is None or memory > 0  # this machine's figure, read for real


def test_fold_groups_run_the_largest_training_sets_first_and_skip_finished_folds(tmp_path):
    """Workers take the longest fits first (they then finish together); a group keeps its folds in order."""
    plan = plan_folds(pd.bdate_range("2015-01-01", periods=300), 3, 20, 0.2, 6, 10, None, "expanding", None, True, 2)
    assert [fold.model_fold for fold in plan] == [0, 0, 2, 2, 4, 4]
    assert backtest_cli._fold_groups(plan, tmp_path) == [[4, 5], [2, 3], [0, 1]]
    done = tmp_path / "folds" / "fold_4" / "result.json"
    done.parent.mkdir(parents=True)
    done.write_text("{}")
    assert backtest_cli._fold_groups(plan, tmp_path) == [[5], [2, 3], [0, 1]]
    sliding = plan_folds(pd.bdate_range("2015-01-01", periods=300), 3, 20, 0.2, 3, 10, None, "sliding", 150, True, 1)
    assert len({fold.train_rows for fold in sliding}) == 1  # equal sizes: cutoff order
    assert backtest_cli._fold_groups(sliding, tmp_path) == [[0], [1], [2]]


def test_workers_fork_on_linux_unless_cuda_is_in_use(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert backtest_cli._start_method() == "fork"
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)  # a forked child could not use CUDA
    assert backtest_cli._start_method() == "spawn"
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    monkeypatch.setattr(sys, "platform", "darwin")
    assert backtest_cli._start_method() == "spawn"


@pytest.mark.parametrize("jobs", [0, -1, True, "many", 1.5])
def test_jobs_that_are_neither_a_count_nor_auto_are_config_errors(jobs):
    with pytest.raises(ConfigError, match="backtest.jobs must be a positive number of worker processes or auto"):
        worker_count(jobs, 5)
