"""Price series: the OHLCV CSV reader, the preprocessor (transforms, scalers, back to prices) and the datamodule."""

from seqconv.data.stocks.datamodule import BUILTIN_SP500, StocksDataModule, SyntheticStocksDataModule, WindowDataset
from seqconv.data.stocks.ohlcv import NAN_POLICIES, day_string, normalize_column, read_ohlcv
from seqconv.data.stocks.preprocessor import TRANSFORMS, StocksPreprocessor, forecast_targets, log_returns, to_price

__all__ = [
    "BUILTIN_SP500",
    "NAN_POLICIES",
    "TRANSFORMS",
    "StocksDataModule",
    "StocksPreprocessor",
    "SyntheticStocksDataModule",
    "WindowDataset",
    "day_string",
    "forecast_targets",
    "log_returns",
    "normalize_column",
    "read_ohlcv",
    "to_price",
]
