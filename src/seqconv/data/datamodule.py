"""``SeqDataModule``: the contract every seqconv datamodule implements.

``train.py``, ``eval.py`` and ``export.py`` rely on exactly this, never on a datamodule's concrete type:

* :attr:`dims`: sizes that follow from the data (channels, window, vocabulary, classes), filled into the network
  config's ``???`` fields;
* :attr:`task_kwargs`: what the task needs from the data (class names, the target scaler);
* :attr:`batch_size`;
* :attr:`preprocessor`: the fitted raw-input -> model-input object (:mod:`seqconv.data.preprocessor`); it is the
  whole of :meth:`state_dict`, which every checkpoint stores;
* :attr:`datasets` per split, served by one loader helper (:meth:`_loader`).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterator
from typing import Any

import lightning as L
from torch.utils.data import DataLoader, Dataset, default_collate

from seqconv.data.loaders import make_loader
from seqconv.data.preprocessor import Preprocessor
from seqconv.errors import ConfigError

__all__ = ["SeqDataModule", "batched", "check_choice", "check_fraction", "check_positive"]


def check_choice(key: str, value: Any, choices: tuple[str, ...] | list[str]) -> None:
    """Raise :class:`ConfigError` naming ``data.<key>`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ConfigError(f"unknown data.{key}={value!r}; choose one of {list(choices)}")


def check_fraction(key: str, value: float, low_inclusive: bool = False) -> None:
    """Raise :class:`ConfigError` naming ``data.<key>`` unless ``value`` is in ``(0, 1)`` (``[0, 1)``)."""
    ok = (0.0 <= value < 1.0) if low_inclusive else (0.0 < value < 1.0)
    if not ok:
        raise ConfigError(f"data.{key} must be in {'[0' if low_inclusive else '(0'}, 1), got {value}")


def check_positive(**values: float) -> None:
    """Raise :class:`ConfigError` naming the first ``data.<key>`` that is not positive."""
    for key, value in values.items():
        if not value > 0:
            raise ConfigError(f"data.{key} must be positive, got {value}")


def batched(batch: Any) -> Any:
    """Collate for datasets whose ``__getitems__`` already returns the whole batch."""
    return batch


class SeqDataModule(L.LightningDataModule):
    """Base of every seqconv datamodule (see the module docstring for the contract).

    Subclasses build :attr:`datasets` in ``setup`` through :attr:`preprocessor` and implement :attr:`dims` and
    :attr:`task_kwargs`.

    Args:
        preprocessor: the unfitted preprocessor the data config describes.
        batch_size: items per batch.
        num_workers: DataLoader worker processes.
        pin_memory: page-locked batches for faster host-to-GPU copies.
        shuffle: shuffle the training items each epoch.
    """

    #: collate function of the loaders; ``None`` is PyTorch's default. Datasets that serve whole batches from
    #: ``__getitems__`` set ``collate_fn = staticmethod(batched)``.
    collate_fn: Callable[[Any], Any] | None = None

    def __init__(
        self,
        preprocessor: Preprocessor,
        batch_size: int,
        num_workers: int = 0,
        pin_memory: bool = False,
        shuffle: bool = True,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ConfigError(f"data.batch_size must be >= 1, got {batch_size}")
        if num_workers < 0:
            raise ConfigError(f"data.num_workers must be >= 0, got {num_workers}")
        self.preprocessor = preprocessor
        self.batch_size, self.num_workers, self.pin_memory, self.shuffle = batch_size, num_workers, pin_memory, shuffle
        self.datasets: dict[str, Dataset] = {}

    @property
    @abstractmethod
    def dims(self) -> dict[str, int]:
        """Network sizes implied by the data (raise ``RuntimeError`` for those that need :meth:`setup`)."""

    @property
    @abstractmethod
    def task_kwargs(self) -> dict[str, Any]:
        """Task arguments implied by the data (available after :meth:`setup`)."""

    # -- loaders --------------------------------------------------------------------------------------------
    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        if split not in self.datasets:
            raise RuntimeError(f"call setup() before asking for the {split} loader")
        return make_loader(
            self.datasets[split],
            self.batch_size,
            shuffle,
            self.trainer,
            self.num_workers,
            self.pin_memory,
            self.collate_fn,
        )

    def training_batches(self, batch_size: int = 1024) -> Iterator[Any]:
        """The training split in its stored order, collated as the loaders collate it, ``batch_size`` items at a
        time: what a network's data-dependent initialisation reads (no shuffling, no random state drawn)."""
        if "train" not in self.datasets:
            raise RuntimeError("call setup() before asking for the training batches")
        dataset = self.datasets["train"]
        collate = self.collate_fn or default_collate
        getitems = getattr(dataset, "__getitems__", None)
        for start in range(0, len(dataset), batch_size):
            indices = list(range(start, min(start + batch_size, len(dataset))))
            yield collate(getitems(indices) if getitems is not None else [dataset[i] for i in indices])

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=self.shuffle)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    # -- the fitted preprocessor travels with every checkpoint ----------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"preprocessor": <its JSON-able state>}`` once fitted; ``{}`` before."""
        return {"preprocessor": self.preprocessor.state_dict()} if self.preprocessor.is_fitted else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a fitted preprocessor (e.g. a checkpoint's), refusing data configured otherwise than the
        model was trained on (:meth:`Preprocessor.restore`)."""
        if state_dict:
            self.preprocessor = self.preprocessor.restore(state_dict["preprocessor"])
