"""A misspelled override gets the valid keys and a "did you mean" instead of Hydra's bare "not in struct"."""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Callable
from typing import TypeVar

from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import ConfigCompositionException
from omegaconf import DictConfig

from seqconv.cli._errors import USAGE_ERROR_EXIT

__all__ = ["check_override_keys", "run_checked"]

T = TypeVar("T")

_NOT_IN_STRUCT = re.compile(r"Key '([^']+)' is not in struct\s+full_key: (\S+)")


def _compose(config_name: str, overrides: list[str]) -> DictConfig:
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module("seqconv.conf", version_base="1.3"):
            return compose(config_name, overrides=overrides)
    finally:
        GlobalHydra.instance().clear()


def unknown_key_message(cfg: DictConfig, full_key: str) -> str:
    """``full_key`` is not in ``cfg``: name the valid keys of its parent and the closest match."""
    *parents, key = full_key.split(".")
    node = cfg
    for part in parents:
        node = node.get(part) if isinstance(node, DictConfig) else None
    valid = sorted(node.keys()) if isinstance(node, DictConfig) else []
    where = ".".join(parents) or "the top level"
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f"did you mean {'.'.join([*parents, close[0]])}? " if close else ""
    return (
        f"unknown config key {full_key!r}: {hint}valid keys under {where}: {', '.join(valid)} "
        f"(to add a new key on purpose, write +{full_key}=...)"
    )


def check_override_keys(config_name: str, argv: list[str]) -> None:
    """Compose ``config_name`` with the command-line overrides once before Hydra does; on an unknown key, print
    the valid keys and exit with status 2. Anything else is left to Hydra (sweeps, its own flags)."""
    if any(arg in ("-m", "--multirun") or arg.startswith("--") for arg in argv):
        return
    overrides = [arg for arg in argv if "=" in arg and not arg.startswith("hydra.")]
    try:
        _compose(config_name, overrides)
    except ConfigCompositionException as err:
        match = _NOT_IN_STRUCT.search(str(err.__cause__ or err))
        if match is None:
            return
        full_key = match.group(2)
        groups_only = [o for o in overrides if "." not in (key := o.split("=", 1)[0].lstrip("+~")) and key != full_key]
        try:
            cfg = _compose(config_name, groups_only)
        except Exception:  # noqa: BLE001 - fall back to Hydra's own message
            return
        print(f"error: {unknown_key_message(cfg, full_key)}", file=sys.stderr)
        raise SystemExit(USAGE_ERROR_EXIT) from None
    except Exception:  # noqa: BLE001 - Hydra reports every other problem itself
        return


def run_checked(config_name: str, hydra_main: Callable[[], T]) -> T:
    """Run a ``@hydra.main`` entry point; if it stops with status 1 (how Hydra ends after printing a composition
    error), :func:`check_override_keys` explains an unknown key (valid keys, "did you mean") and exits with
    status 2. Composing the config a second time costs about 0.3 s, so only a failed run pays it."""
    try:
        return hydra_main()
    except SystemExit as stop:
        if stop.code == 1:
            check_override_keys(config_name, sys.argv[1:])
        raise
