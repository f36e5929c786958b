"""InterruptGuard: a Ctrl-C swallowed by a finalizer still stops training at the next batch boundary."""

import gc
import signal

import pytest

from seqconv.training import InterruptGuard


class _Finalized:
    """An object whose finalizer runs when it is collected: where a KeyboardInterrupt gets lost."""

    def __init__(self, action) -> None:
        self.action = action

    def __del__(self) -> None:
        self.action()


def test_a_sigint_lost_in_a_finalizer_is_raised_at_the_next_batch(recwarn):
    guard = InterruptGuard()
    previous = signal.getsignal(signal.SIGINT)
    guard.setup(None, None, "fit")
    try:
        assert signal.getsignal(signal.SIGINT) == guard._handler
        # the handler runs inside a finalizer: Python prints "Exception ignored" and carries on
        holder = _Finalized(lambda: guard._handler(signal.SIGINT, None))
        del holder
        gc.collect()
        assert guard.pending
        with pytest.raises(KeyboardInterrupt):
            guard.on_train_batch_end(None)
        guard.on_train_batch_end(None)  # raised once: the next batch goes on
    finally:
        guard.teardown(None, None, "fit")
    assert signal.getsignal(signal.SIGINT) == previous
