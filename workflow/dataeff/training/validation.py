"""Validation loss reduced across ranks, and the best weights kept as each rank's own shard.

The validation micro-batches are split across ranks like a training batch and the loss sums and
token counts are all-reduced, so every rank gets the same number and takes the same
early-stopping and best-checkpoint decisions. The best weights are kept as a CPU copy of each
rank's local shard (no gather, no collective, 1/world of the model per rank); at the end they
are copied back into the model and the full model is gathered once for saving.
"""

from __future__ import annotations

from typing import Any

from dataeff.training.batches import Example, Layout, answer_loss_sum, collate, micro_batches, rank_share


def validation_loss(
    accelerator: Any, model: Any, examples: list[Example], micro: int, pad_id: int, layout: Layout, precision: Any
) -> float:
    """Mean answer-token cross-entropy over ``examples``, the same on every rank."""
    import torch

    world, rank = accelerator.num_processes, accelerator.process_index
    model.eval()
    sums = torch.zeros(2, dtype=torch.float64)
    with torch.no_grad():
        for mb, weight in rank_share(micro_batches(examples, micro), world, rank):
            with precision.autocast():
                loss, n = answer_loss_sum(model, collate(mb, pad_id, layout), accelerator.device, layout)
            sums += torch.tensor([float(loss) * weight, n * weight], dtype=torch.float64)
    model.train()
    if world > 1:
        sums = accelerator.reduce(sums.to(accelerator.device), "sum").cpu()
    return float(sums[0] / max(float(sums[1]), 1.0))


def _local(p: Any) -> Any:
    """A parameter's local data: its shard under FSDP2 (a DTensor), the tensor otherwise."""
    return p.to_local() if hasattr(p, "to_local") else p


class BestWeights:
    """A CPU copy of this rank's trainable parameters (its shards under FSDP2) at the best step."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self.state = state

    def capture(self, model: Any) -> None:
        self.state = {
            n: _local(p).detach().to("cpu", copy=True) for n, p in model.named_parameters() if p.requires_grad
        }

    def restore(self, model: Any) -> None:
        """Copy the kept weights back into ``model`` (no-op when nothing was kept)."""
        import torch

        if self.state is None:
            return
        with torch.no_grad():
            for n, p in model.named_parameters():
                if n in self.state:
                    _local(p).copy_(self.state[n])
