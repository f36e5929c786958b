"""LightningDataModules and the loading, validation and windowing code behind them."""

from seqconv.data.ohlcv import read_ohlcv
from seqconv.data.scaling import StandardScaler
from seqconv.data.stocks import StocksDataModule, SyntheticStocksDataModule, WindowDataset
from seqconv.data.windows import sliding_windows
from seqconv.errors import DataError

__all__ = [
    "DataError",
    "StandardScaler",
    "StocksDataModule",
    "SyntheticStocksDataModule",
    "WindowDataset",
    "read_ohlcv",
    "sliding_windows",
]
