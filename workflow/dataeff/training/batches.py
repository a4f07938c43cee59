"""Micro-batch arithmetic of the fine-tuning loop: tokenized examples, layouts, the answer loss.

The answer is a handful of tokens after a long prompt, so the loop (1) left-pads so every answer
ends at the same position and asks the model for logits of the last few positions only
(``logits_to_keep``), skipping the vocabulary projection for the whole prompt, (2) groups
micro-batches by length to cut padding, and (3) on one process shares the prompt prefix and
packs rows where that is cheaper (:class:`Layout`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from dataeff.core.errors import DataeffError
from dataeff.inference.prefix import left_pad, prefix_cache, shared_prefix_len
from dataeff.modeling.chat import completion_ids, prompt_ids

IGNORE = -100


@dataclass
class Example:
    """A tokenized training example: prompt ids followed by completion (answer + end of turn)."""

    prompt: list[int]
    completion: list[int]

    @property
    def length(self) -> int:
        return len(self.prompt) + len(self.completion)


def cut_prompt(prompt: list[int], answer_len: int, max_seq_len: int) -> list[int]:
    """``prompt`` cut from the left so that it and an answer of ``answer_len`` tokens fit in
    ``max_seq_len`` (the end of a prompt, next to the answer, is what the answer depends on);
    unchanged when they fit. The callers refuse an answer that alone reaches the cap."""
    keep = max_seq_len - answer_len
    return prompt[-keep:] if len(prompt) > keep else prompt


def tokenize_rows(tokenizer: Any, rows: list[dict[str, Any]], max_seq_len: int, source: str) -> list[Example]:
    """Tokenize ``{"prompt", "answer", "system"?}`` rows; the prompt is cut from the left
    when an example is longer than ``max_seq_len`` (the answer is never cut)."""

    out = []
    for i, row in enumerate(rows, start=1):
        answer = row.get("answer")
        if answer is None or str(answer) == "":
            raise DataeffError(
                f"row {i}: empty answer", file=source, field="answer", fix="every training example needs a gold answer"
            )
        p = prompt_ids(tokenizer, row["prompt"], row.get("system"))
        c = completion_ids(tokenizer, str(answer))
        if len(c) >= max_seq_len:
            raise DataeffError(
                f"row {i}: answer longer than max_seq_len={max_seq_len}",
                file=source,
                field="train.max_seq_len",
                fix="raise train.max_seq_len",
            )
        out.append(Example(cut_prompt(p, len(c), max_seq_len), c))
    return out


@dataclass
class MicroBatch:
    """One forward pass's inputs.

    Padded layout: ``ids`` ``[B, W]`` left-padded so every completion ends at the last column,
    ``mask`` ``[B, P + W]`` (1 = real token), ``prefix`` the ``[1, P]`` shared prompt prefix
    run first (or None). Packed layout: the shared prefix and then the rows one after another
    in ``ids`` ``[1, T]``, ``mask`` ``[1, 1, T, T]`` (bool, True = may attend), ``prefix``
    None. In both, ``keep`` holds the positions whose logits predict answer tokens and
    ``targets`` (shaped like those logits' rows) the tokens they predict, -100 where a shorter
    completion leaves a gap.
    """

    ids: Any
    mask: Any
    positions: Any
    keep: Any
    targets: Any
    prefix: Any

    @property
    def packed(self) -> bool:
        return self.mask.dim() == 4


#: The shared prefix run as its own one-row forward costs about this many times a token in a
#: big batch (measured on a CPU: small matmuls run at a fraction of the rate, plus a fixed
#: per-forward overhead); packing runs it inside the one forward instead.
PREFIX_FORWARD = 3.0


def attention_pair_cost(model: Any) -> float:
    """Cost of one (query, key) pair in attention, in units of one token through the weights
    (``2 * parameters`` FLOPs): ``4 * hidden * layers`` FLOPs, times 3 because attention
    kernels run well below the matmul rate on a CPU. Decides when packing pays."""
    cfg = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    params = sum(p.numel() for p in model.parameters())
    return 3 * 4 * cfg.hidden_size * cfg.num_hidden_layers / (2 * params)


@dataclass(frozen=True)
class Layout:
    """How micro-batches are laid out and run (:func:`layout_for` picks it per model).

    * ``share_prefix``: the prompt tokens all rows start with run once (:mod:`dataeff.inference.prefix`).
    * ``pair_cost``: when set, rows are packed into one sequence whenever that is cheaper than
      padding them (:func:`collate`); None never packs.
    * ``sparse_embedding``: look the input embeddings up with a sparse gradient. With tied
      input/output embeddings the dense gradient of the output projection is there anyway, so
      the lookup adds its few rows into it instead of allocating, zeroing and adding a second
      dense vocabulary-sized gradient per micro-batch (a tenth of a SmolLM2 step on a CPU).
    """

    share_prefix: bool = True
    pair_cost: float | None = None
    sparse_embedding: bool = False


DEFAULT_LAYOUT = Layout()


def layout_for(model: Any, num_processes: int = 1, sharded: bool = False) -> Layout:
    """The fastest exact layout for ``model``. Sharing the prefix and packing add model calls
    or custom masks that FSDP/DDP wrappers and flash-attention do not take, and the sparse
    lookup reads the embedding outside its FSDP unit (a shard there), so several processes or
    a ``sharded`` model use plain padded batches; packing needs sdpa or eager attention."""
    import torch

    if num_processes > 1 or sharded:
        return Layout(share_prefix=False)
    packs = getattr(model.config, "_attn_implementation", None) in ("sdpa", "eager")
    emb, out = model.get_input_embeddings(), model.get_output_embeddings()
    tied = type(emb) is torch.nn.Embedding and out is not None and out.weight is emb.weight and emb.weight.requires_grad
    return Layout(share_prefix=True, pair_cost=attention_pair_cost(model) if packs else None, sparse_embedding=tied)


def collate(batch: list[Example], pad_id: int, layout: Layout = DEFAULT_LAYOUT) -> MicroBatch:
    """Lay out a micro-batch for :func:`answer_loss_sum`.

    With ``layout.share_prefix`` the tokens every prompt starts with are cut off the rows and run
    once (see :mod:`dataeff.inference.prefix`). With ``layout.pair_cost`` (:func:`attention_pair_cost`)
    the rows are packed into one sequence when that costs less than padding them: packing
    computes no padding but makes attention quadratic in the packed length, so it wins for
    several short rows of different lengths (the CPU default: 20% less work at micro-batch 4)
    and loses for long ones.
    """
    import torch

    shared = shared_prefix_len([e.prompt for e in batch]) if layout.share_prefix else 0
    own = [len(e.prompt) + len(e.completion) - shared for e in batch]
    if layout.pair_cost is not None and len(batch) > 1 and _packing_pays(shared, own, layout.pair_cost):
        return _packed(batch, shared, own)
    width, k = max(own), max(len(e.completion) for e in batch)
    ids, mask, positions, prefix = left_pad([e.prompt + e.completion for e in batch], pad_id, shared)
    targets = torch.full((len(batch), k), IGNORE, dtype=torch.long)
    for i, e in enumerate(batch):
        targets[i, k - len(e.completion) :] = torch.tensor(e.completion)
    keep = torch.arange(width - k - 1, width - 1)
    return MicroBatch(ids, mask, positions, keep, targets, prefix)


def _packing_pays(shared: int, own: list[int], pair_cost: float) -> bool:
    """Packed (prefix + rows in one sequence) costs less than padded rows after a separate
    prefix forward, in token units: weights per token plus ``pair_cost`` per attention pair."""
    n, width = shared + sum(own), max(own)
    return n + n * n * pair_cost < len(own) * width * (1 + width * pair_cost) + shared * PREFIX_FORWARD


def _packed(batch: list[Example], shared: int, own: list[int]) -> MicroBatch:
    """The shared prefix, then every row's own tokens, in one sequence: the prefix attends
    causally to itself, each row to the prefix and causally to itself. One forward, no padding."""
    import torch

    prefix = batch[0].prompt[:shared]
    ids = torch.tensor([prefix + [t for e in batch for t in (e.prompt + e.completion)[shared:]]], dtype=torch.long)
    seg = torch.repeat_interleave(torch.arange(len(batch) + 1), torch.tensor([shared, *own]))
    n = ids.shape[1]
    mask = torch.ones(n, n, dtype=torch.bool).tril_() & ((seg[:, None] == seg[None, :]) | (seg[None, :] == 0))
    positions = torch.cat([torch.arange(shared)] + [torch.arange(shared, shared + m) for m in own])[None]
    keep, targets, start = [], [], shared
    for e, m in zip(batch, own, strict=True):
        c = len(e.completion)
        keep += range(start + m - c - 1, start + m - 1)
        targets += e.completion
        start += m
    return MicroBatch(ids, mask[None, None], positions, torch.tensor(keep), torch.tensor([targets]), None)


def answer_loss_sum(model: Any, batch: MicroBatch, device: Any, layout: Layout = DEFAULT_LAYOUT):
    """Summed cross-entropy over completion tokens, computing logits only at the positions
    that predict them (``logits_to_keep``)."""
    import torch
    import torch.nn.functional as F

    b = batch
    past = prefix_cache(model, b.prefix.to(device), b.ids.shape[0]) if b.prefix is not None else None
    mask = b.mask.to(device)
    if b.packed:  # an additive mask: eager attention adds it, sdpa accepts it
        dtype = next(model.parameters()).dtype
        mask = torch.zeros(mask.shape, dtype=dtype, device=device).masked_fill_(~mask, torch.finfo(dtype).min)
    ids = b.ids.to(device)
    if layout.sparse_embedding:  # the lookup's gradient touches only these rows (see Layout)
        emb = model.get_input_embeddings()
        inputs = {"inputs_embeds": F.embedding(ids, emb.weight, emb.padding_idx, sparse=True)}
    else:
        inputs = {"input_ids": ids}
    out = model(
        **inputs,
        attention_mask=mask,
        position_ids=b.positions.to(device),
        past_key_values=past,
        logits_to_keep=b.keep.to(device),
        use_cache=past is not None,
    )
    logits = out.logits.float()
    tgt = b.targets.to(device)
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), tgt.reshape(-1), ignore_index=IGNORE, reduction="sum")
    return loss, int((tgt != IGNORE).sum())


def micro_batches(examples: list[Example], size: int) -> list[list[Example]]:
    """Split an effective batch into micro-batches of similar length (less padding)."""
    ordered = sorted(examples, key=lambda e: e.length)
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def rank_share(mbs: list[list[Example]], world: int, rank: int) -> list[tuple[list[Example], float]]:
    """This process's micro-batches of a step, with loss weights: every ``world``-th one, so
    several GPUs split an effective batch instead of each computing all of it. Every rank must
    run the same number of forward/backward passes (each is a collective under FSDP), so a
    rank left one short repeats a micro-batch with weight 0."""
    mine = [(mb, 1.0) for mb in mbs[rank::world]]
    need = math.ceil(len(mbs) / world)
    mine += [(mbs[0], 0.0)] * (need - len(mine))
    return mine
