"""Fault injection: killed, interrupted and preempted runs resume and finish as if nothing happened."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seqconv.training import is_valid_checkpoint

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
HELPERS = REPO / "tests" / "helpers"
# a deterministic TCN run (dropout on, so the RNG handling matters) with epochs long enough to kill mid-way
RUN = [
    "data=stocks_synthetic",
    "model=tcn",
    "data.window=32",
    "data.batch_size=8",
    "trainer.max_epochs=5",
    "trainer.deterministic=true",
    "callbacks.early_stopping=null",
    "callbacks.progress_bar=null",
    "runtime.num_threads=1",
    "seed=3",
    "trainer.accelerator=cpu",
]
METRICS = ["test/mse", "test/mae", "test/persistence_mse", "test/loss", "val/loss"]


def _command(run_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, str(REPO / "train.py"), *RUN, f"hydra.run.dir={run_dir}", *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(HELPERS), os.environ.get("PYTHONPATH", "")])}


def _run(run_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(_command(run_dir, *extra), capture_output=True, text=True, timeout=600, env=_env())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _start(run_dir: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(_command(run_dir, *extra), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())


def _wait_for(condition, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, "the run ended before the fault could be injected"
        assert time.monotonic() < deadline, "timed out waiting for the run"
        time.sleep(0.01)


def _metrics(run_dir: Path) -> dict:
    import json

    return json.loads((run_dir / "metrics.json").read_text())


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    _run(run_dir)
    return _metrics(run_dir)


def _assert_same_result(run_dir: Path, reference: dict) -> None:
    resumed = _metrics(run_dir)
    for key in METRICS:
        assert resumed[key] == pytest.approx(reference[key], rel=1e-6, abs=1e-9), key


def test_sigkill_mid_epoch_then_resume_equals_uninterrupted(tmp_path, uninterrupted):
    run_dir = tmp_path / "run"
    last = run_dir / "checkpoints" / "last.ckpt"
    proc = _start(run_dir)
    _wait_for(last.exists, proc)
    first_save = last.stat().st_mtime_ns
    time.sleep(0.3)  # into the next epoch
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run_dir / "metrics.json").exists()
    assert last.stat().st_mtime_ns >= first_save and is_valid_checkpoint(last)
    _run(run_dir, "ckpt_path=last")
    _assert_same_result(run_dir, uninterrupted)


def test_sigkill_during_a_checkpoint_write_leaves_no_truncated_file(tmp_path, uninterrupted):
    run_dir = tmp_path / "run"
    checkpoints = run_dir / "checkpoints"
    slow_io = "trainer.plugins=[{_target_:slow_io.SlowAtomicCheckpointIO}]"
    proc = _start(run_dir, slow_io)
    _wait_for(lambda: checkpoints.exists() and any(p.name.endswith(".tmp") for p in checkpoints.iterdir()), proc)
    time.sleep(0.2)  # well inside the 1 s write
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for path in checkpoints.glob("*.ckpt"):
        assert is_valid_checkpoint(path), path
    assert any(p.name.endswith(".tmp") for p in checkpoints.iterdir())  # the write really was cut short
    if not any(checkpoints.glob("*.ckpt")):  # killed during the very first save: nothing to resume, start over
        _run(run_dir)
    else:
        _run(run_dir, "ckpt_path=last")
    _assert_same_result(run_dir, uninterrupted)


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"])
def test_signal_saves_a_resumable_checkpoint_and_stops(tmp_path, sig, status):
    run_dir = tmp_path / "run"
    last = run_dir / "checkpoints" / "last.ckpt"
    proc = _start(run_dir, "trainer.max_epochs=200")
    _wait_for(last.exists, proc)
    time.sleep(0.2)
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == status
    interrupted = run_dir / "checkpoints" / "interrupted.ckpt"
    assert is_valid_checkpoint(interrupted)
    assert not (run_dir / "metrics.json").exists()
    proc = _run(run_dir, "ckpt_path=last", "trainer.max_epochs=4")
    assert "resuming from" in proc.stdout + proc.stderr
    assert "test/mse" in _metrics(run_dir)
