"""Data-efficiency curves and their AUC, exactly as the paper defines them (docs/METHOD.md section 1).

One model family x one task: accuracy after fine-tuning on n labeled examples for n = 0
(zero-shot) and each budget of a grid. The curve is cleaned (range filter, missing budgets
filled with 0, running maximum), normalised between its first point and the ceiling, placed on
a log2 budget axis scaled so that N_max sits at x = 1, and integrated with the trapezoidal rule.
Higher AUC = the task reaches its ceiling with fewer labels.

One departure is optional: with a ``floor`` (a chance score, :mod:`dataeff.efficiency.chance`: always
giving the majority answer, or under ``analysis.floor: fair`` the larger of that and a uniform
guess among each example's options) the curve is normalised from max(first point, floor)
instead, and points below it count as 0. The paper's definition (no floor) credits a model that
only learns the answer format (from 0 zero-shot to the majority share) with data efficiency; the
floor removes that credit.

The grid, N_max and the minimum budget are parameters so the same code serves the paper's grid
(50..5000) and the pipeline's CPU-sized grid (e.g. 16..128). Everything here is pure
computation; reading files lives in :mod:`dataeff.efficiency.results`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dataeff.core.errors import DataeffError

#: The paper's positive training budgets.
PAPER_GRID: tuple[int, ...] = (50, 100, 200, 500, 1000, 2500, 5000)
#: The paper's N_max (x = 1 on the budget axis).
PAPER_MAX_BUDGET = PAPER_GRID[-1]
#: Tasks scored by token F1 rather than exact-match accuracy (the four generation tasks of the
#: published Llama results).
GENERATION_TASKS = frozenset({"coqa", "squad_v2", "disfl_qa", "qa_wikidata"})


@dataclass(frozen=True)
class Curve:
    """A cleaned data-efficiency curve and its AUC.

    ``budgets`` are the kept budgets in increasing order (n = 0 first when measured);
    ``raw`` the measured accuracy (seed mean) at each, ``None`` where the budget was missing
    and filled; ``cleaned`` the running-maximum envelope; ``x``/``y`` the normalised
    coordinates integrated for ``auc``.
    """

    budgets: tuple[int, ...]
    raw: tuple[float | None, ...]
    cleaned: tuple[float, ...]
    x: tuple[float, ...]
    y: tuple[float, ...]
    auc: float
    zero_shot: float | None
    min_acc: float
    max_acc: float
    ceiling: float
    human_ceiling: float | None
    filled: tuple[int, ...]
    clamped: tuple[int, ...]
    n_points: int
    max_budget: int
    seeds: dict[int, int] = field(default_factory=dict)
    flat: bool = False
    floor: float | None = None

    def summary(self) -> dict[str, Any]:
        """The per-task record written to ``efficiency.json`` (JSON-serialisable)."""
        return {
            "auc": self.auc,
            "zero_shot": self.zero_shot,
            "min_acc": self.min_acc,
            "max_acc": self.max_acc,
            "ceiling": self.ceiling,
            "human_ceiling": self.human_ceiling,
            "n_points": self.n_points,
            "filled": list(self.filled),
            "clamped": list(self.clamped),
            "flat": self.flat,
            "floor": self.floor,
            "max_budget": self.max_budget,
            "curve": {
                "budgets": list(self.budgets),
                "raw": list(self.raw),
                "cleaned": list(self.cleaned),
                "x": list(self.x),
                "y": list(self.y),
            },
        }

    @classmethod
    def from_summary(cls, record: Mapping[str, Any]) -> Curve:
        """Rebuild a curve from its :meth:`summary` (one task of ``efficiency.json``)."""
        c = record["curve"]
        return cls(
            budgets=tuple(int(b) for b in c["budgets"]),
            raw=tuple(c["raw"]),
            cleaned=tuple(float(v) for v in c["cleaned"]),
            x=tuple(float(v) for v in c["x"]),
            y=tuple(float(v) for v in c["y"]),
            auc=float(record["auc"]),
            zero_shot=record["zero_shot"],
            min_acc=float(record["min_acc"]),
            max_acc=float(record["max_acc"]),
            ceiling=float(record["ceiling"]),
            human_ceiling=record.get("human_ceiling"),
            filled=tuple(record.get("filled", ())),
            clamped=tuple(record.get("clamped", ())),
            n_points=int(record["n_points"]),
            max_budget=int(record["max_budget"]),
            flat=bool(record.get("flat", False)),
            floor=record.get("floor"),
        )


def pick_metric(
    metrics: Mapping[str, Any], task: str, *, source: str | None = None, budget: str | int | None = None
) -> float:
    """The score of one result entry, chosen per docs/METHOD.md rule 2.

    Entries written by ``dataeff aggregate`` name their metric (``"metric"``) and carry its
    value under ``"accuracy"``. Published entries: generation tasks use ``f1``; others use
    ``accuracy`` and fall back to ``exact_string_match_accuracy`` when it is missing or null
    (the paper's small-budget runs logged only the latter).
    """
    where = f"budget '{budget}'" if budget is not None else "result"
    if not isinstance(metrics, Mapping):
        raise DataeffError(
            f"{where}: expected an object of metrics, got {type(metrics).__name__}",
            file=source,
            fix='write {"accuracy": <number>} for each budget',
        )
    if isinstance(metrics.get("metric"), str):
        keys: tuple[str, ...] = ("accuracy",)
    elif task in GENERATION_TASKS:
        keys = ("f1",)
    else:
        keys = ("accuracy", "exact_string_match_accuracy")
    for key in keys:
        value = metrics.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise DataeffError(
                f"{where}: metric '{key}' is {value!r}, not a finite number",
                file=source,
                field=f"{budget}.{key}" if budget is not None else key,
                fix="store the score as a number between 0 and 1",
            )
        return float(value)
    raise DataeffError(
        f"{where}: no metric {' or '.join(repr(k) for k in keys)} for task '{task}'",
        file=source,
        field=str(budget) if budget is not None else None,
        fix=f"add '{keys[0]}' to every budget entry",
    )


def _mean(values: float | Sequence[float]) -> tuple[float, int]:
    if isinstance(values, int | float):
        return float(values), 1
    vals = [float(v) for v in values]
    if not vals:
        raise ValueError("empty list of seed accuracies")
    return math.fsum(vals) / len(vals), len(vals)


def resolve_grid(grid: Sequence[int], max_budget: int | None) -> tuple[list[int], int]:
    """Sorted positive grid budgets within N_max, and N_max (default: the largest budget)."""
    positive = sorted({int(b) for b in grid if int(b) > 0})
    if not positive:
        raise DataeffError(
            "the budget grid has no positive budget",
            field="grid",
            fix="give budgets such as 50,100,200,500,1000,2500,5000",
        )
    n_max = int(max_budget) if max_budget is not None else positive[-1]
    if n_max < 2:
        raise DataeffError(
            f"max budget {n_max} must be at least 2 (x = log2(n)/log2(N_max))",
            field="max_budget",
            fix="use the largest training budget",
        )
    if n_max < positive[0]:
        raise DataeffError(
            f"max budget {n_max} is below the smallest grid budget {positive[0]}",
            field="max_budget",
            fix="raise --max-budget or lower the grid",
        )
    return [b for b in positive if b <= n_max], n_max


def compute_curve(
    points: Mapping[int, float | Sequence[float]],
    ceiling: float | None,
    grid: Sequence[int] = PAPER_GRID,
    max_budget: int | None = None,
    floor: float | None = None,
) -> Curve:
    """Apply docs/METHOD.md section 1 (rules 1 and 3-8) to one task's per-budget accuracies.

    ``points`` maps budget -> accuracy, or a sequence of per-seed accuracies (averaged first).
    ``ceiling`` is the human-level ceiling H_human, ``None`` when unknown. ``grid`` holds the
    positive budgets (n = 0 is implicit); ``max_budget`` is N_max (default: max of ``grid``).
    The minimum kept budget is the smallest positive grid budget. ``floor`` (``None``: the
    paper's rule) raises the bottom of the normalisation to max(first point, floor); the
    curve's ``min_acc`` is that bottom.
    """
    positive, n_max = resolve_grid(grid, max_budget)
    min_grid = positive[0]

    # Rules 1-2: keep n = 0 and min_grid <= n <= N_max; average seeds.
    measured: dict[int, float] = {}
    seeds: dict[int, int] = {}
    for budget, value in points.items():
        n = int(budget)
        if n != 0 and not (min_grid <= n <= n_max):
            continue
        measured[n], seeds[n] = _mean(value)
    if not measured:
        raise DataeffError(
            f"no result at zero-shot or between budgets {min_grid} and {n_max}",
            fix="evaluate at least one budget of the grid",
        )

    # Rule 3: missing positive grid budgets are inserted with accuracy 0 (not n = 0).
    budgets = sorted(set(measured) | set(positive))
    raw: list[float | None] = [measured.get(n) for n in budgets]
    filled = tuple(n for n in budgets if n not in measured)

    # Rule 4: running maximum, in increasing n.
    cleaned: list[float] = []
    clamped: list[int] = []
    best = -math.inf
    for n, value in zip(budgets, raw, strict=True):
        acc = 0.0 if value is None else value
        if acc < best and value is not None:
            clamped.append(n)
        best = max(best, acc)
        cleaned.append(best)

    # Rule 5: ceiling = max(H_human, best kept accuracy).
    max_acc = max(measured.values())
    human = None if ceiling is None else float(ceiling)
    top = max_acc if human is None else max(human, max_acc)

    # Rule 6: normalise between the first point (or the floor, when higher) and the ceiling.
    first = cleaned[0] if floor is None else max(cleaned[0], float(floor))
    gap = top - first
    flat = gap <= 0
    y = [0.0 if flat else max(0.0, (c - first) / gap) for c in cleaned]

    # Rule 7: log2 budget axis, N_max at x = 1, zero-shot at x = 0.
    log_max = math.log2(n_max)
    x = [math.log2(max(n, 1)) / log_max for n in budgets]

    # Rule 8: trapezoidal area.
    auc = math.fsum((x[i + 1] - x[i]) * (y[i + 1] + y[i]) / 2 for i in range(len(x) - 1))

    return Curve(
        budgets=tuple(budgets),
        raw=tuple(raw),
        cleaned=tuple(cleaned),
        x=tuple(x),
        y=tuple(y),
        auc=auc,
        zero_shot=measured.get(0),
        min_acc=first,
        max_acc=max_acc,
        ceiling=top,
        human_ceiling=human,
        filled=filled,
        clamped=tuple(clamped),
        n_points=len(measured),
        max_budget=n_max,
        seeds=seeds,
        flat=flat,
        floor=None if floor is None else float(floor),
    )


def max_possible_auc(grid: Sequence[int] = PAPER_GRID, max_budget: int | None = None) -> float:
    """Largest AUC the grid allows: zero-shot at 0, the ceiling reached at the smallest budget.

    ``1 - x_min / 2`` where x_min is the smallest budget's x; about 0.7703 on the paper grid.
    """
    positive, n_max = resolve_grid(grid, max_budget)
    x_min = math.log2(positive[0]) / math.log2(n_max)
    return 1.0 - x_min / 2.0


def family_curves(
    results: Mapping[str, Mapping[int, float | Sequence[float]]],
    ceilings: Mapping[str, float | None],
    grid: Sequence[int] = PAPER_GRID,
    max_budget: int | None = None,
    *,
    ceilings_source: str | None = None,
    unknown_ceiling_ok: bool = False,
    floors: Mapping[str, float | None] | None = None,
) -> dict[str, Curve]:
    """Curves for every task of one family, keyed by task and sorted by task name.

    A task absent from ``ceilings`` is an error (a typo would silently change its AUC) unless
    ``unknown_ceiling_ok``, in which case its ceiling is the best kept accuracy, as for a task
    whose ceiling is listed as unknown (``None``). ``floors`` (task -> floor) applies
    :func:`compute_curve`'s floor per task; a task without one keeps the paper's rule.
    """
    curves: dict[str, Curve] = {}
    for task in sorted(results):
        if task not in ceilings and not unknown_ceiling_ok:
            raise DataeffError(
                f"no ceiling for task '{task}'",
                file=ceilings_source,
                field=task,
                fix='add {"score": <number or null>} for it (null = unknown)',
            )
        try:
            floor = None if floors is None else floors.get(task)
            curves[task] = compute_curve(results[task], ceilings.get(task), grid, max_budget, floor)
        except DataeffError as exc:
            raise DataeffError(f"task '{task}': {exc}") from None
    return curves


#: Columns of ``efficiency.tsv``, in order.
TSV_COLUMNS = (
    "task",
    "auc",
    "zero_shot",
    "min_acc",
    "max_acc",
    "ceiling",
    "human_ceiling",
    "n_points",
    "filled",
    "clamped",
    "flat",
    "floor",
)


def _cell(value: Any) -> str:
    if value is None:
        return "NA"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def efficiency_tsv(curves: Mapping[str, Curve]) -> str:
    """Tab-separated table of :data:`TSV_COLUMNS`, one row per task, ``NA`` for missing values
    and comma-separated budget lists (so pandas/R read it without options)."""
    lines = ["\t".join(TSV_COLUMNS)]
    for task, curve in curves.items():
        row = {"task": task, **curve.summary()}
        lines.append("\t".join(_cell(row[c]) for c in TSV_COLUMNS))
    return "\n".join(lines) + "\n"
