"""Fixtures of the export tests (helpers in export_fixtures.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from export_fixtures import build_checkpoint


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``checkpoints(model)``: a checkpoint of ``model`` (one of :data:`MODELS`), built once per session."""
    root = tmp_path_factory.mktemp("checkpoints")
    built: dict[str, Path] = {}

    def get(model: str) -> Path:
        if model not in built:
            built[model] = build_checkpoint(model, root / model)
        return built[model]

    return get
