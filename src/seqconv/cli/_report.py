"""What a run prints and writes at the end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L

__all__ = ["final_metrics", "print_summary"]


def final_metrics(trainer: L.Trainer, prefix: str) -> dict[str, Any]:
    """Logged metrics whose key starts with ``prefix``, as plain floats; a panel's ``<prefix>series/<name>/<key>``
    go under ``series``: ``{"series": {name: {"<prefix><key>": value}}}``."""
    metrics: dict[str, Any] = {}
    for key, value in sorted(trainer.callback_metrics.items()):
        if not key.startswith(prefix):
            continue
        if key.startswith(f"{prefix}series/"):
            name, metric = key[len(f"{prefix}series/") :].rsplit("/", 1)
            metrics.setdefault("series", {}).setdefault(name, {})[prefix + metric] = float(value)
        else:
            metrics[key] = float(value)
    return metrics


def print_summary(metrics: dict[str, Any], output_dir: Path) -> None:
    """One line comparing the model with its naive baseline, and where the results are."""
    if "test/mse" in metrics:
        print(
            f"\ntest MSE {metrics['test/mse']:.4f} | persistence MSE {metrics['test/persistence_mse']:.4f} | "
            f"skill {metrics['test/skill']:+.4f} (1 - MSE / persistence MSE; > 0 beats persistence) | "
            f"directional accuracy {metrics['test/directional_acc']:.3f}"
            + (
                f" | coverage {metrics['test/coverage']:.2f} (nominal {metrics['test/nominal_coverage']:.2f})"
                if "test/coverage" in metrics
                else ""
            )
            + (f" | {len(metrics['series'])} series (metrics.json: series)" if "series" in metrics else "")
        )
    elif "test/acc" in metrics:
        parts = [f"test accuracy {metrics['test/acc']:.3f}"]
        if "test/baseline_acc" in metrics:
            parts.append(f"{metrics['baseline']} {metrics['test/baseline_acc']:.3f}")
        if "test/majority_acc" in metrics:
            parts.append(f"majority {metrics['test/majority_acc']:.3f}")
        if "test/ece" in metrics:
            parts.append(f"ECE {metrics['test/ece']:.3f}")
        print("\n" + " | ".join(parts))
    print(f"metrics: {output_dir / 'metrics.json'}")
