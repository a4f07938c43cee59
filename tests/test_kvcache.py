"""The decode cache: chunks merged right-aligned with their masks, appends in place, rows dropped."""

from __future__ import annotations

import torch
from transformers.cache_utils import DynamicCache

from dataeff.inference.kvcache import BufferLayer, merge_chunks


def _chunk(rows: int, width: int, seed: int) -> tuple[DynamicCache, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    cache = DynamicCache()
    for layer in range(2):
        cache.update(torch.randn(rows, 3, width, 4, generator=g), torch.randn(rows, 3, width, 4, generator=g), layer)
    return cache, torch.ones(rows, width, dtype=torch.long)


def test_merge_right_aligns_chunks_and_masks_the_gap():
    (a, ma), (b, mb) = _chunk(2, 5, 0), _chunk(3, 3, 1)
    mb[0, 0] = 0  # left padding inside a chunk stays masked
    cache, mask = merge_chunks([a, b], [ma, mb], extra=4)
    assert mask.shape == (5, 5) and mask[:2].all() and not mask[2:, :2].any()
    assert mask[2:, 2:].tolist() == mb.tolist()
    layer = cache.layers[1]
    assert layer.keys.shape == (5, 3, 5, 4) and cache.get_seq_length() == 5
    assert torch.equal(layer.keys[:2], a.layers[1].keys)
    assert torch.equal(layer.values[2:, :, 2:], b.layers[1].values)
    assert not layer.keys[2:, :, :2].any()  # the gap is zeros, never garbage


def test_update_appends_in_place_and_grows_when_full():
    (a, ma) = _chunk(2, 3, 0)
    cache, _ = merge_chunks([a], [ma], extra=1)
    layer: BufferLayer = cache.layers[0]
    buf = layer._kbuf
    k1, v1 = torch.ones(2, 3, 1, 4), torch.full((2, 3, 1, 4), 2.0)
    keys, values = layer.update(k1, v1)
    assert layer._kbuf is buf  # written into the reserved room, no copy
    assert keys.shape[2] == 4 and torch.equal(keys[:, :, 3:], k1) and torch.equal(values[:, :, :3], a.layers[0].values)
    keys, _ = layer.update(k1 * 3, v1)  # no room left: the buffer grows, contents kept
    assert keys.shape[2] == 5 and torch.equal(keys[:, :, 4:], k1 * 3) and torch.equal(keys[:, :, :3], a.layers[0].keys)


def test_dropping_rows_and_cropping():
    (a, ma) = _chunk(4, 3, 0)
    cache, _ = merge_chunks([a], [ma], extra=2)
    cache.batch_select_indices(torch.tensor([1, 3]))
    assert torch.equal(cache.layers[0].keys, a.layers[0].keys[[1, 3]])
    cache.layers[0].update(torch.zeros(2, 3, 1, 4), torch.zeros(2, 3, 1, 4))
    cache.layers[0].crop(-1)
    assert torch.equal(cache.layers[0].keys, a.layers[0].keys[[1, 3]])
