"""From a CoS-Low value to a label budget, with an interval that says how sure we are.

METHOD.md section 3. A family's fit AUC = slope * CoS-Low + intercept gives a predicted AUC
``a``; the normalised data-efficiency curve is modelled as y(x) = x**p with p = (1 - a) / a
(its area is exactly ``a``), where x = log(n) / log(N_max). The budget reaching a fraction
``tau`` of the gap between zero-shot and ceiling is n* = N_max ** (tau ** (a / (1 - a))).

The interval: when the fit's residual scatter and design (``resid_std``, ``n_tasks``,
``mean_x``, ``sxx``) are known, the OLS *prediction* interval of a new task's AUC (Student t
with n - 2 degrees of freedom); that includes task-to-task scatter, which dominates in the
paper. When only the coefficients' published ± is known, their standard errors are
propagated (covariance unknown, so treated as independent) and the result says that this
interval leaves out task-to-task scatter. n* decreases monotonically in ``a``, so the AUC
interval maps to a budget interval by evaluating its two ends.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from dataeff.errors import DataeffError

#: Predicted AUCs are clipped into this range (the curve model needs 0 < a < 1).
AUC_CLIP = (0.01, 0.99)
DEFAULT_MAX_BUDGET = 5000
#: Mean absolute leave-one-task-out AUC error reported by the paper ("8.6% error").
PAPER_LOTO_MAE = 0.086
DEFAULT_LEVEL = 0.95


def curve_exponent(auc: float) -> float:
    """p = (1 - a) / a: the exponent of the power-law curve whose area is ``auc``."""
    if not 0.0 < auc < 1.0:
        raise DataeffError(f"AUC {auc!r} is outside (0, 1)", field="auc", fix="give an AUC between 0 and 1")
    return (1.0 - auc) / auc


def curve_fraction(n: float | np.ndarray, auc: float, max_budget: int) -> np.ndarray:
    """Predicted fraction of the zero-shot-to-ceiling gap closed with ``n`` labels."""
    n_arr = np.maximum(np.asarray(n, dtype=float), 1.0)
    x = np.clip(np.log(n_arr) / math.log(max_budget), 0.0, 1.0)
    return x ** curve_exponent(auc)


def budget_for_target(auc: float, target: float, max_budget: int) -> float:
    """n* = N_max ** (target ** (a / (1 - a))), the (real-valued) labels that reach ``target``."""
    check_target(target)
    check_max_budget(max_budget)
    x_star = target ** (auc / (1.0 - auc))
    return float(max_budget ** x_star)


def check_target(target: float, field: str = "--target") -> float:
    """A target fraction must lie strictly inside (0, 1)."""
    if not (isinstance(target, int | float) and math.isfinite(target) and 0.0 < target < 1.0):
        raise DataeffError(f"target {target!r} is outside (0, 1)", field=field,
                           fix="give the fraction of the gap between zero-shot and ceiling, e.g. 0.7, "
                               "or an absolute accuracy with --target-accuracy")
    return float(target)


def check_max_budget(max_budget: int) -> int:
    if not (isinstance(max_budget, int | float) and max_budget > 1):
        raise DataeffError(f"max budget {max_budget!r} must be greater than 1", field="--max-budget",
                           fix="give N_max of the AUC, e.g. 5000")
    return int(max_budget)


def check_coslow(coslow: float) -> float:
    if not (isinstance(coslow, int | float) and math.isfinite(coslow)):
        raise DataeffError(f"CoS-Low {coslow!r} is not a finite number", field="--coslow",
                           fix="pass the 'coslow' value from coslow.json (a number between -1 and 1)")
    return float(coslow)


def target_from_accuracy(accuracy: float, zero_shot: float, ceiling: float) -> float:
    """tau = (ACC - zero_shot) / (ceiling - zero_shot), checked to lie in (0, 1)."""
    for name, value in (("--target-accuracy", accuracy), ("--zero-shot", zero_shot), ("--ceiling", ceiling)):
        if not math.isfinite(value):
            raise DataeffError(f"{value!r} is not a finite number", field=name,
                               fix="give an accuracy in [0, 1]")
    if ceiling <= zero_shot:
        raise DataeffError(f"ceiling {ceiling} is not above zero-shot accuracy {zero_shot}",
                           field="--ceiling",
                           fix="give the best reachable accuracy (e.g. human level), above zero-shot")
    tau = (accuracy - zero_shot) / (ceiling - zero_shot)
    if not 0.0 < tau < 1.0:
        raise DataeffError(f"target accuracy {accuracy} is not between zero-shot {zero_shot} and ceiling "
                           f"{ceiling} (fraction {tau:.3f})", field="--target-accuracy",
                           fix="choose an accuracy strictly between zero-shot and ceiling")
    return tau


def _num(coefs: dict[str, Any], key: str) -> float | None:
    value = coefs.get(key)
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def predict_auc(coslow: float, coefficients: dict[str, Any], level: float = DEFAULT_LEVEL) -> dict[str, Any]:
    """Predicted AUC at ``coslow`` with an interval at ``level`` and a note on what it covers."""
    x = check_coslow(coslow)
    slope, intercept = _num(coefficients, "slope"), _num(coefficients, "intercept")
    if slope is None or intercept is None:
        raise DataeffError("coefficients need numeric 'slope' and 'intercept'", field="coefficients",
                           fix="pass --slope/--intercept or run `dataeff fit`")
    auc = slope * x + intercept
    resid, n = _num(coefficients, "resid_std"), _num(coefficients, "n_tasks")
    mean_x, sxx = _num(coefficients, "mean_x"), _num(coefficients, "sxx")
    se_c, se_i = _num(coefficients, "slope_se"), _num(coefficients, "intercept_se")
    warnings: list[str] = []
    if resid is not None and n is not None and n >= 3 and mean_x is not None and sxx and sxx > 0:
        se = resid * math.sqrt(1.0 + 1.0 / n + (x - mean_x) ** 2 / sxx)
        q = float(stats.t.ppf(0.5 + level / 2.0, int(n) - 2))
        method = f"OLS prediction interval (t, {int(n) - 2} df), includes task-to-task scatter"
    elif se_c is not None or se_i is not None:
        # Only the coefficients' +- is published, not the scatter of tasks around the line, which
        # dominates a new task's error. Use the paper's reported leave-one-task-out error (mean
        # absolute AUC error 0.086) as the residual: for normal errors sd = MAE / sqrt(2 / pi).
        resid_paper = PAPER_LOTO_MAE / math.sqrt(2.0 / math.pi)
        se = math.sqrt((x * (se_c or 0.0)) ** 2 + (se_i or 0.0) ** 2 + resid_paper ** 2)
        q = float(stats.norm.ppf(0.5 + level / 2.0))
        method = (f"coefficient standard errors plus a residual of sd {resid_paper:.3f} AUC derived from the "
                  f"paper's leave-one-task-out error (MAE {PAPER_LOTO_MAE}); run `dataeff fit` on your own "
                  "tasks for an OLS prediction interval")
    else:
        se, q = 0.0, 0.0
        method = "none (no standard errors known)"
        warnings.append("no standard errors known for these coefficients: no interval")
    lo_raw, hi_raw = auc - q * se, auc + q * se
    x_min, x_max = _num(coefficients, "x_min"), _num(coefficients, "x_max")
    if x_min is not None and x_max is not None and not x_min <= x <= x_max:
        warnings.append(f"CoS-Low {x:.4g} is outside the fitted range [{x_min:.4g}, {x_max:.4g}]: "
                        "the prediction extrapolates")
    if not AUC_CLIP[0] <= auc <= AUC_CLIP[1]:
        warnings.append(f"predicted AUC {auc:.4g} is outside the curve model's range; clipped to "
                        f"[{AUC_CLIP[0]}, {AUC_CLIP[1]}]")
    clip = lambda v: min(max(v, AUC_CLIP[0]), AUC_CLIP[1])  # noqa: E731
    return {"coslow": x, "slope": slope, "intercept": intercept, "predicted_auc_raw": auc,
            "predicted_auc": clip(auc), "auc_low": clip(lo_raw), "auc_high": clip(hi_raw),
            "auc_se": se, "level": level, "interval_method": method, "warnings": warnings}


def predict_budget(coslow: float, coefficients: dict[str, Any], target: float,
                   max_budget: int | None = None, level: float = DEFAULT_LEVEL) -> dict[str, Any]:
    """Predicted AUC and labels needed to close ``target`` of the gap, with intervals.

    ``max_budget`` defaults to the coefficients' own N_max (the AUC's x axis was defined with
    it, so a different one changes the meaning of the prediction), else 5000.
    """
    check_target(target)
    fitted_n_max = _num(coefficients, "max_budget")
    if max_budget is None:
        max_budget = int(fitted_n_max) if fitted_n_max else DEFAULT_MAX_BUDGET
    check_max_budget(max_budget)
    out = predict_auc(coslow, coefficients, level)
    if fitted_n_max and int(fitted_n_max) != int(max_budget):
        out["warnings"].append(f"these coefficients were fitted with N_max = {int(fitted_n_max)}; "
                               f"budgets on a different N_max ({max_budget}) are extrapolated")
    a, lo, hi = out["predicted_auc"], out["auc_low"], out["auc_high"]
    n_star = budget_for_target(a, target, max_budget)
    n_hi, n_lo = budget_for_target(lo, target, max_budget), budget_for_target(hi, target, max_budget)
    out.update({
        "target": target,
        "max_budget": int(max_budget),
        "exponent": curve_exponent(a),
        "x_star": target ** (a / (1.0 - a)),
        "budget_exact": n_star,
        "budget": int(math.ceil(n_star - 1e-9)),
        "budget_low": int(math.ceil(n_lo - 1e-9)),
        "budget_high": int(math.ceil(n_hi - 1e-9)),
        "coefficients_source": str(coefficients.get("source") or "user-supplied --slope/--intercept"),
    })
    return out


def predicted_curve(prediction: dict[str, Any], points: int = 25) -> list[dict[str, float]]:
    """Rows (budget, fraction, fraction_low, fraction_high) of the predicted curve, log-spaced."""
    n_max = prediction["max_budget"]
    budgets = sorted({int(round(v)) for v in np.geomspace(1, n_max, points)} | {n_max})
    rows = []
    for n in budgets:
        rows.append({"budget": n,
                     "fraction": float(curve_fraction(n, prediction["predicted_auc"], n_max)),
                     "fraction_low": float(curve_fraction(n, prediction["auc_low"], n_max)),
                     "fraction_high": float(curve_fraction(n, prediction["auc_high"], n_max))})
    return rows


def plot_prediction(prediction: dict[str, Any], out: str | os.PathLike[str]) -> None:
    """Draw the predicted curve, its interval band and the target to ``out`` (PNG or PDF)."""
    from dataeff.plots.style import save_figure  # selects the Agg backend first

    import matplotlib.pyplot as plt  # isort: skip

    n_max = prediction["max_budget"]
    n = np.geomspace(1, n_max, 200)
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.fill_between(n, curve_fraction(n, prediction["auc_low"], n_max),
                    curve_fraction(n, prediction["auc_high"], n_max), color="C0", alpha=0.2,
                    label=f"{prediction['level']:.0%} interval")
    ax.plot(n, curve_fraction(n, prediction["predicted_auc"], n_max), color="C0",
            label=f"predicted (AUC {prediction['predicted_auc']:.3f})")
    ax.axhline(prediction["target"], color="0.4", ls="--", lw=1, label=f"target {prediction['target']:g}")
    span = f"{prediction['budget_low']}–{prediction['budget_high']}"
    ax.axvline(prediction["budget"], color="C3", lw=1, label=f"{prediction['budget']} labels ({span})")
    ax.axvspan(max(prediction["budget_low"], 1), prediction["budget_high"], color="C3", alpha=0.08)
    ax.set_xscale("log")
    ax.set_xlim(1, n_max)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("labeled examples")
    ax.set_ylabel("fraction of zero-shot→ceiling gap")
    ax.set_title(f"Predicted data-efficiency curve (CoS-Low {prediction['coslow']:.3f})", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    out = Path(out)
    suffix = out.suffix.lower().lstrip(".")
    if suffix not in {"png", "pdf", "svg"}:
        plt.close(fig)
        raise DataeffError(f"unsupported plot type '{out.suffix}'", field="--plot",
                           fix="use .png, .pdf or .svg")
    save_figure(fig, out, formats=(suffix,))

