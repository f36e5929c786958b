"""Fixtures: the tiny aclImdb corpus of imdb_corpus.py as a local folder and served over local HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from imdb_corpus import corpus_files, sha256, write_tar, write_tree


@pytest.fixture
def imdb_folder(tmp_path) -> Path:
    """A local folder holding ``aclImdb/``."""
    return write_tree(tmp_path / "local", corpus_files())


@pytest.fixture
def served_imdb(http_server):
    """``(server, url, sha256)`` of a tiny aclImdb_v1.tar.gz on the local HTTP server."""
    archive = write_tar(http_server.root / "aclImdb_v1.tar.gz", corpus_files())
    return http_server, http_server.url("aclImdb_v1.tar.gz"), sha256(archive)
