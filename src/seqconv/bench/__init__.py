"""The performance suite: seqconv side by side with what users would otherwise write, and with the hardware.

Run it with ``seqconv-bench`` (or ``python -m seqconv.bench``); see :mod:`seqconv.bench.cli`. Each comparison
lives in its own module and returns table rows (:class:`~seqconv.bench.report.Row`); timings are medians of
repeated, interleaved runs. Nothing here is imported by training code.

The stand-alone benchmarks live here too, one module each, run with ``python -m seqconv.bench.<name> --help``:

* :mod:`~seqconv.bench.inference`: CPU inference latency and throughput per export runtime, and streaming;
* :mod:`~seqconv.bench.textcnn`: test accuracy and wall time of the default ``model=textcnn data=reviews`` run;
* :mod:`~seqconv.bench.audio`: ``model=audiocnn data=digits``, standard and held-out-speaker splits;
* :mod:`~seqconv.bench.plain_loop`: the plain PyTorch tutorial loop that the suite's end-to-end comparison times
  (it imports nothing from seqconv).
"""

from seqconv.bench.report import Row

__all__ = ["Row"]
