"""The sidecar JSON next to an exported model: everything a consumer needs to feed it without seqconv.

``model.onnx`` gets ``model.onnx.json``: the input and output tensors (names, ``[B, C, L]`` layout, dtype,
dynamic axes), the preprocessing that turns raw data into the input (scalers and transform for prices; sample
rate, clip length and normalisation for audio; the tokenizer for text, in its own file
``model.onnx.tokenizer.json``) and the postprocessing of the output (inverse scaling, class names). The same
description, built in memory from a checkpoint, drives ``predict.py``, so prediction from a checkpoint and from
an export share one code path.
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

SCHEMA = "seqconv-export/1"

_FORECAST_STEPS = [
    "read the CSV columns preprocessing.columns (names match case-insensitively, ignoring spaces, '_' and '-'), "
    "rows in ascending date order",
    "transform 'log_return': x_t = log(v_t / v_(t-1)) per column (one row fewer); 'level': x_t = v_t",
    "scale each column: (x - feature_scaler.mean[c]) / feature_scaler.std[c]",
    "input x: the last `window` rows, transposed to [1, C, window] float32 ([B, C, L])",
]
_AUDIO_STEPS = [
    "decode, mix down to mono (mean of the channels), resample to sample_rate",
    "normalize 'peak': divide by max |x| (silence unchanged); 'rms': subtract the mean, divide by the std; "
    "'none': unchanged",
    "crop the centre of a longer clip, or zero-pad a shorter one equally on both sides, to clip_samples",
    "input x: [B, clip_samples] float32 (mono waveforms [B, T]; the model adds the channel axis itself)",
]
_TEXT_STEPS = [
    "replace the HTML line breaks '<br />' with spaces and strip the ends (seqconv.data.text.clean_review)",
    "encode with the tokenizer in tokenizer_file (kind 'word': lower-case, then regex \\w+(?:'\\w+)*|[^\\w\\s] "
    "tokens looked up in 'vocab', unknown -> unk_id; 'char': one token per character; 'subword': a Hugging Face "
    "tokenizers JSON)",
    "keep the first max_length ids; an empty text becomes [unk_id]",
    "input x: [B, L] int64 ids, right-padded with pad_id to the longest text of the batch",
]


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


def _domain(run: LoadedRun) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """``(input, preprocessing, postprocessing)`` for the run's domain."""
    data, state, net = run.config.get("data", {}), run.data_state, run.net_config
    classes = run.class_names
    classify = {"class_names": classes, "activation": "softmax over the logits y[:, k]; class = argmax"}
    if run.domain == "forecasting":
        transform = run.config["task"].get("target_transform") or data.get("transform")
        target = state.get("target_scaler") or {"mean": [0.0], "std": [1.0]}
        features = [str(c) for c in data.get("features", ["close"])]
        pre = {
            "columns": features,
            "target": str(data.get("target", "close")),
            "date_column": str(data.get("date_column", "date")),
            "transform": transform,
            "window": int(data.get("window", net.get("input_length", 0))),
            "horizon": int(data.get("horizon", 1)),
            "feature_scaler": state.get("feature_scaler"),
            "steps": _FORECAST_STEPS,
        }
        formula = (
            "price = target_mean + target_std * y"
            if transform == "level"
            else "price = last_price * exp(target_mean + target_std * y), last_price = the target column's last value"
        )
        post = {
            "target_transform": transform,
            "target_mean": float(target["mean"][0]),
            "target_std": float(target["std"][0]),
            "formula": formula,
            "forecast_of": f"the {pre['target']} column {pre['horizon']} step(s) after the window's last row",
        }
        return {"layout": "[B, C, L]", "dtype": "float32", "channels": len(features)}, pre, post
    if run.domain == "audio":
        rate, clip = int(state["sample_rate"]), int(state["clip_length"])
        pre = {
            "sample_rate": rate,
            "clip_samples": clip,
            "clip_seconds": clip / rate,
            "mono": "mean of the channels",
            "normalize": state.get("normalize", "peak"),
            "steps": _AUDIO_STEPS,
        }
        return {"layout": "[B, T] mono waveforms", "dtype": "float32"}, pre, classify
    if run.domain == "text":
        tokenizer = state["tokenizer"]
        pre = {
            "tokenizer": tokenizer,
            "tokenizer_kind": tokenizer.get("kind"),
            "pad_id": int(net.get("padding_idx", 0)),
            "unk_id": 1,
            "max_length": int(data.get("max_length", 0)) or None,
            "steps": _TEXT_STEPS,
        }
        return {"layout": "[B, L] token ids", "dtype": "int64"}, pre, classify
    return {"layout": "[B, C, L]", "dtype": "float32"}, {}, classify


def describe_run(
    run: LoadedRun, result: ExportResult | None = None, example: torch.Tensor | None = None
) -> dict[str, Any]:
    """The sidecar of ``run``'s network: exported as ``result`` (``None``: the checkpoint itself).

    Args:
        run: the loaded checkpoint.
        result: what :func:`~seqconv.export.export_network` wrote, or ``None``.
        example: an input batch, for the fixed axes' sizes.
    """
    input_info, pre, post = _domain(run)
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
        "task": run.domain,
        "model": {"class": run.model_name, "config": run.net_config, "receptive_field": field},
        "inputs": [
            {
                "name": "x",
                **input_info,
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
                "meaning": "scaled forecast (see postprocessing)" if run.domain == "forecasting" else "class logits",
            }
        ],
        "preprocessing": pre,
        "postprocessing": post,
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
