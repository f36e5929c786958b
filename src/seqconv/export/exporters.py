"""Export a plain network to TorchScript, ``torch.export`` or ONNX, and prove the file computes what eager does.

Every export is written under a temporary name beside its destination, loaded back, run on the check inputs
next to the eager module, and renamed into place only when the largest absolute difference is within the
tolerance; otherwise the temporary file is removed and :class:`ParityError` is raised.

Modules may take several inputs, each a tensor or a list of tensors (the streaming steps take ``(x, state)``);
ONNX names the flattened inputs ``input_names`` and outputs ``output_names`` in that order.
"""

from __future__ import annotations

import contextlib
import math
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seqconv.errors import ConfigError, SeqconvError
from seqconv.utils.io import atomic_path

__all__ = [
    "FORMATS",
    "FORMAT_NAMES",
    "SUFFIXES",
    "TORCHSCRIPT_METHODS",
    "ExportResult",
    "ParityError",
    "export_module",
    "flatten_tensors",
    "load_runner",
    "max_abs_diff",
]

FORMATS = ("torchscript", "export", "onnx")
TORCHSCRIPT_METHODS = ("trace", "script")
SUFFIXES = {"torchscript": ".pt", "export": ".pt2", "onnx": ".onnx"}
FORMAT_NAMES = {"torchscript": "TorchScript", "export": "torch.export", "onnx": "ONNX"}

Args = tuple[Any, ...]  # module inputs: tensors or lists of tensors
Runner = Callable[..., Any]


class ParityError(SeqconvError):
    """An exported model whose outputs differ from eager by more than the tolerance."""


@dataclass
class ExportResult:
    """What :func:`export_module` wrote and how close it came to eager.

    Attributes:
        path: the artifact.
        format: ``"torchscript"``, ``"export"`` or ``"onnx"``.
        method: ``"trace"`` or ``"script"`` for TorchScript, else ``None``.
        dynamic_axes: per flattened input and output name, ``{axis: symbolic name}``.
        max_abs_diff: per check input, the largest ``|exported - eager|`` over all outputs.
        tolerance: the bound those had to meet.
        notes: what a consumer should know (e.g. an axis that had to be fixed).
    """

    path: Path
    format: str
    method: str | None
    dynamic_axes: dict[str, dict[int, str]]
    max_abs_diff: dict[str, float] = field(default_factory=dict)
    tolerance: float = 1e-4
    notes: list[str] = field(default_factory=list)


def flatten_tensors(value: Any) -> list[torch.Tensor]:
    """Tensors of a (nested) tuple / list in order; a tensor alone gives ``[value]``."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, list | tuple):
        return [t for item in value for t in flatten_tensors(item)]
    raise TypeError(f"expected tensors or lists of tensors, got {type(value).__name__}")


def max_abs_diff(reference: Any, candidate: Any) -> float:
    """Largest ``|candidate - reference|`` over matching tensors (``inf`` on a shape mismatch or a non-finite value)."""
    ref, cand = flatten_tensors(reference), flatten_tensors(candidate)
    if len(ref) != len(cand):
        return math.inf
    worst = 0.0
    for a, b in zip(ref, cand, strict=True):
        if a.shape != b.shape:
            return math.inf
        if a.numel():
            diff = (a.detach().float() - b.detach().float().to(a.device)).abs().max().item()
            worst = max(worst, diff if math.isfinite(diff) else math.inf)
    return worst


@contextlib.contextmanager
def _quiet_export() -> Iterator[None]:
    """Silence the tracer's notes about Python shape checks (parity at other shapes is what proves the trace)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*onnx.*", category=UserWarning)
        yield


def _script_failure(err: Exception) -> str:
    """The first line of a TorchScript compiler error and the source line it points at."""
    text = str(err).strip()
    first = text.splitlines()[0].rstrip(":") if text else type(err).__name__
    where = re.search(r'File "([^"]+)", line (\d+)', text)
    return f"{first} at {Path(where.group(1)).name}:{where.group(2)}" if where else first


def _dynamic_shapes(args: Args, names: Sequence[str], dynamic_axes: dict[str, dict[int, str]]) -> tuple[Any, ...]:
    """``torch.export`` dynamic shapes mirroring ``args``: ``Dim.AUTO`` on each dynamic axis."""
    from torch.export import Dim

    names_iter = iter(names)

    def spec(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return {axis: Dim.AUTO for axis in dynamic_axes.get(next(names_iter), {})}
        return [spec(item) for item in value]

    return tuple(spec(arg) for arg in args)


def _save(
    module: nn.Module,
    args: Args,
    path: Path,
    fmt: str,
    method: str,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: dict[str, dict[int, str]],
    opset: int,
) -> None:
    with _quiet_export(), torch.no_grad():
        if fmt == "torchscript":
            if method == "trace":
                scripted = torch.jit.trace(module, args, check_trace=False, strict=False)
            else:
                try:
                    scripted = torch.jit.script(module)
                except Exception as err:  # noqa: BLE001 - TorchScript's compiler raises many types
                    raise ConfigError(
                        f"torch.jit.script cannot compile {type(module).__name__} ({_script_failure(err)}); use "
                        "torchscript_method=trace, or format=export / format=onnx"
                    ) from None
            torch.jit.save(scripted, str(path))
        elif fmt == "export":
            program = torch.export.export(module, args, dynamic_shapes=_dynamic_shapes(args, input_names, dynamic_axes))
            torch.export.save(program, str(path))
        else:
            import onnx

            torch.onnx.export(
                module,
                args,
                str(path),
                dynamo=False,
                input_names=list(input_names),
                output_names=list(output_names),
                dynamic_axes={name: dict(axes) for name, axes in dynamic_axes.items()},
                opset_version=opset,
            )
            onnx.checker.check_model(str(path))


def load_runner(path: str | Path, fmt: str, num_threads: int | None = None) -> Runner:
    """A callable running the artifact at ``path`` like the eager module: same (nested) inputs; the outputs are the
    module's for TorchScript and ``torch.export``, and the flat list of outputs for ONNX."""
    path = Path(path)
    if fmt == "torchscript":
        with _quiet_export():
            module = torch.jit.load(str(path), map_location="cpu")
        return module.eval()
    if fmt == "export":
        return torch.export.load(str(path)).module()
    if fmt == "onnx":
        import onnxruntime as ort

        options = ort.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = num_threads
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]

        def run(*args: Any) -> list[torch.Tensor]:
            feed = dict(zip(names, (t.detach().cpu().numpy() for t in flatten_tensors(args)), strict=True))
            return [torch.from_numpy(out) for out in session.run(None, feed)]

        return run
    raise ConfigError(f"unknown format={fmt!r}; choose one of {list(FORMATS)}")


def export_module(
    module: nn.Module,
    args: Args,
    path: str | Path,
    fmt: str = "onnx",
    *,
    method: str = "trace",
    input_names: Sequence[str] = ("x",),
    output_names: Sequence[str] = ("y",),
    dynamic_axes: dict[str, dict[int, str]] | None = None,
    checks: dict[str, Args] | None = None,
    tolerance: float = 1e-4,
    opset: int = 17,
) -> ExportResult:
    """Export ``module`` (in eval mode) traced or compiled on ``args``, check parity, then move it to ``path``.

    Args:
        module: the network or streaming step, in eval mode.
        args: example inputs (a batch of at least 2 where the batch axis is dynamic: ``torch.export`` would
            specialise a batch of 1).
        path: the artifact to write.
        fmt: ``"torchscript"``, ``"export"`` or ``"onnx"``.
        method: ``"trace"`` or ``"script"`` (TorchScript only).
        input_names: names of the flattened inputs.
        output_names: names of the flattened outputs.
        dynamic_axes: per input and output name, ``{axis: symbolic name}``; other axes are fixed.
        checks: named inputs to compare exported and eager outputs on (``args`` itself when ``None``); use
            other batch sizes and lengths than ``args`` to prove the dynamic axes.
        tolerance: largest allowed absolute difference.
        opset: ONNX opset.

    Raises:
        ConfigError: unknown format or method, or a module that the method cannot handle.
        ParityError: some check differs by more than ``tolerance``; nothing is left at ``path``.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format={fmt!r}; choose one of {list(FORMATS)}")
    if fmt == "torchscript" and method not in TORCHSCRIPT_METHODS:
        raise ConfigError(f"unknown torchscript_method={method!r}; choose one of {list(TORCHSCRIPT_METHODS)}")
    if module.training:
        raise ValueError("export a module in eval mode (call .eval()): dropout and BatchNorm differ in training")
    path = Path(path)
    dynamic_axes = dynamic_axes or {}
    result = ExportResult(path, fmt, method if fmt == "torchscript" else None, dynamic_axes, tolerance=tolerance)
    with atomic_path(path, suffix=f".tmp{SUFFIXES[fmt]}") as tmp:  # the artifact appears only once it passes
        _save(module, args, tmp, fmt, method, input_names, output_names, dynamic_axes, opset)
        runner = load_runner(tmp, fmt)
        for name, check_args in (checks or {"example": args}).items():
            with torch.no_grad():
                reference = module(*check_args)
                try:
                    exported = runner(*check_args)
                except Exception as err:  # noqa: BLE001 - runtimes raise their own types on unsupported shapes
                    shapes = [tuple(t.shape) for t in flatten_tensors(check_args)]
                    raise ParityError(
                        f"the {FORMAT_NAMES[fmt]} artifact fails on the {name!r} check input {shapes} "
                        f"({str(err).splitlines()[0]}); an axis that the check varies is fixed in the artifact"
                    ) from None
            result.max_abs_diff[name] = max_abs_diff(reference, exported)
        worst = max(result.max_abs_diff.values())
        if not worst <= tolerance:
            details = ", ".join(f"{k}: {v:.3g}" for k, v in result.max_abs_diff.items())
            raise ParityError(
                f"the {FORMAT_NAMES[fmt]} export of {type(module).__name__} differs from eager by up to {worst:.3g} > "
                f"tolerance={tolerance:g} ({details}); nothing was written to {path}"
            )
    return result
