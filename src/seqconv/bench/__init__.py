"""The performance suite: seqconv side by side with what users would otherwise write, and with the hardware.

Run it with ``python scripts/benchmark.py`` (or ``seqconv-bench``); see :mod:`seqconv.bench.cli`. Each comparison
lives in its own module and returns table rows (:class:`~seqconv.bench.report.Row`); timings are medians of
repeated, interleaved runs. Nothing here is imported by training code.
"""

from seqconv.bench.report import Row

__all__ = ["Row"]
