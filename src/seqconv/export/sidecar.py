"""The sidecar JSON next to an exported model: everything a consumer needs to feed it without seqconv.

``model.onnx`` gets ``model.onnx.json``: the input and output tensors (names, ``[B, C, L]`` layout, dtype,
dynamic axes), the fitted preprocessor's state (``preprocessing``: scalers and transform for prices; sample rate,
clip length and normalisation for audio; the tokenizer for text, in its own file ``model.onnx.tokenizer.json``)
with its steps in words, and the postprocessing of the output (inverse scaling, class names). ``predict.py``
restores the very preprocessor that built the training batches from it
(:func:`~seqconv.data.preprocessor.preprocessor_from_state`), so prediction from a checkpoint and from an export
share one code path and no transform is written twice.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch

from seqconv.errors import ConfigError
from seqconv.export.checkpoint import LoadedRun
from seqconv.export.exporters import ExportResult
from seqconv.export.network import length_is_dynamic
from seqconv.utils import write_json_atomic

__all__ = ["SCHEMA", "describe_run", "read_sidecar", "sidecar_path", "tokenizer_path", "write_sidecar"]

SCHEMA = "seqconv-export/2"  # 2: preprocessing is the fitted preprocessor's state


def sidecar_path(artifact: str | Path) -> Path:
    """``model.onnx -> model.onnx.json``."""
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + ".json")


def tokenizer_path(artifact: str | Path) -> Path:
    """``model.onnx -> model.onnx.tokenizer.json``."""
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + ".tokenizer.json")


def _length_note(dynamic: bool, eager_dynamic: bool, model_name: str, length: int | None) -> str:
    if dynamic:
        return "any length: the length axis is dynamic"
    if eager_dynamic:
        return f"exactly {length} steps: this export fixes the length (see notes)"
    return f"exactly {length} steps: {model_name}'s flatten head fixes the input length"


def describe_run(
    run: LoadedRun, result: ExportResult | None = None, example: torch.Tensor | None = None
) -> dict[str, Any]:
    """The sidecar of ``run``'s network: exported as ``result`` (``None``: the checkpoint itself).

    Args:
        run: the loaded checkpoint.
        result: what :func:`~seqconv.export.export_network` wrote, or ``None``.
        example: an input batch, for the fixed axes' sizes.
    """
    pre = run.preprocessor
    axes = result.dynamic_axes.get("x", {0: "batch"}) if result is not None else {0: "batch"}
    shape: list[int | str] | None = None
    if example is not None:
        shape = [axes.get(i, int(size)) for i, size in enumerate(example.shape)]
    dynamic_length = example is not None and (example.dim() - 1) in axes
    eager_dynamic = example is not None and length_is_dynamic(run.net, example)
    example_length = int(example.shape[-1]) if example is not None else None
    field = run.net.receptive_field() if hasattr(run.net, "receptive_field") else None
    sidecar: dict[str, Any] = {
        "schema": SCHEMA,
        "artifact": result.path.name if result is not None else None,
        "format": result.format if result is not None else "checkpoint",
        "torchscript_method": result.method if result is not None else None,
        "source_checkpoint": str(run.ckpt_path),
        "created_with": {"seqconv": version("seqconv"), "torch": torch.__version__},
        "task": pre.domain,
        "model": {"class": run.model_name, "config": run.net_config, "receptive_field": field},
        "inputs": [
            {
                "name": "x",
                **pre.input_spec(),
                "shape": shape,
                "dynamic_axes": {str(k): v for k, v in axes.items()},
                "length": _length_note(dynamic_length, eager_dynamic, run.model_name, example_length),
            }
        ],
        "outputs": [
            {
                "name": "y",
                "shape": ["batch", run.net_config.get("out_features") or run.net_config.get("num_classes")],
                "dtype": "float32",
                "meaning": pre.output_spec()["meaning"],
            }
        ],
        "preprocessing": {**pre.state_dict(), "steps": pre.describe()},
        "postprocessing": pre.output_spec(),
    }
    if result is not None:
        sidecar["parity"] = {"tolerance": result.tolerance, "max_abs_diff": result.max_abs_diff}
        sidecar["notes"] = list(result.notes)
    return sidecar


def write_sidecar(sidecar: dict[str, Any], artifact: str | Path) -> Path:
    """Write ``sidecar`` beside ``artifact`` (atomically); a text tokenizer goes to its own file beside it."""
    sidecar = json.loads(json.dumps(sidecar))  # a deep copy of plain data
    pre = sidecar.get("preprocessing", {})
    if "tokenizer" in pre:
        vocab = write_json_atomic(tokenizer_path(artifact), pre.pop("tokenizer"))
        pre["tokenizer_file"] = vocab.name
    return write_json_atomic(sidecar_path(artifact), sidecar)


def read_sidecar(artifact: str | Path) -> dict[str, Any]:
    """The sidecar of ``artifact``, its tokenizer file loaded back in (under ``preprocessing.tokenizer``).

    Raises:
        ConfigError: no sidecar, or not a seqconv sidecar.
    """
    path = sidecar_path(artifact)
    if not path.is_file():
        raise ConfigError(
            f"{artifact}: no sidecar {path.name} beside it; predict from an exported model needs the JSON that "
            "export.py writes next to it (or pass ckpt_path=...)"
        )
    try:
        sidecar = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(sidecar, dict) or sidecar.get("schema") != SCHEMA:
        raise ConfigError(f"{path}: not a seqconv export sidecar (expected schema {SCHEMA!r})")
    pre = sidecar.get("preprocessing", {})
    if "tokenizer_file" in pre:
        vocab = path.with_name(pre["tokenizer_file"])
        if not vocab.is_file():
            raise ConfigError(f"{path}: its tokenizer file {vocab.name} is missing beside it")
        pre["tokenizer"] = json.loads(vocab.read_text())
    return sidecar
