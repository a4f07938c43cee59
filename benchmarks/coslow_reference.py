"""The plain CoS-Low reference: one example at a time, every LoRA gradient kept.

This is the recipe of METHOD.md section 2 written the obvious way, kept as the yardstick the
fast implementation (:mod:`dataeff.coslow.gradients`) is checked and timed against:

* wrap the model with peft LoRA (``torch.manual_seed(seed)`` first, the same settings);
* for each example: forward the whole sequence (logits at every position), mean cross-entropy
  over the answer tokens, ``loss.backward()``, flatten the gradients of all LoRA parameters
  (A and B) into one vector and keep it;
* stack the k vectors and compute every pairwise cosine (i < j) with
  ``torch.nn.functional.cosine_similarity``; CoS-Low is their median.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dataeff.core.settings import LoraSettings


def reference_gradients(
    model: Any,
    tokenizer: Any,
    rows: Sequence[dict[str, Any]],
    *,
    seed: int,
    lora: LoraSettings | None = None,
):
    """``(k x D tensor of flattened LoRA gradients, peft model)``; the caller unloads the model.
    ``lora``: the adapters' settings (default: the schema's ``coslow.lora``)."""
    import torch
    from peft import get_peft_model

    from dataeff.coslow.gradients import encode_examples
    from dataeff.modeling.lora import lora_settings, peft_config

    examples = encode_examples(tokenizer, rows)
    torch.manual_seed(seed)
    wrapped = get_peft_model(model, peft_config(lora or lora_settings(None)))
    wrapped.eval()
    params = [p for _, p in wrapped.named_parameters() if p.requires_grad]
    grads = []
    for toks, n_prompt in examples:
        ids = torch.tensor([toks], device=params[0].device)
        labels = ids.clone()
        labels[:, :n_prompt] = -100
        wrapped.zero_grad(set_to_none=True)
        logits = wrapped(input_ids=ids).logits.float()
        loss = torch.nn.functional.cross_entropy(logits[0, :-1], labels[0, 1:], ignore_index=-100)
        loss.backward()
        grads.append(torch.cat([p.grad.reshape(-1).float() for p in params]))
    wrapped.zero_grad(set_to_none=True)
    return torch.stack(grads), wrapped


def reference_coslow(
    model: Any,
    tokenizer: Any,
    rows: Sequence[dict[str, Any]],
    *,
    seed: int,
    lora: LoraSettings | None = None,
) -> dict[str, Any]:
    """Median pairwise cosine and per-example gradient norms, the slow way. Leaves ``model`` unwrapped."""
    import torch

    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    grads, wrapped = reference_gradients(model, tokenizer, rows, seed=seed, lora=lora)
    try:
        cos = [
            # float64: a float32 dot product over millions of entries is off by ~1e-3
            float(torch.nn.functional.cosine_similarity(grads[i].double(), grads[j].double(), dim=0))
            for i in range(len(grads))
            for j in range(i + 1, len(grads))
        ]
        norms = [float(g.double().norm()) for g in grads]
    finally:
        base = wrapped.unload()
        for n, p in base.named_parameters():
            p.requires_grad_(flags.get(n, False))
    return {"value": statistics.median(cos), "cosines": cos, "grad_norms": norms}
