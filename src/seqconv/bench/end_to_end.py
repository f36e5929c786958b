"""End to end: the plain-loop tutorial (:mod:`seqconv.bench.plain_loop`) vs ``train.py model=tscnn
data=stocks_synthetic experiment=classic_synthetic``, each a fresh process, timed from start to exit.

Both train the same network for 50 epochs with batch 32 on windows of 100 steps of the same 1,000-point random
walk, then report the test MSE in price units. They split differently: the tutorial draws 20% of the windows at
random (test windows overlap training ones and the scaler saw the whole series), seqconv tests on the last 15%
of the series. So the baseline also runs with ``--split chronological`` (seqconv's test windows, its 600
training windows); that row is the one whose MSE compares. Each repeat uses another seed (the same for both);
the runs are interleaved so that load from other processes hits all of them alike. Both run on the CPU
(``trainer.accelerator=cpu``), also where a GPU is present. The seqconv run also reports where its time went
(:class:`PhaseClock`).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from datetime import datetime
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback

from seqconv.bench.measure import Context, median, read_json, run_python
from seqconv.bench.report import Row

__all__ = ["PhaseClock", "run"]

SPEEDUP_GOAL = 2.0
PHASES = {"startup": "start-up", "setup": "set-up", "fit": "fit", "test_and_exit": "test and exit"}
# on the CPU, like the tutorial, also where a GPU is present
SEQCONV = ["-m", "seqconv.cli.train", "model=tscnn", "data=stocks_synthetic", "experiment=classic_synthetic"]
SEQCONV += ["trainer.accelerator=cpu"]
# the tutorial's loop; run as a module it loads only the stdlib-only package ``seqconv.bench`` besides torch and numpy
BASELINE = ["-m", "seqconv.bench.plain_loop"]


def _baseline(ctx: Context, name: str, seed: int, epochs: int, extra: list[str]) -> dict:
    out = ctx.out / "end_to_end" / f"{name}_{seed}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    args = [*BASELINE, "--seed", str(seed), "--epochs", str(epochs), "--json", str(out), *extra]
    seconds, _ = run_python(args, ctx.out, timeout=900)
    return {"seconds": seconds, **read_json(out)}


class PhaseClock(Callback):
    """Writes the wall-clock times of ``fit``'s start and end to ``path`` (JSON), for :func:`_phases`.

    Added to the timed ``train.py`` runs with ``+callbacks.phase_clock=...``; three hook calls per run.
    """

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.stamps: dict[str, float] = {}

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.stamps["fit_start"] = time.time()

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.stamps["fit_end"] = time.time()
        self.path.write_text(json.dumps(self.stamps))


def _phases(run_dir: Path, started: float, ended: float) -> dict[str, float]:
    """Where a ``train.py`` run's wall time went: start-up (interpreter, imports, config) until its first log
    line, set-up (data, network, thread probe, trainer) until ``fit`` starts, ``fit``, then test, figure, report
    and exit."""
    log, clock = run_dir / "train.log", run_dir / "phases.json"
    first = re.search(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+)\]", log.read_text(), re.M) if log.is_file() else None
    if first is None or not clock.is_file():
        return {}
    logged = datetime.strptime(first.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
    stamps = json.loads(clock.read_text())
    return {
        "startup": logged - started,
        "setup": stamps["fit_start"] - logged,
        "fit": stamps["fit_end"] - stamps["fit_start"],
        "test_and_exit": ended - stamps["fit_end"],
    }


def _seqconv(ctx: Context, name: str, seed: int, epochs: int, extra: list[str]) -> dict:
    run_dir = ctx.out / "end_to_end" / f"{name}_{seed}"
    shutil.rmtree(run_dir, ignore_errors=True)  # train.py would resume from a last.ckpt there
    args = [*SEQCONV, f"seed={seed}", f"hydra.run.dir={run_dir}", f"trainer.max_epochs={epochs}", *extra]
    clock = "+callbacks.phase_clock"
    args += [f"{clock}._target_={PhaseClock.__module__}.PhaseClock", f"{clock}.path={run_dir / 'phases.json'}"]
    started = time.time()
    seconds, _ = run_python(args, ctx.out, timeout=900)
    ended = time.time()
    metrics = read_json(run_dir / "metrics.json")
    log = (run_dir / "train.log").read_text() if (run_dir / "train.log").is_file() else ""
    chosen = re.findall(r"torch intra-op threads: (\d+)", log)
    return {
        "seconds": seconds,
        "test_mse": metrics["test/mse"],
        "persistence_mse": metrics["test/persistence_mse"],
        "threads": int(chosen[-1]) if chosen else None,
        "phases": _phases(run_dir, started, ended),
    }


def run(ctx: Context, workloads: object = None) -> list[Row]:
    """Rows: seqconv vs the tutorial as written, vs the tutorial on seqconv's split, and the thread effect."""
    epochs = 1 if ctx.quick else 50
    variants = {
        "baseline": (_baseline, []),
        "baseline_chrono": (_baseline, ["--split", "chronological"]),
        "baseline_1thread": (_baseline, ["--threads", "1"]),
        "seqconv": (_seqconv, []),
    }
    results: dict[str, list[dict]] = {name: [] for name in variants}
    for seed in [42, 0, 1, 2, 3][: ctx.repeats]:
        for name, (call, extra) in variants.items():
            ctx.log(f"end to end: {name}, seed {seed}")
            results[name].append(call(ctx, name, seed, epochs, extra))

    def med(name: str, key: str) -> float:
        return median([r[key] for r in results[name]])

    ours, ours_mse = med("seqconv", "seconds"), med("seqconv", "test_mse")
    timed = [r["phases"] for r in results["seqconv"] if r["phases"]]
    phases = {k: median([p[k] for p in timed]) for k in PHASES} if timed else {}
    where = ", ".join(f"{PHASES[k]} {v:.1f} s" for k, v in phases.items())
    baseline_train = med("baseline_chrono", "train_seconds")
    threads = sorted({r["threads"] for r in results["seqconv"]})
    seqconv_cell = f"{ours:.1f} s, test MSE {ours_mse:.0f} (auto: {'/'.join(map(str, threads))} thread(s))"
    rows = []
    for name, label, mse_compares in (
        ("baseline", "tutorial as written (random split, torch default threads)", False),
        ("baseline_chrono", "tutorial on seqconv's chronological split", True),
        ("baseline_1thread", "tutorial, random split, 1 thread", False),
    ):
        theirs, their_mse = med(name, "seconds"), med(name, "test_mse")
        speedup = theirs / ours
        informative = name == "baseline_1thread"
        goal = "" if informative else f">= {SPEEDUP_GOAL:g}x faster" + (", MSE no worse" if mse_compares else "")
        met = None if informative else speedup >= SPEEDUP_GOAL and (ours_mse <= their_mse or not mse_compares)
        split = "random 20%" if name != "baseline_chrono" else "last 15%"
        note = {
            "baseline": (
                "the tutorial's MSE is on randomly drawn test windows that overlap training windows (and a scaler "
                "fit on the whole series): not comparable with seqconv's, which forecasts the last 15% of the "
                f"series; seqconv's persistence MSE there is {med('seqconv', 'persistence_mse'):.0f}"
            ),
            "baseline_chrono": (
                "the same test windows and training windows as seqconv: this MSE compares. seqconv's run (medians): "
                f"{where}; the tutorial's training loop takes {baseline_train:.1f} s of its run"
            ),
            "baseline_1thread": (
                "how much of the difference is the thread count alone: torch's default of "
                f"{results['baseline'][0]['threads']} threads is what the tutorial gets on this machine"
            ),
        }[name]
        rows.append(
            Row(
                "end-to-end",
                f"tscnn classic_synthetic, 50 epochs: vs {label}" if not ctx.quick else f"{label} (1 epoch)",
                seqconv_cell,
                f"{theirs:.1f} s, test MSE {their_mse:.0f} ({split}, {results[name][0]['threads']} thr)",
                f"{speedup:.2f}x faster" if speedup >= 1 else f"{1 / speedup:.2f}x slower",
                goal,
                met,
                note=note,
                data={"seqconv": results["seqconv"], name: results[name]},
            )
        )
    return rows
