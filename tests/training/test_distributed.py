"""DDP on the CPU (gloo): the same training as one process, and correct under Hydra multirun."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
COMMON = [
    "data=stocks_synthetic",
    "trainer.max_epochs=2",
    "trainer.deterministic=true",
    "callbacks.early_stopping=null",
    "runtime.num_threads=1",
    "test=false",
    "seed=5",
]


def _train(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, str(REPO / "train.py"), *args, f"paths.root_dir={tmp_path}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


def test_two_cpu_processes_train_like_one_with_the_same_global_batch(tmp_path):
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    _train(tmp_path, *COMMON, "trainer=cpu", "data.batch_size=16", f"hydra.run.dir={single}")
    proc = _train(tmp_path, *COMMON, "trainer=ddp_cpu", "data.batch_size=8", f"hydra.run.dir={ddp}")
    assert "effective batch size 16 = 8 per device x 2 device(s)" in proc.stdout + proc.stderr
    one, two = _weights(single), _weights(ddp)
    assert one.keys() == two.keys()
    for name in one:
        torch.testing.assert_close(two[name], one[name], rtol=1e-4, atol=1e-5, msg=name)
    assert not torch.equal(one["net.head.1.weight"], torch.zeros_like(one["net.head.1.weight"]))


def test_multirun_with_ddp_trains_each_configuration_once_on_every_rank(tmp_path):
    sweep_dir = tmp_path / "sweep"
    _train(
        tmp_path,
        "-m",
        *COMMON,
        "trainer=ddp_cpu",
        "trainer.max_epochs=1",
        "model.optimizer.lr=1e-3,3e-4",
        f"hydra.sweep.dir={sweep_dir}",
    )
    jobs = sorted(p for p in sweep_dir.iterdir() if p.is_dir())
    assert [p.name for p in jobs] == ["0", "1"]
    for job, lr in zip(jobs, ["0.001", "0.0003"], strict=True):
        assert (job / "metrics.json").is_file()
        starts = []
        for log_name in ("train.log", "train_ddp_process_1.log"):  # rank 0, rank 1
            starts += re.findall(r"job overrides: (.*)", (job / log_name).read_text())
        assert len(starts) == 2 and starts[0] == starts[1]  # once per rank, the same configuration
        assert f"model.optimizer.lr={lr}" in starts[0]
    # a child rank re-running the sweep would have created run or sweep dirs of its own
    assert not (tmp_path / "logs").exists()
