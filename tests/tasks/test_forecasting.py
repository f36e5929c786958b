import functools

import pytest
import torch
from torch import nn

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
    torch.testing.assert_close(task.to_price(torch.tensor([1.0, -0.5]), torch.zeros(2)), torch.tensor([110.0, 95.0]))


def test_to_price_compounds_log_returns():
    task = _task(0.0, "log_return", mean=0.0, std=0.01)
    price = task.to_price(torch.tensor([1.0]), torch.tensor([200.0]))
    torch.testing.assert_close(price, torch.tensor([200.0 * torch.exp(torch.tensor(0.01)).item()]))


def test_persistence_and_skill_on_known_batches():
    task = _task(0.0, "log_return")  # predicts a zero log return: exactly the persistence forecast
    batch = {
        "x": torch.zeros(4, 1, 5),
        "y": torch.zeros(4),
        "last": torch.tensor([10.0, 10.0, 20.0, 20.0]),
        "future": torch.tensor([11.0, 9.0, 22.0, 20.0]),
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
