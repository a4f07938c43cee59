"""The baselines CoS-Low is compared with (docs/METHOD.md section 2), computed by the same code.

All three use k examples drawn uniformly at random (seeded) from the pool instead of the
low-confidence segment:

* ``cos_sim_k``: the same median pairwise gradient cosine (:func:`dataeff.coslow.gradients.gradient_stats`);
* ``grad_norm_k``: the mean per-example LoRA gradient norm (from the same Gram matrix);
* ``conf_avg_k``: the mean confidence (:mod:`dataeff.inference.confidence`) of those k examples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dataeff.core.settings import LoraSettings
from dataeff.coslow.gradients import gradient_stats
from dataeff.coslow.selection import random_indices


def random_baselines(
    model: Any,
    tokenizer: Any,
    rows: Sequence[dict[str, Any]],
    confidences: Sequence[float],
    *,
    k: int,
    seed: int,
    lora: LoraSettings | None = None,
    source: str = "pool",
    batch_size: int | None = None,
    max_seq_len: int | None = None,
) -> dict[str, Any]:
    """``cos_sim_k``, ``grad_norm_k`` and ``conf_avg_k`` on k random labeled ``rows`` (seeded).

    ``confidences[i]`` is the confidence of ``rows[i]`` from the selection pass. The LoRA
    initialisation uses the same seed as CoS-Low, so the two differ only in which examples
    they look at; ``batch_size`` and ``max_seq_len`` are the gradient pass's, as for CoS-Low
    (:func:`dataeff.coslow.gradients.gradient_pass_settings`).
    """
    idx = random_indices(len(rows), k, seed)
    stats = gradient_stats(
        model,
        tokenizer,
        [rows[i] for i in idx],
        seed=seed,
        lora=lora,
        source=source,
        batch_size=batch_size,
        max_seq_len=max_seq_len,
    )
    conf = [float(confidences[i]) for i in idx]
    return {
        "cos_sim_k": stats["value"],
        "grad_norm_k": stats["mean_grad_norm"],
        "conf_avg_k": sum(conf) / len(conf),
        "random_indices": idx,
        "cos_sim_k_quartiles": stats["cosine_quartiles"],
    }
