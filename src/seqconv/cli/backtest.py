"""``python backtest.py [train.py overrides] backtest.folds=5`` / ``seqconv-backtest``: a walk-forward backtest.

For each fold: fit the preprocessor on the rows up to its cutoff only and train (``train.py``'s own code), or
reuse the last fold's model; forecast the horizon after the cutoff beside every baseline. Writes into the run
dir (or ``backtest.dir``): ``backtest.json`` (per-fold metrics with cutoffs, and the aggregate over every
forecast point), ``backtest.csv`` (every forecast) and ``backtest.png``; each fold's result lands in
``folds/fold_<k>/result.json`` first, so a killed backtest re-run with the same command finishes only the folds
that have none, and parallel fold jobs (``-m backtest.fold=...``) share the work. ``backtest.jobs=N`` runs the
folds in ``N`` worker processes of this command (one torch thread each), then aggregates.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, NoReturn

import hydra
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from seqconv.backtest import (
    Fold,
    aggregate_scores,
    fold_forecast,
    forecast_rows,
    plan_folds,
    plot_backtest,
    read_fold,
    write_backtest,
    write_fold,
)
from seqconv.cli._errors import user_errors_exit
from seqconv.cli._exit import run_and_exit
from seqconv.cli._overrides import run_checked
from seqconv.cli.train import train
from seqconv.data.stocks import StocksDataModule
from seqconv.errors import ConfigError
from seqconv.export import load_run
from seqconv.pipeline import build_trainer, configure_outputs, restore_datamodule
from seqconv.training import finish_wandb_run, load_run_checkpoint

__all__ = ["backtest", "main"]

log = logging.getLogger(__name__)


def _fold_dir(out: Path, index: int) -> Path:
    return out / "folds" / f"fold_{index}"


def _train_fold(cfg: DictConfig, fold_dir: Path, cutoff: str, train_start: str | None) -> str:
    """Train the fold's model with train.py's code in ``fold_dir`` (resuming a killed one); its best checkpoint."""
    fold_cfg = cfg.copy()
    OmegaConf.set_struct(fold_cfg, False)
    fold_cfg.data.cutoff, fold_cfg.data.train_start = cutoff, train_start
    fold_cfg.paths.output_dir = str(fold_dir)
    fold_cfg.test = False
    fold_cfg.ckpt_path = "last" if any((fold_dir / "checkpoints").glob("*.ckpt")) else None
    del fold_cfg["backtest"]
    try:
        train(fold_cfg)
    finally:
        finish_wandb_run()  # each fold's training is a W&B run of its own (W&B would hand the next fold this one)
    best = OmegaConf.load(fold_dir / "metrics.json").get("best_model_path")
    if not best:
        raise ConfigError(f"{fold_dir}: training wrote no best checkpoint; keep callbacks.model_checkpoint enabled")
    return str(best)


def backtest(cfg: DictConfig) -> dict[str, Any] | None:
    """Run (or finish) the backtest ``cfg`` describes; returns the aggregate scores (``None`` for one fold)."""
    bt = cfg.backtest
    out = Path(bt.dir or cfg.paths.output_dir)
    datamodule = instantiate(cfg.data, _convert_="all")
    if not isinstance(datamodule, StocksDataModule):
        raise ConfigError(f"backtest.py backtests forecasting data (data=stocks...), not {cfg.data.get('_target_')}")
    if cfg.data.get("cutoff") is not None:
        raise ConfigError("data.cutoff is set by the backtest per fold; drop it (use backtest.cutoffs)")
    configure_outputs(cfg.task, datamodule)
    pre = datamodule.preprocessor
    plan = plan_folds(
        datamodule.row_dates(), pre.horizon, pre.window, cfg.data.val_fraction, bt.folds, bt.step,
        list(bt.cutoffs) if bt.cutoffs else None, bt.window, bt.train_rows, bt.refit, bt.refit_every,
    )  # fmt: skip
    if bt.fold is not None and not 0 <= bt.fold < len(plan):
        raise ConfigError(f"backtest.fold={bt.fold}: the backtest has folds 0..{len(plan) - 1}")
    task_cfg = OmegaConf.to_container(cfg.task, resolve=True)
    todo = [plan[bt.fold]] if bt.fold is not None else plan
    datamodule.check_folds([(f.index, f.cutoff, f.train_start) for f in todo])  # a panel's short series, up front
    groups = _fold_groups(plan, out) if bt.fold is None else [[bt.fold]]  # one fold: auto runs it here
    jobs = worker_count(bt.jobs, len(groups), cfg.trainer.get("accelerator"))
    if jobs > 1:
        if bt.fold is not None:
            raise ConfigError("backtest.jobs runs every fold itself; drop backtest.fold (or backtest.jobs)")
        _run_in_workers(cfg, out, groups, jobs)
    fold_dm = None  # the last fold's datamodule run here; None when every fold was done already
    for fold in todo:
        result = _fold_dir(out, fold.index) / "result.json"
        if result.is_file():
            log.info("fold %d (cutoff %s): done already, %s", fold.index, fold.cutoff, result)
            continue
        if fold.refits:
            checkpoint = _train_fold(cfg, _fold_dir(out, fold.index), fold.cutoff, fold.train_start)
        else:
            source = _fold_dir(out, fold.model_fold) / "result.json"
            if not source.is_file():
                raise ConfigError(
                    f"fold {fold.index} reuses fold {fold.model_fold}'s model, which has no result yet; run the folds "
                    "in order (or with backtest.refit=true)"
                )
            checkpoint = read_fold(source)[2]
        run = load_run(checkpoint)
        overrides = {"cutoff": fold.cutoff, "train_start": fold.train_start}
        fold_dm = restore_datamodule(load_run_checkpoint(checkpoint), overrides, stage="test")
        forecast = fold_forecast(fold, run.net, fold_dm, task_cfg)
        write_fold(result, forecast, forecast_rows(forecast, pre.quantiles), checkpoint)
        log.info("fold %d (cutoff %s): %s", fold.index, fold.cutoff, _summary(forecast.metrics))
    if bt.fold is not None:
        return None
    return _aggregate(cfg, out, plan, task_cfg, fold_dm)


def _fold_groups(plan: list[Fold], out: Path) -> list[list[int]]:
    """The folds still to run, grouped by the fold whose model they use (a group runs in order in one worker), the
    group that trains on the most rows first: workers that take the longest fits first finish together instead of
    one waiting for another's last, largest fold (with expanding windows the last cutoffs train longest)."""
    groups: dict[int, list[int]] = {}
    for fold in plan:
        if not (_fold_dir(out, fold.index) / "result.json").is_file():
            groups.setdefault(fold.model_fold, []).append(fold.index)
    return sorted(groups.values(), key=lambda group: (-plan[group[0]].train_rows, group[0]))


# memory one worker may take: a fold of the built-in S&P 500 with model=tcn peaks at 0.9 GiB resident (torch,
# Lightning and the data; measured with /usr/bin/time)
WORKER_MEMORY = 3 << 29  # 1.5 GiB


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one, else every core)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def available_memory() -> int | None:
    """Bytes of memory the OS can give new processes (Linux's ``MemAvailable``), or ``None`` where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def worker_count(jobs: int | str, groups: int, accelerator: str | None = "cpu") -> int:
    """``backtest.jobs`` as a number of processes: an integer as given; ``auto`` one worker process per usable
    CPU core, at most one per fold group still to run (folds that reuse a model run in one worker) and one per
    :data:`WORKER_MEMORY` of available memory, and 1 (this process) with one group or fewer, on a single core, or
    where training would use a GPU.

    Raises:
        ConfigError: anything else than ``auto`` or a positive integer.
    """
    if jobs == "auto":
        gpu = accelerator in ("gpu", "cuda", "mps") or (accelerator == "auto" and torch.cuda.is_available())
        cores, memory = usable_cores(), available_memory()
        fit = memory // WORKER_MEMORY if memory is not None else groups
        count = 1 if gpu else max(1, min(cores, groups, fit))
        log.info("backtest.jobs=auto: %d process(es) (%d usable core(s), %d fold group(s) to run, room for %s "
                 "worker(s) in memory%s)", count, cores, groups, fit if memory is not None else "any",
                 ", training on a GPU" if gpu else "")  # fmt: skip
        return count
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ConfigError(f"backtest.jobs must be a positive number of worker processes or auto, got {jobs!r}")
    return jobs


def _run_in_workers(cfg: DictConfig, out: Path, groups: list[list[int]], jobs: int) -> None:
    """Run the fold groups of :func:`_fold_groups` (the folds without a result) in ``jobs`` worker processes, one
    torch thread each; each writes its folds' results as a ``backtest.fold=k`` job would."""
    if not groups:
        return
    jobs = min(jobs, len(groups))
    # the workers have no Hydra: its two values are fixed here, every other interpolation stays live (each fold's
    # checkpoint dir follows the paths.output_dir it is given)
    job_cfg = cfg.copy()
    OmegaConf.set_struct(job_cfg, False)
    job_cfg.paths.root_dir, job_cfg.paths.output_dir = str(cfg.paths.root_dir), str(cfg.paths.output_dir)
    job_cfg.backtest.dir, job_cfg.backtest.jobs, job_cfg.runtime.num_threads = str(out), 1, 1
    container = OmegaConf.to_container(job_cfg, resolve=False)
    method = _start_method()
    log.info("backtest.jobs: %d fold group(s) in %d worker process(es) (%s)", len(groups), jobs, method)
    sys.stdout.flush()  # a forked worker would write out what is still buffered a second time
    sys.stderr.flush()
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context(method)) as pool:
        for future in [pool.submit(_worker, container, group) for group in groups]:
            future.result()  # a failed fold stops the backtest with its error


def _start_method() -> str:
    """How worker processes start: ``fork`` on Linux unless this process has initialised CUDA (a forked child
    cannot use it), which saves each worker the 4-5 s of importing torch and Lightning again; ``spawn`` elsewhere
    (macOS' system libraries are not fork-safe, Windows has no fork). Workers run one torch thread and set it
    before any torch work, as torch's own DataLoader workers do after a fork."""
    if sys.platform == "linux" and not torch.cuda.is_initialized():
        return "fork"
    return "spawn"


def _worker(container: dict[str, Any], folds: list[int]) -> None:
    """One worker's folds, in order, each as a ``backtest.fold=k`` job, logging into ``folds/fold_<k>/fold.log``."""
    torch.set_num_threads(1)  # before anything else runs torch: a forked worker inherits the parent's count
    out = Path(container["backtest"]["dir"])
    for index in folds:
        _fold_dir(out, index).mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(_fold_dir(out, index) / "fold.log")
        handler.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
        logging.basicConfig(level=logging.INFO, handlers=[handler, logging.StreamHandler()], force=True)
        cfg = OmegaConf.create(container)
        cfg.backtest.fold = index
        backtest(cfg)


def _summary(metrics: dict[str, float]) -> str:
    keys = ("mse", "persistence_mse", "skill", "coverage")
    return ", ".join(f"{k} {metrics[k]:.4g}" for k in keys if k in metrics)


def _aggregate(cfg: DictConfig, out: Path, plan: list, task_cfg: dict, datamodule: Any) -> dict[str, Any]:
    results = [read_fold(_fold_dir(out, fold.index) / "result.json") for fold in plan]
    if datamodule is None:  # every fold was done already: any fold's datamodule gives the scoring layout
        last = plan[-1]
        datamodule = restore_datamodule(
            load_run_checkpoint(results[-1][2]), {"cutoff": last.cutoff, "train_start": last.train_start}, "test"
        )
    aggregate = aggregate_scores([r[0] for r in results], task_cfg, datamodule)
    folds = [
        {**r[0].fold.__dict__, "refits": r[0].fold.refits, "checkpoint": r[2], "metrics": r[0].metrics} for r in results
    ]
    rows = [row for r in results for row in r[1]]
    write_backtest(out, folds, aggregate, rows)
    pre = datamodule.preprocessor
    plot_backtest(out, rows, pre.quantiles, "absolute log return" if pre.answer != "price" else "price")
    _log_to_loggers(cfg, folds, aggregate, rows)
    print(f"backtest: {len(plan)} folds, {len(rows)} forecast points | {_summary(aggregate)}")
    for name in datamodule.baselines:
        key = f"{name}_mse"
        if key in aggregate:
            skill = aggregate.get("skill" if name == "persistence" else f"skill_{name}")
            print(f"  {name:<12} mse {aggregate[key]:.6g}   model skill vs {name}: {skill:+.4f}")
    print(f"results: {out / 'backtest.json'}, {out / 'backtest.csv'}, {out / 'backtest.png'}")
    return aggregate


def _log_to_loggers(cfg: DictConfig, folds: list[dict], aggregate: dict[str, float], rows: list[dict]) -> None:
    """Per-fold metrics (step = fold) and the aggregate to the configured loggers; the forecast table to W&B."""
    loggers = build_trainer(cfg).loggers if cfg.get("logger") else []
    for logger in loggers:
        for fold in folds:
            logger.log_metrics({f"backtest/fold/{k}": v for k, v in fold["metrics"].items()}, step=fold["index"])
        logger.log_metrics({f"backtest/{k}": v for k, v in aggregate.items()}, step=len(folds))
        if hasattr(logger, "log_table"):
            import pandas as pd

            logger.log_table(key="backtest/forecasts", dataframe=pd.DataFrame(rows))
        logger.finalize("success")


@hydra.main(version_base="1.3", config_path="../conf", config_name="backtest")
@user_errors_exit
def _hydra_main(cfg: DictConfig) -> dict[str, Any] | None:
    try:
        return backtest(cfg)
    finally:
        finish_wandb_run()


def main() -> dict[str, Any] | None:
    """Console entry point: Hydra, with a misspelled override key explained (exit 2)."""
    return run_checked("backtest", _hydra_main)


def entry() -> NoReturn:
    """``seqconv-backtest`` and ``python backtest.py``: :func:`main`, then an exit without the interpreter's teardown
    (:func:`~seqconv.cli._exit.run_and_exit`)."""
    run_and_exit(main)


if __name__ == "__main__":
    entry()
