"""Updating a budget prediction with the accuracies measured so far.

A practitioner who has fine-tuned at a few budgets (say 50 and 100 labels, or 16 and 32) knows
part of the curve. The CoS-Low prediction is the prior over the task's AUC (equivalently, over
the exponent p of its grid-consistent x**p curve); each measured point is evidence. Measured
accuracies are normalised between zero-shot and ceiling (running maximum, as docs/METHOD.md
section 1 cleans a curve) and placed at x = log(n) / log(N_max).

Four update methods, compared leave-one-task-out by :mod:`dataeff.prediction.calibration`:

* ``bayes`` (kept: best on held-out tasks, docs/PREDICTIONS.md): the components of the
  predictive mixture are (AUC, real curve shape) pairs (:class:`dataeff.prediction.interval.Predictive`);
  each is weighted by the prior of its AUC times the likelihood of the measured points under
  that real shape moved to that AUC, y ~ Normal(curve(x), sigma) with sigma the config
  schema's ``analysis.update_sigma``. The AUC (exponent) and the shape are updated together.
* ``bayes_xp``: prior times the likelihood under the x**p curve itself, y ~ Normal(x**p,
  sqrt(sigma_y**2 + sigma**2)) with sigma_y the scatter of real curves around their x**p curve
  (:meth:`dataeff.prediction.shape.ShapeSet.y_residual_sd`) and sigma the measurement noise above; shape
  residuals added unweighted.
* ``measured_only``: like ``bayes`` with a flat prior over the attainable AUCs: the measured
  points alone.
* ``library``: the fitting tasks' real curves, unmoved, as a library of possible curves, each
  weighted by the prior of its AUC times the likelihood of the measured points under it
  (:mod:`dataeff.prediction.curve_library`).

When the test set's size is known, each measured point also carries its binomial measurement
noise (:func:`measurement_sd`), added in quadrature to the methods' sigma: a task whose gap
between zero-shot and ceiling is a few points of accuracy has nearly uninformative normalised
points, and the update should say so.

Everything is computed on grids (one dimension of AUCs times the real shapes): exact, no
sampling.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from dataeff.core.errors import DataeffError
from dataeff.core.settings import analysis_settings
from dataeff.prediction.curve_library import LibraryPredictive
from dataeff.prediction.curve_model import CurveModel
from dataeff.prediction.interval import Predictive
from dataeff.prediction.shape import ShapeSet

#: Update methods (module docstring); the first is the default.
METHODS = ("bayes", "bayes_xp", "measured_only", "library")


def default_update_sigma() -> float:
    """Likelihood noise of the ``bayes`` update (config schema ``analysis.update_sigma``)."""

    return float(analysis_settings(None).update_sigma)


def default_shape_bandwidth() -> float:
    """AUC bandwidth of the shape kernel (config schema ``analysis.shape_bandwidth``)."""

    return float(analysis_settings(None).shape_bandwidth)


def default_library_sigma() -> float:
    """Likelihood sd of the ``library`` update (config schema ``analysis.library_sigma``)."""
    return float(analysis_settings(None).library_sigma)


def default_library_jitter() -> float:
    """Smoothing sd of the ``library`` crossings (config schema ``analysis.library_jitter``)."""
    return float(analysis_settings(None).library_jitter)


def measurement_sd(
    measured: Mapping[int, float], ceiling: float, test_size: int | None, model: CurveModel
) -> list[float]:
    """Per normalised point of :func:`normalise_measured` (same order): the binomial sd of its
    accuracy and of the zero-shot accuracy it is measured from, over the gap, i.e.
    sqrt(p(1-p)/n + p0(1-p0)/n) / (ceiling - p0). All zeros when the test size is unknown.
    """
    budgets = sorted(int(n) for n in measured if 0 < int(n) <= model.max_budget)
    if test_size is None:
        return [0.0] * len(budgets)
    if isinstance(test_size, bool) or not isinstance(test_size, int) or test_size < 1:
        raise DataeffError(
            f"test size {test_size!r} is not a positive integer",
            field="--test-size",
            fix="give the number of test examples the accuracies were measured on",
        )
    zero = float(measured[0])
    gap = max([float(ceiling), *(float(v) for v in measured.values())]) - zero
    var0 = zero * (1.0 - zero) / test_size
    return [math.sqrt(float(measured[n]) * (1.0 - float(measured[n])) / test_size + var0) / gap for n in budgets]


def infer_test_size(accuracies: Sequence[float | None], smallest: int = 20, limit: int = 20000) -> int | None:
    """The smallest n <= ``limit`` for which every accuracy is a whole count out of n, or None.

    For curves that do not record their test size (the paper's published files, the raw
    accuracies of ``efficiency.json``): an accuracy of 65/249 names 249. Metrics that are not
    counts (F1) give None, and so does an n below ``smallest`` (too few distinct values to
    tell); their points then carry no measurement noise. A mean over seeds names a multiple of
    the test size, which understates the noise of one seed's accuracy.
    """
    values = [float(a) for a in accuracies if a is not None]
    if not values:
        return None
    for n in range(smallest, limit + 1):
        if all(abs(a * n - round(a * n)) < 1e-9 for a in values):
            return n
    return None


def build_predictive(
    method: str,
    model: CurveModel,
    grid: np.ndarray,
    prior: np.ndarray,
    shapes: ShapeSet,
    points: Sequence[tuple[float, float]],
    *,
    point_sd: Sequence[float] | None,
    sigma: float,
    bandwidth: float | None,
    library_sigma: float | None = None,
    library_jitter: float | None = None,
) -> Predictive:
    """The predictive distribution of ``method`` (module docstring) for these measured points."""
    if method == "library":
        return LibraryPredictive(
            model,
            grid,
            prior,
            shapes,
            points,
            (library_sigma if library_sigma is not None else default_library_sigma()) if points else None,
            None,
            point_sd,
            jitter=library_jitter if library_jitter is not None else default_library_jitter(),
        )
    weights, pair_sigma = update_weights(
        method, grid, prior, model, points, shapes.y_residual_sd(), sigma, point_sd=point_sd
    )
    return Predictive(model, grid, weights, shapes, points, pair_sigma, bandwidth, point_sd)


def update_weights(
    method: str,
    grid: np.ndarray,
    prior: np.ndarray,
    model: CurveModel,
    points: Sequence[tuple[float, float]],
    curve_sd: float,
    sigma: float,
    point_sd: Sequence[float] | None = None,
) -> tuple[np.ndarray, float | None]:
    """(AUC weights, pair-likelihood sigma) to build a :class:`dataeff.prediction.interval.Predictive`."""
    if method not in METHODS:
        raise DataeffError(
            f"unknown update method {method!r}", field="--update-method", fix=f"use one of {', '.join(METHODS)}"
        )
    if not points:
        return prior, None
    if method == "bayes_xp":  # shape scatter and measurement noise, independent
        sds = list(point_sd) if point_sd is not None else [0.0] * len(points)
        return posterior_weights(grid, prior, model, points, [math.hypot(curve_sd, sigma, sd) for sd in sds]), None
    if method == "library":
        return prior, None
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
    grid: np.ndarray, model: CurveModel, points: Sequence[tuple[float, float]], sigma_y: float | Sequence[float]
) -> np.ndarray:
    """Gaussian log likelihood of the points under the curve of each AUC in ``grid`` (``sigma_y``
    one sd for every point, or one per point)."""
    p = model.exponent(grid)
    sds = [float(sigma_y)] * len(points) if np.isscalar(sigma_y) else list(sigma_y)  # type: ignore[arg-type]
    ll = np.zeros(len(grid))
    for (x, y), sd in zip(points, sds, strict=True):
        if x <= 0:
            continue
        ll -= (y - x**p) ** 2 / (2.0 * sd**2)
    return ll


def posterior_weights(
    grid: np.ndarray,
    prior: np.ndarray,
    model: CurveModel,
    points: Sequence[tuple[float, float]],
    sigma_y: float | Sequence[float],
) -> np.ndarray:
    """prior * likelihood, normalised (computed in log space)."""
    if not all(s > 0 for s in np.atleast_1d(sigma_y)):
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
