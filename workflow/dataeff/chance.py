"""What a model scores on a test set without learning the task: the constant majority answer.

Fine-tuning a small model on a few examples often teaches it only the answer *format*: after 16
examples SmolLM2 answers "plausible" or "implausible" to every sports_understanding question,
which scores the share of the more common label (about 0.5) from a zero-shot accuracy of 0 (it
answered in sentences). The paper's AUC normalises from the zero-shot point, so that jump counts
as data efficiency although nothing about the task was learned. Normalising from
max(zero-shot, this score) instead (``analysis.floor: majority``, :mod:`dataeff.efficiency`)
counts only what lies above answering the most common label every time.

The score is computed from the gold answers the evaluation recorded (``*.predictions.jsonl``
beside every eval JSON), normalised and scored exactly as :mod:`dataeff.evaluate` scores
predictions, so it is the metric's value for the constant predictor on the very rows the
curve was measured on.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dataeff.errors import DataeffError
from dataeff.evaluate import normalize, score
from dataeff.io import read_jsonl


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


def predictions_path(eval_path: str | os.PathLike[str]) -> Path:
    """``.../n16.json`` -> ``.../n16.predictions.jsonl`` (where :mod:`dataeff.evaluate` writes them)."""
    path = Path(eval_path)
    return path.with_name(path.stem + ".predictions.jsonl")


def chance_of_evals(eval_paths: Sequence[str | os.PathLike[str]], metric: str) -> dict[str, Any] | None:
    """The majority-answer score of one task's test set, from its evaluations' predictions.

    Every evaluation of a task must have scored the same test rows (same ids and gold answers);
    a difference is an error, since the curve's points would not be comparable. ``None`` when
    no evaluation has its predictions file (results from elsewhere, e.g. the paper's).
    """
    golds: dict[str, str] | None = None
    first: Path | None = None
    for eval_path in eval_paths:
        path = predictions_path(eval_path)
        if not path.is_file():
            continue
        rows = {str(r["id"]): str(r["gold"]) for r in read_jsonl(path)}
        if golds is None:
            golds, first = rows, path
        elif rows != golds:
            raise DataeffError(
                f"the test rows differ from those of {first}",
                file=str(path),
                field="gold",
                fix="evaluate every budget of a task on the same test split",
            )
    if golds is None:
        return None
    return majority_score([golds[k] for k in sorted(golds)], metric)
