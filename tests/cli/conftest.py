import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


class Run:
    """A finished entry-point subprocess and its run dir."""

    def __init__(self, proc: subprocess.CompletedProcess, run_dir: Path) -> None:
        self.proc, self.run_dir = proc, run_dir

    @property
    def output(self) -> str:
        return self.proc.stdout + self.proc.stderr

    @property
    def metrics(self) -> dict:
        return json.loads((self.run_dir / "metrics.json").read_text())


@pytest.fixture
def run_entry(tmp_path):
    """Run ``train.py`` / ``eval.py`` from the repo root in a subprocess with its run dir under ``tmp_path``."""
    counter = iter(range(1000))

    def run(script: str, *overrides: str, cwd: Path = REPO, command: list[str] | None = None) -> Run:
        run_dir = tmp_path / f"run{next(counter)}"
        args = command or [sys.executable, str(REPO / script)]
        proc = subprocess.run(
            [*args, f"hydra.run.dir={run_dir}", f"paths.root_dir={tmp_path}", "trainer.accelerator=cpu", *overrides],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=600,
        )
        return Run(proc, run_dir)

    return run
