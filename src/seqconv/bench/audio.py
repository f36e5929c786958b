"""Benchmark ``model=audiocnn data=digits``: test accuracy and training wall time, standard and held-out-speaker.

Runs the same pipeline as ``train.py`` (Hydra config, datamodule, task, trainer, best checkpoint tested) once
per split, with training capped at ``--minutes`` of wall time (``trainer.max_time``):

* ``standard``: FSDD's own split (recordings 0-4 of every digit and speaker are the test set);
* ``speaker:<name>``: every recording of ``<name>`` is the test set, so the model never heard that voice.

    python -m seqconv.bench.audio --url data/fsdd_mirror/v1.0.10.zip --speakers rms scotm
    python -m seqconv.bench.audio --url data/fsdd_mirror/v1.0.10.zip -- model.net.frontend=mel

Extra Hydra overrides go after ``--``. Results are printed as a table and written to ``--out``/results.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import lightning as L
import torch
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from lightning.pytorch.callbacks import Callback

from seqconv.pipeline import apply_num_threads, build_datamodule, build_task, build_trainer, count_parameters


class FitTimer(Callback):
    """Wall time of ``trainer.fit`` (training and validation epochs, not data set-up or testing)."""

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.start = time.perf_counter()

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.seconds = time.perf_counter() - self.start


def run(name: str, overrides: list[str], out: Path) -> dict:
    """Train and test one configuration; return its numbers."""
    run_dir = out / name.replace(":", "_")
    GlobalHydra.instance().clear()
    with initialize_config_module("seqconv.conf", version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[f"paths.root_dir={out}", f"paths.output_dir={run_dir}", "logger=none", *overrides],
            return_hydra_config=True,
        )
    HydraConfig.instance().set_config(cfg)
    L.seed_everything(cfg.seed, workers=True)
    datamodule = build_datamodule(cfg.data)
    task, _ = build_task(cfg, datamodule)
    threads = apply_num_threads(cfg.runtime.num_threads, task, datamodule.train_dataloader())
    timer = FitTimer()
    trainer = build_trainer(cfg, [timer])
    trainer.fit(task, datamodule=datamodule)
    best = trainer.checkpoint_callback.best_model_path
    (tested,) = trainer.test(task, datamodule=datamodule, ckpt_path=best, weights_only=False, verbose=False)
    return {
        "run": name,
        "test_acc": tested["test/acc"],
        "train_seconds": round(timer.seconds, 1),
        "epochs": trainer.current_epoch,
        "train_clips": len(datamodule.datasets["train"]),
        "test_clips": len(datamodule.datasets["test"]),
        "parameters": count_parameters(task.net),
        "threads": threads,
        "device": "cpu" if not torch.cuda.is_available() else torch.cuda.get_device_name(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m seqconv.bench.audio", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", required=True, help="FSDD archive (URL, file:// or local path)")
    parser.add_argument("--speakers", nargs="*", default=[], help="speakers to hold out, one run each")
    parser.add_argument("--minutes", type=float, default=5.0, help="training wall-time cap per run")
    parser.add_argument(
        "--max-epochs", type=int, default=None, help="epoch budget (default: the data's, conf/stopping/digits.yaml)"
    )
    parser.add_argument("--skip-standard", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("logs/bench_audio"))
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides (after --)")
    args = parser.parse_args()
    args.out = args.out.resolve()
    url = str(Path(args.url).resolve()) if Path(args.url).exists() else args.url
    seconds = round(args.minutes * 60)
    common = [
        "model=audiocnn",
        "data=digits",
        f"data.url={url}",
        f"+trainer.max_time='00:{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}'",
        *([f"trainer.max_epochs={args.max_epochs}"] if args.max_epochs else []),  # one-cycle spans this budget
        "+trainer.enable_progress_bar=false",
        "callbacks.progress_bar=null",
        *args.overrides,
    ]
    runs = [] if args.skip_standard else [("standard", [])]
    runs += [(f"speaker:{s}", ["data.split=speaker", f"data.test_speakers=[{s}]"]) for s in args.speakers]
    results = []
    for name, extra in runs:
        results.append(run(name, [*common, *extra], args.out))
        print(json.dumps(results[-1]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps({"overrides": common, "results": results}, indent=1) + "\n")
    print("\n| run | test acc | training wall time | epochs | train / test clips |\n|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['run']} | {r['test_acc']:.4f} | {r['train_seconds']:.0f} s | {r['epochs']} | "
            f"{r['train_clips']} / {r['test_clips']} |"
        )


if __name__ == "__main__":
    main()
