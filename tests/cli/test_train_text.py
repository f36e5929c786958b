"""End to end: ``train.py model=textcnn data=reviews`` and ``eval.py`` through their real Hydra entry points, with
the reviews downloaded from a tiny aclImdb archive on a local HTTP server."""

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow

WORDS = {"pos": ["great", "loved", "wonderful"], "neg": ["awful", "hated", "boring"]}


def write_imdb_archive(path: Path, per_class: int = 16) -> str:
    """A tiny ``aclImdb_v1.tar.gz``; returns its sha256."""
    with tarfile.open(path, "w:gz") as tar:
        for split in ("train", "test"):
            for label, words in WORDS.items():
                for i in range(per_class):
                    data = f"this film was {words[i % 3]} .<br /><br />{words[(i + 1) % 3]} acting , {i} stars".encode()
                    info = tarfile.TarInfo(f"aclImdb/{split}/{label}/{i}_5.txt")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def imdb_url(http_server):
    checksum = write_imdb_archive(http_server.root / "aclImdb_v1.tar.gz")
    return http_server, [f"data.url={http_server.url('aclImdb_v1.tar.gz')}", f"data.sha256={checksum}"]


def test_fast_dev_run_downloads_trains_and_writes_metrics(run_entry, imdb_url):
    server, data = imdb_url
    run = run_entry("train.py", "model=textcnn", "data=reviews", *data, "debug=fast_dev_run")
    assert run.proc.returncode == 0, run.output
    assert {"test/acc", "test/f1_macro", "test/auroc", "test/loss", "test/ece"} <= run.metrics.keys()
    assert set(run.metrics["per_class"]) == {"neg", "pos"}
    assert sum(c["support"] for c in run.metrics["per_class"].values()) > 0
    assert (run.run_dir / "reliability.png").is_file()
    assert run.metrics["baseline"] == "TF-IDF + LR" and run.metrics["test/majority_acc"] == 0.5
    assert {"test/baseline_acc", "test/baseline_f1_macro"} <= run.metrics.keys()
    summary = next(line for line in run.proc.stdout.splitlines() if line.startswith("test accuracy"))
    assert f"| TF-IDF + LR {run.metrics['test/baseline_acc']:.3f} | majority 0.500" in summary
    assert server.requests == ["/aclImdb_v1.tar.gz"]
    vocab = json.loads((run.run_dir / "vocab.json").read_text())
    assert vocab["kind"] == "word" and vocab["vocab"][:2] == ["<pad>", "<unk>"] and vocab["classes"] == ["neg", "pos"]


def test_eval_reproduces_test_accuracy_offline_from_the_checkpoint(run_entry, imdb_url):
    server, data = imdb_url
    train = run_entry(
        "train.py",
        "model=textcnn",
        "data=reviews",
        *data,
        "trainer.max_epochs=2",
        "data.batch_size=8",
        "+trainer.limit_train_batches=2",
        "seed=0",
        "runtime.num_threads=1",
    )
    assert train.proc.returncode == 0, train.output
    best = Path(train.metrics["best_model_path"])
    assert best.is_file()
    server.close()  # eval needs no network: the archive and the tokenized splits are cached
    evaluated = run_entry("eval.py", f"ckpt_path={best}", "runtime.num_threads=1")
    assert evaluated.proc.returncode == 0, evaluated.output
    for key in ("test/acc", "test/f1_macro", "test/loss"):
        assert evaluated.metrics[key] == pytest.approx(train.metrics[key], rel=1e-5), key


def test_baselines_off(run_entry, imdb_url):
    _, data = imdb_url
    run = run_entry("train.py", "model=textcnn", "data=reviews", *data, "debug=fast_dev_run", "task.baselines=null")
    assert run.proc.returncode == 0, run.output
    assert "test/acc" in run.metrics and not {"test/majority_acc", "test/baseline_acc", "baseline"} & run.metrics.keys()


def test_download_failure_exits_2_with_the_url_and_offline_options(run_in_process, http_server):
    http_server.fail("aclImdb_v1.tar.gz", 404)
    url = http_server.url("aclImdb_v1.tar.gz")
    run = run_in_process("train.py", "model=textcnn", "data=reviews", f"data.url={url}", "debug=fast_dev_run")
    assert run.proc.returncode == 2, run.output
    assert url in run.proc.stderr and "data.url" in run.proc.stderr and "data.path" in run.proc.stderr
    assert "Traceback" not in run.output


def test_csv_with_unknown_labels_exits_2_listing_them(run_in_process, tmp_path):
    csv = tmp_path / "mine.csv"
    csv.write_text("review,stars\ngood,pos\nbad,neg\nmeh,neutral\n" + "fine,pos\nawful,neg\n" * 5)
    run = run_in_process(
        "train.py",
        "model=textcnn",
        "data=reviews",
        f"data.path={csv}",
        "data.text_column=review",
        "data.label_column=stars",
        "data.classes=[neg,pos]",
        "debug=fast_dev_run",
    )
    assert run.proc.returncode == 2, run.output
    assert "labels ['neutral'] outside the known classes ['neg', 'pos']" in run.proc.stderr
    assert "Traceback" not in run.output


def test_seeded_deterministic_runs_give_identical_metrics(run_entry, imdb_url):
    _, data = imdb_url
    runs = [
        run_entry(
            "train.py",
            "model=textcnn",
            "data=reviews",
            *data,
            "debug=limit",
            "data.batch_size=8",
            "seed=7",
            "trainer.deterministic=true",
        )  # fmt: skip
        for _ in range(2)
    ]
    for run in runs:
        assert run.proc.returncode == 0, run.output
    first, second = ({k: v for k, v in run.metrics.items() if k.startswith(("test/", "val/"))} for run in runs)
    assert first == second and "test/acc" in first


def test_pretrained_embeddings_reach_the_trained_network(run_entry, imdb_url, tmp_path):
    """The vocabulary is only known after the data are read: train.py's early config check must not need it."""
    _, data = imdb_url
    vectors = {"great": [0.5, -0.25, 1.0, 0.0], "awful": [-1.0, 0.75, 0.0, 0.5]}
    glove = tmp_path / "vectors.txt"
    glove.write_text("".join(f"{w} {' '.join(map(str, v))}\n" for w, v in vectors.items()))
    run = run_entry(
        "train.py", "model=textcnn", "data=reviews", *data, "trainer.max_epochs=1", "task.baselines=null",
        "logger=none", f"model.net.pretrained_embeddings={glove}", "model.net.embedding_dim=4",
        "model.net.freeze_embeddings=true",
    )  # fmt: skip
    assert run.proc.returncode == 0, run.output
    vocab = json.loads((run.run_dir / "vocab.json").read_text())["vocab"]
    checkpoint = run.metrics["best_model_path"]
    table = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]["net.embedding.weight"]
    for word, vector in vectors.items():
        assert table[vocab.index(word)].tolist() == vector


def test_a_missing_embeddings_file_exits_2_naming_the_key(run_in_process, imdb_url, tmp_path):
    _, data = imdb_url
    missing = tmp_path / "nowhere.txt"
    run = run_in_process(
        "train.py", "model=textcnn", "data=reviews", *data, f"model.net.pretrained_embeddings={missing}"
    )
    assert run.proc.returncode == 2, run.output
    assert f"model.net.pretrained_embeddings={missing}: no such file" in run.proc.stderr
    assert "Traceback" not in run.output
