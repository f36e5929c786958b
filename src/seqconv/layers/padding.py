"""Padding modes for 1-D convolutions: the one place where padding amounts are computed."""

from __future__ import annotations

__all__ = ["PADDING_MODES", "get_padding", "conv_output_length"]

PADDING_MODES = ("same", "valid", "causal")


def get_padding(kernel_size: int, dilation: int, mode: str) -> tuple[int, int]:
    """Return the ``(left, right)`` zero padding for ``mode``.

    ``same`` centres the kernel (output length ``ceil(L / stride)``), ``valid`` pads nothing, and ``causal``
    puts ``(kernel_size - 1) * dilation`` on the left only, so output ``t`` sees inputs ``<= t``.

    Raises:
        ValueError: unknown ``mode``; the message lists the valid ones.
    """
    total = (kernel_size - 1) * dilation
    if mode == "same":
        return total // 2, total - total // 2
    if mode == "valid":
        return 0, 0
    if mode == "causal":
        return total, 0
    raise ValueError(f"unknown padding={mode!r}; choose one of {list(PADDING_MODES)}")


def conv_output_length(length: int, kernel_size: int, stride: int = 1, dilation: int = 1, padding: int = 0) -> int:
    """Output length of a convolution or pooling: ``floor((L + padding - dilation * (k - 1) - 1) / stride) + 1``.

    ``padding`` is the total (left + right) padding. Returns a value ``<= 0`` when the input is too short.
    """
    return (length + padding - dilation * (kernel_size - 1) - 1) // stride + 1
