"""Baselines beside every classifier: the majority class, and a linear model on the domain's classic features.

* ``majority``: always the most frequent training class -> ``test/majority_acc``;
* ``linear``: text: TF-IDF over word 1-2-grams (sublinear tf, ``min_df=2``; the n-grams hashed into ``2 ** 24``
  columns so that texts are analysed on every core, :mod:`seqconv.tasks.text_features`) + logistic regression
  (``C=4``);
  audio: the mean and standard deviation over time of MFCCs computed by the models' own
  :class:`~seqconv.models.audio_frontend.AudioFrontend` + standardization + logistic regression
  -> ``test/baseline_acc``, ``test/baseline_f1_macro`` (scored with the network's own torchmetrics functions).

Both are fitted on the training split only (:class:`~seqconv.data.baseline_inputs.BaselineInputs`) and scored on
the test items. scikit-learn is imported only here, and only when a baseline runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchmetrics.functional.classification import multiclass_accuracy, multiclass_f1_score

from seqconv.data.baseline_inputs import BaselineInputs
from seqconv.errors import ConfigError
from seqconv.utils import write_json_atomic

__all__ = [
    "BASELINES",
    "BASELINE_NAMES",
    "check_baselines",
    "fit_linear_baseline",
    "majority_accuracy",
    "mfcc_statistics",
    "run_baselines",
]

log = logging.getLogger(__name__)

BASELINES = ("majority", "linear")
#: how the summary line and ``metrics.json`` name the linear baseline of each domain
BASELINE_NAMES = {"text": "TF-IDF + LR", "audio": "MFCC stats + LR"}
# the settings of the linear baselines; part of the cache key, so a change here refits
# float32 features: the logistic regression fits in about half the time (IMDB: 2.3 s instead of 4.3 s, accuracy
# 0.9032 instead of 0.9029)
_TEXT = {
    "ngram_range": (1, 2), "sublinear_tf": True, "min_df": 2, "n_features": 2**24, "dtype": "float32", "C": 4.0,
    "max_iter": 1000,
}  # fmt: skip
_AUDIO = {"n_mels": 40, "n_mfcc": 20, "win_seconds": 0.025, "hop_seconds": 0.010, "C": 1.0, "max_iter": 2000}
_CACHE_VERSION = 2


def check_baselines(names: Sequence[str] | None) -> tuple[str, ...]:
    """``task.baselines`` as a tuple (empty for ``None``).

    Raises:
        ConfigError: an unknown name (the message lists the valid ones).
    """
    names = tuple(names or ())
    unknown = [name for name in names if name not in BASELINES]
    if unknown:
        raise ConfigError(f"unknown task.baselines {unknown}; choose from {list(BASELINES)}, or task.baselines=null")
    return names


def majority_accuracy(train_labels: Sequence[int], test_labels: Sequence[int]) -> float:
    """Test accuracy of always predicting the most frequent training class (the lowest index on a tie)."""
    counts = torch.bincount(torch.as_tensor(list(train_labels), dtype=torch.long))
    majority = int(counts.argmax())
    test = torch.as_tensor(list(test_labels), dtype=torch.long)
    return float((test == majority).double().mean()) if len(test) else float("nan")


@torch.no_grad()
def mfcc_statistics(waves: Sequence[torch.Tensor], sample_rate: int, chunk: int = 256) -> torch.Tensor:
    """``N`` waveforms ``[T]`` -> ``[N, 2 * n_mfcc]``: per coefficient the mean, then the std over time, of the
    MFCCs of the models' :class:`~seqconv.models.audio_frontend.AudioFrontend` (``kind="mfcc"``, evaluation
    mode)."""
    from seqconv.models.audio_frontend import AudioFrontend  # torchaudio: only when an audio baseline runs

    frontend = AudioFrontend(
        "mfcc",
        sample_rate,
        n_mels=_AUDIO["n_mels"],
        n_mfcc=_AUDIO["n_mfcc"],
        win_seconds=_AUDIO["win_seconds"],
        hop_seconds=_AUDIO["hop_seconds"],
    ).eval()
    features = []
    for start in range(0, len(waves), chunk):
        batch = torch.stack([waves[i] for i in range(start, min(start + chunk, len(waves)))])  # [b, T]
        mfcc = frontend(batch.float())  # [b, T] -> [b, n_mfcc, L]
        features.append(torch.cat([mfcc.mean(dim=-1), mfcc.std(dim=-1)], dim=1))  # [b, 2 * n_mfcc]
    return torch.cat(features).double()


def _features(inputs: BaselineInputs, split: str) -> Any:
    """The raw side of the linear baseline: texts as they are, audio as MFCC statistics."""
    data = inputs.train_inputs if split == "train" else inputs.test_inputs
    if inputs.domain == "audio":
        return mfcc_statistics(data, inputs.sample_rate).numpy()
    return list(data)


def fit_linear_baseline(inputs: BaselineInputs) -> Any:
    """The domain's linear baseline (a scikit-learn ``Pipeline``) fitted on the training split only.

    Raises:
        ValueError: it cannot be fitted (e.g. a single class in the training split).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import StandardScaler

    if inputs.domain not in BASELINE_NAMES:
        raise ValueError(f"no linear baseline for {inputs.domain!r} data; there are for {sorted(BASELINE_NAMES)}")
    if len(set(inputs.train_labels)) < 2:
        found = sorted({inputs.classes[i] for i in inputs.train_labels})
        raise ValueError(f"the training split has a single class {found}; a classifier needs two")
    labels = list(inputs.train_labels)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*did not converge.*")  # the fit is still a fair yardstick
        if inputs.domain == "audio":
            model = make_pipeline(StandardScaler(), LogisticRegression(C=_AUDIO["C"], max_iter=_AUDIO["max_iter"]))
            return model.fit(_features(inputs, "train"), labels)
        from sklearn.feature_extraction.text import TfidfTransformer

        from seqconv.tasks.text_features import MinDocFrequency, hashed_counts, ngram_hashing

        hashing = ngram_hashing(_TEXT["ngram_range"], _TEXT["n_features"], _TEXT["dtype"])
        weighting = make_pipeline(
            MinDocFrequency(_TEXT["min_df"]),
            TfidfTransformer(sublinear_tf=_TEXT["sublinear_tf"]),
            LogisticRegression(C=_TEXT["C"], max_iter=_TEXT["max_iter"]),
        )
        weighting.fit(hashed_counts(hashing, _features(inputs, "train")), labels)
        return Pipeline([("hashing", hashing), *weighting.steps])  # the hashing step is stateless: nothing to fit


def _predict(model: Any, features: Any) -> np.ndarray:
    """``model.predict`` over the test features; texts are analysed on every core
    (:func:`~seqconv.tasks.text_features.hashed_counts`)."""
    if isinstance(features, np.ndarray):
        return np.asarray(model.predict(features))
    from seqconv.tasks.text_features import hashed_counts

    return np.asarray(model[1:].predict(hashed_counts(model[0], features)))


def _score(model: Any, inputs: BaselineInputs) -> dict[str, float]:
    predicted = torch.as_tensor(_predict(model, _features(inputs, "test")), dtype=torch.long)
    target = torch.as_tensor(list(inputs.test_labels), dtype=torch.long)
    k = len(inputs.classes)
    return {
        "test/baseline_acc": float(multiclass_accuracy(predicted, target, k, average="micro")),
        "test/baseline_f1_macro": float(multiclass_f1_score(predicted, target, k, average="macro")),
    }


def _cache_file(stem: Path | None, domain: str, names: tuple[str, ...]) -> Path | None:
    if stem is None:
        return None
    import sklearn

    settings = {
        "version": _CACHE_VERSION,
        "names": names,
        "sklearn": sklearn.__version__,
        "text": _TEXT,
        "audio": _AUDIO,
    }
    digest = hashlib.sha256(json.dumps([domain, settings], sort_keys=True).encode()).hexdigest()[:12]
    return stem.with_name(f"{stem.name}-baselines-{digest}.json")


def run_baselines(datamodule: Any, names: Sequence[str]) -> dict[str, Any]:
    """Fit the baselines ``names`` on ``datamodule``'s training split and score them on its test split.

    The datamodule provides :meth:`baseline_inputs` (-> :class:`BaselineInputs`) and ``baseline_cache`` (a path
    stem beside its own cache, or ``None``); results are cached there, keyed by the data and the baseline
    settings. A baseline that cannot be fitted (a single training class) logs a warning and leaves its keys out.

    Returns:
        ``test/majority_acc``, ``test/baseline_acc``, ``test/baseline_f1_macro`` (those that ran), and
        ``baseline``: the linear baseline's name.
    """
    names = check_baselines(names)
    if not names:
        return {}
    if not hasattr(datamodule, "baseline_inputs"):
        log.warning("%s offers no baseline inputs; task.baselines skipped", type(datamodule).__name__)
        return {}
    domain = datamodule.preprocessor.domain
    cache = _cache_file(datamodule.baseline_cache, domain, names)
    if cache is not None and cache.is_file():
        log.info("baselines: cached results from %s", cache)
        return json.loads(cache.read_text())
    start = time.perf_counter()
    inputs = datamodule.baseline_inputs()
    results: dict[str, Any] = {}
    if "majority" in names:
        results["test/majority_acc"] = majority_accuracy(inputs.train_labels, inputs.test_labels)
    if "linear" in names:
        try:
            model = fit_linear_baseline(inputs)
        except ValueError as err:
            log.warning("the %s baseline cannot be fitted (%s); its keys are left out", BASELINE_NAMES[domain], err)
        else:
            results.update(_score(model, inputs), baseline=BASELINE_NAMES[domain])
    log.info(
        "baselines fitted on %d training items, scored on %d test items in %.1f s: %s",
        len(inputs.train_labels),
        len(inputs.test_labels),
        time.perf_counter() - start,
        results,
    )
    if cache is not None:
        write_json_atomic(cache, results)
    return results
