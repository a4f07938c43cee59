"""From a CoS-Low value to a label budget, with an interval that says how sure we are.

docs/METHOD.md section 3. A family's fit AUC = slope * CoS-Low + intercept gives a predicted AUC
``a``; the normalised data-efficiency curve is modelled as y(x) = x**p on the log budget axis
x = log(n) / log(N_max). docs/METHOD.md takes p = (1 - a) / a, whose continuous area is ``a``
(:func:`curve_exponent`, :func:`budget_for_target`). :func:`predict_budget` instead uses the
exponent whose *trapezoid on the budget grid* is ``a`` (:mod:`dataeff.prediction.curve_model`), because
that is how the AUCs the coefficients were fitted to are measured; and it limits ``a`` to the
range the grid can produce (at most 0.7703 on the paper's grid).

The AUC interval (:func:`predict_auc`): when the fit's residual scatter and design
(``resid_std``, ``n_tasks``, ``mean_x``, ``sxx``) are known, the OLS *prediction* interval
(Student t, n - 2 degrees of freedom), which includes task-to-task scatter; when only the
coefficients' published ± is known, their standard errors plus the paper's leave-one-task-out
error as a residual. The budget interval (:func:`predict_budget`) adds the noise of a single
CoS-Low draw and the curve-shape error of real curves around x**p (:mod:`dataeff.prediction.interval`),
and can be updated with the accuracies measured so far (:mod:`dataeff.prediction.curve_update`). Its
coverage is measured leave-one-task-out by :mod:`dataeff.prediction.calibration` (docs/PREDICTIONS.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from scipy import stats

from dataeff.core.errors import DataeffError
from dataeff.core.settings import analysis_settings
from dataeff.efficiency.auc import PAPER_GRID, PAPER_MAX_BUDGET
from dataeff.prediction.curve_model import CurveModel
from dataeff.prediction.published import PUBLISHED_COEFFICIENTS
from dataeff.prediction.shape import ShapeSet

#: Predicted AUCs are clipped into this range (the curve model needs 0 < a < 1).
AUC_CLIP = (0.01, 0.99)
DEFAULT_MAX_BUDGET = PAPER_MAX_BUDGET
#: Mean absolute leave-one-task-out AUC error reported by the paper ("8.6% error").
PAPER_LOTO_MAE = 0.086
#: Interval level when none is given (the schema's ``analysis.level``).
DEFAULT_LEVEL: float = analysis_settings(None).level
#: The update method kept after the leave-one-task-out comparison (docs/PREDICTIONS.md).
DEFAULT_UPDATE = "bayes"
#: How a predicted AUC becomes a curve (``--curve-model``): ``paper``, METHOD.md section 3's
#: x**p with p = (1 - a) / a, so n* = N_max ** (tau ** (a / (1 - a))); ``grid``, the x**p whose
#: trapezoid on the AUC's budget grid is ``a`` (:mod:`dataeff.prediction.curve_model`).
CURVE_MODELS = {
    "paper": "the paper's x**p, p = (1 - a)/a: n* = N_max^(tau^(a/(1 - a)))",
    "grid": "grid-consistent x**p (trapezoid on the AUC's grid = a)",
}
#: The default curve model: the one whose budgets, given each real curve's true AUC, fall nearer
#: to where the paper's 100 published curves reach 50/70/90% of their gap (lower mean over the
#: three targets of the median |ln(predicted / true budget)|: 0.52 against 0.59;
#: :mod:`dataeff.prediction.curve_check`, docs/PREDICTIONS.md section 1).
DEFAULT_CURVE_MODEL = "paper"
UPDATE_TEXT = {
    "bayes": "CoS-Low prior x likelihood under real curve shapes",
    "bayes_xp": "CoS-Low prior x likelihood under x**p",
    "measured_only": "measured points alone, under real curve shapes",
    "library": "CoS-Low prior x likelihood over the real curves themselves, unmoved",
}


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
    return float(max_budget**x_star)


def check_target(target: float, field: str = "--target") -> float:
    """A target fraction must lie strictly inside (0, 1)."""
    if not (isinstance(target, int | float) and math.isfinite(target) and 0.0 < target < 1.0):
        raise DataeffError(
            f"target {target!r} is outside (0, 1)",
            field=field,
            fix="give the fraction of the gap between zero-shot and ceiling, e.g. 0.7, "
            "or an absolute accuracy with --target-accuracy",
        )
    return float(target)


def check_max_budget(max_budget: int) -> int:
    if not (isinstance(max_budget, int | float) and max_budget > 1):
        raise DataeffError(
            f"max budget {max_budget!r} must be greater than 1",
            field="--max-budget",
            fix="give N_max of the AUC, e.g. 5000",
        )
    return int(max_budget)


def check_coslow(coslow: float) -> float:
    if not (isinstance(coslow, int | float) and math.isfinite(coslow)):
        raise DataeffError(
            f"CoS-Low {coslow!r} is not a finite number",
            field="--coslow",
            fix="pass the 'coslow' value from coslow.json (a number between -1 and 1)",
        )
    return float(coslow)


def target_from_accuracy(accuracy: float, zero_shot: float, ceiling: float) -> float:
    """tau = (ACC - zero_shot) / (ceiling - zero_shot), checked to lie in (0, 1)."""
    for name, value in (("--target-accuracy", accuracy), ("--zero-shot", zero_shot), ("--ceiling", ceiling)):
        if not math.isfinite(value):
            raise DataeffError(f"{value!r} is not a finite number", field=name, fix="give an accuracy in [0, 1]")
    if ceiling <= zero_shot:
        raise DataeffError(
            f"ceiling {ceiling} is not above zero-shot accuracy {zero_shot}",
            field="--ceiling",
            fix="give the best reachable accuracy (e.g. human level), above zero-shot",
        )
    tau = (accuracy - zero_shot) / (ceiling - zero_shot)
    if not 0.0 < tau < 1.0:
        raise DataeffError(
            f"target accuracy {accuracy} is not between zero-shot {zero_shot} and ceiling "
            f"{ceiling} (fraction {tau:.3f})",
            field="--target-accuracy",
            fix="choose an accuracy strictly between zero-shot and ceiling",
        )
    return tau


#: The floor rules coefficients can be fitted under (``floor_rule``; ``analysis.floor``) and what
#: the gap of a predicted curve starts from under each, in words.
FLOOR_START = {
    "zero_shot": "zero-shot",
    "majority": "max(zero-shot, majority share)",
    "fair": "max(zero-shot, majority share, 1/options)",
}


def curve_start(
    zero_shot: float | None,
    majority: float | None,
    coefficients: Mapping[str, Any],
    options: int | None = None,
) -> tuple[float | None, float | None, list[str]]:
    """The accuracy a predicted curve's gap starts from, the chance floor applied (``None``:
    none), and warnings about it.

    Coefficients fitted on AUCs normalised with a chance floor read the gap from there
    (:mod:`dataeff.efficiency.chance`): ``floor_rule: majority`` from max(zero-shot, the share of the most
    common answer, ``majority``), ``fair`` (SmolLM2's) from max(zero-shot, that share, 1 /
    ``options``, the score of a uniform guess when every example lists ``options`` options).
    Coefficients fitted with the paper's rule measure it from zero-shot, and neither is used. A
    measured zero-shot point is raised to the floor by the caller.
    """
    rule = coefficients.get("floor_rule") or "zero_shot"
    if majority is not None and not 0.0 <= majority <= 1.0:
        raise DataeffError(
            f"majority-answer share {majority} is outside [0, 1]",
            field="--majority",
            fix="give the share of the most common answer, e.g. 0.5 for a balanced yes/no task",
        )
    if options is not None and (isinstance(options, bool) or not isinstance(options, int) or options < 2):
        raise DataeffError(
            f"number of options {options!r} is not an integer of at least 2",
            field="--options",
            fix="give how many options each example lists, e.g. 3 (leave it out for free-form answers)",
        )
    unused = [name for name, value in (("--majority", majority), ("--options", options)) if value is not None]
    if rule == "majority" and options is not None:
        unused = ["--options"]
    elif rule not in FLOOR_START or rule == "zero_shot":
        if not unused:
            return zero_shot, None, []
        return (
            zero_shot,
            None,
            [
                f"{' and '.join(unused)} {'is' if len(unused) == 1 else 'are'} not used: these coefficients were "
                "fitted on AUCs measured from the "
                "zero-shot accuracy"
            ],
        )
    else:
        unused = []
    warnings = [f"{u} is not used: these coefficients were fitted under the majority floor" for u in unused]
    parts = [majority] if majority is not None else []
    if rule == "fair" and options is not None:
        parts.append(1.0 / options)
    if majority is None:
        need = "--majority SHARE (the share of your task's most common answer)"
        if rule == "fair":
            need += " and, where every example lists its options, --options K"
        warnings.append(
            f"these coefficients were fitted on AUCs measured from {FLOOR_START[rule]}: pass {need} so the "
            "target and the measured budgets are read from there; without it they are read from "
            + ("1/K" if parts else "the zero-shot accuracy")
        )
    if not parts:
        return zero_shot, None, warnings
    floor = max(parts)
    return (floor if zero_shot is None else max(zero_shot, floor)), floor, warnings


def gap_start(coefficients: Mapping[str, Any], majority: float | None, options: int | None) -> str:
    """What the gap of a prediction is read from, in words (as :func:`curve_start` applies it)."""
    rule = coefficients.get("floor_rule") or "zero_shot"
    parts = []
    if rule in ("majority", "fair") and majority is not None:
        parts.append(f"majority share {majority:g}")
    if rule == "fair" and options is not None:
        parts.append(f"1/{options} options")
    return f"max(zero-shot, {', '.join(parts)})" if parts else "zero-shot"


def coefficient_value(coefs: dict[str, Any], key: str) -> float | None:
    """``coefs[key]`` as a finite float, or None when it is absent, not a number or not finite
    (a coefficients file written with NaN for an undefined statistic)."""
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
    slope, intercept = coefficient_value(coefficients, "slope"), coefficient_value(coefficients, "intercept")
    if slope is None or intercept is None:
        raise DataeffError(
            "coefficients need numeric 'slope' and 'intercept'",
            field="coefficients",
            fix="pass --slope/--intercept or run `dataeff fit`",
        )
    auc = slope * x + intercept
    resid, n = coefficient_value(coefficients, "resid_std"), coefficient_value(coefficients, "n_tasks")
    mean_x, sxx = coefficient_value(coefficients, "mean_x"), coefficient_value(coefficients, "sxx")
    se_c, se_i = coefficient_value(coefficients, "slope_se"), coefficient_value(coefficients, "intercept_se")
    warnings: list[str] = []
    if resid is not None and n is not None and n >= 3 and mean_x is not None and sxx and sxx > 0:
        se = resid * math.sqrt(1.0 + 1.0 / n + (x - mean_x) ** 2 / sxx)
        df: int | None = int(n) - 2
        q = float(stats.t.ppf(0.5 + level / 2.0, df))
        method = f"OLS prediction interval (t, {int(n) - 2} df), includes task-to-task scatter"
        # The OLS interval uses the fitted tasks' own residuals; a held-out task's error is what
        # the fit's leave-one-task-out RMSE measured. The interval takes whichever is wider.
        loto = coefficients.get("loto")
        loto_rmse = coefficient_value(loto, "rmse") if isinstance(loto, dict) else None
        if loto_rmse is not None and loto_rmse > se:
            se = loto_rmse
            method = (
                f"leave-one-task-out error (RMSE {loto_rmse:.3f} AUC over {int(n)} tasks; t, {int(n) - 2} df), "
                "wider than the OLS prediction interval"
            )
    elif se_c is not None or se_i is not None:
        # Only the coefficients' +- is published, not the scatter of tasks around the line, which
        # dominates a new task's error. Use the paper's reported leave-one-task-out error (mean
        # absolute AUC error 0.086) as the residual: for normal errors sd = MAE / sqrt(2 / pi).
        resid_paper = PAPER_LOTO_MAE / math.sqrt(2.0 / math.pi)
        se = math.sqrt((x * (se_c or 0.0)) ** 2 + (se_i or 0.0) ** 2 + resid_paper**2)
        q, df = float(stats.norm.ppf(0.5 + level / 2.0)), None
        method = (
            f"coefficient standard errors plus a residual of sd {resid_paper:.3f} AUC derived from the "
            f"paper's leave-one-task-out error (MAE {PAPER_LOTO_MAE}); run `dataeff fit` on your own "
            "tasks for an OLS prediction interval"
        )
    else:
        se, q, df = 0.0, 0.0, None
        method = "none (no standard errors known)"
        warnings.append("no standard errors known for these coefficients: no interval")
    lo_raw, hi_raw = auc - q * se, auc + q * se
    x_min, x_max = coefficient_value(coefficients, "x_min"), coefficient_value(coefficients, "x_max")
    if x_min is not None and x_max is not None and not x_min <= x <= x_max:
        warnings.append(
            f"CoS-Low {x:.4g} is outside the fitted range [{x_min:.4g}, {x_max:.4g}]: the prediction extrapolates"
        )
    if not AUC_CLIP[0] <= auc <= AUC_CLIP[1]:
        warnings.append(
            f"predicted AUC {auc:.4g} is outside the curve model's range; clipped to [{AUC_CLIP[0]}, {AUC_CLIP[1]}]"
        )
    clip = lambda v: min(max(v, AUC_CLIP[0]), AUC_CLIP[1])  # noqa: E731
    return {
        "coslow": x,
        "slope": slope,
        "intercept": intercept,
        "predicted_auc_raw": auc,
        "predicted_auc": clip(auc),
        "auc_low": clip(lo_raw),
        "auc_high": clip(hi_raw),
        "auc_se": se,
        "auc_df": df,
        "level": level,
        "interval_method": method,
        "warnings": warnings,
    }


def default_coslow_sd() -> float:
    """The single-draw CoS-Low spread used when none is given (config schema
    ``analysis.coslow_sd``: the root mean square of the measured 3-seed standard deviations)."""
    return float(analysis_settings(None).coslow_sd)


def resolve_grid_for(
    coefficients: dict[str, Any], max_budget: int, grid: Sequence[int] | None
) -> tuple[int, ...] | None:
    """The budget grid the coefficients' AUCs were measured on: given, recorded, or the paper's."""
    if grid:
        return tuple(int(b) for b in grid)
    recorded = coefficients.get("grid")
    if isinstance(recorded, list | tuple) and recorded:
        return tuple(int(b) for b in recorded)
    if int(max_budget) == PAPER_MAX_BUDGET:
        return PAPER_GRID
    return None


def _published_family(coefficients: dict[str, Any]) -> str | None:
    for fam, entry in PUBLISHED_COEFFICIENTS.items():
        if coefficients.get("source") == entry["source"]:
            return fam
    fam = coefficients.get("family")
    return fam if isinstance(fam, str) else None


def _ceil_budget(x: float, model: CurveModel) -> int | None:
    """Labels at curve position ``x`` (rounded up); None beyond N_max."""
    if not math.isfinite(x) or x > 1.0 + 1e-12:
        return None
    return max(1, int(math.ceil(float(model.to_budget(x)) - 1e-9)))


def predict_budget(
    coslow: float,
    coefficients: dict[str, Any],
    target: float,
    max_budget: int | None = None,
    level: float = DEFAULT_LEVEL,
    *,
    coslow_sd: float | None = None,
    measured: Mapping[int, float] | None = None,
    ceiling: float | None = None,
    grid: Sequence[int] | None = None,
    shapes: ShapeSet | None = None,
    family: str | None = None,
    method: str = DEFAULT_UPDATE,
    band: bool = False,
    test_size: int | None = None,
    curve_model: str = DEFAULT_CURVE_MODEL,
) -> dict[str, Any]:
    """Predicted AUC and the labels needed to close ``target`` of the gap, with an interval.

    The interval (module :mod:`dataeff.prediction.interval`) combines the fit's prediction error, the
    noise of one CoS-Low draw (``coslow_sd``; default: the schema's measured seed spread),
    and the curve-shape error of the grid-consistent x**p model measured on real curves
    (``shapes``; default: the paper's published curves of the family, else all three
    families pooled), limited to the AUCs the grid can produce. ``measured`` (budget ->
    accuracy, 0 = zero-shot; needs ``ceiling``) updates it with the accuracies measured so far
    (:mod:`dataeff.prediction.curve_update`; ``method`` one of its METHODS). ``test_size`` (the number
    of test examples behind each measured accuracy) adds each point's binomial noise.

    ``max_budget`` defaults to the coefficients' own N_max (the AUC's x axis was defined with
    it), else 5000; ``grid`` to the coefficients' recorded grid, else the paper's for N_max
    5000, else none (the continuous x**p formula, with a warning).

    ``curve_model`` (:data:`CURVE_MODELS`): ``paper`` reads every budget on the continuous x**p
    of METHOD.md section 3, the shapes' residuals measured against it too, and with no measured
    budgets its central ``budget`` is exactly the paper's N_max ** (tau ** (a / (1 - a))) at the
    predicted AUC a (rounded; ``budget_formula`` unrounded), the interval the mixture's (widened
    to hold it); ``grid`` reads them on the grid-consistent curve, the central budget the
    mixture's median. The status (reachable, more than N_max) is the mixture's under both.

    The result keeps ``budget``, ``budget_low``, ``budget_high`` and ``warnings`` and adds
    ``status``: "reachable" (budget is the median of the predictive distribution),
    "beyond_max" (more than half of it lies beyond N_max: ``budget`` is None) or
    "unreachable" (the coefficients predict no gain from fine-tuning), with a ``reason``.
    ``budget_high`` (and ``budget_low``) is None where that end of the interval lies beyond
    N_max ("more than N_max").
    """
    from dataeff.prediction.curve_update import (
        build_predictive,
        default_shape_bandwidth,
        default_update_sigma,
        fitted_auc,
        measurement_sd,
        normalise_measured,
    )
    from dataeff.prediction.interval import auc_grid, prior_weights
    from dataeff.prediction.shape import coefficient_shapes, paper_shape_set

    _check_options(target, level, method, curve_model)
    max_budget, grid_used, model, grid_warnings = _curve_model(coefficients, max_budget, grid, curve_model)
    out = predict_auc(coslow, coefficients, level)
    warnings = out["warnings"]
    warnings += grid_warnings
    lo_att, hi_att = model.auc_range()
    if curve_model == "paper":  # the formula needs 0 < a < 1: the predicted AUC is clipped as predict_auc does
        lo_att, hi_att = max(lo_att, AUC_CLIP[0]), min(hi_att, AUC_CLIP[1])

    # (a) the fit's error and (b) the single-draw CoS-Low noise.
    sd_draw, sd_source = _draw_sd(coefficients, coslow_sd)
    sd_total = math.sqrt(out["auc_se"] ** 2 + (out["slope"] * sd_draw) ** 2)
    a_grid = auc_grid(model)
    raw = out["predicted_auc_raw"]
    prior = prior_weights(a_grid, raw, sd_total, out["auc_df"])
    if not lo_att <= raw <= hi_att:
        warnings.append(
            f"predicted AUC {raw:.4g} is outside the attainable range "
            f"[{lo_att:.4f}, {hi_att:.4f}] of the curve model on this grid; clipped"
        )

    # (c) the curve-shape error.
    fam = family or _published_family(coefficients)
    if shapes is None:
        shapes = coefficient_shapes(coefficients) or paper_shape_set(fam)
    if curve_model == "paper" and shapes.model != model:
        # the shape error of real curves around the curve the budget is read on
        shapes = replace(shapes, model=model)
    sigma_y = shapes.y_residual_sd()

    points: list[tuple[float, float]] = []
    point_sd: list[float] | None = None
    if measured:
        points = normalise_measured(measured, ceiling, model)
        point_sd = measurement_sd(measured, float(ceiling), test_size, model)  # type: ignore[arg-type]
    pred = build_predictive(
        method,
        model,
        a_grid,
        prior,
        shapes,
        points,
        point_sd=point_sd,
        sigma=default_update_sigma(),
        bandwidth=default_shape_bandwidth(),
    )
    auc_mid, auc_lo, auc_hi = pred.auc_quantiles(level)
    s = pred.summary(target, level)

    x_med = s["x_median"]
    status, reason = _status(s, raw, out["coslow"], bool(points), max_budget, shapes, target)
    budget = _ceil_budget(x_med, model) if status == "reachable" else None
    low = _ceil_budget(s["x_low"], model) if status != "unreachable" else None
    high = _ceil_budget(s["x_high"], model) if status != "unreachable" else None
    formula = None
    if curve_model == "paper" and status != "unreachable":
        formula = budget_for_target(min(max(raw, AUC_CLIP[0]), AUC_CLIP[1]), target, max_budget)
        if status == "reachable" and not points:
            # the paper's number itself, the interval widened to hold it where the mixture's does not
            budget = max(1, int(round(formula)))
            low = min(low, budget) if low is not None else None
            high = max(high, budget) if high is not None else None
    warnings.extend(_below_grid(budget, low, model.min_budget))
    warnings.extend(pred.notes)
    p_mid = float(model.exponent(auc_mid))
    method_text = (
        f"{out['interval_method']}; plus one CoS-Low draw (sd {sd_draw:.3g}, {sd_source}); "
        f"plus {_shape_text(shapes, method)}; AUC limited to [{lo_att:.4f}, {hi_att:.4f}]"
    )
    if points:
        method_text += f"; updated with {len(points)} measured budget(s) (method {method}: {UPDATE_TEXT[method]})"
        if test_size is not None:
            method_text += f", each with the binomial noise of {test_size} test examples"
    oos = coefficients.get("out_of_sample")
    if isinstance(oos, Mapping) and oos.get("beats_mean") is False:
        out["out_of_sample_note"] = str(
            oos.get("note") or "CoS-Low does not beat the fitted tasks' mean AUC out of sample"
        )
    out.update(
        {
            "predicted_auc": auc_mid,
            "auc_low": auc_lo,
            "auc_high": auc_hi,
            "auc_sd_total": sd_total,
            "coslow_sd": sd_draw,
            "coslow_sd_source": sd_source,
            "attainable_auc": [lo_att, hi_att],
            "grid": list(grid_used) if grid_used else None,
            "curve_model": curve_model,
            "curve_model_text": CURVE_MODELS[curve_model]
            if curve_model == "paper" or grid_used
            else "continuous x**p (grid unknown)",
            "budget_formula": formula,
            "target": target,
            "max_budget": int(max_budget),
            "exponent": p_mid,
            "x_star": x_med if math.isfinite(x_med) else None,
            "budget_exact": (formula if formula is not None and not points else float(model.to_budget(x_med)))
            if budget is not None
            else None,
            "budget": budget,
            "budget_low": low,
            "budget_high": high,
            "budget_model": _ceil_budget(float(model.x_for_target(p_mid, target)), model),
            "prob_beyond_max": s["prob_beyond_max"],
            "status": status,
            "reason": reason,
            "shape_source": shapes.source,
            "shape_tasks": len(shapes),
            "curve_scatter_sd": sigma_y,
            "measured_points": [{"x": x, "fraction": y} for x, y in points],
            "measured_reached": s["measured_reached"],
            "update_method": method if points else None,
            "test_size": test_size if points else None,
            "interval_method": method_text,
            "coefficients_source": str(coefficients.get("source") or "user-supplied --slope/--intercept"),
        }
    )
    if points:
        out["prior_auc"] = float(np.clip(raw, lo_att, hi_att))
        out["measured_only_auc"] = fitted_auc(a_grid, model, points)
    if band:
        out["band"] = _band(pred, model, level)
    return out


def _curve_model(
    coefficients: dict[str, Any],
    max_budget: int | None,
    grid: Sequence[int] | None,
    curve_model: str = DEFAULT_CURVE_MODEL,
) -> tuple[int, tuple[int, ...] | None, CurveModel, list[str]]:
    """N_max, the budget grid and the curve model the AUC is read on, with a warning where
    they differ from what the coefficients were fitted with or (grid model) the grid is
    unknown. The paper's curve model needs no grid: it is returned as None."""
    warnings: list[str] = []
    fitted_n_max = coefficient_value(coefficients, "max_budget")
    if max_budget is None:
        max_budget = int(fitted_n_max) if fitted_n_max else DEFAULT_MAX_BUDGET
    check_max_budget(max_budget)
    if fitted_n_max and int(fitted_n_max) != int(max_budget):
        warnings.append(
            f"these coefficients were fitted with N_max = {int(fitted_n_max)}; "
            f"budgets on a different N_max ({max_budget}) are extrapolated"
        )
    if curve_model == "paper":
        return max_budget, None, CurveModel(int(max_budget), None), warnings
    grid_used = resolve_grid_for(coefficients, max_budget, grid)
    if grid_used is None:
        warnings.append(
            "the budget grid of these coefficients is unknown: the continuous x**p curve is "
            "used, which is not consistent with a trapezoid AUC on a grid (pass --grid)"
        )
    return max_budget, grid_used, CurveModel.for_budgets(max_budget, grid_used), warnings


def _check_options(target: float, level: float, method: str, curve_model: str = DEFAULT_CURVE_MODEL) -> None:
    """The target, the interval level, the update method and the curve model, each in one clear line."""
    from dataeff.prediction.curve_update import METHODS

    check_target(target)
    if curve_model not in CURVE_MODELS:
        raise DataeffError(
            f"unknown curve model {curve_model!r}", field="--curve-model", fix=f"use one of {', '.join(CURVE_MODELS)}"
        )
    if not (isinstance(level, int | float) and 0.0 < level < 1.0):
        raise DataeffError(f"level {level!r} is outside (0, 1)", field="--level", fix="e.g. 0.8 or 0.95")
    if method not in METHODS:
        raise DataeffError(
            f"unknown update method {method!r}", field="--update-method", fix=f"use one of {', '.join(METHODS)}"
        )


def _draw_sd(coefficients: dict[str, Any], coslow_sd: float | None) -> tuple[float, str]:
    """The sd of one CoS-Low draw and where it comes from: given, else the coefficients' own
    tasks' seed spread, else the schema's default."""
    if coslow_sd is None and isinstance(coefficients.get("coslow_sd"), int | float):
        return float(coefficients["coslow_sd"]), "the seed-to-seed spread measured on the coefficients' own tasks"
    if coslow_sd is None:
        return default_coslow_sd(), "default (config schema analysis.coslow_sd)"
    if not (math.isfinite(coslow_sd) and coslow_sd >= 0):
        raise DataeffError(
            f"coslow_sd {coslow_sd!r} is not a non-negative number",
            field="--coslow-sd",
            fix="give the spread of CoS-Low over resamples, e.g. 0.05",
        )
    return float(coslow_sd), "given"


def _status(
    s: dict[str, Any],
    raw: float,
    coslow: float,
    measured: bool,
    max_budget: int,
    shapes: ShapeSet,
    target: float,
) -> tuple[str, str]:
    """ "reachable", "beyond_max" or "unreachable", and the reason in words (see predict_budget)."""
    if not s["measured_reached"] and raw <= 0.0 and not measured:
        return "unreachable", (
            f"these coefficients predict an AUC of {raw:.3f} <= 0 at CoS-Low {coslow:.4g}: "
            "no gain from fine-tuning, so no budget reaches the target"
        )
    if s["x_median"] > 1.0 + 1e-12:
        return "beyond_max", (
            f"more than N_max = {max_budget} labels: {s['prob_beyond_max']:.0%} of the predictive "
            f"distribution lies beyond N_max ({_count_never(shapes, target)} of the {len(shapes)} "
            "real curves behind the shape error never reach this target)"
        )
    if s["measured_reached"]:
        return "reachable", "the measured accuracies already reach the target; read off between the measured budgets"
    if s["x_high"] > 1.0 + 1e-12:
        return "reachable", (
            f"the interval's upper end is beyond N_max = {max_budget}: {s['prob_beyond_max']:.0%} "
            "chance that N_max labels do not suffice"
        )
    return "reachable", ""


def _below_grid(budget: int | None, low: int | None, min_budget: int | None) -> list[str]:
    """A warning where the budget (or the interval's lower end) falls below the grid's first
    budget, where no curve was ever measured."""
    if not min_budget:
        return []
    if budget is not None and budget < min_budget:
        return [
            f"{budget} labels is below the smallest budget of the grid ({min_budget}), "
            f"where no curve was measured: read it as at most {min_budget}"
        ]
    if low is not None and low < min_budget:
        return [
            f"the interval's lower end ({low}) is below the smallest budget of the grid "
            f"({min_budget}), where no curve was measured: read it as at most {min_budget}"
        ]
    return []


def _shape_text(shapes: ShapeSet, method: str) -> str:
    """How the curve-shape error enters the interval, for the headline's method."""
    from dataeff.prediction.curve_update import default_shape_bandwidth

    if method == "library":
        return f"{shapes.source} as a library of real curves, each weighted by the prior of its AUC"
    return (
        f"the curve-shape error of {shapes.source} (shapes of similar AUC weighted higher, "
        f"bandwidth {default_shape_bandwidth():g})"
    )


def _band(pred: Any, model: CurveModel, level: float) -> list[dict[str, Any]]:
    """The predicted curve's band as budgets per fraction of the gap (for the figure)."""
    return [
        {
            "fraction": r["fraction"],
            "budget_low": float(model.to_budget(min(r["x_low"], 1.0))),
            "budget": float(model.to_budget(min(r["x_median"], 1.0))),
            "budget_high": float(model.to_budget(min(r["x_high"], 1.0))),
            "beyond_max": bool(r["x_high"] > 1.0 + 1e-12),
        }
        for r in pred.band(level)
    ]


def _count_never(shapes: ShapeSet, target: float) -> int:
    return int(np.isinf(shapes.residuals(target)).sum())


def predicted_curve(prediction: dict[str, Any], points: int = 25) -> list[dict[str, float]]:
    """Rows (budget, fraction, fraction_low, fraction_high) of the predicted curve, log-spaced.

    With the prediction's ``band`` (computed with ``band=True``), ``fraction`` is the curve of
    the central budgets (at each fraction of the gap, the median of the predictive distribution,
    so it crosses the target at the reported budget) and the band is the interval's: at each
    budget, the fractions whose interval starts (``fraction_high``) or ends (``fraction_low``)
    there. Without a band: the x**p curve of the central AUC and those of the AUC interval's ends.
    """
    n_max = prediction["max_budget"]
    model = CurveModel.for_budgets(n_max, prediction.get("grid"))
    budgets = np.array(sorted({int(round(v)) for v in np.geomspace(1, n_max, points)} | {n_max}), float)
    band = prediction.get("band")
    if band:
        fr = np.array([0.0] + [r["fraction"] for r in band])
        x_mid = np.maximum.accumulate(np.array([0.0] + [float(model.to_x(r["budget"])) for r in band]))
        mid = np.interp(model.to_x(budgets), x_mid, fr)
    else:
        mid = model.fraction(budgets, prediction["exponent"])
    lo, hi = _band_fractions(prediction, model, budgets)
    return [
        {"budget": int(n), "fraction": float(m), "fraction_low": float(a), "fraction_high": float(b)}
        for n, m, a, b in zip(budgets, mid, lo, hi, strict=True)
    ]


def _band_fractions(
    prediction: dict[str, Any], model: CurveModel, budgets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    band = prediction.get("band")
    if not band:
        return (
            model.fraction(budgets, model.exponent(prediction["auc_low"])),
            model.fraction(budgets, model.exponent(prediction["auc_high"])),
        )
    fr = np.array([0.0] + [r["fraction"] for r in band] + [1.0])
    x = model.to_x(budgets)
    # the earliest budget at which each fraction may be reached -> the band's upper edge
    x_early = np.maximum.accumulate(np.array([0.0] + [model.to_x(r["budget_low"]) for r in band] + [1.0]))
    # the latest (beyond N_max: never within the axis) -> the lower edge
    x_late = (
        [0.0]
        + [float(model.to_x(r["budget_high"])) if not r["beyond_max"] else 1.0 + 1e-9 for r in band]
        + [1.0 + 1e-9]
    )
    x_late = np.maximum.accumulate(np.array(x_late))
    high = np.interp(x, x_early, fr)
    low = np.interp(x, x_late, fr)
    return low, high
