"""Reading per-budget results: the paper's published layout and the pipeline's eval JSONs.

Two sources feed the AUC code:

* the paper layout, ``{family}_{task}_full_result_v2.json`` = ``{"0": {"accuracy": ..},
  "50": {...}}`` (published by the authors; also what ``dataeff aggregate`` writes), and
* the pipeline's evaluations, ``results/{family}/{task}/eval/n{budget}.json``.

:func:`aggregate_evals` turns the second into the first so one reader serves both. Every
problem is a one-line :class:`~dataeff.core.errors.DataeffError` naming the file and key.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dataeff.core.errors import DataeffError
from dataeff.core.io import atomic_write_json, read_json
from dataeff.efficiency.auc import pick_metric

#: File name suffix of the paper layout.
SUFFIX = "_full_result_v2.json"
#: Top-level keys of a paper-layout file that are not budgets (written by ``dataeff aggregate``).
RESERVED_KEYS = frozenset({"provenance", "chance"})

Points = dict[int, float | list[float]]


def result_filename(family: str, task: str) -> str:
    """``{family}_{task}_full_result_v2.json``."""
    return f"{family}_{task}{SUFFIX}"


def parse_budget(key: Any, source: str) -> int:
    """A budget key as a non-negative integer, or a one-line error naming the key."""
    text = str(key).strip()
    try:
        budget = int(text)
    except ValueError:
        raise DataeffError(
            f"budget key {key!r} is not an integer",
            file=source,
            field=str(key),
            fix='use the number of training examples as the key, e.g. "0" or "50"',
        ) from None
    if budget < 0:
        raise DataeffError(
            f"budget key {key!r} is negative",
            file=source,
            field=str(key),
            fix="use 0 for zero-shot and positive budgets otherwise",
        )
    return budget


def _number(value: Any, source: str, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DataeffError(
            f"{value!r} is not a finite number", file=source, field=field, fix="store scores as numbers between 0 and 1"
        )
    return float(value)


def read_result_file(path: str | os.PathLike[str], task: str) -> Points:
    """Budget -> score of one paper-layout file (docs/METHOD.md rule 2 picks the metric).

    A budget entry with ``"accuracy_seeds"`` (several seeds, written by ``dataeff aggregate``)
    yields the list of per-seed scores, which :func:`~dataeff.efficiency.auc.compute_curve`
    averages; otherwise a single float.
    """
    source = str(path)
    data = read_json(path)
    if not isinstance(data, dict):
        raise DataeffError(
            f"expected an object mapping budgets to metrics, got {type(data).__name__}",
            file=source,
            fix='write {"0": {"accuracy": ...}, "50": {...}}',
        )
    points: Points = {}
    for key, metrics in data.items():
        if key in RESERVED_KEYS:
            continue
        budget = parse_budget(key, source)
        if budget in points:
            raise DataeffError(
                f"budget {budget} appears twice (as {key!r})",
                file=source,
                field=str(key),
                fix="keep one entry per budget",
            )
        seeds = metrics.get("accuracy_seeds") if isinstance(metrics, dict) else None
        if seeds is not None:
            if not isinstance(seeds, list) or not seeds:
                raise DataeffError(
                    "'accuracy_seeds' must be a non-empty list of numbers",
                    file=source,
                    field=f"{key}.accuracy_seeds",
                    fix="list one score per seed",
                )
            points[budget] = [_number(v, source, f"{key}.accuracy_seeds") for v in seeds]
        else:
            points[budget] = pick_metric(metrics, task, source=source, budget=key)
    if not points:
        raise DataeffError("no budgets in the file", file=source, fix='add {"0": {"accuracy": ...}, ...}')
    return points


def find_result_files(
    results_dir: str | os.PathLike[str], family: str, tasks: Sequence[str] | None = None
) -> dict[str, Path]:
    """Task -> path of every ``{family}_{task}_full_result_v2.json`` in ``results_dir``.

    With ``tasks`` exactly those files are required (a missing one is an error); without,
    every file with the family's prefix is taken. No file for the family is an error, not an
    empty table.
    """
    root = Path(results_dir)
    if not root.is_dir():
        raise DataeffError("results directory not found", file=str(root), fix="check --results")
    if tasks is not None:
        found = {t: root / result_filename(family, t) for t in tasks}
        missing = [str(p) for p in found.values() if not p.is_file()]
        if missing:
            raise DataeffError(
                f"no results for family '{family}' and task(s): {', '.join(Path(m).name for m in missing)}",
                file=str(root),
                fix="run the evaluations (dataeff aggregate) or drop the task",
            )
        return found
    prefix = f"{family}_"
    found = {}
    for path in sorted(root.glob(f"{prefix}*{SUFFIX}")):
        task = path.name[len(prefix) : -len(SUFFIX)]
        if task:
            found[task] = path
    if not found:
        raise DataeffError(
            f"no results for family '{family}' (no {prefix}*{SUFFIX})",
            file=str(root),
            fix="check --family and --results",
        )
    return found


def read_family(
    results_dir: str | os.PathLike[str], family: str, tasks: Sequence[str] | None = None
) -> tuple[dict[str, Points], dict[str, Path]]:
    """Per-task points of one family, and the files they came from."""
    files = find_result_files(results_dir, family, tasks)
    return {task: read_result_file(path, task) for task, path in files.items()}, files


def read_floor(path: str | os.PathLike[str], rule: str = "majority") -> float:
    """The chance floor of one task that ``dataeff aggregate`` records in a paper-layout file
    (``"chance"``, :mod:`dataeff.efficiency.chance`): for ``analysis.floor: majority`` the majority-answer
    score (``chance.score``), for ``fair`` max(that, the options guess) (``chance.fair_score``)."""
    source = str(path)
    data = read_json(path)
    chance = data.get("chance") if isinstance(data, dict) else None
    if not isinstance(chance, dict) or "score" not in chance:
        raise DataeffError(
            "no majority-answer score ('chance') in the file",
            file=source,
            field="chance",
            fix="re-run dataeff aggregate on the task's evaluations (it reads their .predictions.jsonl), "
            "or set analysis.floor: zero_shot (the paper's normalisation)",
        )
    if rule == "majority":
        return _number(chance["score"], source, "chance.score")
    if chance.get("fair_score") is None:
        raise DataeffError(
            f"no fair floor in the file: each test example's number of options is unknown "
            f"({chance.get('options_source') or 'evaluated before dataeff recorded n_options'})",
            file=source,
            field="chance.fair_score",
            fix="re-run the task's evaluations (they now record each example's options) and dataeff aggregate, "
            "or set analysis.floor: majority",
        )
    return _number(chance["fair_score"], source, "chance.fair_score")


def read_ceilings(path: str | os.PathLike[str]) -> dict[str, float | None]:
    """Task -> human-level ceiling from a JSON file ``{task: {"score": float | null}}``.

    A bare number (``{task: 0.9}``) is accepted too. A score that is neither a number in
    [0, 1] nor null is an error only when that task is used, so it is kept as ``nan`` here
    and reported by :func:`ceiling_for`.
    """
    source = str(path)
    data = read_json(path)
    if not isinstance(data, dict):
        raise DataeffError(
            'expected an object mapping task -> {"score": ...}', file=source, fix='write {"mnli": {"score": 0.92}, ...}'
        )
    out: dict[str, float | None] = {}
    for task, entry in data.items():
        score = entry.get("score") if isinstance(entry, dict) else entry
        if score is None:
            out[task] = None
        elif isinstance(score, int | float) and not isinstance(score, bool) and 0 <= score <= 1:
            out[task] = float(score)
        else:
            out[task] = math.nan
    return out


def validate_ceilings(ceilings: Mapping[str, float | None], tasks: Iterable[str], source: str) -> None:
    """Error for any used task whose ceiling is not a number in [0, 1] or null."""
    for task in tasks:
        value = ceilings.get(task)
        if value is not None and math.isnan(value):
            raise DataeffError(
                "ceiling score is not a number in [0, 1] or null",
                file=source,
                field=f"{task}.score",
                fix="use the human-level accuracy, or null if unknown",
            )


def write_ceilings(path: str | os.PathLike[str], ceilings: Mapping[str, float | None]) -> None:
    """Write ``{task: {"score": value}}`` atomically (the format :func:`read_ceilings` reads).

    Lets a pipeline rule pass registry ceilings to ``dataeff auc --ceilings``.
    """

    atomic_write_json(path, {t: {"score": None if v is None else float(v)} for t, v in ceilings.items()})


# --- pipeline eval JSONs ------------------------------------------------------------------------

_EVAL_KEYS = ("family", "task", "budget", "accuracy")


def read_eval(path: str | os.PathLike[str]) -> dict[str, Any]:
    """One ``results/{family}/{task}/eval/n{budget}.json``, validated."""
    source = str(path)
    data = read_json(path)
    if not isinstance(data, dict):
        raise DataeffError("expected a JSON object", file=source, fix="re-run dataeff evaluate")
    for key in _EVAL_KEYS:
        if key not in data:
            raise DataeffError(f"missing key '{key}'", file=source, field=key, fix="re-run dataeff evaluate")
    budget = data["budget"]
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
        budget = parse_budget(budget, source)
    accuracy = _number(data["accuracy"], source, "accuracy")
    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise DataeffError(f"seed {seed!r} is not an integer", file=source, field="seed", fix="re-run dataeff evaluate")
    return {
        **data,
        "budget": int(budget),
        "accuracy": accuracy,
        "seed": seed,
        "metric": data.get("metric") or "accuracy",
        "_source": source,
    }


def aggregate_evals(paths: Sequence[str | os.PathLike[str]], family: str) -> dict[str, dict[str, Any]]:
    """Task -> paper-layout mapping ``{"0": {...}, "16": {...}}`` from eval JSONs of one family.

    Each budget entry holds ``accuracy`` (mean over seeds), ``metric`` (the eval's metric name;
    ``accuracy`` holds its value), ``seeds``, ``n_test`` and, with several seeds,
    ``accuracy_seeds`` (per-seed scores in seed order), and ``sources`` (the eval files).
    Two evals of the same task, budget and seed are an error, as is an eval of another family.
    """
    if not paths:
        raise DataeffError(
            f"no eval files given for family '{family}'",
            field="--evals",
            fix="pass results/{family}/{task}/eval/n{budget}.json files",
        )
    grouped: dict[str, dict[int, list[dict[str, Any]]]] = {}
    for path in paths:
        ev = read_eval(path)
        if ev["family"] != family:
            raise DataeffError(
                f"eval is for family '{ev['family']}', not '{family}'",
                file=ev["_source"],
                field="family",
                fix="pass only this family's eval files",
            )
        runs = grouped.setdefault(str(ev["task"]), {}).setdefault(ev["budget"], [])
        for other in runs:
            if other["seed"] == ev["seed"]:
                raise DataeffError(
                    f"duplicate evaluation of task '{ev['task']}' budget {ev['budget']} "
                    f"seed {ev['seed']} (also in {other['_source']})",
                    file=ev["_source"],
                    fix="pass each evaluation once",
                )
            if other["metric"] != ev["metric"]:
                raise DataeffError(
                    f"metric '{ev['metric']}' differs from '{other['metric']}' in {other['_source']}",
                    file=ev["_source"],
                    field="metric",
                    fix="evaluate every seed with the same metric",
                )
        runs.append(ev)
    out: dict[str, dict[str, Any]] = {}
    for task, budgets in sorted(grouped.items()):
        layout: dict[str, Any] = {}
        for budget in sorted(budgets):
            runs = sorted(budgets[budget], key=lambda e: (e["seed"] is None, e["seed"] or 0))
            scores = [e["accuracy"] for e in runs]
            entry: dict[str, Any] = {
                "accuracy": math.fsum(scores) / len(scores),
                "metric": runs[0]["metric"],
                "seeds": [e["seed"] for e in runs],
                "n_test": [e.get("n_test") for e in runs] if len(runs) > 1 else runs[0].get("n_test"),
                "sources": [e["_source"] for e in runs],
            }
            if len(runs) > 1:
                entry["accuracy_seeds"] = scores
            layout[str(budget)] = entry
        out[task] = layout
    return out
