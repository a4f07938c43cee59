"""CoS-Low as a stage: from files to a result JSON, for the pipeline and the practitioner's commands.

``run_coslow`` is the practitioner's stage (a labeled file in, ``coslow.json`` out, used by
``dataeff coslow`` and ``dataeff predict``); ``score_task_pool`` and ``run_coslow_task`` are the
pipeline's (one confidence pass per task, then CoS-Low and the baselines per seed), and
``summarize_predictors`` writes the per-family table. The numerics live in :mod:`dataeff.coslow.gradients`
(gradient Gram matrix), :mod:`dataeff.coslow.selection` (which examples) and :mod:`dataeff.coslow.baselines`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from typing import Any

from dataeff.core.config import family as family_cfg
from dataeff.core.errors import DataeffError
from dataeff.core.io import atomic_write_json, atomic_write_text, read_json, read_jsonl
from dataeff.core.provenance import file_hash, provenance
from dataeff.core.schema import top_level
from dataeff.core.settings import CoslowSettings, coslow_settings, eval_settings
from dataeff.coslow.baselines import random_baselines
from dataeff.coslow.gradients import coslow_from_rows, gradient_pass_settings, validate_labeled_rows
from dataeff.coslow.selection import (
    low_segment_size,
    random_indices,
    select_low_confidence,
    validate_prompt_rows,
)
from dataeff.inference.confidence import confidence_pass, ranking_score
from dataeff.inference.evaluate import normalize
from dataeff.modeling.resolve import load_model_ref
from dataeff.tasks.registry import task_max_new_tokens


def run_coslow(
    model: str,
    annotated: str,
    seed: int,
    out: str,
    config: dict[str, Any] | None = None,
    *,
    threads: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    on_message: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """CoS-Low of a labeled file; writes ``out`` (JSON with value, quartiles, spread, settings,
    provenance). ``model`` is resolved as ``select`` and ``predict`` resolve it
    (:func:`dataeff.modeling.resolve.resolve_model`: a config family is prepared on first use, after
    the labels are checked; ``on_message`` says so)."""

    settings = coslow_settings(config)
    rows = read_jsonl(annotated)
    validate_labeled_rows(rows, annotated)
    mdl, tok, info = load_model_ref(model, config, threads=threads, note=on_message)
    stats = coslow_from_rows(
        mdl,
        tok,
        rows,
        seed=seed,
        lora=settings.lora,
        source=annotated,
        spread_resamples=int(settings.spread_resamples),
        on_progress=on_progress,
        **gradient_pass_settings(settings),
    )
    result = {
        **stats,
        "model": model,
        "model_revision": info.get("revision"),
        "annotated": str(annotated),
        "ids": [str(r.get("id", r.get("_line"))) for r in rows],
        "provenance": provenance(
            config=config,
            seed=seed,
            model=model,
            model_revision=info.get("revision"),
            data_hash=file_hash(annotated),
        ),
    }
    if not math.isfinite(result["value"]):
        raise DataeffError("CoS-Low is not finite (all gradients zero?)", file=annotated)
    atomic_write_json(out, result)
    return result


#: Columns of ``results/{family}/predictors.tsv`` (read by the fit code; keep in sync).
PREDICTOR_COLUMNS = (
    "task",
    "coslow_mean",
    "coslow_std",
    "cos_sim_k_mean",
    "cos_sim_k_std",
    "grad_norm_k_mean",
    "grad_norm_k_std",
    "conf_avg_k_mean",
    "conf_avg_k_std",
    "n_seeds",
)
_PREDICTORS = ("coslow", "cos_sim_k", "grad_norm_k", "conf_avg_k")


def draw_pool(rows: Sequence[dict[str, Any]], pool_size: int, seed: int) -> list[int]:
    """Indices of the unlabeled pool: ``pool_size`` rows drawn (seeded) from the whole train split.

    The paper samples its unlabeled prompts from the task's training data, so the pool may
    overlap the fine-tuning budgets; drawing from the whole file (not its tail) keeps the pool
    a fair sample of the task. A train split smaller than ``pool_size`` is used whole.
    """

    if len(rows) <= pool_size:
        return list(range(len(rows)))
    return random_indices(len(rows), pool_size, seed)


def task_low_fraction(settings: CoslowSettings, task: str) -> float:
    """The bottom share of the pool that ``task``'s picks come from: ``low_fraction_by_task``
    where it names the task (a pool too small for k in its bottom decile, such as BBH's 160),
    else ``low_fraction`` (the paper's decile, and what the practitioner's ``predict`` uses)."""
    return float(settings.low_fraction_by_task.get(task, settings.low_fraction))


def score_task_pool(
    config: dict[str, Any],
    family: str,
    task: str,
    out: str,
    *,
    train: str,
    model: str,
    threads: int | None = None,
) -> dict[str, Any]:
    """Pipeline stage, once per family x task: draw the unlabeled pool and run the confidence pass.

    The pool is drawn with the configuration's master ``seed`` and scored once; the R seeds of
    :func:`run_coslow_task` then differ in which low-confidence examples they sample, in the LoRA
    initialisation and in the random baseline examples, without paying for R confidence passes.
    """

    family_cfg(config, family)
    settings = coslow_settings(config)
    k, low_fraction = int(settings.k), task_low_fraction(settings, task)
    train_path = str(train)
    rows = read_jsonl(train_path)
    validate_prompt_rows(rows, train_path)
    validate_labeled_rows(rows, train_path)
    pool_seed = int(top_level(config, "seed"))
    pool_idx = draw_pool(rows, int(settings.pool_size), pool_seed)
    if low_segment_size(len(pool_idx), low_fraction) < k:
        select_low_confidence([0.0] * len(pool_idx), k, pool_seed, low_fraction, train_path)  # raises
    model, tok, info = load_model_ref(model, config, family=family, threads=threads)
    pool = [rows[i] for i in pool_idx]
    max_new = task_max_new_tokens(eval_settings(config), task, int(settings.max_new_tokens))
    scores = confidence_pass(model, tok, pool, max_new_tokens=max_new, batch_size=int(settings.batch_size))
    record = {
        "family": family,
        "task": task,
        "pool_seed": pool_seed,
        "pool_indices": pool_idx,
        "pool_source": "seeded sample of the whole train split",
        "max_new_tokens": max_new,
        "scores": [dict(s, id=str(rows[i].get("id", i))) for i, s in zip(pool_idx, scores, strict=True)],
        "model_revision": info.get("revision"),
        "provenance": provenance(
            config=config,
            seed=pool_seed,
            model=family,
            model_revision=info.get("revision"),
            data_hash=file_hash(train_path),
        ),
    }
    atomic_write_json(out, record)
    return record


def run_coslow_task(
    config: dict[str, Any],
    family: str,
    task: str,
    seed: int,
    out: str,
    *,
    scores: str,
    train: str,
    model: str,
    threads: int | None = None,
) -> dict[str, Any]:
    """Pipeline stage, per seed: low-confidence k of the scored pool -> CoS-Low, plus the baselines.

    ``scores`` is the output of :func:`score_task_pool`; ``train`` the task's prepared train split
    and ``model`` the family's ``model.json`` (both the rule's declared inputs). Gold labels from the dataset stand in
    for the person who would label the selected prompts. Writes one JSON (``coslow``,
    ``cos_sim_k``, ``grad_norm_k``, ``conf_avg_k`` and details).
    """

    family_cfg(config, family)
    settings = coslow_settings(config)
    lora = settings.lora
    k = int(settings.k)
    train_path = str(train)
    rows = read_jsonl(train_path)
    scored = read_json(scores)
    pool_idx = scored["pool_indices"]
    if max(pool_idx, default=-1) >= len(rows):
        raise DataeffError(
            "pool indices do not fit the train split",
            file=scores,
            fix="re-run the confidence step (the task was re-prepared)",
        )
    pool = [rows[i] for i in pool_idx]
    rank = [ranking_score(sc, settings.confidence) for sc in scored["scores"]]
    selected, low = select_low_confidence(rank, k, seed, task_low_fraction(settings, task), train_path)
    sel = {
        "selected": selected,
        "low": low,
        "scores": scored["scores"],
        "threshold": rank[low[-1]] if settings.confidence == "mean_prob" else -rank[low[-1]],
    }
    model, tok, info = load_model_ref(model, config, family=family, threads=threads)
    chosen = [pool[i] for i in sel["selected"]]
    grad_pass = gradient_pass_settings(settings)
    stats = coslow_from_rows(model, tok, chosen, seed=seed, lora=lora, source=train_path, **grad_pass)
    confidences = [s["confidence"] for s in sel["scores"]]
    base = random_baselines(model, tok, pool, confidences, k=k, seed=seed, lora=lora, source=train_path, **grad_pass)
    result = {
        "family": family,
        "task": task,
        "seed": seed,
        "k": k,
        "coslow": stats["value"],
        "cos_sim_k": base["cos_sim_k"],
        "grad_norm_k": base["grad_norm_k"],
        "conf_avg_k": base["conf_avg_k"],
        "coslow_details": {
            key: stats[key]
            for key in ("cosine_quartiles", "mean_cosine", "mean_grad_norm", "grad_norms", "n_pairs", "pair_cosines")
        },
        "cos_sim_k_quartiles": base["cos_sim_k_quartiles"],
        "conf_low_mean": sum(confidences[i] for i in sel["selected"]) / k,
        **label_balance(chosen),
        "pool_size": len(pool),
        "pool_seed": scored["pool_seed"],
        "pool_source": scored["pool_source"],
        "low_fraction": task_low_fraction(settings, task),
        "measure": settings.confidence,
        "threshold": sel["threshold"],
        "lora": stats["lora"],
        "gradient_pass": stats["gradient_pass"],
        "selected_ids": [str(pool[i].get("id", pool_idx[i])) for i in sel["selected"]],
        "random_ids": [str(pool[i].get("id", pool_idx[i])) for i in base["random_indices"]],
        "model_revision": info.get("revision"),
        "provenance": provenance(
            config=config,
            seed=seed,
            model=family,
            model_revision=info.get("revision"),
            data_hash=file_hash(train_path),
        ),
    }
    atomic_write_json(out, result)
    return result


def label_balance(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Counts of the (normalised) gold answers of ``rows`` and the share of the most common one.

    Answer gradients cluster by label, so a pick dominated by one answer reads as a high CoS-Low
    whatever the task: the share is recorded beside every CoS-Low to check that confound.
    """
    counts: dict[str, int] = {}
    for row in rows:
        key = normalize(str(row.get("answer", "")))
        counts[key] = counts.get(key, 0) + 1
    top = max(counts.values(), default=0)
    return {"answer_counts": dict(sorted(counts.items())), "majority_label_share": top / len(rows) if rows else 0.0}


def summarize_predictors(inputs: Sequence[str], out: str, family: str | None = None) -> list[dict[str, Any]]:
    """Mean and sample std over seeds of each predictor per task; writes ``predictors.tsv``."""

    by_task: dict[str, list[dict[str, Any]]] = {}
    for path in inputs:
        res = read_json(path)
        for key in ("task", *_PREDICTORS):
            if key not in res:
                raise DataeffError(
                    f"missing key '{key}'",
                    file=str(path),
                    field=key,
                    fix="re-run: dataeff coslow-task for this seed",
                )
        if family is not None and res.get("family", family) != family:
            raise DataeffError(f"result of family '{res.get('family')}', expected '{family}'", file=str(path))
        by_task.setdefault(res["task"], []).append(res)
    table = []
    for task in sorted(by_task):
        runs = by_task[task]
        row: dict[str, Any] = {"task": task, "n_seeds": len(runs)}
        for key in _PREDICTORS:
            vals = [float(r[key]) for r in runs]
            row[f"{key}_mean"] = statistics.fmean(vals)
            row[f"{key}_std"] = statistics.stdev(vals) if len(vals) > 1 else float("nan")
        table.append(row)
    text = (
        "\t".join(PREDICTOR_COLUMNS)
        + "\n"
        + "".join(
            "\t".join(str(r[c]) if c in ("task", "n_seeds") else repr(float(r[c])) for c in PREDICTOR_COLUMNS) + "\n"
            for r in table
        )
    )
    atomic_write_text(out, text)
    return table
