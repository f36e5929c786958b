"""Calibration: a classifier's reliability bins, expected calibration error and temperature scaling; a quantile
forecaster's conformal offsets.

The expected calibration error (ECE) and the reliability diagram of Guo et al. 2017 ("On calibration of modern
neural networks") share one binning, :class:`ReliabilityBins`; the temperature that rescales the logits is fitted
here (:func:`fit_temperature`) and applied by the classifier preprocessor
(:meth:`~seqconv.data.preprocessor.ClassifierPreprocessor.calibrate`), the one place that turns logits into
probabilities for ``eval.py``, ``predict.py`` and the export sidecar. The quantile offsets
(:func:`fit_quantile_offsets`) live in the forecasting preprocessor the same way
(:meth:`~seqconv.data.stocks.StocksPreprocessor.split_output` adds them).
"""

from __future__ import annotations

import logging
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from torchmetrics import Metric

from seqconv.data.stocks.preprocessor import point_index

__all__ = ["ECE_BINS", "ReliabilityBins", "collect_logits", "fit_quantile_offsets", "fit_temperature"]

log = logging.getLogger(__name__)

ECE_BINS = 15


class ReliabilityBins(Metric):
    """Per-bin counts, summed confidences and summed hits of the top-1 prediction.

    A prediction whose top probability (its confidence) is ``c`` falls into bin ``min(floor(c * n_bins),
    n_bins - 1)``: bins ``[k / n_bins, (k + 1) / n_bins)``, the last one closed (torchmetrics' convention). The
    states are sums, so DDP ranks reduce them exactly. :meth:`compute` returns the ECE
    ``sum_k |hits_k - confidence_k| / N`` (the count-weighted mean gap between accuracy and confidence);
    :meth:`bins` returns what a reliability diagram draws.

    Args:
        n_bins: equal-width confidence bins over ``[0, 1]``.
    """

    full_state_update = False

    def __init__(self, n_bins: int = ECE_BINS) -> None:
        super().__init__()
        if n_bins < 1:
            raise ValueError(f"n_bins must be >= 1, got {n_bins}")
        self.n_bins = n_bins
        for name in ("count", "confidence", "hits"):
            self.add_state(name, torch.zeros(n_bins, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, probs: torch.Tensor, target: torch.Tensor) -> None:
        """``probs`` ``[N, K]`` (rows sum to 1) and ``target`` ``[N]`` class indices."""
        confidence, predicted = probs.detach().double().max(dim=-1)  # [N], [N]
        index = (confidence * self.n_bins).long().clamp_(0, self.n_bins - 1)  # [N]
        self.count.index_add_(0, index, torch.ones_like(confidence))
        self.confidence.index_add_(0, index, confidence)
        self.hits.index_add_(0, index, (predicted == target).double())

    def compute(self) -> torch.Tensor:
        """The expected calibration error (0 for no predictions)."""
        total = self.count.sum().clamp(min=1.0)
        return ((self.hits - self.confidence).abs().sum() / total).float()

    def bins(self) -> dict[str, list[float]]:
        """Per bin: ``lower`` and ``upper`` edges, ``count``, mean ``confidence`` and ``accuracy`` (``nan`` when
        empty); plain lists for JSON and the reliability diagram."""
        count = self.count.cpu()
        safe = count.clamp(min=1.0)
        empty = count == 0
        edges = torch.linspace(0.0, 1.0, self.n_bins + 1, dtype=torch.float64)
        return {
            "lower": edges[:-1].tolist(),
            "upper": edges[1:].tolist(),
            "count": count.tolist(),
            "confidence": (self.confidence.cpu() / safe).masked_fill(empty, math.nan).tolist(),
            "accuracy": (self.hits.cpu() / safe).masked_fill(empty, math.nan).tolist(),
        }


@torch.no_grad()
def collect_logits(net: nn.Module, loader: DataLoader) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``[N, K]`` and targets ``[N]`` of ``net`` (in eval mode, on its device) over ``loader``'s batches."""
    device = next(net.parameters()).device
    was_training = net.training
    net.eval()
    logits, targets = [], []
    try:
        for batch in loader:
            logits.append(net(batch["x"].to(device)).float().cpu())
            targets.append(batch["y"].cpu())
    finally:
        net.train(was_training)
    return torch.cat(logits), torch.cat(targets)


def fit_temperature(logits: torch.Tensor, target: torch.Tensor, max_iter: int = 100) -> float:
    """The temperature ``T > 0`` that minimizes the NLL of ``softmax(logits / T)`` (Guo et al. 2017).

    L-BFGS on ``log T`` from ``T = 1``. The result never has a higher NLL than ``T = 1``: if the optimizer ends
    worse (or at a non-finite value), 1 is returned.

    Args:
        logits: ``[N, K]`` validation logits of the trained network.
        target: ``[N]`` class indices.
        max_iter: L-BFGS iterations.
    """
    logits, target = logits.detach().double(), target.detach().long()
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.5, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), target)
        loss.backward()
        return loss

    optimizer.step(closure)
    temperature = float(log_t.detach().exp())
    with torch.no_grad():
        before = float(F.cross_entropy(logits, target))
        after = float(F.cross_entropy(logits / temperature, target))
    if not (math.isfinite(after) and after <= before):
        log.warning("temperature scaling did not lower the validation NLL (%.4f -> %.4f); keeping T = 1", before, after)
        return 1.0
    log.info("temperature %.4f: validation NLL %.4f -> %.4f", temperature, before, after)
    return temperature


def fit_quantile_offsets(quantiles: torch.Tensor, target: torch.Tensor, levels: list[float]) -> torch.Tensor:
    """Per step and level, the shift that makes held-out targets fall below each quantile as often as its level
    says: conformalized quantile regression (Romano et al. 2019) in its asymmetric form, one level at a time.

    For a level ``tau`` above 1/2 the offset is the ``ceil((n + 1) tau)``-th smallest residual ``y - q`` of the
    ``n`` calibration items (at least the ``tau`` empirical quantile: the upper bound rises until at least a share
    ``tau`` lies below it); for a level below 1/2 the ``floor((n + 1) tau)``-th, so the lower bound falls until at
    most a share ``tau`` lies below it. The interval between two levels then covers at least their difference on
    exchangeable data (the finite-sample guarantee of split conformal prediction). Offsets are negative where the
    network's quantiles are too wide. The point level (:func:`~seqconv.data.stocks.point_index`) keeps offset 0:
    the point forecast stays the network's.

    Args:
        quantiles: ``[N, H, Q]`` the network's sorted quantiles on the calibration split (scaled units).
        target: ``[N, H]`` the realised values there (scaled units).
        levels: the ``Q`` quantile levels.

    Returns:
        ``[H, Q]`` float64 offsets, added to the sorted quantiles (see :func:`~seqconv.data.stocks.split_output`).
    """
    n = len(target)
    if n == 0:
        raise ValueError("conformal calibration needs at least one calibration item")
    residuals = (target.double().unsqueeze(-1) - quantiles.double()).sort(dim=0).values  # [N, H, Q], ascending
    offsets = torch.zeros(residuals.shape[1:], dtype=torch.float64)  # [H, Q]
    keep = point_index(levels)
    for j, tau in enumerate(levels):
        if j == keep:
            continue
        rank = math.ceil((n + 1) * tau) if tau > 0.5 else math.floor((n + 1) * tau)  # 1-based order statistic
        offsets[:, j] = residuals[min(max(rank, 1), n) - 1, :, j]
    return offsets
