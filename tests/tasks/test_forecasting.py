import functools

import pytest
import torch
from torch import nn

from seqconv.errors import ConfigError
from seqconv.models import TimeSeriesCNN
from seqconv.tasks import ForecastingTask, param_groups


class _Constant(nn.Module):
    """Predicts a fixed scaled value: lets the tests know the answer."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = nn.Parameter(torch.tensor(value))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.value.expand(x.shape[0], 1)


def _task(value: float, transform: str, mean: float = 0.0, std: float = 1.0) -> ForecastingTask:
    optimizer = functools.partial(torch.optim.SGD, lr=0.1)
    return ForecastingTask(_Constant(value), optimizer, target_transform=transform, target_mean=mean, target_std=std)


def test_to_price_inverts_the_level_scaling():
    task = _task(0.0, "level", mean=100.0, std=10.0)
    torch.testing.assert_close(task.to_answer(torch.tensor([1.0, -0.5]), torch.zeros(2)), torch.tensor([110.0, 95.0]))


def test_to_price_compounds_log_returns():
    task = _task(0.0, "log_return", mean=0.0, std=0.01)
    price = task.to_answer(torch.tensor([1.0]), torch.tensor([200.0]))
    torch.testing.assert_close(price, torch.tensor([200.0 * torch.exp(torch.tensor(0.01)).item()]))


def test_persistence_and_skill_on_known_batches():
    task = _task(0.0, "log_return")  # predicts a zero log return: exactly the persistence forecast
    batch = {
        "x": torch.zeros(4, 1, 5),
        "y": torch.zeros(4),
        "last": torch.tensor([10.0, 10.0, 20.0, 20.0]),
        "future": torch.tensor([11.0, 9.0, 22.0, 20.0]),
        "base_persistence": torch.tensor([10.0, 10.0, 20.0, 20.0]),
    }
    logged = {}
    task.log = lambda name, value, **_: logged.__setitem__(name, value)  # type: ignore[method-assign]
    task.log_dict = lambda values, **_: logged.update(values)  # type: ignore[method-assign]
    task._shared_step(batch, "test")
    task._log_epoch("test")
    expected_mse = (1 + 1 + 4 + 0) / 4
    assert logged["test/persistence_mse"].item() == pytest.approx(expected_mse)
    assert logged["test/mse"].item() == pytest.approx(expected_mse)
    assert logged["test/skill"].item() == pytest.approx(0.0, abs=1e-6)
    assert logged["test/mape"].item() == pytest.approx((0.1 / 1.1 + 1 / 9 + 2 / 22 + 0) / 4, rel=1e-5)


def test_non_finite_loss_stops_training_with_the_step():
    task = _task(float("nan"), "level")
    batch = {"x": torch.zeros(2, 1, 5), "y": torch.zeros(2), "last": torch.ones(2), "future": torch.ones(2)}
    task.log = lambda *a, **k: None  # type: ignore[method-assign]
    with pytest.raises(FloatingPointError, match="training loss is nan at global step 0"):
        task.training_step(batch, 7)


def test_weight_decay_applies_to_conv_and_linear_weights_only():
    net = TimeSeriesCNN(1, 16, norm="batch")
    decay, no_decay = param_groups(net)
    decayed = {id(p) for p in decay["params"]}
    for module in net.modules():
        for name, param in module.named_parameters(recurse=False):
            is_weight = isinstance(module, nn.Conv1d | nn.Linear) and name == "weight"
            assert (id(param) in decayed) == is_weight, f"{type(module).__name__}.{name}"
    assert no_decay["weight_decay"] == 0.0
    opt = torch.optim.AdamW(param_groups(net), weight_decay=0.1)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.0]


def test_unknown_loss_lists_choices():
    with pytest.raises(ValueError, match=r"choose one of \['huber', 'mae', 'mse'\]"):
        ForecastingTask(_Constant(0.0), functools.partial(torch.optim.SGD, lr=0.1), loss="l2")


def test_skip_policy_skips_non_finite_batches_up_to_the_limit():
    task = ForecastingTask(
        _Constant(float("nan")),
        functools.partial(torch.optim.SGD, lr=0.1),
        nonfinite_loss="skip",
        max_skipped_batches=2,
    )
    task.log = lambda *a, **k: None  # type: ignore[method-assign]
    batch = {"x": torch.zeros(2, 1, 5), "y": torch.zeros(2), "last": torch.ones(2), "future": torch.ones(2)}
    assert task.training_step(batch, 0) is None
    assert task.training_step(batch, 1) is None
    with pytest.raises(FloatingPointError, match="after 2 skipped batches"):
        task.training_step(batch, 2)


class _Fixed(nn.Module):
    """Returns a fixed ``[H * Q]`` output row for every item."""

    def __init__(self, row: list[float]) -> None:
        super().__init__()
        self.row = nn.Parameter(torch.tensor(row))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.row.expand(x.shape[0], -1)


def _logged(task: ForecastingTask, *batches: dict) -> dict[str, float]:
    logged: dict = {}
    task.log = lambda name, value, **_: logged.__setitem__(name, value)  # type: ignore[method-assign]
    task.log_dict = lambda values, **_: logged.update(values)  # type: ignore[method-assign]
    for batch in batches:
        task._shared_step(batch, "test")
    task._log_epoch("test")
    return {k: float(v) for k, v in logged.items()}


def test_multi_horizon_metrics_are_the_mean_over_steps_with_per_step_keys_and_every_baseline():
    # level target, identity scaling: the network forecasts 10 for step 1 and 12 for step 2
    task = ForecastingTask(
        _Fixed([10.0, 12.0]), functools.partial(torch.optim.SGD, lr=0.1), target_transform="level",
        horizon=2, baselines=["persistence", "drift", "mean"], naive_mae=2.0,
    )  # fmt: skip
    batch = {
        "x": torch.zeros(2, 1, 5),
        "y": torch.zeros(2, 2),
        "last": torch.tensor([9.0, 11.0]),
        "future": torch.tensor([[10.0, 14.0], [12.0, 12.0]]),
        "base_persistence": torch.tensor([[9.0, 9.0], [11.0, 11.0]]),
        "base_drift": torch.tensor([[10.0, 11.0], [12.0, 13.0]]),
        "base_mean": torch.full((2, 2), 11.0),
    }
    got = _logged(task, batch)
    errors = torch.tensor([[0.0, -2.0], [-2.0, 0.0]])  # forecast - actual
    assert got["test/mse"] == pytest.approx(float((errors**2).mean()))
    assert got["test/h1/mse"] == pytest.approx(2.0) and got["test/h2/mse"] == pytest.approx(2.0)
    persistence = torch.tensor([[-1.0, -5.0], [-1.0, -1.0]])
    assert got["test/persistence_mse"] == pytest.approx(float((persistence**2).mean()))
    assert got["test/h2/skill"] == pytest.approx(1 - 2.0 / ((25 + 1) / 2))
    assert got["test/skill"] == pytest.approx(1 - 2.0 / 7.0)
    assert got["test/drift_mse"] == pytest.approx((0 + 9 + 0 + 1) / 4)
    assert got["test/skill_drift"] == pytest.approx(1 - 2.0 / 2.5)
    assert got["test/mean_mse"] == pytest.approx((1 + 9 + 1 + 1) / 4)
    assert got["test/mase"] == pytest.approx(1.0 / 2.0)  # mean |error| 1.0, scaled by the naive MAE 2.0
    smape = [0, 2 * 2 / 26, 2 * 2 / 22, 0]
    assert got["test/smape"] == pytest.approx(sum(smape) / 4)


def test_quantile_metrics_equal_a_hand_computation_and_quantiles_never_cross():
    # one step, three levels; the raw network output is unsorted: the task sorts it, so quantiles never cross
    task = ForecastingTask(
        _Fixed([12.0, 8.0, 10.0]), functools.partial(torch.optim.SGD, lr=0.1), target_transform="level",
        quantiles=[0.1, 0.5, 0.9], residual_quantiles=[[-1.0, 0.0, 1.0]],
    )  # fmt: skip
    out = task(torch.zeros(3, 1, 5))
    assert out.shape == (3, 1, 3) and torch.equal(out[0, 0], torch.tensor([8.0, 10.0, 12.0]))
    batch = {
        "x": torch.zeros(2, 1, 5),
        "y": torch.zeros(2),
        "last": torch.tensor([10.0, 10.0]),
        "future": torch.tensor([11.0, 13.0]),
        "base_persistence": torch.tensor([10.0, 10.0]),
    }
    got = _logged(task, batch)
    levels = torch.tensor([0.1, 0.5, 0.9])

    def pinball(quantiles, actual):
        diff = actual - quantiles
        return torch.maximum(levels * diff, (levels - 1) * diff).mean()

    model = (pinball(torch.tensor([8.0, 10.0, 12.0]), 11.0) + pinball(torch.tensor([8.0, 10.0, 12.0]), 13.0)) / 2
    assert got["test/pinball"] == pytest.approx(float(model))
    assert got["test/crps"] == pytest.approx(2 * float(model))
    assert got["test/coverage"] == pytest.approx(0.5)  # 11 inside [8, 12], 13 outside
    assert got["test/nominal_coverage"] == pytest.approx(0.8)
    assert got["test/interval_width"] == pytest.approx(4.0)
    assert got["test/mse"] == pytest.approx((1 + 9) / 2)  # the median is the point forecast
    assert got["test/baseline_coverage"] == pytest.approx(0.5)  # persistence 10 +- 1: 11 in, 13 out
    assert got["test/baseline_interval_width"] == pytest.approx(2.0)
    loss, _ = task._forward_loss({"x": torch.zeros(2, 1, 5), "y": torch.tensor([11.0, 13.0])})
    assert float(loss) == pytest.approx(float(model))  # the training loss is the pinball loss (identity scaling)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"quantiles": [0.9, 0.1]}, r"task.quantiles=\[0.9, 0.1\] must be a non-empty, sorted list"),
        ({"quantiles": [0.5, 0.5]}, "sorted list of distinct levels"),
        ({"quantiles": [0.0, 0.5]}, r"in \(0, 1\)"),
        ({"horizon": 0}, "data.horizon must be >= 1"),
        ({"horizon": 2, "target_mean": [0.0]}, "target_mean has 1 values for horizon=2"),
        ({"calibration": "conformal"}, r"task.calibration=conformal calibrates quantile forecasts.*task.quantiles"),
        ({"calibration": "isotonic", "quantiles": [0.1, 0.5, 0.9]}, r"unknown task.calibration='isotonic'"),
        (
            {"quantiles": [0.1, 0.9]},
            r"task.quantiles=\[0.1, 0.9\] has no median .*add 0.5, e.g. task.quantiles=\[0.1,0.5,0.9\]",
        ),
        ({"quantiles": [0.2, 0.4, 0.6, 0.8]}, r"e.g. task.quantiles=\[0.2,0.4,0.5,0.6,0.8\]"),
    ],
)
def test_bad_forecasting_settings_name_the_key(kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        ForecastingTask(_Constant(0.0), functools.partial(torch.optim.SGD, lr=0.1), **kwargs)


def test_the_progress_bar_gets_loss_mse_and_skill_of_validation_only():
    task = ForecastingTask(
        _Fixed([10.0]), functools.partial(torch.optim.SGD, lr=0.1), target_transform="level", horizon=1,
        baselines=["persistence", "drift"],
    )  # fmt: skip
    on_bar: dict[str, bool] = {}
    task.log_dict = lambda values, prog_bar=False, **_: on_bar.update(dict.fromkeys(values, prog_bar))  # type: ignore[method-assign]
    batch = {
        "x": torch.zeros(2, 1, 5), "y": torch.zeros(2, 1), "last": torch.tensor([9.0, 11.0]),
        "future": torch.tensor([[10.0], [12.0]]), "base_persistence": torch.tensor([[9.0], [11.0]]),
        "base_drift": torch.tensor([[10.0], [12.0]]),
    }  # fmt: skip
    for split in ("val", "test"):
        task._shared_step(batch, split)
        task._log_epoch(split)
    shown = {k for k, on in on_bar.items() if on}
    assert shown == {"val/loss", "val/mse", "val/skill"}
    assert {"val/skill_drift", "val/h1/mse", "test/mse", "test/skill"} <= set(on_bar) - shown


def test_the_forecast_figure_draws_the_quantile_band_between_the_outer_levels(monkeypatch):
    from seqconv.tasks import forecasting

    published = []
    monkeypatch.setattr(forecasting, "publish_figure", lambda task, fig, name: published.append((fig, name)))
    task = ForecastingTask(
        _Fixed([12.0, 8.0, 10.0]), functools.partial(torch.optim.SGD, lr=0.1), target_transform="level",
        quantiles=[0.1, 0.5, 0.9],
    )  # fmt: skip
    # per test window: step-1 forecast, actual, persistence, lowest and highest quantile
    series = torch.tensor([[10.0, 11.0, 9.0, 8.0, 13.0], [10.5, 10.0, 11.0, 9.0, 12.5], [11.0, 12.0, 10.0, 7.5, 14.0]])
    task._plot_forecast(series)
    ((fig, name),) = published
    ax = fig.axes[0]
    (band,) = ax.collections
    heights = band.get_paths()[0].vertices[:, 1]
    assert name == "forecast" and heights.min() == 7.5 and heights.max() == 14.0
    assert {"actual", "model (step 1)", "model 0.1-0.9"} == {t.get_text() for t in ax.get_legend().get_texts()}
    assert [list(line.get_ydata()) for line in ax.get_lines()] == [[11.0, 10.0, 12.0], [10.0, 10.5, 11.0]]
    from seqconv.tasks.figures import plt

    plt.close(fig)
