"""LightningModules: loss, metrics and optimization around plain networks."""

from seqconv.tasks.classification import ClassificationTask
from seqconv.tasks.forecasting import ForecastingTask
from seqconv.tasks.optim import build_optimization, param_groups

__all__ = ["ClassificationTask", "ForecastingTask", "build_optimization", "param_groups"]
