"""The benchmark suite runs and reports the rows it promises (tiny sizes; no timing is asserted)."""

import json

import numpy as np
import pytest
import torch

from seqconv.bench.cli import main
from seqconv.bench.gpu import device_steps
from seqconv.bench.measure import Context
from seqconv.bench.overhead import PARTS
from seqconv.bench.report import Row, markdown_table
from seqconv.bench.windowing import python_loop_windows
from seqconv.bench.workloads import MODEL_DATA, Workloads, has_textcnn
from seqconv.data import sliding_windows


def _rows(out):
    return json.loads((out / "results.json").read_text())["rows"]


def test_the_loop_baseline_and_sliding_windows_build_the_same_windows():
    series = np.random.default_rng(0).standard_normal(250).astype(np.float32)
    looped = python_loop_windows(series, 20)
    viewed = sliding_windows(torch.from_numpy(series)[None], 20)  # [W, 1, 20]
    np.testing.assert_array_equal(looped, viewed[:, 0].numpy())


def test_markdown_table_numbers_the_notes_and_marks_missed_goals():
    table = markdown_table(
        [Row("roofline", "a", "1", goal="g", met=True), Row("roofline", "b|c", "2", goal="g", met=False, note="why")]
    )
    assert "| roofline | a | 1 |  |  | g | yes |" in table
    assert "b\\|c" in table and "**no** [1]" in table and "1. why" in table


def test_cheap_comparisons_write_the_table_and_the_json(tmp_path, capsys):
    main(["--quick", "--out", str(tmp_path), "--only", "windowing", "overhead", "gpu", "real_data"])
    rows = _rows(tmp_path)
    by_comparison = {}
    for row in rows:
        by_comparison.setdefault(row["comparison"], []).append(row)
    assert list(by_comparison) == ["real data", "Lightning overhead", "windowing", "GPU"]  # the table's order
    assert all(r["seqconv"] == "not run" and r["met"] is None for r in by_comparison["real data"])  # no sources
    overhead = by_comparison["Lightning overhead"]
    # classic set-up (defaults <= 10%, bare <= 5%), then train.py's default data
    assert [r["goal"] for r in overhead] == ["<= 10% slower", "", "", "<= 5% slower", "<= 10% slower"]
    assert all(r["data"]["epoch_seconds"] for r in overhead)
    for row in (r for r in overhead if r["goal"]):  # where the extra time goes, part by part, and the rest
        assert "Where the extra" in row["note"] and "Lightning's loop" in row["note"]
        assert set(row["data"]["seconds_per_epoch_in"]) == set(PARTS)
    defaults = overhead[0]["data"]["seconds_per_epoch_in"]
    assert defaults["epoch metrics through self.log"] > 0 and defaults["progress bar"] > 0
    (windowing,) = by_comparison["windowing"]
    assert windowing["data"]["shares_storage"] and windowing["data"]["view_extra_bytes"] == 0
    if not torch.cuda.is_available():
        assert all(r["seqconv"] == "skipped: no GPU on this machine" for r in by_comparison["GPU"])
    printed = capsys.readouterr().out
    assert printed.startswith("seqconv benchmark, ") and "| Comparison | Case |" in printed
    assert (tmp_path / "results.md").read_text() == printed.rstrip("\n") + "\n"


def test_mixed_precision_steps_run_without_a_gpu(tmp_path):
    case = Workloads(Context(tmp_path, quick=True)).case("tscnn")
    seconds = device_steps(case, torch.device("cpu"), ("bf16-mixed", "16-mixed"), rounds=1)
    assert set(seconds) == {"float32", "bf16-mixed", "16-mixed"}


@pytest.mark.slow
def test_every_comparison_runs_with_tiny_sizes(tmp_path):
    main(
        ["--quick", "--out", str(tmp_path), "--only", "compute", "pipelines", "long_sequence", "end_to_end", "backtest"]
        + ["baselines"]
    )
    rows = _rows(tmp_path)
    cases = {(r["comparison"], r["case"].split(" ")[0]) for r in rows}
    models = [m for m in MODEL_DATA if m != "textcnn" or has_textcnn()]
    assert {("roofline", m) for m in models} | {("CPU threads", m) for m in models} <= cases
    assert sum(r["comparison"] == "input pipelines" for r in rows) == 3 + has_textcnn()
    assert sum(r["comparison"] == "long sequences" for r in rows) == 2
    end_to_end = [r for r in rows if r["comparison"] == "end-to-end"]
    assert len(end_to_end) == 5  # whole process vs 3 tutorial variants, fit alone, start-up
    assert all(run["test_mse"] > 0 for run in end_to_end[0]["data"]["seqconv"])
    fit, startup = end_to_end[3:]
    assert fit["case"].startswith("fit alone") and fit["data"]["fit"][0] > 0
    assert startup["goal"] == "<= 0.5 s" and startup["data"]["first_step"][0] > 0
    assert startup["data"]["lightning"][0]["ready"] > 0
    assert (tmp_path / "long_sequence.png").stat().st_size > 0
    backtest = [r for r in rows if r["comparison"] == "backtest"]
    assert len(backtest) == 6 and all(r["seqconv"] for r in backtest)  # 2 ways x 2 peers, coverage, volatility
    assert "skill_ewma" in backtest[-1]["data"] and 0 <= backtest[4]["data"]["coverage"] <= 1
    baselines = [r for r in rows if r["comparison"] == "classification baselines"]
    assert len(baselines) == 1 + has_textcnn()
    for row in baselines:
        (fitted,), (whole,) = row["data"]["baseline_seconds"], row["data"]["run_seconds"]
        assert 0 < fitted < whole and row["met"] == (fitted / whole <= 0.10)
