"""Validation loss reduced across ranks, and the best weights kept as each rank's own shard.

The validation micro-batches are split across ranks like a training batch and the loss sums and
token counts are all-reduced, so every rank gets the same number and takes the same
early-stopping and best-checkpoint decisions. The best weights are kept as a CPU copy of each
rank's local shard (no gather, no collective, 1/world of the model per rank); at the end they
are copied back into the model and the full model is gathered once for saving.

Under FSDP2 a module's parameters are its shards only while its group is resharded. accelerate
wraps the model's tail (final norm, lm_head, and the embedding when tied) with
``reshard_after_forward=False``, and validation runs forward only, so after it that group holds
the gathered copy: a capture then would keep whole tensors and a restore would write into a copy
that the next reshard (the pre-save hook of the state dict) throws away, leaving the last step's
tail in the saved model. Both therefore reshard every FSDP2 module first (:func:`reshard`).
"""

from __future__ import annotations

from typing import Any

from dataeff.core.errors import DataeffError
from dataeff.training.batches import Example, Layout, answer_loss_sum, collate, micro_batches, rank_share


def validation_loss(
    accelerator: Any,
    model: Any,
    examples: list[Example],
    micro: int,
    pad_id: int,
    layout: Layout,
    precision: Any = None,
) -> float:
    """Mean answer-token cross-entropy over ``examples``, the same on every rank.

    ``accelerator`` None: one process, on the model's device (benchmarks, tests); ``precision``
    None: the model's own dtype, no autocast."""
    import contextlib

    import torch

    world, rank = (accelerator.num_processes, accelerator.process_index) if accelerator else (1, 0)
    device = accelerator.device if accelerator else next(model.parameters()).device
    cast = precision.autocast if precision is not None else contextlib.nullcontext
    model.eval()
    sums = torch.zeros(2, dtype=torch.float64)
    with torch.no_grad():
        for mb, weight in rank_share(micro_batches(examples, micro), world, rank):
            with cast():
                loss, n = answer_loss_sum(model, collate(mb, pad_id, layout), device, layout)
            sums += torch.tensor([float(loss) * weight, n * weight], dtype=torch.float64)
    model.train()
    if world > 1:
        sums = accelerator.reduce(sums.to(accelerator.device), "sum").cpu()
    return float(sums[0] / max(float(sums[1]), 1.0))


def _local(p: Any) -> Any:
    """A parameter's local data: its shard under FSDP2 (a DTensor), the tensor otherwise."""
    return p.to_local() if hasattr(p, "to_local") else p


def reshard(model: Any) -> None:
    """Make every FSDP2 module's registered parameters its sharded DTensors again, freeing any
    gathered copy a forward left behind (no collective; a no-op without FSDP2). FSDPModule's own
    ``reshard`` is not recursive, hence the walk over all modules."""
    import torch

    if not torch.distributed.is_available():  # a torch built without it cannot hold FSDP2 modules
        return
    from torch.distributed.fsdp import FSDPModule

    for module in model.modules():
        if isinstance(module, FSDPModule):
            module.reshard()


class BestWeights:
    """A CPU copy of this rank's trainable parameters (its shards under FSDP2) at the best step."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self.state = state

    def capture(self, model: Any) -> None:
        """Keep the current weights: this rank's shards, resharded first (module docstring)."""
        reshard(model)
        self.state = {
            n: _local(p).detach().to("cpu", copy=True) for n, p in model.named_parameters() if p.requires_grad
        }

    def restore(self, model: Any) -> None:
        """Copy the kept weights back into ``model``'s shards, the ones the state dict gathers
        (no-op when nothing was kept)."""
        import torch

        if self.state is None:
            return
        reshard(model)
        with torch.no_grad():
            for n, p in model.named_parameters():
                if n in self.state:
                    local, kept = _local(p), self.state[n]
                    if kept.shape != local.shape:  # copy_ would broadcast, or fail obscurely
                        raise DataeffError(
                            f"the kept best weights of {n} have shape {tuple(kept.shape)}, "
                            f"this rank's parameter {tuple(local.shape)}",
                            fix="a checkpoint of an older dataeff kept some FSDP2 weights gathered: delete the "
                            "run's .ckpt directory and fine-tune again",
                        )
                    local.copy_(kept)
