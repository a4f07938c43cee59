"""Evaluate a model on a task's test split, as the paper does (docs/METHOD.md section 4).

Greedy decoding of the chat-formatted prompt; the answer is the first line of the reply,
lower-cased with spaces and periods removed, compared by exact match with the gold label
normalised the same way. Budget 0 (zero-shot) is the same evaluation on the untuned model.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

from dataeff.core.errors import DataeffError
from dataeff.core.settings import FamilySettings
from dataeff.inference.generation import greedy_generate
from dataeff.modeling.chat import prompt_ids, stop_token_ids
from dataeff.modeling.loading import family_load_kwargs, load_model


def normalize(text: str) -> str:
    """First line, lower-cased, spaces and periods removed."""
    first = str(text).strip().split("\n", 1)[0]
    return first.lower().replace(" ", "").replace(".", "")


#: How BIG-bench JSON tasks list an example's options (:mod:`dataeff.tasks.bigbench`):
#: ``... [SEP] OPTIONS - a | b | c``, the last field of the user turn.
_OPTIONS_FIELD = "OPTIONS - "
_OPTION_SEPARATOR = " | "
#: How registry tasks with ``options_fields`` list them (:mod:`dataeff.tasks.prepare`): one
#: ``(A) text`` line per option.
_LETTER_LINE = re.compile(r"^\(([A-Z])\) ", re.MULTILINE)


def options_in_prompt(prompt: str) -> int | None:
    """Number of options an example lists in its prompt, or None when it lists none.

    Two layouts are recognised, the two the project writes: a field ``OPTIONS - a | b | c``
    (counted by its separators) and lettered lines ``(A) ...``, ``(B) ...`` (counted while the
    letters run on from A). Anything else (an exact-match task, a free-form list) is None, so
    the options guess credits it nothing.
    """
    text = str(prompt)
    at = text.rfind(_OPTIONS_FIELD)
    if at >= 0 and (at == 0 or text[at - 1].isspace()):
        field = text[at + len(_OPTIONS_FIELD) :].split(" [SEP] ", 1)[0].split("\n", 1)[0]
        options = [o for o in field.split(_OPTION_SEPARATOR) if o.strip()]
        return len(options) or None
    letters = [m.group(1) for m in _LETTER_LINE.finditer(text)]
    count = 0
    for letter in letters:
        if letter != chr(ord("A") + count):
            break
        count += 1
    return count or None


def score(predictions: list[str], golds: list[str], metric: str = "accuracy") -> float:
    """Exact-match accuracy, or macro-F1 over the gold label set, of normalised answers."""
    pred = [normalize(p) for p in predictions]
    gold = [normalize(g) for g in golds]
    if not gold:
        raise DataeffError("no test examples to score", field="test")
    if metric == "macro_f1":
        from sklearn.metrics import f1_score

        return float(f1_score(gold, pred, labels=sorted(set(gold)), average="macro", zero_division=0))
    return sum(p == g for p, g in zip(pred, gold, strict=True)) / len(gold)


def load_for_eval(
    model_ref: str | os.PathLike[str],
    base_ref: str | os.PathLike[str],
    family: FamilySettings,
    threads: int | None = None,
):
    """Load a fine-tuned model directory, a LoRA adapter on top of the base, or the base, as
    ``family`` says (dtype, attention, pad token, chat template)."""

    kwargs = family_load_kwargs(family)
    path = Path(model_ref)
    if (path / "adapter_config.json").is_file():
        from peft import PeftModel

        model, tokenizer, info = load_model(base_ref, threads=threads, **kwargs)
        model = PeftModel.from_pretrained(model, str(path)).merge_and_unload()
        model.eval()
        return model, tokenizer, dict(info, adapter=str(path))
    return load_model(model_ref, threads=threads, **kwargs)


def predict(
    model: Any,
    tokenizer: Any,
    rows: list[dict[str, Any]],
    *,
    batch_size: int,
    max_new_tokens: int,
    progress: bool = True,
) -> list[str]:
    """Greedy answers (raw text) for ``rows`` (``prompt`` and optional ``system``)."""

    ids = [prompt_ids(tokenizer, r["prompt"], r.get("system")) for r in rows]
    results = greedy_generate(
        model,
        tokenizer,
        ids,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        stop_ids=stop_token_ids(tokenizer),
        stop_at_newline=True,
        progress=progress,
    )
    return [r.text for r in results]


def evaluate_rows(
    model: Any,
    tokenizer: Any,
    rows: list[dict[str, Any]],
    *,
    metric: str,
    batch_size: int,
    max_new_tokens: int,
    progress: bool = True,
) -> tuple[dict[str, Any], list[dict]]:
    """Score ``rows`` and return (summary, per-example predictions)."""
    start = time.perf_counter()
    texts = predict(model, tokenizer, rows, batch_size=batch_size, max_new_tokens=max_new_tokens, progress=progress)
    seconds = time.perf_counter() - start
    golds = [str(r["answer"]) for r in rows]
    value = score(texts, golds, metric)
    preds = [
        {
            "id": r.get("id", i),
            "prediction": t,
            "parsed": normalize(t),
            "gold": normalize(g),
            "correct": normalize(t) == normalize(g),
            # what a uniform guess among the example's own options would score (dataeff.efficiency.chance):
            # the count the prepared row carries, else the one its prompt lists
            "n_options": r.get("n_options") or options_in_prompt(r.get("prompt", "")),
        }
        for i, (r, t, g) in enumerate(zip(rows, texts, golds, strict=True))
    ]
    summary = {
        "metric": metric,
        "accuracy": value,
        "n_test": len(rows),
        "eval_seconds": round(seconds, 3),
        "examples_per_second": round(len(rows) / max(seconds, 1e-9), 3),
    }
    return summary, preds
