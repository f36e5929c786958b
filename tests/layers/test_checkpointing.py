"""Gradient checkpointing trades memory for compute and changes nothing else."""

import copy

import pytest
import torch

from seqconv.layers import TemporalConvNet
from seqconv.models import TCNForecaster, TimeSeriesCNN

MODELS = {
    "tcn_stack": lambda: TemporalConvNet(2, [8, 8, 8], norm="layer", dropout=0.0),
    "tcn": lambda: TCNForecaster(2, channels=[8, 8, 8], dropout=0.0),
    "tscnn": lambda: TimeSeriesCNN(2, 32, norm="batch"),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_checkpointing_leaves_outputs_and_gradients_unchanged(name):
    torch.manual_seed(0)
    plain = MODELS[name]().train()
    checkpointed = copy.deepcopy(plain)
    checkpointed.set_grad_checkpointing(True)
    x = torch.randn(4, 2, 32)
    out_plain, out_ckpt = plain(x), checkpointed(x)
    torch.testing.assert_close(out_plain, out_ckpt)
    out_plain.square().sum().backward()
    out_ckpt.square().sum().backward()
    for (name_p, p), (_, q) in zip(plain.named_parameters(), checkpointed.named_parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, msg=name_p)


def test_checkpointing_actually_recomputes():
    """The flag is honoured: blocks run twice (forward + recompute) per training step."""
    net = TemporalConvNet(2, [4, 4], norm="none")
    calls = []
    net.blocks[0].conv1.register_forward_pre_hook(lambda *_: calls.append(1))
    net.set_grad_checkpointing(True)
    net(torch.randn(1, 2, 16)).sum().backward()
    assert len(calls) == 2
