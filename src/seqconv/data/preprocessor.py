"""The fitted object that turns raw input into model input and model output back into an answer.

One preprocessor per domain (:class:`~seqconv.data.stocks.StocksPreprocessor`,
:class:`~seqconv.data.text.TextPreprocessor`, :class:`~seqconv.data.audio.AudioPreprocessor`). It is fitted on
the training split only; the datamodule builds every split's dataset through it, the checkpoint stores its
:meth:`~Preprocessor.state_dict` (plain JSON-able data, no pickled code), and ``predict.py``, ``eval.py`` and the
export sidecar restore the same object with :func:`preprocessor_from_state`. There is no second implementation
of any transform (the scikit-learn ``Pipeline`` / Hugging Face processor idea).
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch

from seqconv.errors import ConfigError
from seqconv.utils import write_json_atomic

__all__ = [
    "DOMAINS",
    "ClassifierPreprocessor",
    "Preprocessor",
    "classify",
    "load_preprocessor",
    "preprocessor_from_state",
]

DOMAINS = ("forecasting", "text", "audio")


class Preprocessor(ABC):
    """Raw input -> model input, and model output -> answer, with state fitted on the training split.

    Subclasses set :attr:`domain` and implement :attr:`is_fitted`, :meth:`settings`, :meth:`state_dict` and
    :meth:`from_state`.
    """

    domain: ClassVar[str] = ""

    @property
    @abstractmethod
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` has run (or the state was restored)."""

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """The ``data.*`` settings that change what the model sees, by config key (a restored preprocessor
        refuses data configured otherwise)."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Plain, JSON-able data (``domain`` included) that :meth:`from_state` turns back into this object."""

    @classmethod
    @abstractmethod
    def from_state(cls, state: dict[str, Any]) -> Preprocessor:
        """The preprocessor :meth:`state_dict` describes."""

    def describe(self) -> list[str]:
        """The steps from raw input to model input and from output to answer, in words (for the sidecar)."""
        return []

    @abstractmethod
    def input_spec(self) -> dict[str, Any]:
        """The model input this preprocessor produces: ``layout``, ``dtype`` (and fixed sizes)."""

    @abstractmethod
    def output_spec(self) -> dict[str, Any]:
        """How the model output becomes the answer (class names, or the inverse scaling)."""

    def restore(self, state: dict[str, Any], where: str = "the checkpoint") -> Preprocessor:
        """The preprocessor saved in ``state``, checked against this one's settings (the data config).

        Raises:
            ConfigError: ``state`` is another domain's, or one of :meth:`settings` differs; the message names the
                ``data.*`` key.
        """
        restored = preprocessor_from_state(state, where)
        if restored.domain != self.domain:
            raise ConfigError(
                f"{where} holds a {restored.domain} preprocessor, but the data is {self.domain} data; use the data "
                f"config the model was trained with"
            )
        ours, theirs = self.settings(), restored.settings()
        for key in ours:
            if ours[key] != theirs[key]:
                raise ConfigError(
                    f"the model in {where} was trained with {key}={theirs[key]!r}, but the data now has "
                    f"{ours[key]!r}; drop the data.{key} override (the model cannot read other inputs)"
                )
        return restored

    def to_json(self) -> str:
        """:meth:`state_dict` as JSON text."""
        return json.dumps(self.state_dict(), ensure_ascii=False, sort_keys=True)

    def save(self, path: str | Path) -> Path:
        """Write :meth:`state_dict` as JSON to ``path`` (atomically)."""
        return write_json_atomic(path, self.state_dict())


class ClassifierPreprocessor(Preprocessor):
    """A preprocessor whose model returns class logits: ``classes`` (index order) and logits -> labels.

    With a fitted :attr:`temperature` (``task.calibration=temperature``, Guo et al. 2017) every probability it
    gives is ``softmax(logits / temperature)``; it is part of the JSON state, so checkpoints, ``eval.py``,
    ``predict.py`` and the export sidecar all apply the same one.
    """

    classes: list[str] | None
    #: the fitted temperature, or ``None``: the logits are used as the network returns them
    temperature: float | None = None

    def set_temperature(self, temperature: float | None) -> None:
        """Use ``temperature`` (``> 0``, finite) from now on; ``None`` removes it."""
        if temperature is not None and not (math.isfinite(temperature) and temperature > 0):
            raise ValueError(f"a temperature must be positive and finite, got {temperature}")
        self.temperature = None if temperature is None else float(temperature)

    def calibrate(self, logits: torch.Tensor) -> torch.Tensor:
        """``[N, K]`` logits divided by the temperature (unchanged without one)."""
        return logits if self.temperature is None else logits / self.temperature

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """``[N, K]`` logits -> ``[N, K]`` float64 class probabilities, calibrated when a temperature is set."""
        return torch.softmax(self.calibrate(logits.double()), dim=-1)

    def postprocess(self, logits: torch.Tensor, meta: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Logits ``[N, K]`` -> one row per item: ``meta``'s fields, ``label``, ``probability``, ``probabilities``."""
        if self.classes is None:
            raise RuntimeError(f"the {self.domain} preprocessor has no classes yet: call fit() first")
        return classify(self.calibrate(logits.double()), self.classes, meta)

    def output_spec(self) -> dict[str, Any]:
        scaled = "y[:, k]" if self.temperature is None else "y[:, k] / temperature"
        return {
            "meaning": "class logits",
            "class_names": list(self.classes) if self.classes is not None else None,
            "temperature": self.temperature,
            "activation": f"softmax over the logits {scaled}; class = argmax",
        }

    def _output_step(self) -> str:
        divided = "" if self.temperature is None else f" divided by the temperature {self.temperature:.6g},"
        return f"output y: [B, {len(self.classes or [])}] logits;{divided} softmax, class = argmax over {self.classes}"

    def _calibration_state(self) -> dict[str, Any]:
        """The calibration part of :meth:`state_dict`."""
        return {"temperature": self.temperature}

    def _restore_calibration(self, state: dict[str, Any]) -> None:
        """Restore :meth:`_calibration_state` (states written before calibration existed have none)."""
        if "temperature" in state:
            self.set_temperature(state["temperature"])


def preprocessor_from_state(state: dict[str, Any], where: str = "the checkpoint") -> Preprocessor:
    """The fitted preprocessor saved by :meth:`Preprocessor.state_dict`; its ``domain`` picks the class.

    Raises:
        ConfigError: no ``domain``, or an unknown one (the message lists the known domains).
    """
    from seqconv.data.audio.preprocessor import AudioPreprocessor
    from seqconv.data.stocks.preprocessor import StocksPreprocessor
    from seqconv.data.text.preprocessor import TextPreprocessor

    classes: dict[str, type[Preprocessor]] = {
        cls.domain: cls for cls in (StocksPreprocessor, TextPreprocessor, AudioPreprocessor)
    }
    domain = state.get("domain") if isinstance(state, dict) else None
    if domain not in classes:
        raise ConfigError(
            f"{where}: the stored preprocessor names domain {domain!r}; seqconv knows {sorted(classes)} (a file "
            "written by another seqconv version? re-export it, or retrain)"
        )
    try:
        return classes[domain].from_state(state)
    except (KeyError, TypeError) as err:
        raise ConfigError(f"{where}: the stored {domain} preprocessor is incomplete or damaged ({err!r})") from None


def load_preprocessor(path: str | Path) -> Preprocessor:
    """The preprocessor saved as JSON by :meth:`Preprocessor.save`."""
    path = Path(path)
    try:
        state = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not a readable preprocessor JSON ({err})") from None
    return preprocessor_from_state(state, str(path))


def classify(logits: torch.Tensor, classes: Sequence[str], meta: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Logits ``[N, K]`` -> one row per item: ``meta``'s fields, ``label``, ``probability`` and ``probabilities``.

    Raises:
        ConfigError: the model returns another number of logits than there are classes.
    """
    if logits.shape[-1] != len(classes):
        raise ConfigError(
            f"the model returns {logits.shape[-1]} logits but its preprocessor names {len(classes)} classes"
        )
    probs = torch.softmax(logits.double(), dim=-1)  # [N, K]
    rows = []
    for item, p in zip(meta, probs.tolist(), strict=True):
        best = max(range(len(p)), key=p.__getitem__)
        rows.append(
            {
                **item,
                "label": classes[best],
                "probability": p[best],
                "probabilities": dict(zip(classes, p, strict=True)),
            }
        )
    return rows
