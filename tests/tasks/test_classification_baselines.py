"""The classifier baselines: fitted on training data only, the majority class counted by hand, a baseline that
cannot be fitted leaves its keys out, and results are cached beside the tokenized data."""

import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from seqconv.cli.train import _baselines
from seqconv.data.audio import AudioFolderDataModule
from seqconv.data.baseline_inputs import BaselineInputs
from seqconv.data.text import ReviewsDataModule
from seqconv.errors import ConfigError
from seqconv.tasks.baselines import check_baselines, fit_linear_baseline, majority_accuracy, run_baselines

GOOD, BAD = ["great", "loved", "superb", "fine"], ["awful", "hated", "boring", "dull"]


def _write_reviews(path: Path, test_text=None) -> Path:
    rows = ["text,label,split"]
    for i in range(40):
        rows.append(f"a {GOOD[i % 4]} film {i},pos,train")
        rows.append(f"a {BAD[i % 4]} film {i},neg,train")
    for i in range(10):  # 3 pos : 2 neg in test
        for label in ("pos", "pos", "pos", "neg", "neg"):
            words = GOOD if label == "pos" else BAD
            text = test_text(i, label) if test_text else f"so {words[i % 4]} really"
            rows.append(f"{text},{label},test")
    path.write_text("\n".join(rows) + "\n")
    return path


def _reviews(path: Path, **kwargs) -> ReviewsDataModule:
    dm = ReviewsDataModule(data_dir=str(path.parent / "cache"), path=str(path), cache=False, **kwargs)
    dm.prepare_data()
    dm.setup("fit")
    return dm


def _linear_weights(model) -> np.ndarray:
    return model[-1].coef_


def test_text_baseline_sees_training_texts_only(tmp_path):
    first = _reviews(_write_reviews(tmp_path / "a.csv"))
    changed = _reviews(_write_reviews(tmp_path / "b.csv", test_text=lambda i, label: f"nothing like before {i} zz"))
    a, b = first.baseline_inputs(), changed.baseline_inputs()
    assert a.test_inputs != b.test_inputs and a.train_inputs == b.train_inputs
    fit_a, fit_b = fit_linear_baseline(a), fit_linear_baseline(b)
    np.testing.assert_array_equal(fit_a[1].columns_, fit_b[1].columns_)  # the n-grams kept by min_df
    np.testing.assert_array_equal(_linear_weights(fit_a), _linear_weights(fit_b))
    assert run_baselines(first, ["majority", "linear"])["test/baseline_acc"] == 1.0


def test_majority_baseline_equals_a_hand_count(tmp_path):
    # training: 40 pos, 40 neg minus the validation draw; test: 30 pos, 20 neg
    dm = _reviews(_write_reviews(tmp_path / "a.csv"))
    inputs = dm.baseline_inputs()
    train_counts = np.bincount(inputs.train_labels)
    majority = int(np.argmax(train_counts))  # the lowest index on a tie, as np.argmax
    by_hand = sum(1 for label in inputs.test_labels if label == majority) / len(inputs.test_labels)
    assert by_hand in (0.6, 0.4)
    assert run_baselines(dm, ["majority"]) == {"test/majority_acc": pytest.approx(by_hand)}
    assert majority_accuracy([2, 2, 1, 0], [2, 1, 2, 2]) == 0.75


def test_baseline_results_are_cached_beside_the_tokenized_reviews(tmp_path):
    path = _write_reviews(tmp_path / "a.csv")
    dm = ReviewsDataModule(data_dir=str(tmp_path / "cache"), path=str(path))
    dm.prepare_data()
    dm.setup("fit")
    first = run_baselines(dm, ["majority", "linear"])
    assert first["baseline"] == "TF-IDF + LR"
    cached = list((tmp_path / "cache" / "tokenized").glob("*-baselines-*.json"))
    assert len(cached) == 1

    def no_reading():
        raise AssertionError("the cached results should have been used")

    dm.baseline_inputs = no_reading
    assert run_baselines(dm, ["majority", "linear"]) == first


def _write_folder(root: Path, test_seed: int) -> Path:
    rate = 8000
    t = np.arange(rate // 2) / rate
    for label, (name, freq) in enumerate((("low", 300.0), ("high", 1200.0))):
        for i in range(12):
            rng = np.random.default_rng(100 * label + i + (1000 * test_seed if i < 3 else 0))
            if i < 3:  # the test clips: other content entirely when test_seed changes
                wave = 0.5 * np.sin(2 * np.pi * (freq + 50 * test_seed) * t) + 0.3 * rng.standard_normal(t.size)
            else:
                wave = 0.5 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(t.size)
            (root / name).mkdir(parents=True, exist_ok=True)
            sf.write(str(root / name / f"s{i}_nohash_0.wav"), wave.astype(np.float32), rate)
    test = [f"{name}/s{i}_nohash_0.wav" for name in ("low", "high") for i in range(3)]
    (root / "testing_list.txt").write_text("\n".join(test) + "\n")
    (root / "validation_list.txt").write_text("".join(f"{n}/s3_nohash_0.wav\n" for n in ("low", "high")))
    return root


def _folder(root: Path) -> AudioFolderDataModule:
    dm = AudioFolderDataModule(path=str(root), sample_rate=8000, clip_seconds=0.5, augment=None)
    dm.prepare_data()
    dm.setup("fit")
    return dm


def test_audio_baseline_sees_training_clips_only(tmp_path):
    a = _folder(_write_folder(tmp_path / "a", test_seed=0)).baseline_inputs()
    b = _folder(_write_folder(tmp_path / "b", test_seed=7)).baseline_inputs()
    assert a.domain == "audio" and len(a.train_labels) == 16 and len(a.test_labels) == 6
    assert not np.allclose(a.test_inputs[0].numpy(), b.test_inputs[0].numpy())
    np.testing.assert_array_equal(_linear_weights(fit_linear_baseline(a)), _linear_weights(fit_linear_baseline(b)))


def test_a_single_training_class_warns_and_leaves_the_keys_out(caplog):
    class OneClass:
        preprocessor = type("P", (), {"domain": "text"})()
        baseline_cache = None

        def baseline_inputs(self):
            return BaselineInputs("text", ["neg", "pos"], ["good", "fine", "nice"], [1, 1, 1], ["bad", "ok"], [0, 1])

    with caplog.at_level(logging.WARNING):
        results = run_baselines(OneClass(), ["majority", "linear"])
    assert results == {"test/majority_acc": 0.5}
    assert "cannot be fitted" in caplog.text and "single class" in caplog.text


def test_a_failing_baseline_never_crashes_a_finished_run(caplog):
    class Broken:
        preprocessor = type("P", (), {"domain": "audio"})()
        baseline_cache = None

        def baseline_inputs(self):
            raise OSError("disk gone")

    with caplog.at_level(logging.WARNING):
        assert _baselines(Broken(), ("majority",)) == {}
    assert "disk gone" in caplog.text


def test_unknown_baseline_names_are_refused_listing_the_valid_ones():
    assert check_baselines(None) == ()
    with pytest.raises(ConfigError, match=r"unknown task.baselines \['tfidf'\]; choose from \['majority', 'linear'\]"):
        check_baselines(["tfidf"])


def test_many_test_texts_are_predicted_across_processes_exactly_as_in_one(monkeypatch):
    import joblib

    from seqconv.tasks import baselines, text_features

    rng = np.random.default_rng(0)
    words = GOOD + BAD + ["film", "plot", "actor", "scene"]
    texts = [" ".join(rng.choice(words, size=6)) for _ in range(3000)]
    labels = [int(sum(w in GOOD for w in t.split()) > sum(w in BAD for w in t.split())) for t in texts]
    inputs = BaselineInputs("text", ["neg", "pos"], texts[:300], labels[:300], texts, labels)
    model = fit_linear_baseline(inputs)
    calls = []

    class Recorded(joblib.Parallel):
        def __call__(self, iterable):
            calls.append(self.n_jobs)
            return super().__call__(iterable)

    monkeypatch.setattr(joblib, "Parallel", Recorded)
    monkeypatch.setattr(text_features.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(text_features, "TEXTS_PER_JOB", 1000)
    np.testing.assert_array_equal(baselines._predict(model, texts), model.predict(texts))
    assert calls == [2]
    monkeypatch.setattr(text_features.os, "cpu_count", lambda: 1)  # one core: one process
    np.testing.assert_array_equal(baselines._predict(model, texts[:50]), model.predict(texts[:50]))
    assert calls == [2]
