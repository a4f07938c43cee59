"""Pick the examples a person labels: k random draws from the least-confident decile.

Step 2 of CoS-Low (docs/METHOD.md section 2). The selection itself is pure (scores in, indices
out) so it can be tested on synthetic scores; :func:`run_select` adds the model, the files
and the records.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dataeff.core.errors import DataeffError
from dataeff.core.io import atomic_write_json, atomic_write_jsonl, read_table, strip_private
from dataeff.core.provenance import file_hash, provenance
from dataeff.core.settings import coslow_settings
from dataeff.inference.confidence import MEASURES, confidence_pass, ranking_score
from dataeff.modeling.resolve import load_model_ref


def low_segment_size(n: int, low_fraction: float) -> int:
    """Size of the bottom ``low_fraction`` of ``n`` examples (floor, tolerant of 0.1*320)."""
    return int(math.floor(n * low_fraction + 1e-9))


def required_pool_size(k: int, low_fraction: float) -> int:
    """Smallest pool whose bottom segment holds ``k`` examples."""
    n = math.ceil(k / low_fraction - 1e-9)
    while low_segment_size(n, low_fraction) < k:
        n += 1
    return n


def low_confidence_indices(scores: Sequence[float], low_fraction: float = 0.1) -> list[int]:
    """Indices of the bottom ``low_fraction`` by score (lower = less confident), least first.

    Ties keep input order; NaN scores (nothing generated) count as most confident, so they
    are never selected on a technicality.
    """

    def key(i: int) -> tuple[float, int]:
        s = float(scores[i])
        return (math.inf if math.isnan(s) else s, i)

    order = sorted(range(len(scores)), key=key)
    return order[: low_segment_size(len(scores), low_fraction)]


def select_low_confidence(
    scores: Sequence[float], k: int, seed: int, low_fraction: float = 0.1, source: str | None = None
) -> tuple[list[int], list[int]]:
    """``(selected, low_segment)``: k indices sampled without replacement from the low segment.

    ``selected`` is sorted by input index. Raises a one-line error when the pool is too small.
    """
    import numpy as np

    if k < 1:
        raise DataeffError(f"k must be at least 1, got {k}", field="k")
    if not 0 < low_fraction <= 1:
        raise DataeffError(f"low_fraction must be in (0, 1], got {low_fraction}", field="low_fraction")
    low = low_confidence_indices(scores, low_fraction)
    if len(low) < k:
        need = required_pool_size(k, low_fraction)
        raise DataeffError(
            f"pool of {len(scores)} prompts has only {len(low)} in its bottom {low_fraction:g} by confidence,"
            f" fewer than k={k}",
            file=source,
            fix=f"give at least {need} prompts (k / low_fraction) or lower k",
        )
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(low), size=k, replace=False)
    return sorted(low[int(i)] for i in picked), low


def random_indices(n: int, k: int, seed: int) -> list[int]:
    """k indices of ``range(n)`` sampled without replacement (the random-example baselines)."""
    import numpy as np

    if n < k:
        raise DataeffError(f"need at least {k} examples, got {n}")
    return sorted(int(i) for i in np.random.default_rng(seed).choice(n, size=k, replace=False))


def validate_prompt_rows(rows: Sequence[dict[str, Any]], source: str) -> None:
    """Every row needs a non-empty string ``prompt`` (and a string ``system`` when given)."""
    for r in rows:
        line = r.get("_line", "?")
        if not isinstance(r.get("prompt"), str) or not r["prompt"].strip():
            raise DataeffError(
                f"line {line}: missing or empty prompt",
                file=source,
                field="prompt",
                fix="give every line a non-empty 'prompt' string",
            )
        if r.get("system") is not None and not isinstance(r["system"], str):
            raise DataeffError(f"line {line}: system must be a string", file=source, field="system")


def read_prompts(path: str, prompt_field: str = "prompt") -> list[dict[str, Any]]:
    """Unlabeled prompts from a JSONL or CSV file, each row with its text under ``prompt``.

    ``prompt_field`` names the column (CSV) or key (JSONL) that holds the text; the other
    fields are kept (``id`` and ``system`` are used when present; an empty CSV ``system`` cell
    means none). A missing or empty prompt is a one-line error naming the line and the field.
    """

    rows = read_table(path)
    if not rows:
        raise DataeffError("no prompts", file=path, fix="give one prompt per line (JSONL) or row (CSV)")
    out = []
    for r in rows:
        line = r.get("_line", "?")
        text = r.get(prompt_field)
        if not isinstance(text, str) or not text.strip():
            what = "missing" if prompt_field not in r else "empty or not text"
            keys = ", ".join(k for k in r if not k.startswith("_"))
            raise DataeffError(
                f"line {line}: prompt field '{prompt_field}' is {what} (fields: {keys})",
                file=path,
                field=prompt_field,
                fix="give every row a non-empty prompt, or name its column with --prompt-field",
            )
        row = {k: v for k, v in r.items() if k != prompt_field}
        row["prompt"] = text
        if row.get("system") == "":
            row["system"] = None
        out.append(row)
    validate_prompt_rows(out, path)
    return out


def normalize_answer(text: str) -> str:
    """First non-empty line, lower-cased, without spaces and periods (as evaluation scores it)."""
    lines = [ln for ln in str(text).splitlines() if ln.strip()]
    return (lines[0] if lines else "").lower().replace(" ", "").replace(".", "")


def most_common_share(texts: Sequence[str]) -> dict[str, Any]:
    """The most frequent answer after :func:`normalize_answer`, its count and its share."""
    from collections import Counter

    counts = Counter(normalize_answer(t) for t in texts)
    if not counts:
        return {"answer": None, "count": 0, "share": 0.0, "n": 0, "distinct": 0}
    answer, count = counts.most_common(1)[0]
    return {"answer": answer, "count": count, "share": count / len(texts), "n": len(texts), "distinct": len(counts)}


def row_id(row: dict[str, Any], index: int) -> str:
    return str(row["id"]) if row.get("id") is not None else f"line{row.get('_line', index + 1)}"


def sidecar_paths(out: str | Path) -> tuple[Path, Path]:
    """``(<stem>.confidences.jsonl, <stem>.selection.json)`` beside ``out``."""
    p = Path(out)
    stem = p.name[: -len(p.suffix)] if p.suffix else p.name
    return p.with_name(f"{stem}.confidences.jsonl"), p.with_name(f"{stem}.selection.json")


def select_rows(
    model: Any,
    tokenizer: Any,
    rows: Sequence[dict[str, Any]],
    *,
    k: int,
    seed: int,
    low_fraction: float = 0.1,
    measure: str = "mean_prob",
    max_new_tokens: int = 30,
    batch_size: int = 16,
    source: str | None = None,
    progress: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Confidence pass plus selection on already-loaded rows.

    Returns ``{"selected": [indices], "low": [indices], "scores": [per-row dicts], "threshold"}``.
    The pool size is checked before the (slow) confidence pass.
    """

    if measure not in MEASURES:
        raise DataeffError(
            f"unknown confidence measure '{measure}'",
            field="measure",
            fix=f"choose one of {', '.join(MEASURES)}",
        )
    if low_segment_size(len(rows), low_fraction) < k:
        select_low_confidence([0.0] * len(rows), k, seed, low_fraction, source)  # raises the message
    scores = confidence_pass(
        model,
        tokenizer,
        rows,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        progress=progress,
        on_progress=on_progress,
    )
    rank = [ranking_score(s, measure) for s in scores]
    selected, low = select_low_confidence(rank, k, seed, low_fraction, source)
    return {
        "selected": selected,
        "low": low,
        "scores": scores,
        "threshold": scores[low[-1]]["confidence" if measure == "mean_prob" else "perplexity"],
    }


def run_select(
    model: str,
    prompts: str,
    k: int,
    seed: int,
    out: str,
    config: dict[str, Any] | None = None,
    low_fraction: float = 0.1,
    measure: str = "mean_prob",
    *,
    batch_size: int | None = None,
    max_new_tokens: int | None = None,
    threads: int | None = None,
    prompt_field: str = "prompt",
    on_progress: Callable[[int, int], None] | None = None,
    on_message: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Choose the k prompts a person should label; write them, every confidence, and a record.

    ``prompts`` is JSONL or CSV with the text under ``prompt_field``. Writes ``out`` (the k
    rows with ``id``, ``prompt`` and an empty ``answer``), ``<stem>.confidences.jsonl`` (every
    prompt: id, confidence, perplexity, generated text, in_low, selected) and
    ``<stem>.selection.json`` (seed, k, model, measure, thresholds, the base model's most
    common answer and its share, provenance). Returns the record. ``model`` is resolved by
    :func:`dataeff.modeling.resolve.resolve_model` (a config family is prepared on first use, after the
    prompts are checked; ``on_message`` says so).
    """

    settings = coslow_settings(config)
    batch_size = batch_size or settings.batch_size
    max_new_tokens = max_new_tokens or settings.max_new_tokens
    rows = read_prompts(prompts, prompt_field)
    if low_segment_size(len(rows), low_fraction) < k:
        select_low_confidence([0.0] * len(rows), k, seed, low_fraction, prompts)
    mdl, tok, info = load_model_ref(model, config, threads=threads, note=on_message)
    sel = select_rows(
        mdl,
        tok,
        rows,
        k=k,
        seed=seed,
        low_fraction=low_fraction,
        measure=measure,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        source=prompts,
        on_progress=on_progress,
    )
    chosen = set(sel["selected"])
    low = set(sel["low"])
    ids = [row_id(r, i) for i, r in enumerate(rows)]
    to_label = [dict(strip_private(rows[i]), id=ids[i], answer="") for i in sel["selected"]]
    conf_rows = [
        {"id": ids[i], "index": i, **s, "in_low": i in low, "selected": i in chosen}
        for i, s in enumerate(sel["scores"])
    ]
    record = {
        "model": model,
        "model_revision": info.get("revision"),
        "prompts": str(prompts),
        "n_prompts": len(rows),
        "k": k,
        "seed": seed,
        "measure": measure,
        "low_fraction": low_fraction,
        "n_low": len(sel["low"]),
        "threshold": sel["threshold"],
        "max_new_tokens": max_new_tokens,
        "selected_ids": [ids[i] for i in sel["selected"]],
        "prompt_field": prompt_field,
        "base_model_top_answer": most_common_share([sc["generated"] for sc in sel["scores"]]),
        "provenance": provenance(
            config=config,
            seed=seed,
            model=model,
            model_revision=info.get("revision"),
            data_hash=file_hash(prompts),
        ),
    }
    conf_path, record_path = sidecar_paths(out)
    atomic_write_jsonl(conf_path, conf_rows)
    atomic_write_json(record_path, record)
    atomic_write_jsonl(out, to_label)
    return record
