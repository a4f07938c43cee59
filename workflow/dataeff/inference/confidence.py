"""Confidence of the base model on unlabeled prompts (step 1 of CoS-Low, docs/METHOD.md section 2).

Confidence is the mean, over the generated answer tokens, of the top softmax probability
(the probability of the greedy token). End-of-turn, padding, special and whitespace-only
(pure formatting) tokens are left out, because they say how sure the model is about the
chat format, not about the answer. The perplexity of the model's own answer,
``exp(-mean log p)`` over the same tokens, is the alternative measure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from dataeff.inference.generation import GenResult, greedy_generate, whitespace_token_ids
from dataeff.modeling.chat import non_content_token_ids, prompt_ids

MEASURES = ("mean_prob", "perplexity")


def content_probs(token_ids: Sequence[int], top_probs: Sequence[float], excluded: set[int]) -> list[float]:
    """Probabilities of the tokens that carry answer content.

    When the answer has no content token at all (the model ended its turn at once, or wrote
    only whitespace), every generated token counts instead, so the score still reflects how
    sure the model was of that empty answer rather than being undefined.
    """
    kept = [p for t, p in zip(token_ids, top_probs, strict=True) if t not in excluded]
    return kept or list(top_probs)


def mean_prob(probs: Iterable[float]) -> float:
    probs = list(probs)
    return sum(probs) / len(probs) if probs else float("nan")


def perplexity(probs: Iterable[float]) -> float:
    probs = list(probs)
    if not probs:
        return float("nan")
    return math.exp(-sum(math.log(max(p, 1e-45)) for p in probs) / len(probs))


def excluded_token_ids(tokenizer: Any) -> set[int]:
    """Special, padding, end-of-turn and whitespace-only token ids."""

    return non_content_token_ids(tokenizer) | whitespace_token_ids(tokenizer)


def score_generations(results: Sequence[GenResult], tokenizer: Any) -> list[dict[str, float | int]]:
    """Per generation: ``confidence`` (mean top probability), ``perplexity`` and ``n_scored``."""
    excluded = excluded_token_ids(tokenizer)
    out = []
    for r in results:
        if r.top_probs is None:
            raise ValueError("generation was run without return_scores=True")
        probs = content_probs(r.token_ids, r.top_probs, excluded)
        out.append({"confidence": mean_prob(probs), "perplexity": perplexity(probs), "n_scored": len(probs)})
    return out


def ranking_score(scores: dict[str, float], measure: str = "mean_prob") -> float:
    """A number where lower means less confident, for either measure."""
    if measure == "mean_prob":
        return float(scores["confidence"])
    if measure == "perplexity":
        return -float(scores["perplexity"])
    raise ValueError(f"unknown confidence measure {measure!r} (choose one of {MEASURES})")


def confidence_pass(
    model: Any,
    tokenizer: Any,
    rows: Sequence[dict[str, Any]],
    *,
    max_new_tokens: int = 30,
    batch_size: int = 16,
    progress: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Greedy-decode every row's prompt and score it.

    Returns, per row in order: ``confidence``, ``perplexity``, ``n_scored``, ``generated``
    (text) and ``n_generated``. ``on_progress(done, total)`` is called after each batch of
    prompts; the batches are the ones :func:`~dataeff.inference.generation.greedy_generate` forms
    (longest prompts first), decoded one call at a time, so the results are the same.
    """

    prompts = [prompt_ids(tokenizer, r["prompt"], r.get("system")) for r in rows]
    if on_progress is None:
        gens = greedy_generate(
            model,
            tokenizer,
            prompts,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            return_scores=True,
            progress=progress,
        )
    else:
        order = sorted(range(len(prompts)), key=lambda i: (-len(prompts[i]), i))
        found: dict[int, Any] = {}
        on_progress(0, len(prompts))
        for start in range(0, len(order), max(1, batch_size)):
            idx = order[start : start + max(1, batch_size)]
            out = greedy_generate(
                model,
                tokenizer,
                [prompts[i] for i in idx],
                max_new_tokens=max_new_tokens,
                batch_size=len(idx),
                return_scores=True,
            )
            found.update(zip(idx, out, strict=True))
            on_progress(len(found), len(prompts))
        gens = [found[i] for i in range(len(prompts))]
    scores = score_generations(gens, tokenizer)
    return [dict(s, generated=g.text, n_generated=len(g.token_ids)) for s, g in zip(scores, gens, strict=True)]
