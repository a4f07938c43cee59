"""Batched greedy decoding with the probability of every generated token.

Used by the CoS-Low confidence pass (which needs the top softmax probability of each greedy
token) and by evaluation (which needs only the text). One generic loop serves both:

* prompts are token ids (from :func:`dataeff.modeling.chat.prompt_ids`), so chat formatting stays in
  one place;
* prompts are sorted by length and cut into decode batches, then the results are put back in
  input order;
* the prompt tokens every row of a batch starts with (chat template and task instruction) are
  run once and their key/value cache shared by the rows (:mod:`dataeff.inference.prefix`);
* prefill, which is compute-bound, runs in small length-sorted chunks chosen by a cost model
  (:func:`prefill_chunks`) so little padding is computed; decoding, which reads every weight
  once per step whatever the batch, runs on the whole batch from one merged cache that
  appends in place (:mod:`dataeff.inference.kvcache`);
* rows are left-padded with explicit position ids, so a padded row computes exactly what it
  would alone (the batched-equals-single tests check this);
* the logits of prompt positions are never computed (``logits_to_keep=1``): with a 49k
  vocabulary that head is a fifth of a small model's compute;
* a row stops at an end-of-turn id, and optionally at the first newline once it has produced
  some non-whitespace text (short-answer tasks); once half the rows have stopped they are
  dropped from the batch and the cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from dataeff.inference.prefix import left_pad, repeated, run_prefix, shared_prefix_len
from dataeff.modeling.chat import stop_token_ids


@dataclass
class GenResult:
    """One generated continuation.

    ``token_ids`` are the generated ids, including the stop id or the newline token that ended
    generation (so ``top_probs`` stays aligned with them); ``text`` is the decoded answer
    without special tokens and cut at the stopping newline; ``top_probs[i]`` is the softmax
    probability of ``token_ids[i]`` (the greedy, i.e. top, token) or ``None`` when not asked
    for; ``finish`` is ``"stop"`` (end of turn), ``"newline"`` or ``"length"``.
    """

    token_ids: list[int]
    text: str
    top_probs: list[float] | None = None
    finish: str = "length"
    extra: dict[str, Any] = field(default_factory=dict)


@lru_cache(maxsize=8)
def _token_tables(tokenizer: Any) -> tuple[list[bool], list[bool], list[bool]]:
    """Per vocabulary id: (has a newline, has non-whitespace text before its first newline,
    has any non-whitespace text). Computed once per tokenizer by decoding every id."""
    size = len(tokenizer)
    texts = tokenizer.batch_decode(
        [[i] for i in range(size)], skip_special_tokens=False, clean_up_tokenization_spaces=False
    )
    has_nl = ["\n" in t for t in texts]
    before_nl = [bool(t.split("\n", 1)[0].strip()) for t in texts]
    content = [bool(t.strip()) for t in texts]
    return has_nl, before_nl, content


def whitespace_token_ids(tokenizer: Any) -> set[int]:
    """Ids whose text is empty or whitespace only (pure formatting tokens)."""
    _, _, content = _token_tables(tokenizer)
    return {i for i, c in enumerate(content) if not c}


def cut_at_newline(text: str) -> str:
    """``text`` up to the first newline that follows some non-whitespace text."""
    stripped = len(text) - len(text.lstrip())
    nl = text.find("\n", stripped)
    return text if nl < 0 else text[:nl]


def _batches(order: list[int], batch_size: int) -> list[list[int]]:
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


#: Prefill cost model (SmolLM2, 2 fp32 CPU threads): a forward's matmuls run at the full rate
#: from about 384 rows (tokens) up and proportionally slower below, and each forward has a fixed
#: overhead worth about 32 tokens. Padding tokens cost as much as real ones.
PREFILL_MIN_TOKENS = 384
PREFILL_FIXED_TOKENS = 32


def prefill_chunks(
    widths: Sequence[int], min_tokens: int = PREFILL_MIN_TOKENS, fixed: int = PREFILL_FIXED_TOKENS
) -> list[tuple[int, int]]:
    """Split rows sorted longest first (``widths``: tokens each must run) into consecutive
    ``(start, stop)`` chunks of least modelled cost: ``sum(max(rows * widest, min_tokens) +
    fixed)``. Few wide rows go alone, many short rows go together, and a long row is not padded
    onto many short ones (dynamic programming over the cut points, O(n^2) for n rows)."""
    n = len(widths)
    best = [0.0] + [float("inf")] * n
    cut = [0] * (n + 1)
    for i in range(1, n + 1):
        for j in range(i):
            cost = best[j] + max((i - j) * widths[j], min_tokens) + fixed
            if cost < best[i]:
                best[i], cut[i] = cost, j
    out, i = [], n
    while i > 0:
        out.append((cut[i], i))
        i = cut[i]
    return out[::-1]


def _prefill(model: Any, rows: list[list[int]], shared: int, pad_id: int, extra: int) -> tuple[Any, Any, Any]:
    """Run the prompts of one decode batch (sorted longest first) in :func:`prefill_chunks`.

    Returns the last position's logits ``[B, V]``, one merged cache with room for ``extra``
    more tokens, and its ``[B, W]`` mask."""
    import torch

    from dataeff.inference.kvcache import merge_chunks

    device = next(model.parameters()).device
    base = run_prefix(model, torch.tensor([rows[0][:shared]], device=device)) if shared else None
    caches, masks, last = [], [], []
    for c0, c1 in prefill_chunks([len(r) - shared for r in rows], PREFILL_MIN_TOKENS, PREFILL_FIXED_TOKENS):
        chunk = rows[c0:c1]
        ids, mask, positions, _ = left_pad(chunk, pad_id, shared)
        mask = mask.to(device)
        out = model(
            input_ids=ids.to(device),
            attention_mask=mask,
            position_ids=positions.to(device),
            past_key_values=repeated(base, len(chunk)) if base is not None else None,
            use_cache=True,
            logits_to_keep=1,
        )
        caches.append(out.past_key_values)
        masks.append(mask)
        last.append(out.logits[:, -1, :].float())
    cache, mask = merge_chunks(caches, masks, extra)
    return torch.cat(last), cache, mask


@dataclass
class _Stopping:
    """When a row stops: at an id of ``ids`` (end of turn), and with ``newline`` at the first
    newline once it has produced some non-whitespace text (tables of :func:`_token_tables`)."""

    ids: set[int]
    ids_t: Any  # ``ids`` as a tensor on the model's device
    newline: bool
    has_nl: list[bool]
    before_nl: list[bool]
    content: list[bool]


@dataclass
class _DecodeBatch:
    """The decoding state of one batch: what each row generated, why it stopped, and which rows
    are still in the model's cache (``alive[r]`` is the batch row of cache row ``r``; ``done[r]``
    whether that cache row has stopped)."""

    gen: list[list[int]]
    probs: list[list[float]]
    finish: list[str]
    has_content: list[bool]
    alive: list[int]
    done: Any

    @classmethod
    def start(cls, n: int, device: Any) -> _DecodeBatch:
        import torch

        return cls(
            gen=[[] for _ in range(n)],
            probs=[[] for _ in range(n)],
            finish=["length"] * n,
            has_content=[False] * n,
            alive=list(range(n)),
            done=torch.zeros(n, dtype=torch.bool, device=device),
        )

    def accept(self, logits: Any, stopping: _Stopping, pad_id: int, scores: bool) -> Any:
        """Append every running row's greedy token from ``logits`` ``[B, V]`` (and its
        probability with ``scores``), mark the rows it stops; return the next input ids ``[B]``
        (``pad_id`` for rows already stopped)."""
        import torch

        done = self.done
        top_logit, nxt = logits.max(-1)
        nxt = torch.where(done, torch.full_like(nxt, pad_id), nxt)
        top_p = torch.exp(top_logit - torch.logsumexp(logits, -1)).tolist() if scores else None
        tokens = nxt.tolist()
        stops = (torch.isin(nxt, stopping.ids_t) & ~done).tolist()
        was_done = done.tolist()
        for r, tok in enumerate(tokens):
            if was_done[r]:
                continue
            j = self.alive[r]
            self.gen[j].append(tok)
            if top_p is not None:
                self.probs[j].append(top_p[r])
            if stops[r]:
                self.finish[j] = "stop"
                done[r] = True
            elif stopping.newline:
                if stopping.has_nl[tok] and (self.has_content[j] or stopping.before_nl[tok]):
                    self.finish[j] = "newline"
                    done[r] = True
                self.has_content[j] = self.has_content[j] or stopping.content[tok]
        return nxt

    def n_done(self) -> int:
        return int(self.done.sum())

    def drop_finished(self, nxt: Any, past: Any, step_mask: Any) -> tuple[Any, Any]:
        """Once at least half the rows have stopped, drop them from the cache (in place), the
        mask and the next ids, so decoding stops computing them; returns ``(nxt, step_mask)``."""
        if 2 * self.n_done() < len(self.alive):
            return nxt, step_mask
        keep = (~self.done).nonzero().squeeze(1)
        past.batch_select_indices(keep)
        self.done = self.done[keep]
        self.alive = [self.alive[k] for k in keep.tolist()]
        return nxt[keep], step_mask[keep]

    def result(self, j: int, tokenizer: Any, stopping: _Stopping, scores: bool) -> GenResult:
        """Row ``j`` as a :class:`GenResult` (text without stop ids, cut at the stopping newline)."""
        text = tokenizer.decode([t for t in self.gen[j] if t not in stopping.ids], skip_special_tokens=True)
        if stopping.newline:
            text = cut_at_newline(text)
        return GenResult(
            token_ids=self.gen[j], text=text, top_probs=self.probs[j] if scores else None, finish=self.finish[j]
        )


def _decode_step(model: Any, nxt: Any, past: Any, step_mask: Any) -> tuple[Any, Any, Any]:
    """Run one token ``nxt`` ``[B]`` per row through the model on the cache ``past``; returns the
    next logits ``[B, V]``, the cache and the mask grown by one position."""
    import torch

    step_mask = torch.cat([step_mask, torch.ones_like(step_mask[:, :1])], dim=1)
    out = model(
        input_ids=nxt[:, None],
        attention_mask=step_mask,
        position_ids=step_mask.sum(-1, keepdim=True) - 1,
        past_key_values=past,
        use_cache=True,
        logits_to_keep=1,
    )
    return out.logits[:, -1, :].float(), out.past_key_values, step_mask


def _decode(
    model: Any,
    batch: _DecodeBatch,
    prefilled: tuple[Any, Any, Any],
    stopping: _Stopping,
    *,
    pad_id: int,
    max_new_tokens: int,
    scores: bool,
) -> None:
    """Greedy-decode ``batch`` from its prefill (last logits, cache, mask: :func:`_prefill`)
    until every row has stopped or ``max_new_tokens`` tokens are generated."""
    logits, past, step_mask = prefilled
    for step in range(max_new_tokens):
        nxt = batch.accept(logits, stopping, pad_id, scores)
        if batch.n_done() == len(batch.alive) or step == max_new_tokens - 1:
            break
        nxt, step_mask = batch.drop_finished(nxt, past, step_mask)
        logits, past, step_mask = _decode_step(model, nxt, past, step_mask)


def greedy_generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    batch_size: int = 16,
    stop_ids: Sequence[int] | None = None,
    stop_at_newline: bool = False,
    return_scores: bool = False,
    progress: bool = False,
    share_prefix: bool = True,
) -> list[GenResult]:
    """Greedy-decode every prompt (token ids) in length-grouped, left-padded batches.

    ``batch_size`` rows decode together; their prompts run in :func:`prefill_chunks`
    (:func:`_prefill`), then :func:`_decode` generates from the merged cache.
    Returns one :class:`GenResult` per prompt, in input order. ``stop_ids`` defaults to
    :func:`dataeff.modeling.chat.stop_token_ids`. The model is used as is (eval mode, its device).
    """
    import torch

    if max_new_tokens < 1:
        raise ValueError("max_new_tokens must be at least 1")
    stop = set(stop_token_ids(tokenizer) if stop_ids is None else stop_ids)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (min(stop) if stop else 0)
    device = next(model.parameters()).device
    stopping = _Stopping(
        stop,
        torch.tensor(sorted(stop), dtype=torch.long, device=device),
        stop_at_newline,
        *(_token_tables(tokenizer) if stop_at_newline else ([], [], [])),
    )

    order = sorted(range(len(prompts)), key=lambda i: (-len(prompts[i]), i))
    results: list[GenResult | None] = [None] * len(prompts)
    batches = _batches(order, max(1, batch_size))
    if progress:
        from tqdm import tqdm

        batches = tqdm(batches, desc="generate", unit="batch")
    for idx in batches:
        rows = [list(prompts[i]) for i in idx]
        if any(len(r) == 0 for r in rows):
            raise ValueError("empty prompt")
        shared = shared_prefix_len(rows) if share_prefix else 0
        batch = _DecodeBatch.start(len(rows), device)
        with torch.inference_mode():
            prefilled = _prefill(model, rows, shared, pad_id, max_new_tokens)
            _decode(
                model, batch, prefilled, stopping, pad_id=pad_id, max_new_tokens=max_new_tokens, scores=return_scores
            )
        for j, i in enumerate(idx):
            results[i] = batch.result(j, tokenizer, stopping, return_scores)
    return results  # type: ignore[return-value]
