"""Run the prompt prefix that every row of a batch shares once, not once per row.

Every chat-formatted prompt of a task starts with the same tokens: the chat template's system
turn (SmolLM2 adds a 20-token default one) and usually the task's fixed instruction. On the
embedded default tasks that is 24-39 of 62-167 prompt tokens, and on a CPU, where batched
prefill is compute-bound, it is that share of the work repeated for every row.

A batch instead runs the shared prefix at batch size 1 with ``use_cache=True``, repeats its
key/value cache over the batch, and runs only the rows' remaining tokens against it. The
attention inputs are the same as without sharing, so the result is the same up to float
rounding; under autograd the cache's ``repeat_interleave`` sums the rows' gradients back into
the one prefix computation, so training gradients are the same too (tests check both).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: Below this many shared tokens the extra batch-1 forward costs more than it saves.
MIN_SHARED = 8


def shared_prefix_len(rows: Sequence[Sequence[int]]) -> int:
    """Number of leading tokens all ``rows`` have in common, leaving at least one token of every
    row after it; 0 for a single row or when under ``MIN_SHARED``."""
    if len(rows) < 2:
        return 0
    limit = min(len(r) for r in rows) - 1
    first = rows[0]
    n = 0
    while n < limit and all(r[n] == first[n] for r in rows):
        n += 1
    return n if n >= MIN_SHARED else 0


def left_pad(seqs: Sequence[Sequence[int]], pad_id: int, shared: int):
    """Left-pad ``seqs`` after cutting off their first ``shared`` tokens (all the same).

    Returns ``ids`` ``[B, W]`` (the rows' own tokens), ``mask`` ``[B, shared + W]`` (prefix and
    rows, 0 on padding), ``positions`` ``[B, W]`` and the prefix ``[1, shared]`` (None when
    ``shared`` is 0). Every row ends at the last column.
    """
    import torch

    width = max(len(s) for s in seqs) - shared
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), shared + width), dtype=torch.long)
    mask[:, :shared] = 1
    for i, s in enumerate(seqs):
        own = len(s) - shared
        ids[i, width - own :] = torch.tensor(list(s[shared:]), dtype=torch.long)
        mask[i, shared + width - own :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, shared:]
    prefix = torch.tensor([list(seqs[0][:shared])], dtype=torch.long) if shared else None
    return ids, mask, positions, prefix


def run_prefix(model: Any, prefix: Any) -> Any:
    """The key/value cache of ``prefix`` (a ``[1, P]`` id tensor on the model's device)."""
    return model(input_ids=prefix, use_cache=True, logits_to_keep=1).past_key_values


def prefix_cache(model: Any, prefix: Any, batch: int) -> Any:
    """The key/value cache of ``prefix`` repeated ``batch`` times. Gradients flow through it
    when autograd is on."""
    cache = run_prefix(model, prefix)
    cache.batch_repeat_interleave(batch)
    return cache


def repeated(cache: Any, batch: int) -> Any:
    """A copy of a one-row ``cache`` repeated ``batch`` times (``cache`` itself is unchanged),
    so several prefill chunks can start from one prefix computation."""
    import copy

    out = copy.deepcopy(cache)
    out.batch_repeat_interleave(batch)
    return out
