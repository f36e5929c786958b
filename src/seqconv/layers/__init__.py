"""The shared Conv1d block library. Every block takes and returns ``[B, C, L]`` tensors."""

from seqconv.layers.checkpoint import run_blocks
from seqconv.layers.checks import check_bcl
from seqconv.layers.conv_norm_act import ConvNormAct, SeparableConvNormAct, create_dropout
from seqconv.layers.create_act import ACTIVATIONS, create_act, get_act_layer
from seqconv.layers.create_norm import NORMS, ChannelLayerNorm, check_norm_streams, create_norm
from seqconv.layers.dropout import Dropout
from seqconv.layers.padding import PADDING_MODES, conv_output_length, get_padding
from seqconv.layers.pooling import POOL_TYPES, GlobalPool1d
from seqconv.layers.receptive_field import compose_geometry, layer_geometry, receptive_field
from seqconv.layers.residual import ResidualBlock
from seqconv.layers.streaming import StreamingModule
from seqconv.layers.tcn import TemporalConvNet

__all__ = [
    "ACTIVATIONS",
    "NORMS",
    "PADDING_MODES",
    "POOL_TYPES",
    "ChannelLayerNorm",
    "ConvNormAct",
    "Dropout",
    "GlobalPool1d",
    "ResidualBlock",
    "SeparableConvNormAct",
    "StreamingModule",
    "TemporalConvNet",
    "check_bcl",
    "check_norm_streams",
    "compose_geometry",
    "conv_output_length",
    "create_act",
    "create_dropout",
    "create_norm",
    "get_act_layer",
    "get_padding",
    "layer_geometry",
    "receptive_field",
    "run_blocks",
]
