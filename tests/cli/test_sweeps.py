"""Multirun, Optuna, launchers and W&B through the real entry point."""

import json
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
TINY = ["data=stocks_synthetic", "debug=limit", "runtime.num_threads=1", "trainer.accelerator=cpu"]


def _multirun(tmp_path: Path, *overrides: str, env: dict | None = None) -> tuple[subprocess.CompletedProcess, Path]:
    sweep_dir = tmp_path / "sweep"
    proc = subprocess.run(
        [sys.executable, str(REPO / "train.py"), "-m", *TINY, f"hydra.sweep.dir={sweep_dir}", *overrides],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc, sweep_dir


def _job_dirs(sweep_dir: Path) -> list[Path]:
    return sorted(p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit())


def test_two_job_multirun_gives_two_complete_run_dirs(tmp_path):
    _, sweep_dir = _multirun(tmp_path, "model.optimizer.lr=1e-3,3e-4")
    jobs = _job_dirs(sweep_dir)
    assert [j.name for j in jobs] == ["0", "1"]
    lrs = []
    for job in jobs:
        metrics = json.loads((job / "metrics.json").read_text())
        assert {"test/mse", "test/skill", "val/loss"} <= metrics.keys()
        assert (job / "checkpoints" / "last.ckpt").is_file() and (job / "csv" / "metrics.csv").is_file()
        lrs.append(yaml.safe_load((job / ".hydra" / "config.yaml").read_text())["model"]["optimizer"]["lr"])
    assert lrs == [1e-3, 3e-4]


def test_optuna_sweep_records_failed_trials_goes_on_and_resumes(tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    search = ["hparams_search=tscnn", "hydra.sweeper.params=null", "model.net.dropout=choice(0.0,1.5)"]
    # dropout=1.5 is refused by the network: with the preset's seeded sampler, trials 0 and 1 draw it
    proc, sweep_dir = _multirun(tmp_path, *search, "hydra.sweeper.n_trials=3", f"hydra.sweeper.storage={storage}")
    assert proc.stdout.count("Failed experiment") + proc.stderr.count("Failed experiment") == 2
    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert results["best_params"] == {"model.net.dropout": 0.0}
    study = optuna.load_study(study_name="tscnn", storage=storage)
    states = sorted(t.state.name for t in study.trials)
    assert states == ["COMPLETE", "FAIL", "FAIL"]
    assert results["best_value"] == pytest.approx(study.best_value)

    # a second sweep with the same storage continues the study instead of starting over
    _multirun(tmp_path, *search, "hydra.sweeper.n_trials=1", f"hydra.sweeper.storage={storage}")
    assert len(optuna.load_study(study_name="tscnn", storage=storage).trials) == 4


@pytest.mark.parametrize("launcher", ["local_parallel", "slurm_local"])
def test_launchers_run_every_job(tmp_path, launcher):
    _, sweep_dir = _multirun(tmp_path, f"hydra/launcher={launcher}", "model.optimizer.lr=1e-3,3e-4")
    metrics = [json.loads(p.read_text()) for p in sorted(sweep_dir.rglob("metrics.json"))]
    assert len(metrics) == 2 and all("test/mse" in m for m in metrics)


def test_wandb_offline_logs_config_metrics_and_figures_per_job_in_one_group(tmp_path, offline_wandb):
    _, sweep_dir = _multirun(tmp_path, "logger=wandb", "model.optimizer.lr=1e-3,3e-4", env=offline_wandb.env)
    groups, run_ids = set(), set()
    for job in _job_dirs(sweep_dir):
        run = json.loads(offline_wandb.inspect(job, "--summary", "--json"))
        metrics = json.loads((job / "metrics.json").read_text())
        assert run["summary"]["test/mse"] == pytest.approx(metrics["test/mse"])
        assert {"val/loss", "train/loss", "test/skill"} <= run["summary"].keys()
        assert run["config"]["model"]["optimizer"]["lr"] in (1e-3, 3e-4)
        assert run["config"]["model_info"]["num_params"] > 0
        assert run["config"]["model_info"]["receptive_field"] == 10
        assert run["run_id"] == (job / "wandb_run_id").read_text().strip()
        assert (job / "forecast.png").stat().st_size > 0
        assert list((job / "wandb").glob("offline-run-*/files/media/images/test/forecast_*.png"))  # logged to W&B
        lines = offline_wandb.inspect(job, "--json").splitlines()
        records = [json.loads(line) for line in lines if line.startswith("{")]
        (run_record,) = [r["run"] for r in records if r.get("type") == "run"]
        groups.add(run_record.get("run_group"))
        run_ids.add(run["run_id"])
    assert len(run_ids) == 2  # each job is its own W&B run...
    assert len(groups) == 1 and None not in groups  # ...in one group


def test_wandb_run_continues_when_training_resumes(tmp_path, offline_wandb):
    run_dir = tmp_path / "run"
    command = [sys.executable, str(REPO / "train.py"), *TINY, "logger=wandb", f"hydra.run.dir={run_dir}"]
    env = offline_wandb.env
    first = subprocess.run([*command, "trainer.max_epochs=2"], capture_output=True, text=True, env=env, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    run_id = (run_dir / "wandb_run_id").read_text().strip()
    second = subprocess.run(
        [*command, "trainer.max_epochs=4", "ckpt_path=last"], capture_output=True, text=True, env=env, timeout=600
    )
    assert second.returncode == 0, second.stderr[-3000:]
    offline_runs = sorted((run_dir / "wandb").glob("offline-run-*"))
    assert len(offline_runs) == 2 and all(p.name.endswith(run_id) for p in offline_runs)
