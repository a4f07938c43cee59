"""How far real data-efficiency curves fall from the x**p curve model.

Even with a task's true AUC, the x**p curve of that AUC crosses a target fraction at another
budget than the real curve does: real curves plateau, jump, or never reach the ceiling (a human
ceiling above the best fine-tuned accuracy). This module measures that *curve-shape error* on
a set of real curves, per target, on the log budget axis x = log(n) / log(N_max):

    e = x_real(tau) - x_model(auc_real, tau)

where x_real is where the measured cleaned curve first reaches tau (linear between measured
points, as :func:`crossing_x` reads it; +inf if it never does) and x_model the grid-consistent
x**p curve of the same AUC (:class:`dataeff.prediction.curve_model.CurveModel`). The residuals are
resampled empirically by :mod:`dataeff.prediction.interval` (no distribution is assumed, and tasks that
never reach the target keep their weight as "beyond N_max").

It also measures the pointwise scatter of real curves around their x**p curve
(:meth:`ShapeSet.y_residual_sd`), the noise of the likelihood when measured budgets update a
prediction (:mod:`dataeff.prediction.curve_update`).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dataeff.core.errors import DataeffError
from dataeff.core.io import read_json
from dataeff.efficiency.auc import PAPER_GRID, PAPER_MAX_BUDGET, Curve
from dataeff.efficiency.published_curves import PAPER_FAMILIES, paper_curves
from dataeff.prediction.curve_model import CurveModel


def crossing_x(x: Sequence[float], y: Sequence[float], target: float) -> float:
    """First x where the piecewise-linear curve (x, y) reaches ``target``; +inf if never."""
    for i in range(len(x)):
        if y[i] >= target - 1e-12:
            if i == 0 or y[i - 1] >= target or y[i] == y[i - 1]:
                return float(x[i])
            return float(x[i - 1] + (target - y[i - 1]) * (x[i] - x[i - 1]) / (y[i] - y[i - 1]))
    return math.inf


@dataclass(frozen=True)
class ShapeCurve:
    """One real, cleaned, normalised curve (``x``, ``y`` as in efficiency.json) and its AUC."""

    task: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    auc: float


@dataclass(frozen=True)
class ShapeSet:
    """Real curves measured on one grid, and the grid's curve model."""

    curves: tuple[ShapeCurve, ...]
    model: CurveModel
    source: str

    def __len__(self) -> int:
        return len(self.curves)

    def without(self, task: str) -> ShapeSet:
        """The same set less one task (leave-one-task-out)."""
        return ShapeSet(tuple(c for c in self.curves if c.task != task), self.model, f"{self.source} without {task}")

    def residuals(self, target: float) -> np.ndarray:
        """Per curve, x_real(target) - x_model(auc, target); +inf where never reached."""
        return _residuals(self, float(target)).copy()

    def _residuals(self, target: float) -> np.ndarray:
        out = np.empty(len(self.curves))
        for i, c in enumerate(self.curves):
            x_real = crossing_x(c.x, c.y, target)
            x_model = float(self.model.x_for_target(self.model.exponent(c.auc), target))
            out[i] = x_real - x_model if math.isfinite(x_real) else math.inf
        return out

    def y_residual_sd(self) -> float:
        """Root mean square of y_real - x**p(auc) over the curves' positive budgets."""
        sq: list[float] = []
        for c in self.curves:
            p = float(self.model.exponent(c.auc))
            for x, y in zip(c.x, c.y, strict=True):
                if x > 0:
                    sq.append((y - x**p) ** 2)
        if not sq:
            raise DataeffError(
                f"no curve points in {self.source}",
                field="curve",
                fix="give measured curves with at least one positive budget",
            )
        return float(math.sqrt(sum(sq) / len(sq)))


@functools.lru_cache(maxsize=8192)
def _residuals(shapes: ShapeSet, target: float) -> np.ndarray:
    return shapes._residuals(target)


def shape_set_from_curves(
    curves: Mapping[str, Any], max_budget: int, grid: Sequence[int] | None, source: str
) -> ShapeSet:
    """From task -> :class:`dataeff.efficiency.auc.Curve` (or anything with x, y and auc)."""
    items = []
    for task, c in sorted(curves.items()):
        if getattr(c, "flat", False):
            continue  # zero-shot already at the ceiling: no gap, no crossing to learn from
        items.append(ShapeCurve(task, tuple(float(v) for v in c.x), tuple(float(v) for v in c.y), float(c.auc)))
    if not items:
        raise DataeffError(
            f"no non-flat curve in {source}", field="curve", fix="give curves with a gap between zero-shot and ceiling"
        )
    return ShapeSet(tuple(items), CurveModel.for_budgets(max_budget, grid), source)


def shape_set_from_efficiency(
    records: Mapping[str, Mapping[str, Any]], source: str, tasks: Iterable[str] | None = None
) -> ShapeSet:
    """From ``efficiency.json`` records (each with its ``curve`` block, ``grid``, ``max_budget``)."""

    keep = set(tasks) if tasks is not None else None
    curves: dict[str, Any] = {}
    grids: set[tuple[int, ...]] = set()
    n_maxes: set[int] = set()
    for task, rec in records.items():
        if keep is not None and task not in keep:
            continue
        if not isinstance(rec.get("curve"), Mapping):
            raise DataeffError(
                f"task '{task}' has no 'curve' block",
                file=source,
                field=f"{task}.curve",
                fix="re-run `dataeff auc`, which writes each task's curve",
            )
        curve = Curve.from_summary(rec)
        curves[task] = curve
        n_maxes.add(curve.max_budget)
        grid = rec.get("grid") or [b for b in curve.budgets if b > 0]
        grids.add(tuple(sorted(int(b) for b in grid)))
    if len(n_maxes) != 1 or len(grids) != 1:
        raise DataeffError(
            "tasks were measured on different grids or N_max",
            file=source,
            field="grid",
            fix="compute every task's AUC with the same --grid and --max-budget",
        )
    return shape_set_from_curves(curves, n_maxes.pop(), list(grids.pop()), source)


def paper_shape_set(family: str | None = None) -> ShapeSet:
    """The published curves of ``family`` (llama, mistral, qwen), or of all three pooled."""

    fams = [family] if family in PAPER_FAMILIES else list(PAPER_FAMILIES)
    curves = {f"{fam}/{task}": c for fam in fams for task, c in paper_curves(fam).items()}
    label = family if family in PAPER_FAMILIES else "llama, mistral and qwen pooled"
    return shape_set_from_curves(
        curves, PAPER_MAX_BUDGET, PAPER_GRID, f"the paper's published curves ({label}, {len(curves)} tasks)"
    )


def coefficient_shapes(coefficients: Mapping[str, Any]) -> ShapeSet | None:
    """The curves a fitted family ships with its coefficients (``curves``: task -> its normalised
    ``x``, ``y`` and ``auc``, on the coefficients' ``grid`` and ``max_budget``), so a prediction
    for that model carries the shape error of that model's own curves rather than the paper's;
    None when the coefficients carry fewer than two curves."""
    from types import SimpleNamespace

    curves = coefficients.get("curves")
    if not isinstance(curves, Mapping) or len(curves) < 2 or not coefficients.get("max_budget"):
        return None
    family = coefficients.get("family", "this family")
    source = f"{family}'s own curves shipped with its coefficients ({len(curves)} tasks)"
    as_curves = {t: SimpleNamespace(x=c["x"], y=c["y"], auc=c["auc"]) for t, c in curves.items()}
    return shape_set_from_curves(as_curves, int(coefficients["max_budget"]), coefficients.get("grid"), source)


def family_shapes(
    family: str | None, results_dir: str | os.PathLike[str] = "results", max_budget: int | None = None
) -> ShapeSet | None:
    """The family's own curves from ``results/{family}/efficiency.json`` when it exists (and its
    N_max is ``max_budget``, if given), else None (callers then use :func:`paper_shape_set`)."""

    if not family:
        return None
    path = Path(results_dir) / family / "efficiency.json"
    if not path.is_file():
        return None
    data = read_json(path)
    records = data.get("tasks", data) if isinstance(data, dict) else {}
    records = {t: r for t, r in records.items() if isinstance(r, Mapping) and isinstance(r.get("curve"), Mapping)}
    if len(records) < 2:
        return None
    shapes = shape_set_from_efficiency(records, str(path))
    if max_budget is not None and shapes.model.max_budget != int(max_budget):
        return None
    return shapes
