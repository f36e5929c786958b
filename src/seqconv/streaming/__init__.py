"""Streaming inference for causal networks: one step or a chunk at a time, with per-layer state.

The causal layers stream themselves (:class:`~seqconv.layers.StreamingModule`); :func:`streaming_step` wraps a
causal network (``TCNForecaster``, ``TemporalConvNet``) as a pure ``(x, state) -> (y, state)`` module that
exports to TorchScript and ONNX (:func:`export_streaming_step`);
:class:`Streamer` holds the state of a batch of independent streams between calls and resets them one by one.
"""

from seqconv.streaming.export import describe_streaming, export_streaming_step, streaming_io_names
from seqconv.streaming.step import StreamingStep, streaming_step
from seqconv.streaming.stream import Streamer

__all__ = [
    "StreamingStep",
    "Streamer",
    "describe_streaming",
    "export_streaming_step",
    "streaming_io_names",
    "streaming_step",
]
