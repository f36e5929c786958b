"""run_and_exit: the status, output, threads and atexit handlers of a normal exit, without the teardown."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from seqconv.cli._exit import exit_status

# a program whose every loose end shows in its output: unflushed stdout, a log record in a file, an atexit
# handler, a non-daemon thread still working when main returns, and an object whose __del__ only the
# interpreter's teardown would run
PROGRAM = """
import atexit, logging, sys, threading, time
from seqconv.cli._exit import run_and_exit

class Finalized:
    def __del__(self):
        print("teardown ran", file=sys.stderr, flush=True)

KEEP = Finalized()
log = logging.getLogger("prog")

def late_write():
    time.sleep(0.3)
    with open(sys.argv[2], "w") as f:
        f.write("thread done")

def main():
    logging.basicConfig(filename=sys.argv[1], level=logging.INFO)
    atexit.register(lambda: sys.stdout.write(" atexit ran"))
    threading.Thread(target=late_write).start()
    log.info("logged before exit")
    sys.stdout.write("unflushed output")
    {ending}

run_and_exit(main)
"""


def _run(tmp_path, ending: str) -> tuple[subprocess.CompletedProcess, str, str]:
    program = tmp_path / "prog.py"
    program.write_text(textwrap.dedent(PROGRAM).replace("{ending}", ending))
    log, thread_file = tmp_path / "prog.log", tmp_path / "thread.txt"
    proc = subprocess.run(
        [sys.executable, str(program), str(log), str(thread_file)], capture_output=True, text=True, timeout=120
    )
    read = lambda path: path.read_text() if path.exists() else ""  # noqa: E731
    return proc, read(log), read(thread_file)


@pytest.mark.parametrize(
    ("ending", "status"), [("return 0.5", 0), ("sys.exit()", 0), ("sys.exit(2)", 2), ("sys.exit('bad input')", 1)]
)
def test_ends_with_the_interpreters_status_after_threads_handlers_and_flushes(tmp_path, ending, status):
    proc, log, thread = _run(tmp_path, ending)
    assert proc.returncode == status, proc.stderr
    assert proc.stdout == "unflushed output atexit ran"  # buffered output flushed, after the atexit handlers
    assert "logged before exit" in log  # logging's own atexit handler flushed the file
    assert thread == "thread done"  # the non-daemon thread was joined, as the interpreter joins it
    assert "teardown ran" not in proc.stderr  # and the interpreter's teardown was skipped
    assert ("bad input" in proc.stderr) == (status == 1)


def test_an_uncaught_exception_takes_the_normal_path(tmp_path):
    proc, log, thread = _run(tmp_path, "raise RuntimeError('boom')")
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "RuntimeError: boom" in proc.stderr
    assert "teardown ran" in proc.stderr  # nothing skipped
    assert proc.stdout == "unflushed output atexit ran" and thread == "thread done" and "logged before exit" in log


@pytest.mark.parametrize(("code", "status"), [(None, 0), (0, 0), (3, 3), ("message", 1)])
def test_exit_status_matches_the_interpreter(tmp_path, code, status):
    assert exit_status(SystemExit(code)) == status
    proc = subprocess.run([sys.executable, "-c", f"raise SystemExit({code!r})"], capture_output=True, timeout=60)
    assert proc.returncode == status
