import contextlib
import json
import logging
import os
import random
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig

# imported now, not inside a test: modules that give their logger a StreamHandler on import (Lightning) would bind
# it to that test's captured stderr, which is closed once the test ends
from seqconv.cli import eval as eval_entry
from seqconv.cli import export as export_entry
from seqconv.cli import predict as predict_entry
from seqconv.cli import train as train_entry
from seqconv.cli._exit import exit_status

_ENTRIES = {"train": train_entry, "eval": eval_entry, "export": export_entry, "predict": predict_entry}

REPO = Path(__file__).resolve().parents[2]


class Run:
    """A finished entry-point run (a subprocess, or ``main`` called in this process) and its run dir."""

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


@contextlib.contextmanager
def _process_state_restored() -> Iterator[None]:
    """Put back what an entry point changes in its process: logging handlers and levels (Hydra configures them),
    environment variables and random states (Lightning's seed), torch's thread count, warning filters and Hydra's
    singletons."""
    loggers = [
        logging.getLogger(),
        *(v for v in logging.root.manager.loggerDict.values() if isinstance(v, logging.Logger)),
    ]
    saved = [(lg, lg.handlers[:], lg.level, lg.propagate, lg.disabled) for lg in loggers]
    environ, threads, cwd = dict(os.environ), torch.get_num_threads(), os.getcwd()
    rng = random.getstate(), np.random.get_state(), torch.get_rng_state()
    GlobalHydra.instance().clear()
    try:
        with warnings.catch_warnings():
            yield
    finally:
        GlobalHydra.instance().clear()
        HydraConfig.instance().cfg = None
        os.chdir(cwd)
        torch.set_num_threads(threads)
        random.setstate(rng[0])
        np.random.set_state(rng[1])
        torch.set_rng_state(rng[2])
        os.environ.clear()
        os.environ.update(environ)
        for lg in logging.root.manager.loggerDict.values():
            if isinstance(lg, logging.Logger) and lg not in loggers:  # created by the run
                lg.handlers.clear()
        for lg, handlers, level, propagate, disabled in saved:
            for handler in set(lg.handlers) - set(handlers):
                handler.close()
            lg.handlers[:] = handlers
            lg.setLevel(level)
            lg.propagate, lg.disabled = propagate, disabled


@pytest.fixture
def run_in_process(tmp_path, monkeypatch, capsys):
    """``run_entry`` for runs that stop early (user errors, exit status 2): the entry point's ``main`` is called
    in this process with ``sys.argv`` as a shell would set it, which spares the 6-9 s an interpreter and its imports
    cost per run. The returned run's ``proc`` holds the exit status and the captured stdout and stderr, as a
    subprocess's would (an unexpected error ends as Hydra ends it: status 1 and a traceback on stderr). Each entry
    point keeps subprocess tests of its own, which prove the script and the console command themselves."""
    counter = iter(range(1000))

    def run(script: str, *overrides: str, run_dir: Path | None = None) -> Run:
        run_dir = run_dir or tmp_path / f"run_in_process{next(counter)}"
        entry = Path(script).stem
        # as run_entry; export.py and predict.py have no trainer and no paths.root_dir
        trainer = [f"paths.root_dir={tmp_path}", "trainer.accelerator=cpu"] if entry in ("train", "eval") else []
        argv = [script, f"hydra.run.dir={run_dir}", *trainer, *overrides]
        main = _ENTRIES[entry].main
        monkeypatch.setattr(sys, "argv", argv)
        capsys.readouterr()  # only this run's output
        code = 0
        with _process_state_restored():
            try:
                main()
            except SystemExit as stop:
                code = exit_status(stop)  # the interpreter's own mapping, as the scripts' exit applies it
        out = capsys.readouterr()
        return Run(subprocess.CompletedProcess(argv, code, out.out, out.err), run_dir)

    return run


class OfflineWandb:
    """W&B kept offline for a test (no API key anywhere, so it must go offline by itself), and its runs read back
    with ``wandb leet inspect``."""

    def __init__(self, home: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB")}
        self.env["HOME"] = str(home)  # no ~/.netrc

    def inspect(self, run_dir: Path, *args: str) -> str:
        """``wandb leet inspect ARGS`` of the one offline run under ``run_dir/wandb``; its output."""
        (offline_run,) = (run_dir / "wandb").glob("offline-run-*")
        proc = subprocess.run(
            [str(Path(sys.executable).parent / "wandb"), "leet", "inspect", *args, str(offline_run)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout


@pytest.fixture
def offline_wandb(tmp_path) -> OfflineWandb:
    return OfflineWandb(tmp_path)
