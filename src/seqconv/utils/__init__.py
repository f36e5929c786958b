"""Small helpers shared by the entry points."""

from seqconv.utils.io import write_json_atomic

__all__ = ["write_json_atomic"]
