"""Error types for user mistakes: each message names the file, row, column or config key and the likely fix.

The entry points print these without a traceback and exit with status 2; anything else is a bug.
"""

from __future__ import annotations

__all__ = ["ConfigError", "DataError", "SeqconvError"]


class SeqconvError(ValueError):
    """Base of the errors that a user can fix without touching the code."""


class DataError(SeqconvError):
    """Input data that seqconv cannot use as it is."""


class ConfigError(SeqconvError):
    """A configuration value that cannot work."""
