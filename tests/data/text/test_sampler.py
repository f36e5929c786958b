"""Length bucketing serves every index once per epoch, in batches of similar length, reproducibly."""

import pytest
import torch

from seqconv.data.text import BucketBatchSampler, TokenizedDataset, pad_batch

LENGTHS = torch.randint(1, 400, (1000,), generator=torch.Generator().manual_seed(0))


def padding_cost(batches: list[list[int]]) -> int:
    return sum(int(LENGTHS[b].max()) * len(b) - int(LENGTHS[b].sum()) for b in batches)


@pytest.mark.parametrize("shuffle", [True, False])
def test_every_index_once_per_epoch(shuffle):
    sampler = BucketBatchSampler(LENGTHS, batch_size=32, shuffle=shuffle, seed=0)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 32
    assert sorted(i for b in batches for i in b) == list(range(1000))
    assert all(len(b) == 32 for b in batches if len(b) != 1000 % 32)


def test_buckets_cut_padding_compared_with_random_batches():
    bucketed = list(BucketBatchSampler(LENGTHS, batch_size=32, seed=0))
    random = torch.randperm(1000, generator=torch.Generator().manual_seed(0)).split(32)
    assert padding_cost(bucketed) < padding_cost([b.tolist() for b in random]) / 5


def test_seeded_epochs_repeat_and_differ_from_each_other():
    first, again = BucketBatchSampler(LENGTHS, 32, seed=3), BucketBatchSampler(LENGTHS, 32, seed=3)
    assert list(first) == list(again)
    first.set_epoch(1)
    assert list(first) != list(again)


def test_without_seed_the_global_generator_decides():
    torch.manual_seed(7)
    a = list(BucketBatchSampler(LENGTHS, 32))
    torch.manual_seed(7)
    assert list(BucketBatchSampler(LENGTHS, 32)) == a


def test_unshuffled_order_is_sorted_by_length_and_drop_last_drops_the_short_batch():
    batches = list(BucketBatchSampler(LENGTHS, 32, shuffle=False, drop_last=True))
    assert len(batches) == 31 and all(len(b) == 32 for b in batches)
    flat = torch.tensor([i for b in batches for i in b])
    assert torch.all(LENGTHS[flat][1:] >= LENGTHS[flat][:-1])


def test_pad_batch_pads_right_and_masks_the_padding():
    x, mask = pad_batch([torch.tensor([5, 6, 7]), torch.tensor([8])], pad_id=0)
    assert x.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert mask.tolist() == [[True, True, True], [True, False, False]]


def test_dataset_batches_match_its_items():
    data = TokenizedDataset.from_lists([[4, 5, 6], [7], [8, 9]], [1, 0, 1], pad_id=0)
    batch = data.__getitems__([2, 0])
    assert batch["x"].tolist() == [[8, 9, 0], [4, 5, 6]] and batch["y"].tolist() == [1, 1]
    assert batch["length"].tolist() == [2, 3] and data.lengths.tolist() == [3, 1, 2]
    item = data[1]
    assert item["x"].tolist() == [7] and int(item["y"]) == 0
