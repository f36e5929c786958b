"""Ship trained networks: export (TorchScript, ``torch.export``, ONNX) with parity checks, sidecar JSON, prediction.

A checkpoint becomes a plain network with :func:`load_run`; :func:`export_network` writes it in one of
:data:`FORMATS` and proves it matches eager on random and real inputs; :func:`describe_run` and
:func:`write_sidecar` record what a consumer needs without seqconv; :func:`predict_file` turns raw prices, audio or
text into predictions with either the checkpoint or the export.
"""

from seqconv.export.checkpoint import DOMAINS, LoadedRun, expected_model_class, load_run, real_batch
from seqconv.export.exporters import (
    FORMAT_NAMES,
    FORMATS,
    SUFFIXES,
    TORCHSCRIPT_METHODS,
    ExportResult,
    ParityError,
    export_module,
    flatten_tensors,
    load_runner,
    max_abs_diff,
)
from seqconv.export.network import export_network, length_is_dynamic, random_like
from seqconv.export.predictors import (
    as_predict_fn,
    check_output_path,
    classify_audio,
    classify_text,
    forecast_csv,
    predict_file,
    write_predictions,
)
from seqconv.export.sidecar import SCHEMA, describe_run, read_sidecar, sidecar_path, tokenizer_path, write_sidecar

__all__ = [
    "DOMAINS",
    "FORMATS",
    "FORMAT_NAMES",
    "SCHEMA",
    "SUFFIXES",
    "TORCHSCRIPT_METHODS",
    "ExportResult",
    "LoadedRun",
    "ParityError",
    "as_predict_fn",
    "check_output_path",
    "classify_audio",
    "classify_text",
    "describe_run",
    "export_module",
    "export_network",
    "expected_model_class",
    "flatten_tensors",
    "forecast_csv",
    "length_is_dynamic",
    "load_run",
    "load_runner",
    "max_abs_diff",
    "predict_file",
    "random_like",
    "read_sidecar",
    "real_batch",
    "sidecar_path",
    "tokenizer_path",
    "write_predictions",
    "write_sidecar",
]
