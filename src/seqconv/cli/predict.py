"""``python predict.py ckpt_path=... input=...`` / ``seqconv-predict``: predictions on raw prices, audio or text.

The model is a ``train.py`` checkpoint (``ckpt_path``) or a model written by ``export.py`` (``model_path``, with
its sidecar JSON beside it); both go through the same fitted preprocessor, stored in either. Predictions go to
``output`` (``.csv`` or ``.json``, written atomically) or are printed as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

import hydra
from omegaconf import DictConfig

from seqconv.cli._errors import user_errors_exit
from seqconv.cli._exit import run_and_exit
from seqconv.cli._overrides import run_checked
from seqconv.data.preprocessor import Preprocessor, preprocessor_from_state
from seqconv.errors import ConfigError
from seqconv.export import (
    as_predict_fn,
    check_output_path,
    expected_model_class,
    load_run,
    load_runner,
    predict_file,
    read_sidecar,
    write_predictions,
)

__all__ = ["load_predictor", "main", "predict"]


def load_predictor(cfg: DictConfig) -> tuple[Any, Preprocessor, str]:
    """``(predict_fn, preprocessor, model class name)`` from ``cfg.ckpt_path`` or ``cfg.model_path``."""
    if (cfg.ckpt_path is None) == (cfg.model_path is None):
        raise ConfigError("pass exactly one of ckpt_path=<train.py checkpoint> or model_path=<exported model>")
    if cfg.ckpt_path is not None:
        run = load_run(cfg.ckpt_path, cfg.expect_model)
        return as_predict_fn(run.net), run.preprocessor, run.model_name
    path = Path(cfg.model_path)
    if not path.is_file():
        raise ConfigError(f"model_path={str(path)!r}: no such file (export.py prints where it wrote the model)")
    sidecar = read_sidecar(path)
    if cfg.expect_model is not None:
        expected = expected_model_class(cfg.expect_model)
        if expected != sidecar["model"]["class"]:
            raise ConfigError(
                f"{path} holds a {sidecar['model']['class']}, but expect_model={cfg.expect_model!r} asks for {expected}"
            )
    try:
        runner = load_runner(path, sidecar["format"])
    except Exception as err:  # noqa: BLE001 - each runtime raises its own types on a bad file
        raise ConfigError(f"model_path={str(path)!r}: cannot load it as {sidecar['format']} ({err})") from None
    preprocessor = preprocessor_from_state(sidecar["preprocessing"], str(path))
    return as_predict_fn(runner), preprocessor, sidecar["model"]["class"]


def predict(cfg: DictConfig) -> list[dict[str, Any]]:
    """Predict on ``cfg.input``; write ``cfg.output`` or print the predictions."""
    output = check_output_path(cfg.output)  # fail on a bad name before any work
    predict_fn, preprocessor, model_class = load_predictor(cfg)
    rows = predict_file(predict_fn, preprocessor, cfg.input, cfg.horizon, cfg.batch_size)
    if output is None:
        print(json.dumps({"predictions": rows}, indent=2))
    else:
        write_predictions(rows, output)
        print(f"{len(rows)} prediction(s) of {model_class} -> {output}")
    return rows


@hydra.main(version_base="1.3", config_path="../conf", config_name="predict")
@user_errors_exit
def _hydra_main(cfg: DictConfig) -> list[dict[str, Any]]:
    return predict(cfg)


def main() -> None:
    """Console entry point: Hydra, with a misspelled override key explained (exit 2)."""
    return run_checked("predict", _hydra_main)


def entry() -> NoReturn:
    """``seqconv-predict`` and ``python predict.py``: :func:`main`, then an exit without the interpreter's teardown
    (:func:`~seqconv.cli._exit.run_and_exit`)."""
    run_and_exit(main)


if __name__ == "__main__":
    entry()
