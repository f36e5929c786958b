"""``python eval.py ckpt_path=...`` / ``seqconv-eval``: re-test a checkpoint and write ``metrics.json``.

The network, task and data settings are read back from the checkpoint (``train.py`` stores the resolved
config and the datamodule's fitted state in it); ``data.*`` overrides apply on top, e.g. to test on another
CSV with ``data.path=other.csv``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

from seqconv.cli._errors import user_errors_exit
from seqconv.cli._overrides import check_override_keys
from seqconv.cli._report import final_metrics, print_summary
from seqconv.errors import ConfigError
from seqconv.pipeline import apply_num_threads, build_task, build_trainer
from seqconv.utils import write_json_atomic

__all__ = ["evaluate", "load_run_checkpoint", "main"]


def load_run_checkpoint(path: str | Path) -> dict:
    """Load a seqconv checkpoint on the CPU, with a clear error for a missing or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"ckpt_path={str(path)!r}: no such file (look under <run dir>/checkpoints/)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any load failure means "not a (safe) checkpoint"
        raise ConfigError(f"ckpt_path={str(path)!r} is not a readable PyTorch checkpoint ({err})") from None
    if not isinstance(checkpoint, dict) or "seqconv_config" not in checkpoint:
        raise ConfigError(
            f"ckpt_path={str(path)!r} is not a seqconv training checkpoint (no stored run config); "
            "pass a .ckpt written by train.py"
        )
    return checkpoint


def evaluate(cfg: DictConfig) -> dict[str, float | str]:
    """Test the checkpoint ``cfg.ckpt_path`` and write ``metrics.json`` into the run dir."""
    checkpoint = load_run_checkpoint(cfg.ckpt_path)
    run_cfg = OmegaConf.create(checkpoint["seqconv_config"])
    run_cfg.data = OmegaConf.merge(run_cfg.data, cfg.data)
    datamodule = hydra.utils.instantiate(run_cfg.data, _convert_="all")
    datamodule.load_state_dict(checkpoint.get("seqconv_data_state", {}))
    datamodule.prepare_data()
    datamodule.setup("test")
    task, _ = build_task(run_cfg, datamodule)
    apply_num_threads(
        cfg.runtime.num_threads, task, datamodule.test_dataloader(), bool(cfg.trainer.get("deterministic"))
    )
    trainer = build_trainer(cfg)
    trainer.test(task, datamodule=datamodule, ckpt_path=cfg.ckpt_path, weights_only=True)
    metrics: dict[str, float | str] = {**final_metrics(trainer, "test/"), "ckpt_path": str(cfg.ckpt_path)}
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
