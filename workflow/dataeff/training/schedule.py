"""The data schedule of a fine-tune: which examples each step draws, how many steps run, when
validation runs, and what that covers. Pure functions of (pool size, config, seed), so a resumed
run sees the same batches and tests can check how coverage grows with the budget."""

from __future__ import annotations

import math
from typing import Any


def batch_indices(n: int, batch_size: int, step: int, seed: int) -> list[int]:
    """Indices of the effective batch for ``step``: epochs are seeded permutations, so the
    data order depends only on (seed, step) and a resumed run sees the same batches."""
    import torch

    per_epoch = max(1, math.ceil(n / batch_size))
    epoch, pos = divmod(step, per_epoch)
    g = torch.Generator().manual_seed(seed * 100003 + epoch)
    perm = torch.randperm(n, generator=g).tolist()
    return perm[pos * batch_size : (pos + 1) * batch_size]


def planned_steps(n: int, train_cfg: dict[str, Any]) -> int:
    """Optimizer steps: ``max_steps``, or fewer when ``max_epochs`` over ``n`` examples ends first."""
    steps = int(train_cfg["max_steps"])
    if train_cfg.get("max_epochs"):
        steps = min(steps, math.ceil(train_cfg["max_epochs"] * n / train_cfg["batch_size"]))
    return max(1, steps)


def data_coverage(n: int, batch_size: int, steps: int, seed: int) -> tuple[int, int]:
    """(examples drawn, distinct examples seen) by ``steps`` optimizer steps over ``n`` examples,
    from the same schedule as training (:func:`batch_indices`)."""
    seen: set[int] = set()
    drawn = 0
    for step in range(steps):
        idx = batch_indices(n, batch_size, step, seed)
        drawn += len(idx)
        if len(seen) < n:
            seen.update(idx)
    return drawn, len(seen)


def validation_steps(steps: int, train_cfg: dict[str, Any]) -> list[int]:
    """The steps after which validation loss is computed: every ``eval_every`` and the last."""
    every = int(train_cfg["eval_every"])
    return sorted(set(range(every, steps + 1, every)) | {steps})


def early_stopping_possible(steps: int, train_cfg: dict[str, Any]) -> bool:
    """Whether early stopping can end a run of ``steps`` steps before its end: it needs more than
    ``patience`` evaluations after the first (which always improves on infinity)."""
    return len(validation_steps(steps, train_cfg)) > int(train_cfg["patience"]) + 1
