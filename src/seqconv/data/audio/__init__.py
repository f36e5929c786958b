"""Audio classification data: decoding, sources (FSDD, class folders), augmentation and datamodules.

Batches are ``{"x": [B, T] float32 mono waveforms, "y": [B] class indices}``; the model adds the channel axis.
"""

from seqconv.data.audio.augment import NOISE_SOURCES, WaveformAugment, add_noise, apply_gain, time_shift
from seqconv.data.audio.datamodule import FSDD_URL, AudioDataModule, AudioFolderDataModule, DigitsDataModule
from seqconv.data.audio.dataset import AudioClipDataset
from seqconv.data.audio.decode import (
    AUDIO_SUFFIXES,
    BAD_FILE_POLICIES,
    NORMALIZE_MODES,
    AudioDecodeError,
    BadFiles,
    fix_length,
    load_audio,
    normalize_clip,
    probe_audio,
)
from seqconv.data.audio.preprocessor import AudioPreprocessor
from seqconv.data.audio.sources import (
    BACKGROUND_FOLDER,
    FSDD_SPLITS,
    AudioItem,
    carve_split,
    find_fsdd_recordings,
    folder_items,
    fsdd_items,
)

__all__ = [
    "AUDIO_SUFFIXES",
    "BACKGROUND_FOLDER",
    "BAD_FILE_POLICIES",
    "FSDD_SPLITS",
    "FSDD_URL",
    "NOISE_SOURCES",
    "NORMALIZE_MODES",
    "AudioClipDataset",
    "AudioDataModule",
    "AudioDecodeError",
    "AudioFolderDataModule",
    "AudioItem",
    "AudioPreprocessor",
    "BadFiles",
    "DigitsDataModule",
    "WaveformAugment",
    "add_noise",
    "apply_gain",
    "carve_split",
    "find_fsdd_recordings",
    "fix_length",
    "folder_items",
    "fsdd_items",
    "load_audio",
    "normalize_clip",
    "probe_audio",
    "time_shift",
]
