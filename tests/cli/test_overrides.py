"""Misspelled override keys: explained only when Hydra has failed (a second composition costs ~0.3 s)."""

import sys

import pytest

from seqconv.cli import _overrides
from seqconv.cli._overrides import run_checked


def _fails_like_hydra() -> None:
    raise SystemExit(1)


@pytest.mark.parametrize("entry", ["train", "eval", "predict", "export", "backtest"])
def test_a_misspelled_key_is_explained_with_exit_2_after_hydra_fails(entry, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [f"{entry}.py", "paths.data_dri=/tmp"])
    with pytest.raises(SystemExit) as stop:
        run_checked(entry, _fails_like_hydra)
    assert stop.value.code == 2
    assert "unknown config key 'paths.data_dri': did you mean paths.data_dir?" in capsys.readouterr().err


def test_a_run_that_composes_is_not_composed_twice(monkeypatch):
    calls = []
    monkeypatch.setattr(_overrides, "check_override_keys", lambda *a: calls.append(a))
    monkeypatch.setattr(sys, "argv", ["train.py", "trainer.max_epochs=3"])
    assert run_checked("train", lambda: 0.5) == 0.5
    with pytest.raises(SystemExit) as stop:  # a job's own exit status passes through untouched
        run_checked("train", lambda: sys.exit(2))
    assert stop.value.code == 2 and calls == []
    with pytest.raises(SystemExit) as stop:  # another failure (status 1) with valid keys: Hydra's own message
        run_checked("train", _fails_like_hydra)
    assert stop.value.code == 1 and len(calls) == 1
