"""What a model scores on a test set without learning the task: the chance floor of its curve.

Fine-tuning a small model on a few examples often teaches it only the answer *format*: after 16
examples SmolLM2 answers "plausible" or "implausible" to every sports_understanding question,
which scores the share of the more common label (about 0.5) from a zero-shot accuracy of 0 (it
answered in sentences). The paper's AUC normalises from the zero-shot point, so that jump counts
as data efficiency although nothing about the task was learned. Two scores mark what a model gets
without learning the task:

* the **majority score** M: always giving the test set's most common gold answer
  (``analysis.floor: majority``);
* the **options guess**: where each example lists its own options ("OPTIONS - a | b | c" in the
  prompt), picking one of them uniformly at random scores 1 / (number of options) in
  expectation; over the test set, the mean of 1 / k_i (0 for an example that lists none).

M alone is unfair to tasks whose examples carry their own options: on
tracking_shuffled_objects_three every gold answer is a different object (M = 0.05), yet any model
that names one of the three listed objects scores 1/3 on average. The **fair floor**
(``analysis.floor: fair``) is therefore max(M, options guess), and :mod:`dataeff.efficiency.auc`
normalises from max(zero-shot, that). For a two-option task the guess (0.5) never exceeds M, so
the fair floor equals the majority floor there.

Both are computed from what the evaluation recorded (``*.predictions.jsonl`` beside every eval
JSON): the gold answers, normalised and scored exactly as :mod:`dataeff.inference.evaluate` scores
predictions, and each example's ``n_options`` (counted from its prompt by
:func:`dataeff.inference.evaluate.options_in_prompt` when the evaluation ran). Evaluations written before
``n_options`` was recorded carry no count; a caller that knows the counts another way passes
them (``n_options``, test id -> count), and the record says where they came from.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dataeff.core.errors import DataeffError
from dataeff.core.io import read_jsonl
from dataeff.inference.evaluate import normalize, score


def options_guess_score(n_options: Sequence[int | None]) -> float:
    """Expected accuracy of picking uniformly among each example's own options: the mean over
    the examples of 1 / k (an example listing no options contributes 0)."""
    if not n_options:
        raise DataeffError("no test examples to compute the options guess from", field="n_options")
    for k in n_options:
        if k is not None and (not isinstance(k, int) or isinstance(k, bool) or k < 1):
            raise DataeffError(f"number of options {k!r} is not a positive integer", field="n_options")
    return sum(1.0 / k for k in n_options if k) / len(n_options)


def majority_score(golds: Sequence[str], metric: str = "accuracy") -> dict[str, Any]:
    """The constant predictor that always gives the most common gold answer, scored.

    ``score`` is the metric's value for it (for accuracy, the majority share); ties between
    equally common answers are broken by the answer's text, so the result is deterministic.
    """
    if not golds:
        raise DataeffError("no gold answers to compute the majority answer from", field="gold")
    counts = Counter(normalize(g) for g in golds)
    answer, count = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "majority_answer": answer,
        "majority_share": count / len(golds),
        "score": score([answer] * len(golds), list(golds), metric),
        "metric": metric,
        "n_test": len(golds),
        "n_answers": len(counts),
    }


def fair_floor(majority: Mapping[str, Any], n_options: Sequence[int | None] | None, source: str) -> dict[str, Any]:
    """The fair-floor fields added to a :func:`majority_score` record.

    ``options_guess`` is the expected accuracy of a uniform pick among each example's options
    (None when the counts are unknown, or the metric is not accuracy: a guess's expected
    macro-F1 is not 1 / k); ``fair_score`` = max(majority score, options guess), None when the
    guess is unknown; ``options_source`` says where the counts came from.
    """
    out: dict[str, Any] = {"options_guess": None, "options_source": source, "fair_score": None}
    if n_options is None:
        return out
    listed = [k for k in n_options if k]
    out["n_with_options"] = len(listed)
    if listed:
        out["options_per_example"] = {"min": min(listed), "max": max(listed)}
    if majority["metric"] != "accuracy":
        out["options_source"] = f"{source}; not used: the metric is {majority['metric']}, not accuracy"
        out["fair_score"] = majority["score"]
        return out
    guess = options_guess_score(list(n_options))
    out["options_guess"] = guess
    out["fair_score"] = max(float(majority["score"]), guess)
    return out


def predictions_path(eval_path: str | os.PathLike[str]) -> Path:
    """``.../n16.json`` -> ``.../n16.predictions.jsonl`` (where :mod:`dataeff.inference.evaluate` writes them)."""
    path = Path(eval_path)
    return path.with_name(path.stem + ".predictions.jsonl")


def chance_of_evals(
    eval_paths: Sequence[str | os.PathLike[str]],
    metric: str,
    n_options: Mapping[str, int | None] | None = None,
    n_options_source: str | None = None,
) -> dict[str, Any] | None:
    """The chance scores of one task's test set, from its evaluations' predictions.

    The majority score (:func:`majority_score`) and the fair floor's fields
    (:func:`fair_floor`). Each example's number of options is the one its predictions row
    recorded (``n_options``, written by :mod:`dataeff.inference.evaluate` since it counts them), else
    ``n_options[id]`` when given (``n_options_source`` says where those came from); when
    neither knows every example's count, the options guess is None.

    Every evaluation of a task must have scored the same test rows (same ids and gold answers);
    a difference is an error, since the curve's points would not be comparable. ``None`` when
    no evaluation has its predictions file (results from elsewhere, e.g. the paper's).
    """
    golds: dict[str, str] | None = None
    recorded: dict[str, int | None] = {}
    first: Path | None = None
    for eval_path in eval_paths:
        path = predictions_path(eval_path)
        if not path.is_file():
            continue
        rows = read_jsonl(path)
        these = {str(r["id"]): str(r["gold"]) for r in rows}
        if golds is None:
            golds, first = these, path
        elif these != golds:
            raise DataeffError(
                f"the test rows differ from those of {first}",
                file=str(path),
                field="gold",
                fix="evaluate every budget of a task on the same test split",
            )
        for r in rows:
            if "n_options" in r and str(r["id"]) not in recorded:
                recorded[str(r["id"])] = r["n_options"]
    if golds is None:
        return None
    ids = sorted(golds)
    record = majority_score([golds[k] for k in ids], metric)
    if all(k in recorded for k in ids):
        counts: list[int | None] | None = [recorded[k] for k in ids]
        source = "recorded by the evaluation (n_options of each predictions row)"
    elif n_options is not None and all(k in recorded or k in n_options for k in ids):
        counts = [recorded[k] if k in recorded else n_options[k] for k in ids]
        source = n_options_source or "given"
    else:
        counts, source = None, "not recorded: the predictions carry no n_options"
    record.update(fair_floor(record, counts, source))
    return record
