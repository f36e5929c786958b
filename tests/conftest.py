"""Fixtures shared by the data tests: a real HTTP server on 127.0.0.1 serving files from a directory."""

from __future__ import annotations

import functools
import http.server
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# Property-based tests draw the same examples on every run (CI stays reproducible); explore new ones with
# `pytest --hypothesis-profile=explore`.
settings.register_profile("repeatable", derandomize=True, deadline=None)
settings.register_profile("explore", derandomize=False, deadline=None, max_examples=1000)
settings.load_profile("repeatable")


class LocalHTTPServer:
    """Serves the files under ``root`` over HTTP on 127.0.0.1 and records every request.

    Attributes:
        root: The directory served; put fixture files here.
        requests: The URL paths requested so far, in order (e.g. ``["/data.zip"]``), to prove caching.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        self._status: dict[str, int] = {}
        self._truncate: dict[str, int] = {}
        handler = functools.partial(_Handler, self, directory=str(root))
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, name: str) -> str:
        """The URL of ``root/name``."""
        return f"http://127.0.0.1:{self.port}/{urllib.parse.quote(name)}"

    def fail(self, name: str, status: int = 404) -> None:
        """Answer requests for ``name`` with the HTTP error ``status``."""
        self._status["/" + name] = status

    def truncate(self, name: str, nbytes: int) -> None:
        """Announce the full size of ``name`` but close the connection after sending ``nbytes`` bytes."""
        self._truncate["/" + name] = nbytes

    def close(self) -> None:
        """Stop serving (idempotent); later requests get 'connection refused'."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()


class _Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, owner: LocalHTTPServer, *args, **kwargs) -> None:
        self.owner = owner
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        self.owner.requests.append(path)
        if path in self.owner._status:
            self.send_error(self.owner._status[path])
        elif path in self.owner._truncate:
            body = (self.owner.root / path.lstrip("/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: self.owner._truncate[path]])
            self.close_connection = True
        else:
            super().do_GET()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (signature of the base class)
        pass


@pytest.fixture
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHTTPServer]:
    """A :class:`LocalHTTPServer` over a fresh empty directory, stopped after the test."""
    server = LocalHTTPServer(tmp_path_factory.mktemp("http_root"))
    try:
        yield server
    finally:
        server.close()
