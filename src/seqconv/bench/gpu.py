"""GPU path: mixed precision and ``torch.compile`` against float32, per model, when a CUDA device is present.

Each model's training step (see :mod:`seqconv.bench.workloads`) runs on the GPU in float32, under
``torch.autocast`` with bfloat16 (what ``trainer.precision=bf16-mixed`` does) and float16 with a ``GradScaler``
(``16-mixed``), and compiled with ``torch.compile`` (``model.compile=true``; compile time excluded). Without a
GPU the rows say so. ``channels_last`` is a memory format of 4-D tensors: Conv1d's ``[B, C, L]`` activations
have none, so it has no row.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from seqconv.bench.measure import Context, interleaved, median
from seqconv.bench.report import Row
from seqconv.bench.workloads import MODEL_DATA, ModelCase, Workloads, has_textcnn, task_loss, train_step

__all__ = ["VARIANTS", "device_steps", "run"]

VARIANTS = ("bf16-mixed", "16-mixed", "torch.compile")


def device_steps(case: ModelCase, device: torch.device, variants: tuple[str, ...] = VARIANTS, rounds: int = 30) -> dict:
    """Median seconds of ``case``'s training step on ``device`` in float32 and in each of ``variants``.

    The network moves to ``device`` in place, so ``case.optimizer`` (no state yet) keeps serving it.
    """
    net = case.net.to(device)
    x, y = case.x.to(device), case.y.to(device)
    optimizer = case.optimizer
    scaler = torch.amp.GradScaler(device.type)

    def mixed(dtype: torch.dtype) -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype):
            out = net(x)
        out = out.float()
        loss = task_loss(out, y)
        if dtype == torch.float16:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()

    def synced(call: Callable[[], None]) -> Callable[[], None]:
        def timed() -> None:
            call()
            if device.type == "cuda":
                torch.cuda.synchronize(device)

        return timed

    calls = {"float32": synced(lambda: train_step(net, optimizer, x, y))}
    if "bf16-mixed" in variants:
        calls["bf16-mixed"] = synced(lambda: mixed(torch.bfloat16))
    if "16-mixed" in variants:
        calls["16-mixed"] = synced(lambda: mixed(torch.float16))
    if "torch.compile" in variants:
        compiled = torch.compile(net)
        calls["torch.compile"] = synced(lambda: train_step(compiled, optimizer, x, y))
        for _ in range(3):  # compile the forward and the backward outside the timing
            calls["torch.compile"]()
    timings = interleaved(calls, rounds, warmup=3, seconds=20.0)
    return {name: median(values) for name, values in timings.items()}


def run(ctx: Context, workloads: Workloads) -> list[Row]:
    """Rows per model and variant with a GPU; one "skipped" row per variant without."""
    if not torch.cuda.is_available():
        return [
            Row("GPU", f"{variant} training steps vs float32", "skipped: no GPU on this machine")
            for variant in VARIANTS
        ]
    device = torch.device("cuda")
    torch.backends.cudnn.benchmark = True  # what trainer=gpu sets
    name = torch.cuda.get_device_name(device)
    rows = []
    for model in MODEL_DATA:
        if model == "textcnn" and not has_textcnn():
            continue
        ctx.log(f"GPU: {model}")
        case = workloads.case(model)
        seconds = device_steps(case, device)
        for variant in VARIANTS:
            rows.append(
                Row(
                    "GPU",
                    f"{model} training step, batch {case.shape}: {variant}",
                    f"{seconds[variant] * 1e3:.2f} ms",
                    f"float32 {seconds['float32'] * 1e3:.2f} ms",
                    f"{seconds['float32'] / seconds[variant]:.2f}x faster",
                    note=f"on {name}, cudnn.benchmark on",
                    data={"seconds": seconds, "device": name},
                )
            )
    return rows
