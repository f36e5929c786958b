"""Run-time settings: no NVML probe per optimizer step on a machine without a GPU, and the thread-count probe."""

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


def _timed_by_thread_count(monkeypatch, ms_per_thread: dict[int, float]) -> list[int]:
    """Replace the timed step by fixed timings per thread count; returns the list of counts each step ran with."""
    from seqconv import runtime

    calls: list[int] = []

    def step(net, optimizer, x):
        calls.append(torch.get_num_threads())
        return ms_per_thread[torch.get_num_threads()] / 1e3

    monkeypatch.setattr(runtime, "_train_step", step)
    monkeypatch.setattr(runtime, "_DECISIONS", {})
    monkeypatch.setattr(runtime, "_INITIAL_THREADS", 2)
    return calls


def test_auto_threads_probe_once_per_network_layout_and_batch_shape(monkeypatch):
    from seqconv.runtime import fastest_num_threads

    calls = _timed_by_thread_count(monkeypatch, {1: 10.0, 2: 5.0})
    net, x = torch.nn.Conv1d(1, 4, 3), torch.randn(8, 1, 20)
    assert fastest_num_threads(net, x, rounds=3) == 2
    assert sorted(set(calls)) == [1, 2] and len(calls) == 8  # warm-up round + 3, each count
    probed = len(calls)
    assert fastest_num_threads(torch.nn.Conv1d(1, 4, 3), torch.randn(8, 1, 20), rounds=3) == 2  # same layout
    assert len(calls) == probed  # reused: no step timed
    fastest_num_threads(torch.nn.Conv1d(1, 4, 3), torch.randn(16, 1, 20), rounds=3)  # another batch shape
    fastest_num_threads(torch.nn.Conv1d(1, 8, 3), torch.randn(8, 1, 20), rounds=3)  # another layout
    assert len(calls) == 3 * probed
    fastest_num_threads(net, x, rounds=3, reuse=False)
    assert len(calls) == 4 * probed


def test_auto_threads_still_try_the_initial_count_after_one_thread_was_chosen(monkeypatch):
    from seqconv.runtime import fastest_num_threads

    calls = _timed_by_thread_count(monkeypatch, {1: 5.0, 2: 10.0})
    assert fastest_num_threads(torch.nn.Conv1d(1, 4, 3), torch.randn(8, 1, 20), rounds=1) == 1
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # what the first fit applied
    try:
        calls.clear()
        fastest_num_threads(torch.nn.Conv1d(2, 4, 3), torch.randn(8, 2, 20), rounds=1)
        assert sorted(set(calls)) == [1, 2]  # 2 threads timed again, not only the count in effect
    finally:
        torch.set_num_threads(before)


def test_null_and_deterministic_auto_give_the_process_default_after_an_earlier_run_changed_it(monkeypatch):
    # a multirun runs its jobs in one process: a job that forced 1 thread must not decide the next job's count
    from seqconv import runtime
    from seqconv.pipeline import apply_num_threads

    monkeypatch.setattr(runtime, "_INITIAL_THREADS", 2)
    before = torch.get_num_threads()
    try:
        for setting, deterministic in ((None, False), ("auto", True)):
            assert runtime.set_num_threads(1) == 1  # the earlier job
            assert apply_num_threads(setting, task=None, loader=None, deterministic=deterministic) == 2
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
