"""The tree keeps its shape: imports run downward only (nothing imports cli/), and each transform from raw input
to model input is called from one place, the domain's preprocessor."""

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "seqconv"


def _modules() -> dict[str, ast.Module]:
    return {str(p.relative_to(SRC)): ast.parse(p.read_text(), filename=str(p)) for p in sorted(SRC.rglob("*.py"))}


def _imported(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_nothing_below_cli_imports_cli():
    offenders = {
        name: sorted(m for m in _imported(tree) if m == "seqconv.cli" or m.startswith("seqconv.cli."))
        for name, tree in _modules().items()
        if not name.startswith("cli/")
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_data_imports_no_task_export_or_training_code():
    upward = ("seqconv.tasks", "seqconv.export", "seqconv.training", "seqconv.pipeline", "seqconv.cli")
    offenders = {
        name: sorted(m for m in _imported(tree) if m.startswith(upward))
        for name, tree in _modules().items()
        if name.startswith("data/")
    }
    assert {name: found for name, found in offenders.items() if found} == {}


# each raw-input transform, and the one module allowed to call it (besides the module that defines it)
_TRANSFORMS = {
    "log_returns": "data/stocks/preprocessor.py",
    "forecast_targets": "data/stocks/preprocessor.py",
    "clean_review": "data/text/preprocessor.py",
    "fix_length": "data/audio/preprocessor.py",
    "normalize_clip": "data/audio/preprocessor.py",
    "pad_batch": "data/text/preprocessor.py",
}


def _calls() -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                found[called].add(name)
    return found


@pytest.mark.parametrize("transform", sorted(_TRANSFORMS))
def test_each_transform_is_applied_in_one_place(transform):
    callers = _calls()[transform] - {_TRANSFORMS[transform]}
    # the dataset that serves padded batches pads with the same function the preprocessor uses
    allowed = {"data/text/dataset.py"} if transform == "pad_batch" else set()
    assert callers <= allowed, f"{transform} is also called from {sorted(callers - allowed)}"


def test_log_returns_and_scaling_are_not_written_again():
    """No second hand-written log return (np.diff of np.log) or standardization ((x - mean) / std) in the library."""
    hits = []
    for name, tree in _modules().items():
        if name in ("data/stocks/preprocessor.py", "data/scaling.py") or name.startswith("bench/"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and ast.unparse(node.func) in ("np.diff", "numpy.diff"):
                if any(isinstance(a, ast.Call) and ast.unparse(a.func) in ("np.log", "numpy.log") for a in node.args):
                    hits.append(f"{name}:{node.lineno} log returns")
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
                left, right = ast.unparse(node.left), ast.unparse(node.right)
                if "mean" in left and "-" in left and "std" in right:
                    hits.append(f"{name}:{node.lineno} standardization")
    assert hits == []
