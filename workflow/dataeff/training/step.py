"""One optimizer step over one effective batch, on one or several processes.

Each rank runs its share of the micro-batches (:func:`~dataeff.training.batches.rank_share`),
gradients are averaged across ranks (DDP or FSDP2), clipped on the prepared model's parameters
(DTensors under FSDP2) and applied. Under FSDP gradients are never kept unsharded between
micro-batches (no ``no_sync``: it would hold a full-size gradient on every GPU); under DDP
``no_sync`` skips the all-reduce of all but the last micro-batch.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any

from dataeff.core.errors import TrainingDivergedError
from dataeff.training.batches import Example, Layout, answer_loss_sum, collate, micro_batches, rank_share


@dataclass
class StepContext:
    """What a step needs besides the batch (built once per fine-tune)."""

    accelerator: Any
    model: Any
    optimizer: Any
    scheduler: Any
    layout: Layout
    precision: Any
    pad_id: int
    micro_batch_size: int
    max_grad_norm: float
    sharded: bool
    source: str = "train.jsonl"


def train_step(ctx: StepContext, batch: list[Example], step: int) -> float:
    """Run one optimizer step on ``batch`` (the whole effective batch, identical on every rank);
    returns the batch's mean answer-token loss, reduced across ranks (so every rank returns the
    same value and raises together when it is not finite)."""
    import torch

    acc, model = ctx.accelerator, ctx.model
    world, rank = acc.num_processes, acc.process_index
    n_answer = sum(len(e.completion) for e in batch)
    mine = rank_share(micro_batches(batch, ctx.micro_batch_size), world, rank)
    total = 0.0
    for j, (mb, weight) in enumerate(mine):
        collated = collate(mb, ctx.pad_id, ctx.layout)
        last = j == len(mine) - 1
        sync = contextlib.nullcontext() if last or ctx.sharded else acc.no_sync(model)
        with sync:
            with ctx.precision.autocast():
                loss, _ = answer_loss_sum(model, collated, acc.device, ctx.layout)
            # DDP/FSDP average the ranks' gradients; scaling by the world size makes the result
            # the whole effective batch's answer-token mean, as on one process.
            loss = loss * (weight * world / n_answer)
            acc.backward(loss)
        total += float(loss.detach()) / world
    if world > 1:
        total = float(acc.reduce(torch.tensor(total, device=acc.device), "sum"))
    if not math.isfinite(total):
        raise TrainingDivergedError(
            f"training loss became {total} at step {step + 1}",
            file=ctx.source,
            field="train.learning_rate",
            fix="lower the learning rate",
        )
    # The prepared model's parameters: under FSDP2 these are the DTensors the gradients live on.
    acc.clip_grad_norm_(model.parameters(), ctx.max_grad_norm)
    ctx.optimizer.step()
    ctx.scheduler.step()
    ctx.optimizer.zero_grad(set_to_none=True)
    return total
