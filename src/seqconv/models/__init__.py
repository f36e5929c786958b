"""Networks: plain ``nn.Module`` s built from :mod:`seqconv.layers`, free of config objects."""

from seqconv.models.audio import AudioClassifier
from seqconv.models.tcn import TCNForecaster
from seqconv.models.textcnn import TextCNN
from seqconv.models.tscnn import TimeSeriesCNN

__all__ = ["AudioClassifier", "TCNForecaster", "TextCNN", "TimeSeriesCNN"]
