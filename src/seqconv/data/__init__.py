"""Datamodules, the preprocessors behind them, and the loading, validation and windowing code.

The path from raw input to model input: a source (CSV, review files, audio files) -> the domain's fitted
:class:`~seqconv.data.preprocessor.Preprocessor` -> a dataset per split -> batches from a
:class:`~seqconv.data.datamodule.SeqDataModule`.
"""

from seqconv.data.datamodule import SeqDataModule
from seqconv.data.preprocessor import DOMAINS, Preprocessor, load_preprocessor, preprocessor_from_state
from seqconv.data.scaling import StandardScaler
from seqconv.data.splits import SPLITS, stratified_holdout
from seqconv.data.stocks import (
    StocksDataModule,
    StocksPreprocessor,
    SyntheticStocksDataModule,
    WindowDataset,
    read_ohlcv,
)
from seqconv.data.windows import sliding_windows
from seqconv.errors import ConfigError, DataError

__all__ = [
    "DOMAINS",
    "SPLITS",
    "ConfigError",
    "DataError",
    "Preprocessor",
    "SeqDataModule",
    "StandardScaler",
    "StocksDataModule",
    "StocksPreprocessor",
    "SyntheticStocksDataModule",
    "WindowDataset",
    "load_preprocessor",
    "preprocessor_from_state",
    "read_ohlcv",
    "sliding_windows",
    "stratified_holdout",
]
