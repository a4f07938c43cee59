"""What a budget prediction saves over an annotate-and-retrain loop, counted honestly.

Budgets are nested (the 50 examples are inside the 100), so a loop that labels grid budgets in
increasing order, retrains after each and stops once the measured cleaned curve reaches the
target fraction ``tau`` has labelled exactly the first grid budget whose cleaned normalised
accuracy is >= ``tau`` (one fine-tuning run per grid budget up to there). **If the curve never
reaches ``tau`` on the grid, the loop labels all N_max examples and fails**: such a task is
counted as "never reached", with no labels saved, not as a task that spent N_max labels.

The prediction asks for its central budget up front from CoS-Low (32 labels, not counted),
with the held-out fit that did not see the task (:func:`held_out_coefficients`). Whether it
actually suffices is read off the measured curve (log-linear interpolation between grid
budgets). A prediction of "more than N_max" asks for no budget. The same prediction updated
with the first one and two measured grid budgets (:mod:`dataeff.prediction.curve_update`) shows what those
first budgets buy: the error of the budget with 0, 1 and 2 measured budgets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from dataeff.efficiency.auc import Curve
from dataeff.prediction.shape import crossing_x

SAVINGS_COLUMNS = (
    "task",
    "target",
    "predicted_auc",
    "status",
    "predicted_budget",
    "predicted_low",
    "predicted_high",
    "loop_budget",
    "loop_rounds",
    "loop_reached",
    "needed_budget",
    "measured_fraction_at_predicted",
    "prediction_sufficient",
    "labels_saved",
    "budget_after_1",
    "budget_after_2",
    "error_0",
    "error_1",
    "error_2",
)


def fraction_at(curve: Mapping[str, Any], n: float, max_budget: int) -> float:
    """Measured normalised fraction at ``n`` labels (interpolated linearly in log budget)."""
    x = math.log2(max(n, 1.0)) / math.log2(max_budget)
    return float(np.interp(x, curve["x"], curve["y"]))


def loop_cost(curve: Mapping[str, Any], target: float, max_budget: int) -> tuple[int, int, bool]:
    """(labels, retraining rounds, reached) of the annotate-and-retrain loop (module docstring)."""
    rounds = 0
    for n, y in zip(curve["budgets"], curve["y"], strict=False):
        if n <= 0:
            continue
        rounds += 1
        if y >= target - 1e-12:
            return int(n), rounds, True
    return int(max_budget), rounds, False


def needed_budget(curve: Mapping[str, Any], target: float, max_budget: int) -> float | None:
    """Smallest n where the measured curve (log-linear between points) reaches ``target``."""
    x = crossing_x(curve["x"], curve["y"], target)
    return float(max_budget**x) if math.isfinite(x) else None


def held_out_coefficients(
    table: pd.DataFrame, task: str, coefficients: Mapping[str, Any] | None, max_budget: int, grid: Sequence[int] | None
) -> dict[str, Any]:
    """The OLS fit without ``task`` (with what its prediction interval needs); with fewer than
    3 other tasks, the family's own coefficients (which saw the task: an optimistic stand-in)."""
    from dataeff.prediction.fit import MIN_TASKS, ols_fit

    others = table[table["task"] != task]
    x = others["coslow_mean"].to_numpy(float)
    if len(others) >= MIN_TASKS and np.ptp(x) > 0:
        coefs = ols_fit(x, others["auc"].to_numpy(float))
        coefs["source"] = f"fit without {task}"
    else:
        coefs = dict(coefficients or {})
    coefs["max_budget"] = max_budget
    coefs["grid"] = list(grid) if grid else None
    return coefs


def _accuracies(rec: Mapping[str, Any], m: int) -> dict[int, float] | None:
    """Zero-shot and the first ``m`` grid budgets' cleaned accuracies of an efficiency record,
    read from the bottom of its normalisation (``min_acc``: the zero-shot point, or the majority
    floor when one applies, :mod:`dataeff.efficiency.chance`), as its AUC was."""
    curve = rec.get("curve") or {}
    budgets, cleaned = curve.get("budgets") or [], curve.get("cleaned") or []
    if not budgets or budgets[0] != 0:
        return None  # no zero-shot: the update needs it
    bottom = float(rec.get("min_acc", cleaned[0]))
    out = {0: bottom}
    for n, acc in list(zip(budgets, cleaned, strict=False))[1 : m + 1]:
        out[int(n)] = max(float(acc), bottom)
    return out


def _censored_error(pred: Mapping[str, Any] | None, need: float | None, n_max: int) -> float | None:
    """|predicted - needed| labels, both censored at N_max ("more than N_max" counts as N_max)."""
    if pred is None:
        return None
    got = pred["budget"] if pred["budget"] is not None else n_max
    return abs(got - (need if need is not None else n_max))


def savings_table(
    table: pd.DataFrame,
    efficiency: Mapping[str, Mapping[str, Any]],
    curves: Mapping[str, Mapping[str, Any]],
    targets: Sequence[float],
    max_budget: int,
    coefficients: Mapping[str, Any] | None = None,
    level: float = 0.8,
    coslow_sd: float | None = None,
) -> pd.DataFrame:
    """Per task and target: the held-out prediction (with 0, 1, 2 measured budgets) vs the loop."""
    from dataeff.prediction.budget import predict_budget
    from dataeff.prediction.curve_update import infer_test_size
    from dataeff.prediction.shape import shape_set_from_curves

    rows = []
    tasks = [t for t in table["task"] if t in curves and t in efficiency]
    for task in tasks:
        rec, curve = efficiency[task], curves[task]
        n_max = int(curve.get("max_budget") or max_budget)
        grid = rec.get("grid") or [b for b in curve["budgets"] if b > 0]
        coefs = held_out_coefficients(table, task, coefficients, n_max, grid)

        others = {t: Curve.from_summary(efficiency[t]) for t in tasks if t != task and "curve" in efficiency[t]}
        shapes = (
            shape_set_from_curves(others, n_max, grid, f"the family's other {len(others)} curves") if others else None
        )
        row_t = table.loc[table["task"] == task].iloc[0]
        sd = (
            float(row_t["coslow_std"])
            if "coslow_std" in row_t and np.isfinite(row_t.get("coslow_std", np.nan))
            else coslow_sd
        )
        # each measured point's binomial noise, from the test size its accuracies name
        test_size = infer_test_size((rec.get("curve") or {}).get("raw") or [])
        for tau in targets:
            preds = {}
            for m in (0, 1, 2):
                acc = _accuracies(rec, m) if m else None
                if m and acc is None:
                    continue
                preds[m] = predict_budget(
                    float(row_t["coslow_mean"]),
                    coefs,
                    tau,
                    n_max,
                    level,
                    coslow_sd=sd,
                    measured=acc,
                    ceiling=rec.get("ceiling") if acc else None,
                    grid=grid,
                    shapes=shapes,
                    test_size=test_size if acc else None,
                )
            p0 = preds[0]
            loop_n, rounds, reached = loop_cost(curve, tau, n_max)
            need = needed_budget(curve, tau, n_max)
            n_pred = p0["budget"]
            frac = fraction_at(curve, n_pred, n_max) if n_pred is not None else None
            sufficient = bool(frac is not None and frac >= tau - 1e-12)

            rows.append(
                {
                    "task": task,
                    "target": tau,
                    "predicted_auc": p0["predicted_auc"],
                    "status": p0["status"],
                    "predicted_budget": n_pred,
                    "predicted_low": p0["budget_low"],
                    "predicted_high": p0["budget_high"],
                    "loop_budget": loop_n if reached else None,
                    "loop_rounds": rounds,
                    "loop_reached": reached,
                    "needed_budget": need,
                    "measured_fraction_at_predicted": frac,
                    "prediction_sufficient": sufficient,
                    "labels_saved": loop_n - n_pred if reached and n_pred is not None else None,
                    "budget_after_1": preds[1]["budget"] if 1 in preds else None,
                    "budget_after_2": preds[2]["budget"] if 2 in preds else None,
                    **{f"error_{m}": _censored_error(preds.get(m), need, n_max) for m in (0, 1, 2)},
                }
            )
    return pd.DataFrame(rows, columns=list(SAVINGS_COLUMNS))
