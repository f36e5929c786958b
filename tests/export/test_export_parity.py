"""Export parity for every format and model, dynamic axes, and failures that leave nothing behind."""

import pytest
import torch
from torch import nn

from seqconv.errors import ConfigError
from seqconv.export import (
    FORMATS,
    ParityError,
    export_module,
    export_network,
    flatten_tensors,
    length_is_dynamic,
    load_run,
    load_runner,
    real_batch,
)
from seqconv.models import TCNForecaster, TimeSeriesCNN

FIXED_LENGTH = {"tscnn": True, "tcn": False, "textcnn": False, "audiocnn": False, "audiocnn_classic": True}


def _run(runner, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return flatten_tensors(runner(x))[0]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("model", ["tscnn", "tcn", "textcnn", "audiocnn", "audiocnn_classic"])
def test_export_matches_eager_on_random_and_real_inputs(checkpoints, tmp_path, model, fmt):
    run = load_run(checkpoints(model))
    real = real_batch(run, max_rows=16)
    path = tmp_path / f"model.{fmt}"
    result = export_network(run.net, path, fmt, real[:4], real=real)
    assert path.is_file()
    assert {"random", "random_batch1", "real", "real_batch1"} <= result.max_abs_diff.keys()
    assert max(result.max_abs_diff.values()) <= 1e-4
    assert result.dynamic_axes["x"][0] == "batch"
    length_axis = real.dim() - 1
    assert (length_axis in result.dynamic_axes["x"]) is not FIXED_LENGTH[model] or result.notes

    runner = load_runner(path, fmt)
    batch5 = real[:5]  # another batch size than the export's example (4)
    torch.testing.assert_close(_run(runner, batch5), run.net(batch5), atol=1e-4, rtol=0)
    if length_axis in result.dynamic_axes["x"]:  # exported at one length, run at another
        longer = torch.cat([real[:2], real[:2]], dim=-1)
        torch.testing.assert_close(_run(runner, longer), run.net(longer), atol=1e-4, rtol=0)


def test_a_flatten_head_fixes_the_length_and_the_export_says_so(tmp_path):
    net = TimeSeriesCNN(1, 24, channels=(4, 8), hidden=8).eval()
    x = torch.randn(4, 1, 24)
    assert not length_is_dynamic(net, x)
    result = export_network(net, tmp_path / "m.onnx", "onnx", x)
    assert result.dynamic_axes["x"] == {0: "batch"}
    with pytest.raises(ConfigError, match="flatten head fixes the length"):
        export_network(net, tmp_path / "m2.onnx", "onnx", x, dynamic_length=True)
    runner = load_runner(tmp_path / "m.onnx", "onnx")
    with pytest.raises(Exception):  # noqa: B017 - onnxruntime's own error type
        runner(torch.randn(2, 1, 30))


def test_tcn_exported_at_one_length_runs_at_others(tmp_path):
    net = TCNForecaster(2, 1, channels=(8, 8)).eval()
    for fmt in FORMATS:
        path = tmp_path / f"tcn.{fmt}"
        result = export_network(net, path, fmt, torch.randn(3, 2, 40))
        assert result.dynamic_axes["x"] == {0: "batch", 2: "length"}
        runner = load_runner(path, fmt)
        for batch, length in ((1, 7), (6, 40), (2, 129)):
            x = torch.randn(batch, 2, length)
            torch.testing.assert_close(_run(runner, x), net(x), atol=1e-5, rtol=0)


class _SignSwitch(nn.Module):
    """Python control flow on the data: a trace records one branch only."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2 if x.sum() > 0 else x * 3


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_a_parity_failure_raises_and_leaves_no_file(tmp_path, fmt):
    example = torch.ones(2, 1, 5)
    checks = {"positive": (example,), "negative": (-example,)}
    with pytest.raises(ParityError, match=r"differs from eager by up to 1 > tolerance=0.0001.*nothing was written"):
        export_module(_SignSwitch().eval(), (example,), tmp_path / "m.bin", fmt, checks=checks)
    assert list(tmp_path.iterdir()) == []


def test_an_axis_that_the_export_fixes_fails_the_check_and_leaves_no_file(tmp_path):
    net = TCNForecaster(1, 1, channels=(4,)).eval()
    x = torch.randn(2, 1, 10)
    with pytest.raises(ParityError, match="fails on the 'longer' check input"):
        export_module(net, (x,), tmp_path / "m.onnx", "onnx", checks={"longer": (torch.randn(2, 1, 20),)})
    assert list(tmp_path.iterdir()) == []


class _Unscriptable(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != 1:
            raise ValueError(f"{type(self).__name__!r} wants one channel")
        return x


def test_script_failure_names_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="torch.jit.script cannot compile _Unscriptable.*torchscript_method=trace"):
        export_module(
            _Unscriptable().eval(), (torch.randn(2, 1, 3),), tmp_path / "m.pt", "torchscript", method="script"
        )
    assert list(tmp_path.iterdir()) == []


def test_unknown_format_or_method_lists_the_choices(tmp_path):
    net, x = TCNForecaster(1, 1, channels=(4,)).eval(), torch.randn(2, 1, 8)
    with pytest.raises(ConfigError, match=r"format='tflite'; choose one of \['torchscript', 'export', 'onnx'\]"):
        export_module(net, (x,), tmp_path / "m", "tflite")
    with pytest.raises(ConfigError, match=r"torchscript_method='compile'; choose one of \['trace', 'script'\]"):
        export_module(net, (x,), tmp_path / "m", "torchscript", method="compile")


def test_a_module_in_training_mode_is_refused(tmp_path):
    with pytest.raises(ValueError, match="eval mode"):
        export_module(TCNForecaster(1, 1, channels=(4,)), (torch.randn(2, 1, 8),), tmp_path / "m.onnx", "onnx")
