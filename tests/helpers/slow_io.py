"""Fault-injection helper for the resume tests: a checkpoint writer slow enough to be killed mid-write."""

import io
import time

import torch

from seqconv.training import AtomicCheckpointIO


class SlowAtomicCheckpointIO(AtomicCheckpointIO):
    """Writes each checkpoint in 20 chunks, 50 ms apart."""

    def _write(self, checkpoint, f):
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        data = buffer.getvalue()
        step = len(data) // 20 + 1
        for start in range(0, len(data), step):
            f.write(data[start : start + step])
            f.flush()
            time.sleep(0.05)
