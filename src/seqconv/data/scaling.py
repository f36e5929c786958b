"""Per-channel standardization whose parameters are plain JSON-able data."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["StandardScaler"]


@dataclass(frozen=True)
class StandardScaler:
    """``(x - mean) / std`` per column, fit on training rows only."""

    mean: list[float]
    std: list[float]

    @classmethod
    def fit(cls, values: np.ndarray) -> StandardScaler:
        """Fit on ``[N, C]`` (or ``[N]``) training values; a constant column gets ``std = 1``."""
        values = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
        std = values.std(axis=0)
        std[std == 0] = 1.0
        return cls(values.mean(axis=0).tolist(), std.tolist())

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Standardize ``[N, C]`` values."""
        return (values - np.asarray(self.mean)) / np.asarray(self.std)

    def inverse_transform(self, values: np.ndarray) -> np.ndarray:
        """Undo :meth:`transform`."""
        return values * np.asarray(self.std) + np.asarray(self.mean)

    def to_dict(self) -> dict[str, list[float]]:
        """JSON-able parameters."""
        return asdict(self)
