"""Run-time settings: no NVML probe per optimizer step on a machine without a GPU."""

import os

import torch

from seqconv.runtime import NVML_CHECK, drop_nvml_probe_without_gpu


def test_the_nvml_probe_is_dropped_only_without_a_gpu(monkeypatch):
    monkeypatch.setenv(NVML_CHECK, "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert drop_nvml_probe_without_gpu() is False
    assert os.environ[NVML_CHECK] == "1"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert drop_nvml_probe_without_gpu() is True
    assert NVML_CHECK not in os.environ
    assert drop_nvml_probe_without_gpu() is False  # nothing left to drop
