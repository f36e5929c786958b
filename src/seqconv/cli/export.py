"""``python export.py ckpt_path=... format=torchscript|export|onnx`` / ``seqconv-export``: ship a network.

Loads the plain network from a ``train.py`` checkpoint (weights only, no Lightning), exports it with a dynamic
batch axis (and length axis unless a flatten head fixes it), checks the artifact against eager on random inputs
and on a batch of the checkpoint's test split, and writes a sidecar JSON beside it. A failed check leaves no file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import hydra
from omegaconf import DictConfig

from seqconv.cli._errors import user_errors_exit
from seqconv.cli._exit import run_and_exit
from seqconv.cli._overrides import run_checked
from seqconv.errors import ConfigError
from seqconv.export import FORMATS, SUFFIXES, describe_run, export_network, load_run, real_batch, write_sidecar
from seqconv.streaming import describe_streaming, export_streaming_step, streaming_step

__all__ = ["export_checkpoint", "main"]


def export_checkpoint(cfg: DictConfig) -> dict[str, Any]:
    """Export ``cfg.ckpt_path`` as ``cfg.format``; returns the sidecar written beside the artifact."""
    if cfg.format not in FORMATS:
        raise ConfigError(f"unknown format={cfg.format!r}; choose one of {list(FORMATS)}")
    if cfg.tolerance is None or not cfg.tolerance >= 0:
        raise ConfigError(f"tolerance must be a number >= 0, got {cfg.tolerance!r}")
    output = Path(cfg.output) if cfg.output else Path(cfg.paths.output_dir) / f"model{SUFFIXES[cfg.format]}"
    run = load_run(cfg.ckpt_path, cfg.expect_model)
    real = real_batch(run, cfg.data, cfg.parity_rows) if cfg.real_inputs else None
    example = real[:4] if real is not None else run.example_input()
    if cfg.streaming:
        try:
            step = streaming_step(run.net)
        except ValueError as err:
            raise ConfigError(f"streaming=true: {err}") from None
        result = export_streaming_step(
            step, output, cfg.format, method=cfg.torchscript_method, real=real, tolerance=cfg.tolerance, opset=cfg.opset
        )
    else:
        result = export_network(
            run.net,
            output,
            cfg.format,
            example,
            real=real,
            method=cfg.torchscript_method,
            dynamic_length=cfg.dynamic_length,
            tolerance=cfg.tolerance,
            opset=cfg.opset,
        )
    try:
        sidecar = describe_run(run, result, example)
        if cfg.streaming:
            sidecar.update(describe_streaming(step))
        meta = write_sidecar(sidecar, output)
    except BaseException:
        output.unlink(missing_ok=True)
        raise
    x = sidecar["inputs"][0]
    method = f" ({result.method})" if result.method else ""
    what = "the streaming step of " if cfg.streaming else ""
    print(f"exported {what}{run.model_name} -> {output} [{cfg.format}{method}]")
    print(f"  input x: {x['shape']} {x['dtype']}, {x['layout']}; length: {x.get('length', 'any chunk length')}")
    if cfg.streaming:
        print(f"  state: {', '.join(str(s['shape']) for s in sidecar['inputs'][1:])} (zeros to start a stream)")
    diffs = ", ".join(f"{name} {diff:.2e}" for name, diff in result.max_abs_diff.items())
    print(f"  parity max |exported - eager|: {diffs} (tolerance {result.tolerance:g})")
    for note in result.notes:
        print(f"  note: {note}")
    print(f"  sidecar: {meta}")
    return sidecar


@hydra.main(version_base="1.3", config_path="../conf", config_name="export")
@user_errors_exit
def _hydra_main(cfg: DictConfig) -> dict[str, Any]:
    return export_checkpoint(cfg)


def main() -> None:
    """Console entry point: Hydra, with a misspelled override key explained (exit 2)."""
    return run_checked("export", _hydra_main)


def entry() -> NoReturn:
    """``seqconv-export`` and ``python export.py``: :func:`main`, then an exit without the interpreter's teardown
    (:func:`~seqconv.cli._exit.run_and_exit`)."""
    run_and_exit(main)


if __name__ == "__main__":
    entry()
