"""A decode-time key/value cache assembled from prefill chunks, that appends in place.

Two costs of plain batched greedy decoding on a CPU are removed here (measured on SmolLM2,
2 fp32 threads, batch 32, ~110 cached tokens):

* ``transformers.DynamicCache`` appends each new token with ``torch.cat``, which copies the
  whole cache of every layer at every step: a fifth of a decode step. :class:`BufferLayer`
  reserves room for the new tokens once and writes them in place.
* A decode step reads every weight once whatever the batch, so it costs nearly the same at
  64 rows as at 32 (a 576x1536 fp32 matmul: 1.63 ms at 32 rows, 1.87 ms at 64). Prefill is the
  opposite: compute-bound, so padding is pure waste. :func:`merge_chunks` lets prefill run in
  small length-sorted chunks (little padding) and decode run on the whole, wide batch: each
  chunk's cache is right-aligned into one buffer, and the gap to the left of a narrower chunk
  is masked out, exactly like left padding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from transformers.cache_utils import Cache, DynamicLayer


class BufferLayer(DynamicLayer):
    """One layer's keys and values in a buffer ``[B, H, capacity, D]``; ``keys``/``values`` are
    views of the filled part, so attention sees exactly what a ``DynamicLayer`` would hold."""

    def __init__(self, keys: Any, values: Any, length: int) -> None:
        super().__init__()
        self._kbuf, self._vbuf, self._len = keys, values, length
        self.dtype, self.device = keys.dtype, keys.device
        self.is_initialized = True
        self._views()

    def _views(self) -> None:
        self.keys = self._kbuf[:, :, : self._len]
        self.values = self._vbuf[:, :, : self._len]

    def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        n = key_states.shape[-2]
        if self._len + n > self._kbuf.shape[2]:  # out of room: grow (not when sized by merge_chunks)
            self._kbuf, self._vbuf = (_grow(b, max(n, b.shape[2] // 2)) for b in (self._kbuf, self._vbuf))
        self._kbuf[:, :, self._len : self._len + n] = key_states
        self._vbuf[:, :, self._len : self._len + n] = value_states
        self._len += n
        self._views()
        return self.keys, self.values

    def batch_select_indices(self, indices: Any) -> None:
        self._kbuf = self._kbuf[indices]
        self._vbuf = self._vbuf[indices]
        self._views()

    def crop(self, tokens_to_remove: int) -> None:
        if tokens_to_remove > 0:
            raise ValueError("crop takes a negative number of tokens to remove")
        self._len = max(0, self._len + tokens_to_remove)
        self._views()


def _grow(buf: Any, extra: int) -> Any:
    import torch

    return torch.cat([buf, buf.new_zeros(*buf.shape[:2], extra, buf.shape[3])], dim=2)


def merge_chunks(caches: Sequence[Any], masks: Sequence[Any], extra: int) -> tuple[Cache, Any]:
    """One cache and attention mask for all rows of ``caches`` (each a prefill chunk's cache
    with its ``[rows, width]`` mask), rows in chunk order, with room for ``extra`` more tokens.

    Every chunk is right-aligned to the widest; the columns to its left are zero and masked.
    """
    width = max(m.shape[1] for m in masks)
    rows = sum(m.shape[0] for m in masks)
    mask = masks[0].new_zeros(rows, width)
    r = 0
    for m in masks:
        mask[r : r + m.shape[0], width - m.shape[1] :] = m
        r += m.shape[0]
    layers = []
    for li in range(len(caches[0].layers)):
        k0, v0 = caches[0].layers[li].keys, caches[0].layers[li].values
        kbuf = k0.new_zeros(rows, k0.shape[1], width + extra, k0.shape[3])
        vbuf = v0.new_zeros(rows, v0.shape[1], width + extra, v0.shape[3])
        r = 0
        for cache, m in zip(caches, masks, strict=True):
            k, v = cache.layers[li].keys, cache.layers[li].values
            kbuf[r : r + m.shape[0], :, width - m.shape[1] : width] = k
            vbuf[r : r + m.shape[0], :, width - m.shape[1] : width] = v
            r += m.shape[0]
        layers.append(BufferLayer(kbuf, vbuf, width))
    return Cache(layers=layers), mask
