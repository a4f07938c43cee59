"""Updating a budget prediction with the accuracies measured so far.

A practitioner who has fine-tuned at a few budgets (say 50 and 100 labels, or 16 and 32) knows
part of the curve. The CoS-Low prediction is the prior over the task's AUC (equivalently, over
the exponent p of its grid-consistent x**p curve); each measured point is evidence. Measured
accuracies are normalised between zero-shot and ceiling (running maximum, as METHOD.md
section 1 cleans a curve) and placed at x = log(n) / log(N_max).

Three update methods, compared leave-one-task-out by :mod:`dataeff.calibration`:

* ``bayes`` (kept: best on held-out tasks, docs/PREDICTIONS.md): the components of the
  predictive mixture are (AUC, real curve shape) pairs (:class:`dataeff.interval.Predictive`);
  each is weighted by the prior of its AUC times the likelihood of the measured points under
  that real shape moved to that AUC, y ~ Normal(curve(x), sigma) with sigma the config
  schema's ``analysis.update_sigma``. The AUC (exponent) and the shape are updated together.
* ``bayes_xp``: prior times the likelihood under the x**p curve itself, y ~ Normal(x**p,
  sqrt(sigma_y**2 + sigma**2)) with sigma_y the scatter of real curves around their x**p curve
  (:meth:`dataeff.shape.ShapeSet.y_residual_sd`) and sigma the measurement noise above; shape
  residuals added unweighted.
* ``measured_only``: like ``bayes`` with a flat prior over the attainable AUCs: the measured
  points alone.

Everything is computed on grids (one dimension of AUCs times the real shapes): exact, no
sampling.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from dataeff.curve_model import CurveModel
from dataeff.errors import DataeffError

#: Update methods (module docstring); the first is the default.
METHODS = ("bayes", "bayes_xp", "measured_only")


def default_update_sigma() -> float:
    """Likelihood noise of the ``bayes`` update (config schema ``analysis.update_sigma``)."""
    from dataeff.config import schema

    return float(schema()["properties"]["analysis"]["properties"]["update_sigma"]["default"])


def default_shape_bandwidth() -> float:
    """AUC bandwidth of the shape kernel (config schema ``analysis.shape_bandwidth``)."""
    from dataeff.config import schema

    return float(schema()["properties"]["analysis"]["properties"]["shape_bandwidth"]["default"])


def update_weights(
    method: str,
    grid: np.ndarray,
    prior: np.ndarray,
    model: CurveModel,
    points: Sequence[tuple[float, float]],
    curve_sd: float,
    sigma: float,
) -> tuple[np.ndarray, float | None]:
    """(AUC weights, pair-likelihood sigma) to build a :class:`dataeff.interval.Predictive`."""
    if method not in METHODS:
        raise DataeffError(
            f"unknown update method {method!r}", field="--update-method", fix=f"use one of {', '.join(METHODS)}"
        )
    if not points:
        return prior, None
    if method == "bayes_xp":  # shape scatter and measurement noise, independent
        return posterior_weights(grid, prior, model, points, math.hypot(curve_sd, sigma)), None
    base = prior if method == "bayes" else np.full(len(grid), 1.0 / len(grid))
    return base, sigma


def normalise_measured(
    measured: Mapping[int, float], ceiling: float | None, model: CurveModel
) -> list[tuple[float, float]]:
    """(x, y) of measured accuracies (budget -> accuracy, 0 = zero-shot), cleaned and normalised.

    Needs the zero-shot accuracy (budget 0) and the ceiling; budgets above N_max are ignored
    (the curve is defined up to N_max).
    """
    points: dict[int, float] = {}
    for key, acc in measured.items():
        try:
            n = int(key)
        except (TypeError, ValueError):
            raise DataeffError(
                f"measured budget {key!r} is not an integer",
                field="--measured",
                fix="write BUDGET:ACCURACY, e.g. 0:0.41,50:0.55",
            ) from None
        if (
            n < 0
            or isinstance(acc, bool)
            or not isinstance(acc, int | float)
            or not math.isfinite(acc)
            or not 0.0 <= acc <= 1.0
        ):
            raise DataeffError(
                f"measured point {key!r}: {acc!r} is not an accuracy in [0, 1] at a budget >= 0",
                field="--measured",
                fix="write BUDGET:ACCURACY, e.g. 0:0.41,50:0.55",
            )
        points[n] = float(acc)
    if 0 not in points:
        raise DataeffError(
            "measured accuracies need the zero-shot accuracy (budget 0)",
            field="--measured",
            fix="add 0:ACCURACY, the untuned model's accuracy on the test set",
        )
    if ceiling is None or not math.isfinite(ceiling):
        raise DataeffError(
            "measured accuracies need the task's ceiling",
            field="--ceiling",
            fix="pass --ceiling (human-level accuracy, or 1.0 if unknown)",
        )
    zero = points[0]
    top = max([ceiling, *points.values()])
    if top <= zero:
        raise DataeffError(
            f"ceiling {ceiling} is not above the zero-shot accuracy {zero}",
            field="--ceiling",
            fix="give the best reachable accuracy, above zero-shot",
        )
    out, best = [], zero
    for n in sorted(points):
        if n == 0 or n > model.max_budget:
            continue
        best = max(best, points[n])
        out.append((float(model.to_x(n)), (best - zero) / (top - zero)))
    return out


def log_likelihood(
    grid: np.ndarray, model: CurveModel, points: Sequence[tuple[float, float]], sigma_y: float
) -> np.ndarray:
    """Gaussian log likelihood of the points under the curve of each AUC in ``grid``."""
    p = model.exponent(grid)
    ll = np.zeros(len(grid))
    for x, y in points:
        if x <= 0:
            continue
        ll -= (y - x**p) ** 2 / (2.0 * sigma_y**2)
    return ll


def posterior_weights(
    grid: np.ndarray, prior: np.ndarray, model: CurveModel, points: Sequence[tuple[float, float]], sigma_y: float
) -> np.ndarray:
    """prior * likelihood, normalised (computed in log space)."""
    if not sigma_y > 0:
        raise DataeffError(
            f"curve scatter sigma_y {sigma_y!r} must be positive",
            field="sigma_y",
            fix="estimate it from real curves (ShapeSet.y_residual_sd)",
        )
    with np.errstate(divide="ignore"):
        logw = np.log(prior) + log_likelihood(grid, model, points, sigma_y)
    logw -= logw[np.isfinite(logw)].max()
    w = np.exp(logw)
    return w / w.sum()


def fitted_auc(grid: np.ndarray, model: CurveModel, points: Sequence[tuple[float, float]]) -> float:
    """AUC of the x**p curve closest (least squares) to the measured points alone."""
    ll = log_likelihood(grid, model, points, 1.0)
    return float(grid[int(np.argmax(ll))])
