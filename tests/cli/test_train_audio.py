"""``train.py model=audiocnn data=digits`` and ``eval.py`` end to end, downloading FSDD from a local server."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

pytestmark = pytest.mark.slow

TOP = "free-spoken-digit-dataset-1.0.10"


def fsdd_zip(archive: Path, speakers=("ann", "ben"), per_digit: int = 6) -> Path:
    """A small FSDD-layout GitHub archive: a tone per digit (``300 + 150 * digit`` Hz), 8 kHz mono."""
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(archive, "w") as zf:
        for speaker in speakers:
            for digit in range(10):
                for index in range(per_digit):
                    t = np.arange(int(8000 * rng.uniform(0.25, 0.5))) / 8000
                    wave = 0.5 * np.sin(2 * np.pi * (300 + 150 * digit) * t) + 0.01 * rng.standard_normal(t.size)
                    path = archive.parent / "clip.wav"
                    sf.write(str(path), wave.astype(np.float32), 8000, subtype="PCM_16")
                    zf.write(path, f"{TOP}/recordings/{digit}_{speaker}_{index}.wav")
    return archive


@pytest.fixture
def fsdd_url(http_server) -> str:
    fsdd_zip(http_server.root / "v1.0.10.zip")
    return http_server.url("v1.0.10.zip")


def test_fast_dev_run_downloads_and_writes_test_acc(run_entry, fsdd_url, http_server, tmp_path):
    run = run_entry("train.py", "model=audiocnn", "data=digits", f"data.url={fsdd_url}", "debug=fast_dev_run")
    assert run.proc.returncode == 0, run.output
    assert 0.0 <= run.metrics["test/acc"] <= 1.0 and "test/f1_macro" in run.metrics
    # the baselines beside the network: pure tones per digit are easy for MFCC statistics
    assert run.metrics["baseline"] == "MFCC stats + LR" and run.metrics["test/baseline_acc"] > 0.8
    assert {"test/majority_acc", "test/baseline_f1_macro", "test/ece", "per_class"} <= run.metrics.keys()
    assert "test accuracy" in run.proc.stdout and "| MFCC stats + LR " in run.proc.stdout
    assert http_server.requests == ["/v1.0.10.zip"]
    assert (tmp_path / "data" / "fsdd" / "v1.0.10" / TOP / "recordings").is_dir()  # under paths.data_dir


@pytest.mark.parametrize(
    "overrides",
    [["model=audiocnn_classic"], ["model.net.frontend=mel", "model.net.freq_mask=8", "model.net.time_mask=10"]],
    ids=["classic", "mel-specaugment"],
)
def test_other_presets_run(run_entry, fsdd_url, overrides):
    run = run_entry(
        "train.py", "model=audiocnn", "data=digits", f"data.url={fsdd_url}", "debug=fast_dev_run",
        "runtime.num_threads=1", *overrides,
    )  # fmt: skip
    assert run.proc.returncode == 0, run.output
    assert "test/acc" in run.metrics


def test_eval_reproduces_test_acc_with_the_stored_class_map(run_entry, fsdd_url):
    train = run_entry(
        "train.py", "model=audiocnn", "data=digits", f"data.url={fsdd_url}", "trainer.max_epochs=3",
        "runtime.num_threads=1", "seed=0",
    )  # fmt: skip
    assert train.proc.returncode == 0, train.output
    best = Path(train.metrics["best_model_path"])
    state = torch.load(best, map_location="cpu", weights_only=True)["seqconv_preprocessor"]
    assert state["classes"] == [str(d) for d in range(10)] and state["sample_rate"] == 8000
    evaluated = run_entry("eval.py", f"ckpt_path={best}", "runtime.num_threads=1")
    assert evaluated.proc.returncode == 0, evaluated.output
    assert evaluated.metrics["test/acc"] == pytest.approx(train.metrics["test/acc"], abs=1e-6)
    assert evaluated.metrics["test/loss"] == pytest.approx(train.metrics["test/loss"], rel=1e-5)


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        (["data=audio_folder"], ["data.path="]),
        (["data=digits", "data.url=http://127.0.0.1:9/v1.0.10.zip"], ["Could not download", "data.url"]),
        (["data=digits", "data.url={url}", "data.split=speaker"], ["data.test_speakers", "['ann', 'ben']"]),
        (["data=digits", "data.url={url}", "data.on_bad_file=ignore"], ["data.on_bad_file"]),
    ],
    ids=["folder-without-path", "unreachable", "speaker-split-without-speakers", "policy"],
)
def test_user_errors_exit_2_with_the_config_key(run_in_process, fsdd_url, overrides, fragments):
    overrides = [o.format(url=fsdd_url) for o in overrides]
    run = run_in_process("train.py", "model=audiocnn", "debug=fast_dev_run", "runtime.num_threads=1", *overrides)
    assert run.proc.returncode == 2, run.output
    for fragment in fragments:
        assert fragment in run.proc.stderr
    assert "Traceback" not in run.output


def test_seeded_deterministic_runs_give_identical_metrics(run_entry, fsdd_url):
    """Augmentation on (the default): its randomness is seeded per epoch too."""
    runs = [
        run_entry(
            "train.py",
            "model=audiocnn",
            "data=digits",
            f"data.url={fsdd_url}",
            "debug=limit",
            "seed=7",
            "trainer.deterministic=true",
        )  # fmt: skip
        for _ in range(2)
    ]
    for run in runs:
        assert run.proc.returncode == 0, run.output
    first, second = ({k: v for k, v in run.metrics.items() if k.startswith(("test/", "val/"))} for run in runs)
    assert first == second and "test/acc" in first
