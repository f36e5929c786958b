"""Turn configuration and data mistakes into a one-paragraph message and a non-zero exit."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import TypeVar

from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.types import RunMode
from omegaconf.errors import OmegaConfBaseException

from seqconv.errors import SeqconvError

__all__ = ["USAGE_ERROR_EXIT", "user_errors_exit"]

log = logging.getLogger("seqconv")
USAGE_ERROR_EXIT = 2
T = TypeVar("T")

# Constructors validate their arguments, so a failure while instantiating a config node is a config mistake;
# Hydra's message names the _target_ and the config key, followed by the cause.
_USER_ERRORS = (SeqconvError, InstantiationException, OmegaConfBaseException)


def user_errors_exit(fn: Callable[..., T]) -> Callable[..., T]:
    """Decorate a Hydra task function: user errors print their message (no traceback) and exit with status 2;
    anything else propagates unchanged with its traceback. In a multirun every error propagates, so that the
    sweeper records the job as failed and carries on with the next one."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except _USER_ERRORS as err:
            if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
                raise  # a sweep records this job as failed and goes on
            log.error("%s", err)
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(USAGE_ERROR_EXIT) from None

    return wrapper
