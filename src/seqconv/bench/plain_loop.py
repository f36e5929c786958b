"""The plain PyTorch baseline: a Conv1d forecaster written the way the classic tutorial writes it.

Windows built by a Python loop into numpy arrays, a random train/test split, per-batch slicing, Adam, 50 epochs,
batch 32, window 100, torch's default threading; on the 1,000-point random walk that seqconv's
``data=stocks_synthetic`` generates (same seed, same rescaling to 2800-3500). The network is the one of
``model=tscnn`` (``Conv1d 1->64 k3 -> ReLU -> MaxPool 2 -> Conv1d 64->128 k3 -> ReLU -> MaxPool 2 -> Flatten ->
Linear 50 -> ReLU -> Linear 1``, padding 1 so that the flatten size is ``128 * 25`` as in seqconv).

The tutorial uses scikit-learn's ``MinMaxScaler`` (fit on the whole series) and ``train_test_split(test_size=0.2,
random_state=42)``; scikit-learn is not a seqconv dependency, so both are written here with numpy.

``--split random`` (the tutorial) scores windows drawn at random from the whole series, so test windows
interleave with, and overlap, training windows; ``--split chronological`` holds out the last 15% of the series
(after 15% for validation, unused here), as seqconv does. Its test MSE is the one comparable with seqconv's
``test/mse``. Both are in price units.

    python -m seqconv.bench.plain_loop                           # prints wall time and test MSE
    python -m seqconv.bench.plain_loop --split chronological --json out.json
    python -m seqconv.bench.plain_loop --threads 1   # what seqconv's runtime.num_threads=auto picks here

It stands for code written without seqconv, so it imports nothing from seqconv (only numpy and torch); the
suite's end-to-end comparison (:mod:`seqconv.bench.end_to_end`) runs it in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import time

START = time.perf_counter()

import numpy as np  # noqa: E402 (the import time is part of the wall time)
import torch  # noqa: E402
from torch import nn  # noqa: E402

NUM_POINTS, SERIES_SEED, LOW, HIGH = 1000, 42, 2800.0, 3500.0
WINDOW, BATCH_SIZE, EPOCHS, LR = 100, 32, 50, 1e-3


def random_walk() -> np.ndarray:
    """The series of ``SyntheticStocksDataModule(num_points=1000, seed=42, low=2800, high=3500)``."""
    walk = np.cumsum(np.random.default_rng(SERIES_SEED).standard_normal(NUM_POINTS))
    scaled = (walk - walk.min()) / (walk.max() - walk.min())
    return LOW + scaled * (HIGH - LOW)


def make_windows(series: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """The tutorial's loop: ``X[i] = series[i : i + window]``, ``y[i] = series[i + window]``."""
    xs, ys = [], []
    for i in range(len(series) - window):
        xs.append(series[i : i + window])
        ys.append(series[i + window])
    return np.array(xs), np.array(ys)


def split(x: np.ndarray, y: np.ndarray, how: str, seed: int) -> tuple[np.ndarray, ...]:
    """``train_test_split(test_size=0.2)`` (``random``) or seqconv's 70/15/15 chronological split (test part)."""
    if how == "random":
        order = np.random.default_rng(seed).permutation(len(x))
        n_test = int(np.ceil(0.2 * len(x)))
        test, train = order[:n_test], order[n_test:]
        return x[train], x[test], y[train], y[test]
    # chronological: the rows of seqconv's splits ([0, 700), [700, 850), [850, 1000)); a window and its target
    # lie inside one split
    val_at, test_at = round(NUM_POINTS * 0.70), round(NUM_POINTS * 0.85)
    target_at = np.arange(len(x)) + WINDOW  # the row of each target
    start = np.arange(len(x))
    train = target_at < val_at
    test = start >= test_at
    return x[train], x[test], y[train], y[test]


class ConvForecaster(nn.Module):
    """The tutorial's network, with padding 1 (seqconv's ``"same"``)."""

    def __init__(self, window: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(1, 64, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(64, 128, kernel_size=3, padding=1)
        self.pool = nn.MaxPool1d(2)
        self.fc1 = nn.Linear(128 * (window // 4), 50)
        self.fc2 = nn.Linear(50, 1)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 1, L] -> [B, 1]``."""
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x)))
        x = x.flatten(1)  # [B, 128, L / 4] -> [B, 128 * L / 4]
        return self.fc2(self.relu(self.fc1(x)))


def main() -> None:
    """Train, test, print the wall time and the test MSE in price units."""
    parser = argparse.ArgumentParser(prog="python -m seqconv.bench.plain_loop", description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("random", "chronological"), default="random")
    parser.add_argument("--seed", type=int, default=42, help="torch seed and random_state of the split")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's own choice)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)

    prices = random_walk()
    low, high = prices.min(), prices.max()  # MinMaxScaler fit on the whole series, as the tutorial does
    scaled = (prices - low) / (high - low)
    x, y = make_windows(scaled, WINDOW)
    x_train, x_test, y_train, y_test = split(x, y, args.split, args.seed)
    x_train = torch.tensor(x_train, dtype=torch.float32).unsqueeze(1)  # [N, L] -> [N, 1, L]
    y_train = torch.tensor(y_train, dtype=torch.float32).unsqueeze(1)
    x_test = torch.tensor(x_test, dtype=torch.float32).unsqueeze(1)

    model = ConvForecaster(WINDOW)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.MSELoss()
    train_start = time.perf_counter()
    for _ in range(args.epochs):
        model.train()
        for i in range(0, len(x_train), BATCH_SIZE):
            xb, yb = x_train[i : i + BATCH_SIZE], y_train[i : i + BATCH_SIZE]
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
    train_seconds = time.perf_counter() - train_start

    model.eval()
    with torch.no_grad():
        pred = model(x_test).squeeze(1).numpy()
    pred_price = pred * (high - low) + low
    true_price = y_test * (high - low) + low
    results = {
        "split": args.split,
        "train_windows": len(x_train),
        "test_windows": len(x_test),
        "threads": torch.get_num_threads(),
        "train_seconds": train_seconds,
        "test_mse": float(np.mean((pred_price - true_price) ** 2)),
        "wall_seconds": time.perf_counter() - START,
    }
    print(
        f"plain loop ({args.split} split, {torch.get_num_threads()} threads): wall {results['wall_seconds']:.2f} s "
        f"(training {train_seconds:.2f} s), test MSE {results['test_mse']:.2f} on {len(x_test)} windows"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
