"""``python eval.py ckpt_path=...`` / ``seqconv-eval``: re-test a checkpoint and write ``metrics.json``.

The network, task and data settings are read back from the checkpoint (``train.py`` stores the resolved
config and the fitted preprocessor in it); ``+data.*`` overrides apply on top, e.g. to test on another
CSV with ``+data.path=other.csv``.

``data=<group>`` (e.g. ``data=audio_folder data.path=<folder>``) tests the model on another labelled set with
any classification datamodule: the checkpoint's preprocessor (tokenizer, sample rate, class map, temperature)
is restored into it, the settings it fixes are taken from the checkpoint unless given on the command line, the
whole set is the test split (``data.test_only``), and labels are matched to the model's classes by name.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, NoReturn

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from seqconv.cli._errors import user_errors_exit
from seqconv.cli._exit import run_and_exit
from seqconv.cli._overrides import run_checked
from seqconv.cli._report import final_metrics, print_summary
from seqconv.data.preprocessor import preprocessor_from_state
from seqconv.pipeline import apply_num_threads, build_task, build_trainer, restore_datamodule
from seqconv.training import CONFIG_KEY, PREPROCESSOR_KEY, load_run_checkpoint
from seqconv.utils import write_json_atomic

__all__ = ["evaluate", "main"]

log = logging.getLogger(__name__)


def _command_line_data_keys() -> set[str]:
    """The ``data.*`` keys set on the command line (empty outside a Hydra run)."""
    if not HydraConfig.initialized():
        return set()
    keys = (override.split("=", 1)[0].lstrip("+~") for override in HydraConfig.get().overrides.task)
    return {key.removeprefix("data.") for key in keys if key.startswith("data.")}


def other_set_config(cfg: DictConfig, checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The data config of ``data=<group>`` for testing the checkpoint's model on that whole set.

    The settings the model's preprocessor fixes (sample rate, clip length, normalization, ``max_length``) are
    taken from the checkpoint unless set on the command line (then the restored preprocessor refuses a
    different value, naming the key); ``test_only`` is switched on.
    """
    stored = preprocessor_from_state(checkpoint[PREPROCESSOR_KEY], str(cfg.ckpt_path))
    explicit = _command_line_data_keys()
    with open_dict(cfg.data):  # in place, so that interpolations such as ${data.sample_rate} follow
        for key, value in stored.settings().items():
            if key in cfg.data and key not in explicit:
                cfg.data[key] = value
        cfg.data.test_only = True
    data = OmegaConf.to_container(cfg.data, resolve=True)
    log.info("testing %s on another labelled set (%s), all of it as the test split", cfg.ckpt_path, data["_target_"])
    return data


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Test the checkpoint ``cfg.ckpt_path`` and write ``metrics.json`` into the run dir."""
    checkpoint = load_run_checkpoint(cfg.ckpt_path)
    if "_target_" in cfg.data:  # data=<group>: another labelled set
        datamodule = restore_datamodule(checkpoint, stage="test", data_config=other_set_config(cfg, checkpoint))
    else:
        datamodule = restore_datamodule(checkpoint, cfg.data, stage="test")
    task, _ = build_task(OmegaConf.create(checkpoint[CONFIG_KEY]), datamodule, init_from_data=False)
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
    """Console entry point: Hydra, with a misspelled override key explained (exit 2)."""
    return run_checked("eval", _hydra_main)


def entry() -> NoReturn:
    """``seqconv-eval`` and ``python eval.py``: :func:`main`, then an exit without the interpreter's teardown
    (:func:`~seqconv.cli._exit.run_and_exit`)."""
    run_and_exit(main)


if __name__ == "__main__":
    entry()
