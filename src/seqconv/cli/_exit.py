"""End a command-line run without the interpreter's own teardown.

Once ``import lightning`` has loaded torch's compiler stack, SymPy and SciPy, a Python process spends about a
second after its last line freeing module by module what it imported (measured here: 1.2-1.3 s from the end of
``import lightning`` to the process's exit, 0.5 s after ``import torch`` alone, 0.14 s with this module's exit).
Every ``train.py``, ``predict.py`` or backtest run paid it after its results were written.

:func:`run_and_exit` ends the process the way CPython's own :mod:`multiprocessing` ends a forked worker
(``Process._bootstrap`` then ``os._exit``): it joins the threads the interpreter would join (a checkpoint still
being written finishes), runs every :mod:`atexit` handler (logging's flush and close, W&B's, torch's), flushes
stdout and stderr, then calls :func:`os._exit` with the status the interpreter would have returned. Only the
freeing of memory that the operating system reclaims anyway is skipped. An uncaught exception takes the normal
path: its traceback, status 1, the usual teardown. ``main()`` itself never exits early, so tests and programs
that call it in-process are unaffected.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Callable
from typing import NoReturn

__all__ = ["exit_status", "run_and_exit"]


def exit_status(exc: SystemExit) -> int:
    """The status the interpreter returns for ``exc``: ``None`` is 0, an int is itself, anything else is printed
    to stderr and is 1."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def run_and_exit(main: Callable[[], object]) -> NoReturn:
    """Run a command-line entry point, then end the process at once (see the module docstring)."""
    try:
        main()
    except SystemExit as exc:
        status = exit_status(exc)
    else:
        status = 0
    shutdown = getattr(threading, "_shutdown", None)  # what Py_FinalizeEx calls first; present since 3.x
    if shutdown is None:
        sys.exit(status)  # an interpreter without it: the normal exit
    shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):  # closed, replaced or a broken pipe: nothing left to save
            pass
    os._exit(status)
