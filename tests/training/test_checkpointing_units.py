import csv
from pathlib import Path

import pytest
import torch

from seqconv.data.samplers import EpochShuffleSampler
from seqconv.errors import ConfigError
from seqconv.training import AtomicCheckpointIO, ResumableCSVLogger, find_resume_checkpoint, is_valid_checkpoint


def _checkpoint(step: int) -> dict:
    return {"state_dict": {"w": torch.full((3,), float(step))}, "loops": {}, "global_step": step}


def test_atomic_save_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    io_plugin = AtomicCheckpointIO()
    target = tmp_path / "last.ckpt"
    io_plugin.save_checkpoint(_checkpoint(1), target)

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError("No space left on device")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="No space left"):
        io_plugin.save_checkpoint(_checkpoint(2), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]  # no temporary file left either
    assert torch.load(target, weights_only=True)["global_step"] == 1


def test_find_resume_checkpoint_takes_the_most_advanced_valid_file(tmp_path):
    io_plugin = AtomicCheckpointIO()
    io_plugin.save_checkpoint(_checkpoint(10), tmp_path / "epoch_000.ckpt")
    io_plugin.save_checkpoint(_checkpoint(30), tmp_path / "last.ckpt")
    io_plugin.save_checkpoint(_checkpoint(20), tmp_path / "interrupted.ckpt")
    assert find_resume_checkpoint(tmp_path).name == "last.ckpt"
    data = (tmp_path / "last.ckpt").read_bytes()
    (tmp_path / "last.ckpt").write_bytes(data[: len(data) // 2])  # truncated, as a non-atomic save would leave it
    assert not is_valid_checkpoint(tmp_path / "last.ckpt")
    assert find_resume_checkpoint(tmp_path).name == "interrupted.ckpt"


def test_find_resume_checkpoint_without_checkpoints_explains(tmp_path):
    with pytest.raises(ConfigError, match="no valid checkpoint in .*hydra.run.dir"):
        find_resume_checkpoint(tmp_path / "checkpoints")


def test_csv_logger_appends_when_resumed(tmp_path):
    first = ResumableCSVLogger(tmp_path, name="csv", version="")
    first.log_metrics({"val/loss": 1.0}, step=0)
    first.save()
    second = ResumableCSVLogger(tmp_path, name="csv", version="")
    second.log_metrics({"val/loss": 0.5, "val/acc": 0.9}, step=1)
    second.save()
    with open(tmp_path / "csv" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [row["val/loss"] for row in rows] == ["1.0", "0.5"]
    assert rows[1]["val/acc"] == "0.9"


def test_epoch_shuffle_depends_only_on_seed_and_epoch():
    a, b = EpochShuffleSampler(50, seed=7), EpochShuffleSampler(50, seed=7)
    a.set_epoch(3)
    for epoch in range(4):  # b walks through the epochs, a jumps straight to epoch 3
        b.set_epoch(epoch)
        order_b = list(b)
    assert list(a) == order_b
    assert sorted(order_b) == list(range(50))
    a.set_epoch(4)
    assert list(a) != order_b


def test_a_failed_background_checkpoint_write_stops_the_run_and_keeps_the_last_good_one(tmp_path, monkeypatch):
    import functools

    import lightning as L
    from hydra.utils import instantiate
    from lightning.pytorch.callbacks import ModelCheckpoint
    from omegaconf import OmegaConf
    from torch import nn
    from torch.utils.data import DataLoader

    from seqconv.conf import __file__ as conf_init
    from seqconv.tasks import ClassificationTask

    plugins = instantiate(OmegaConf.load(Path(conf_init).parent / "trainer" / "default.yaml").plugins)
    writes = []

    def write(self, checkpoint, f):
        writes.append(checkpoint["epoch"])
        if len(writes) == 3:
            raise OSError("No space left on device")
        torch.save(checkpoint, f)

    monkeypatch.setattr(AtomicCheckpointIO, "_write", write)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 1, 4, generator=g)
    loader = DataLoader([{"x": x[i], "y": int(x[i, 0, 0] > 0)} for i in range(16)], batch_size=8)
    task = ClassificationTask(
        nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), functools.partial(torch.optim.SGD, lr=0.1), num_classes=2
    )
    last = ModelCheckpoint(dirpath=tmp_path, filename="last", monitor=None, every_n_epochs=1)
    trainer = L.Trainer(
        max_epochs=6,
        plugins=plugins,
        callbacks=[last],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    with pytest.raises(OSError, match="No space left"):
        trainer.fit(task, train_dataloaders=loader)
    assert len(writes) in (3, 4)  # the error surfaces at the next save (or at the end of fit), not later
    written = [epoch for i, epoch in enumerate(writes) if i != 2]
    # last.ckpt is whole: the newest write that succeeded (one already queued when the error surfaced may land)
    assert torch.load(tmp_path / "last.ckpt", weights_only=False)["epoch"] == written[-1]
