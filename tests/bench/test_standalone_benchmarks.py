"""The stand-alone benchmarks run as ``python -m seqconv.bench.<name>``; the plain-loop baseline stays plain."""

import ast
import json
import runpy
import sys
import time
from importlib import resources

import pytest

from seqconv.bench.end_to_end import BASELINE
from seqconv.bench.inference import per_call
from seqconv.bench.measure import read_json, run_python

MODULES = ["seqconv.bench", "seqconv.bench.inference", "seqconv.bench.textcnn", "seqconv.bench.audio"]
MODULES += ["seqconv.bench.plain_loop"]


@pytest.mark.parametrize("module", MODULES)
def test_every_benchmark_prints_its_help_as_a_module(module, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [module, "--help"])
    monkeypatch.delitem(sys.modules, module, raising=False)  # run it afresh, as ``python -m`` does
    with pytest.raises(SystemExit) as exit_:
        runpy.run_module(module, run_name="__main__")
    assert exit_.value.code == 0
    usage = "seqconv-bench" if module == "seqconv.bench" else f"python -m {module}"
    assert capsys.readouterr().out.startswith(f"usage: {usage}")


def test_the_plain_loop_baseline_imports_nothing_from_seqconv():
    source = resources.files("seqconv.bench").joinpath("plain_loop.py").read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported == {"__future__", "argparse", "json", "time", "numpy", "torch"}


def test_the_suite_runs_the_plain_loop_baseline_from_any_working_directory(tmp_path):
    out = tmp_path / "baseline.json"
    run_python([*BASELINE, "--epochs", "1", "--split", "chronological", "--json", str(out)], tmp_path, timeout=300)
    results = read_json(out)
    assert results["split"] == "chronological" and results["train_windows"] == 600 and results["test_mse"] > 0
    assert json.loads(out.read_text()) == results


def test_inference_timings_are_per_call():
    seconds = per_call({"sleep": lambda: time.sleep(0.002), "noop": lambda: None}, calls=5, rounds=2)
    assert set(seconds) == {"sleep", "noop"}
    assert 0.002 <= seconds["sleep"] < 0.1 and seconds["noop"] < 0.002
