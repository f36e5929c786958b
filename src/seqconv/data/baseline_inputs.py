"""What a classification datamodule hands the baselines: the raw training and test inputs with their labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["BaselineInputs"]


@dataclass
class BaselineInputs:
    """The training and test split of a classification data set as the baselines read them.

    The inputs are what the domain's preprocessor makes of the raw data before the network's own encoding:
    cleaned texts (``domain="text"``), or ``[T]`` mono waveforms at ``sample_rate``, centred and cropped or padded
    to the clip length (``domain="audio"``; a lazy sequence, decoded on access where the data set is not held in
    memory). Only the training split is ever fitted on.

    Attributes:
        domain: ``"text"`` or ``"audio"``.
        classes: class names in label order.
        train_inputs: training inputs.
        train_labels: their class indices.
        test_inputs: test inputs (the items the network is tested on, in any order).
        test_labels: their class indices.
        sample_rate: of the waveforms (audio only).
    """

    domain: str
    classes: list[str]
    train_inputs: Sequence[Any]
    train_labels: Sequence[int]
    test_inputs: Sequence[Any]
    test_labels: Sequence[int]
    sample_rate: int | None = None
