"""``eval.py ckpt_path=... data=<group> data.path=...``: a trained classifier tested on another labelled set. The
checkpoint's preprocessor and class map are used, labels are matched by name (the set's own order differs), the
whole set is the test split, and labels the model does not know stop the run (or are skipped and counted)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from seqconv.export import load_run

pytestmark = pytest.mark.slow

TONES = {"high": 1200.0, "low": 300.0, "mid": 650.0}


def _tones(root: Path, classes: dict[str, float], per_class: int, seed: int, rate: int = 8000) -> Path:
    rng = np.random.default_rng(seed)
    for name, freq in classes.items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            t = np.arange(int(rate * rng.uniform(0.2, 0.3))) / rate
            wave = 0.4 * np.sin(2 * np.pi * freq * (1 + 0.04 * rng.normal()) * t) + 0.05 * rng.normal(size=t.size)
            sf.write(str(root / name / f"{i}.wav"), wave.astype(np.float32), rate)
    return root


def _accuracy_by_hand(ckpt: Path, folder: Path) -> tuple[float, int]:
    """The model's accuracy on every clip under ``folder``, its folder name as the label."""
    run = load_run(ckpt)
    files = sorted(folder.rglob("*.wav"))
    with torch.no_grad():
        predicted = run.net(run.preprocessor.transform(files)).argmax(dim=-1).tolist()
    hits = [run.class_names[k] == f.parent.name for k, f in zip(predicted, files, strict=True)]
    return sum(hits) / len(hits), len(hits)


def test_audio_model_on_another_folder_with_fewer_classes(run_entry, tmp_path):
    train = run_entry(
        "train.py", "model=audiocnn", "data=audio_folder", f"data.path={_tones(tmp_path / 'a', TONES, 12, 0)}",
        "data.sample_rate=8000", "data.clip_seconds=0.25", "data.augment=null", "data.batch_size=8",
        "trainer.max_epochs=2", "runtime.num_threads=1", "seed=0",
    )  # fmt: skip
    assert train.proc.returncode == 0, train.output
    best = Path(train.metrics["best_model_path"])
    # sorted, this set's own indices would be low=0, mid=1; the model's are high=0, low=1, mid=2
    other = _tones(tmp_path / "b", {"mid": TONES["mid"], "low": TONES["low"]}, 5, 1)
    # no data.sample_rate / clip_seconds: the model's (8000 Hz, 0.25 s) replace data=audio_folder's defaults
    run = run_entry("eval.py", f"ckpt_path={best}", "data=audio_folder", f"data.path={other}", "runtime.num_threads=1")
    assert run.proc.returncode == 0, run.output
    per_class = run.metrics["per_class"]
    assert {name: c["support"] for name, c in per_class.items()} == {"high": 0, "low": 5, "mid": 5}
    accuracy, count = _accuracy_by_hand(best, other)
    assert count == 10 and run.metrics["test/acc"] == pytest.approx(accuracy, abs=1e-6)
    assert not {"test/baseline_acc", "test/majority_acc"} & run.metrics.keys()
    other_args = ["data=audio_folder", f"data.path={other}"]
    conflict = run_entry("eval.py", f"ckpt_path={best}", *other_args, "data.sample_rate=16000")  # given: checked
    assert conflict.proc.returncode == 2 and "sample_rate=8000" in conflict.proc.stderr, conflict.output
    assert "data.sample_rate" in conflict.proc.stderr

    unknown = _tones(tmp_path / "c", {"low": TONES["low"], "hum": 100.0}, 3, 2)
    refused = run_entry("eval.py", f"ckpt_path={best}", "data=audio_folder", f"data.path={unknown}")
    assert refused.proc.returncode == 2, refused.output
    assert "['hum']" in refused.proc.stderr and "['high', 'low', 'mid']" in refused.proc.stderr
    assert "Traceback" not in refused.output and not (refused.run_dir / "metrics.json").exists()
    skipped = run_entry(
        "eval.py", f"ckpt_path={best}", "data=audio_folder", f"data.path={unknown}", "data.unknown_labels=skip"
    )
    assert skipped.proc.returncode == 0, skipped.output
    assert "left out 3 clip(s)" in skipped.output and skipped.metrics["per_class"]["low"]["support"] == 3


def test_text_model_on_another_table(run_entry, tmp_path):
    rng = np.random.default_rng(0)
    words = {"pos": ["great", "loved", "fine"], "neg": ["awful", "dull", "hated"], "meh": ["okay", "so"]}

    def table(path: Path, labels: list[str]) -> Path:
        texts = [" ".join(["the", "film", *rng.choice(words[label], size=2)]) for label in labels]
        pd.DataFrame({"review": texts, "sentiment": labels}).to_csv(path, index=False)
        return path

    trained_on = table(tmp_path / "train.csv", ["neg", "pos"] * 40)
    train = run_entry(
        "train.py", "model=textcnn", "data=reviews", f"data.path={trained_on}", "data.text_column=review",
        "data.label_column=sentiment", f"data.data_dir={tmp_path / 'cache'}", "data.tokenizer.min_freq=1",
        "model.net.embedding_dim=8", "model.net.num_filters=4", "trainer.max_epochs=2", "runtime.num_threads=1",
    )  # fmt: skip
    assert train.proc.returncode == 0, train.output
    best = Path(train.metrics["best_model_path"])
    other = table(tmp_path / "other.csv", ["pos"] * 7 + ["neg"] * 3)  # no split column: all of it is tested
    args = ["data=reviews", f"data.data_dir={tmp_path / 'cache'}", "data.text_column=review"]
    run = run_entry(
        "eval.py", f"ckpt_path={best}", *args, f"data.path={other}", "data.label_column=sentiment"
    )  # fmt: skip
    assert run.proc.returncode == 0, run.output
    assert {name: c["support"] for name, c in run.metrics["per_class"].items()} == {"neg": 3, "pos": 7}
    model = load_run(best)
    frame = pd.read_csv(other)
    with torch.no_grad():
        predicted = model.net(model.preprocessor.transform(frame["review"].tolist())["x"]).argmax(dim=-1)
    by_hand = np.mean([model.class_names[k] == y for k, y in zip(predicted.tolist(), frame["sentiment"], strict=True)])
    assert run.metrics["test/acc"] == pytest.approx(by_hand, abs=1e-6)

    unknown = table(tmp_path / "unknown.csv", ["pos", "meh", "neg"])
    refused = run_entry("eval.py", f"ckpt_path={best}", *args, f"data.path={unknown}", "data.label_column=sentiment")
    assert refused.proc.returncode == 2, refused.output
    assert "['meh']" in refused.proc.stderr and "['neg', 'pos']" in refused.proc.stderr

    missing = run_entry("eval.py", f"ckpt_path={best}", *args, f"data.path={unknown}", "data.label_column=stars")
    assert missing.proc.returncode == 2 and "stars" in missing.proc.stderr, missing.output
