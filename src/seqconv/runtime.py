"""CPU run-time settings: the thread count, and no GPU probe per optimizer step on a machine without a GPU.

torch's default thread count is not always the fastest for small convolutional models.

Measured on a 2-core machine: the classic TimeSeriesCNN trains about 2x faster with 1 intra-op thread than
with 2, while a larger TextCNN is faster with 2. ``runtime.num_threads=auto`` therefore times a few training
steps of the actual network on a real batch with each candidate count and keeps the fastest. A process that
fits the same network on batches of the same shape again (the folds of a backtest, repeated trials) reuses the
first decision instead of probing again.
"""

from __future__ import annotations

import copy
import logging
import os
import time

import torch
from torch import nn

from seqconv.errors import ConfigError

__all__ = ["drop_nvml_probe_without_gpu", "fastest_num_threads", "set_num_threads"]

log = logging.getLogger(__name__)
# set by `import lightning` (lightning/fabric/__init__.py)
NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"
# torch's thread count when seqconv first ran: the candidate besides 1 thread, even after an earlier decision in
# this process set 1 thread
_INITIAL_THREADS = torch.get_num_threads()
_DECISIONS: dict[tuple, int] = {}  # (network layout, batch shape) -> the thread count the probe chose


def _probe_key(net: nn.Module, x: torch.Tensor) -> tuple:
    """What the fastest thread count depends on: the network's class and parameter shapes, the batch's shape."""
    shapes = tuple((name, tuple(p.shape)) for name, p in net.named_parameters())
    return type(net).__module__, type(net).__qualname__, shapes, tuple(x.shape), x.dtype


def _train_step(net: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor) -> float:
    start = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    net(x).float().square().mean().backward()
    optimizer.step()
    return time.perf_counter() - start


def fastest_num_threads(
    net: nn.Module, x: torch.Tensor, rounds: int = 7, margin: float = 0.1, reuse: bool = True
) -> int:
    """Time training steps (forward, backward, Adam step) of a copy of ``net`` on ``x`` (``[B, C, L]``) with
    1 thread and with torch's default, interleaved so that load from other processes hits both alike, and
    return the count with the lower median. More threads must win by ``margin`` (10%): the probe leaves out
    per-step overhead outside the network (metrics, logging), which favours fewer threads. ``net`` itself is
    not touched. The decision is kept for the rest of the process: the same network layout on batches of the
    same shape gets it again without a probe (``reuse=False`` probes anyway)."""
    default = _INITIAL_THREADS
    if default == 1:
        return 1
    key = _probe_key(net, x)
    if reuse and key in _DECISIONS:
        log.info("runtime.num_threads=auto: %d thread(s), as probed earlier in this process", _DECISIONS[key])
        return _DECISIONS[key]
    probe = copy.deepcopy(net).train()
    optimizer = torch.optim.Adam(probe.parameters())
    timings: dict[int, list[float]] = {1: [], default: []}
    try:
        for round_ in range(rounds + 1):
            for threads in timings:
                torch.set_num_threads(threads)
                seconds = _train_step(probe, optimizer, x)
                if round_:  # the first round warms up
                    timings[threads].append(seconds)
    finally:
        torch.set_num_threads(default)
    median = {t: sorted(s)[len(s) // 2] for t, s in timings.items()}
    best = default if median[default] < (1 - margin) * median[1] else 1
    _DECISIONS[key] = best
    log.info(
        "runtime.num_threads=auto: %s -> %d thread(s)",
        ", ".join(f"{t}: {s * 1e3:.1f} ms/step" for t, s in median.items()),
        best,
    )
    return best


def set_num_threads(setting: int | str | None, net: nn.Module | None = None, x: torch.Tensor | None = None) -> int:
    """Apply ``runtime.num_threads``: ``None`` is torch's default (the process's count when seqconv was imported,
    also after an earlier run in the same process, e.g. a multirun job, changed it), an integer forces it,
    ``"auto"`` measures on ``net`` and ``x``. Returns the thread count in effect."""
    if setting == "auto":
        if net is None or x is None:
            raise ConfigError("runtime.num_threads=auto needs the network and a sample batch")
        setting = fastest_num_threads(net, x)
    if setting is None:
        setting = _INITIAL_THREADS
    if isinstance(setting, bool) or not isinstance(setting, int) or setting < 1:
        raise ConfigError(f"runtime.num_threads must be a positive integer, 'auto' or null, got {setting!r}")
    torch.set_num_threads(setting)
    log.info("torch intra-op threads: %d", torch.get_num_threads())
    return torch.get_num_threads()


def drop_nvml_probe_without_gpu() -> bool:
    """Stop CUDA builds of torch from probing for a GPU on every optimizer step of a machine that has none.

    ``import lightning`` sets ``PYTORCH_NVML_BASED_CUDA_CHECK=1`` so that ``torch.cuda.is_available()`` never
    initialises CUDA before a fork; on a machine without a GPU that makes every call load the NVML library again
    (about 50 us), and Adam and AdamW call it on every step. With no GPU there is no CUDA state a fork could
    break, so the variable is dropped (``is_available()`` then asks the CUDA runtime once, about 1 us).
    Returns whether it was dropped."""
    if os.environ.get(NVML_CHECK) != "1" or torch.cuda.is_available():
        return False
    del os.environ[NVML_CHECK]
    return True
