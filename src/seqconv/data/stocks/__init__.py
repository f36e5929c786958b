"""Price series: the OHLCV CSV reader, the preprocessor (transforms, scalers, back to prices) and the datamodule."""

from seqconv.data.stocks.baselines import BASELINES, baseline_forecasts
from seqconv.data.stocks.datamodule import (
    BUILTIN_SP500,
    SHORT_SERIES,
    PanelDataset,
    StocksDataModule,
    SyntheticStocksDataModule,
    WindowDataset,
)
from seqconv.data.stocks.ohlcv import NAN_POLICIES, day_string, normalize_column, read_ohlcv
from seqconv.data.stocks.preprocessor import (
    TARGET_TRANSFORMS,
    TRANSFORMS,
    StocksPreprocessor,
    check_quantiles,
    forecast_targets,
    log_returns,
    point_index,
    split_output,
    to_answer,
)

__all__ = [
    "BASELINES",
    "BUILTIN_SP500",
    "NAN_POLICIES",
    "SHORT_SERIES",
    "TARGET_TRANSFORMS",
    "TRANSFORMS",
    "PanelDataset",
    "StocksDataModule",
    "StocksPreprocessor",
    "SyntheticStocksDataModule",
    "WindowDataset",
    "baseline_forecasts",
    "check_quantiles",
    "day_string",
    "forecast_targets",
    "log_returns",
    "normalize_column",
    "point_index",
    "read_ohlcv",
    "split_output",
    "to_answer",
]
