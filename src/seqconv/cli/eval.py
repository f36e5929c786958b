"""``python eval.py ckpt_path=...`` / ``seqconv-eval``: re-test a checkpoint and write ``metrics.json``.

The network, task and data settings are read back from the checkpoint (``train.py`` stores the resolved
config and the fitted preprocessor in it); ``data.*`` overrides apply on top, e.g. to test on another
CSV with ``data.path=other.csv``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from seqconv.cli._errors import user_errors_exit
from seqconv.cli._overrides import check_override_keys
from seqconv.cli._report import final_metrics, print_summary
from seqconv.pipeline import apply_num_threads, build_task, build_trainer, restore_datamodule
from seqconv.training import CONFIG_KEY, load_run_checkpoint
from seqconv.utils import write_json_atomic

__all__ = ["evaluate", "main"]


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Test the checkpoint ``cfg.ckpt_path`` and write ``metrics.json`` into the run dir."""
    checkpoint = load_run_checkpoint(cfg.ckpt_path)
    datamodule = restore_datamodule(checkpoint, cfg.data, stage="test")
    task, _ = build_task(OmegaConf.create(checkpoint[CONFIG_KEY]), datamodule)
    apply_num_threads(
        cfg.runtime.num_threads, task, datamodule.test_dataloader(), bool(cfg.trainer.get("deterministic"))
    )
    trainer = build_trainer(cfg)
    trainer.test(task, datamodule=datamodule, ckpt_path=cfg.ckpt_path, weights_only=True)
    metrics: dict[str, Any] = {
        **final_metrics(trainer, "test/"),
        **task.test_report,
        "ckpt_path": str(cfg.ckpt_path),
    }
    output_dir = Path(cfg.paths.output_dir)
    write_json_atomic(output_dir / "metrics.json", metrics)
    print_summary(metrics, output_dir)
    return metrics


@hydra.main(version_base="1.3", config_path="../conf", config_name="eval")
@user_errors_exit
def _hydra_main(cfg: DictConfig) -> None:
    return evaluate(cfg)


def main() -> None:
    """Console entry point: check the override keys, then hand over to Hydra."""
    check_override_keys("eval", sys.argv[1:])
    return _hydra_main()


if __name__ == "__main__":
    main()
