"""The predictive distribution of the labels a task needs, and its interval.

Three sources of error, combined without assuming a shape for the last one:

1. **The task's AUC** is uncertain: the fit's prediction error (OLS prediction interval, or the
   paper's leave-one-task-out error for the published coefficients) plus the noise of the one
   CoS-Low draw a practitioner has (slope * coslow_sd). Together a normal (or Student t)
   distribution of the AUC, discretised on a grid of AUCs that spans exactly the attainable
   range of the budget grid (:meth:`dataeff.prediction.curve_model.CurveModel.auc_range`); mass beyond
   it sits at its ends (an AUC above 0.7703 on the paper grid means "at the ceiling from the
   first budget on", not more).
2. **The curve shape**: for each AUC the grid-consistent x**p curve gives where the target is
   crossed on the log budget axis; a real curve of that AUC crosses elsewhere. The empirical
   residuals of real curves (:mod:`dataeff.prediction.shape`) are added. Within an AUC's weight, the
   real curves are weighted by a Gaussian kernel in the distance between that AUC and their own
   (bandwidth ``analysis.shape_bandwidth``): a prediction of a high AUC borrows the shapes of
   data-efficient tasks (early jumps), a low one those of slow tasks. Real curves that never
   reach the target keep their share as "beyond N_max".
3. **Measured budgets** (optional): the AUC weights become a posterior (a Bayesian update of
   the curve exponent, :mod:`dataeff.prediction.curve_update`), and the distribution is conditioned on
   what the measured curve shows: if it already reached the target, the crossing is read off
   the measured points; if not, only crossings beyond the last measured budget remain.

Quantiles of this mixture give the central budget (the median) and the interval. All of it is
deterministic (no sampling), so the same inputs give the same interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from dataeff.prediction.curve_model import CurveModel
from dataeff.prediction.shape import ShapeSet, crossing_x

#: Number of AUC values the predictive distribution is discretised on.
AUC_POINTS = 601


def auc_grid(model: CurveModel, points: int = AUC_POINTS) -> np.ndarray:
    """Cell centres spanning the attainable AUC range of ``model``."""
    lo, hi = model.auc_range()
    edges = np.linspace(lo, hi, points + 1)
    return (edges[1:] + edges[:-1]) / 2.0


def prior_weights(grid: np.ndarray, mean: float, sd: float, df: float | None = None) -> np.ndarray:
    """Probability of each AUC cell under N(mean, sd) (or a scaled t with ``df``); tails folded
    into the end cells. ``sd == 0`` puts everything in the cell nearest ``mean``."""
    if not sd > 0:
        w = np.zeros(len(grid))
        w[int(np.argmin(np.abs(grid - mean)))] = 1.0
        return w
    edges = np.concatenate([[-np.inf], (grid[1:] + grid[:-1]) / 2.0, [np.inf]])
    z = (edges - mean) / sd
    cdf = stats.t.cdf(z, df) if df else stats.norm.cdf(z)
    w = np.diff(cdf)
    return w / w.sum()


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs: Sequence[float]) -> list[float]:
    """Lower weighted quantiles (the smallest value whose cumulative weight reaches q)."""
    order = np.argsort(values, kind="stable")
    v, cw = values[order], np.cumsum(weights[order])
    cw /= cw[-1]
    return [float(v[min(int(np.searchsorted(cw, q - 1e-12)), len(v) - 1)]) for q in qs]


#: Fractions of the gap at which real curves are read when transported to another AUC.
LEVELS = np.linspace(0.01, 0.99, 99)
#: Stand-in for "never reaches this fraction" on the x axis (far beyond x = 1).
NEVER_X = 1e6


@dataclass
class Predictive:
    """AUC weights + shape residuals (+ measured points) -> the distribution of the crossing.

    The mixture's components are pairs (AUC a_k, real curve j): the real shape j moved along
    the log budget axis to AUC a_k (its crossing of every fraction f is x_model(a_k, f) +
    e_j(f)). Without measured points a pair weighs ``weights[k] / J``. With ``points`` and
    ``sigma`` the pair weights are multiplied by the likelihood of the measured (x, y) under
    the moved shape, y ~ Normal(curve_kj(x), s_i) with s_i = hypot(sigma, point_sd[i]): a
    Bayesian update of the task's AUC (its x**p exponent) *and* of which real shape it follows.
    ``point_sd`` is each point's measurement sd (binomial noise of the test set, in fractions of
    the gap, :func:`dataeff.prediction.curve_update.measurement_sd`); omitted, sigma alone. Without
    ``sigma`` (method ``bayes_xp``) the AUC weights come already updated under x**p itself
    (:func:`dataeff.prediction.curve_update.posterior_weights`), the shape residuals staying unweighted.
    """

    model: CurveModel
    grid: np.ndarray
    weights: np.ndarray
    shapes: ShapeSet
    points: Sequence[tuple[float, float]] = ()
    sigma: float | None = None
    bandwidth: float | None = None
    point_sd: Sequence[float] | None = None
    notes: list[str] = field(default_factory=list)
    _pairs: np.ndarray | None = field(default=None, init=False, repr=False)

    def shape_kernel(self) -> np.ndarray:
        """K x J weights of real shape j for AUC a_k, each row summing to 1: uniform, or (with
        ``bandwidth``) a Gaussian kernel in the distance between a_k and the shape's own AUC, so
        that a high-AUC prediction borrows the shapes of high-AUC tasks."""
        aucs = np.array([c.auc for c in self.shapes.curves])
        if not self.bandwidth:
            return np.full((len(self.grid), len(aucs)), 1.0 / len(aucs))
        k = np.exp(-0.5 * ((self.grid[:, None] - aucs[None, :]) / self.bandwidth) ** 2) + 1e-300
        return k / k.sum(axis=1, keepdims=True)

    def __post_init__(self) -> None:
        sds = list(self.point_sd) if self.point_sd is not None else [0.0] * len(self.points)
        pts = [(x, y, math.hypot(self.sigma or 0.0, sd)) for (x, y), sd in zip(self.points, sds, strict=True) if x > 0]
        if not pts or self.sigma is None:
            if self.bandwidth:
                self._pairs = self.weights[:, None] * self.shape_kernel()
            return
        # x of every (AUC k, shape j, level) and the measured points' likelihood under it
        base = self.model.x_for_target(self.model.exponent(self.grid)[:, None], LEVELS[None, :])  # K x L
        res = np.stack([self.shapes.residuals(float(f)) for f in LEVELS], axis=1)  # J x L
        xs = base[:, None, :] + np.where(np.isfinite(res), res, NEVER_X)[None, :, :]
        xs = np.maximum.accumulate(np.maximum(xs, 0.0), axis=2)
        levels = np.concatenate([[0.0], LEVELS])
        loglik = np.zeros(xs.shape[:2])
        for x, y, sd in pts:
            idx = (xs <= x).sum(axis=2)  # levels reached by x: 0..L
            lo_i = np.clip(idx - 1, 0, len(LEVELS) - 1)
            hi_i = np.clip(idx, 0, len(LEVELS) - 1)
            x_lo = np.where(idx > 0, np.take_along_axis(xs, lo_i[..., None], 2)[..., 0], 0.0)
            x_hi = np.take_along_axis(xs, hi_i[..., None], 2)[..., 0]
            f_lo, f_hi = levels[idx], levels[np.minimum(idx + 1, len(LEVELS))]
            with np.errstate(invalid="ignore", divide="ignore"):
                frac = np.where(x_hi > x_lo, (x - x_lo) / (x_hi - x_lo), 0.0)
            value = np.where(idx >= len(LEVELS), LEVELS[-1], f_lo + np.clip(frac, 0.0, 1.0) * (f_hi - f_lo))
            loglik -= (y - value) ** 2 / (2.0 * sd**2)
        with np.errstate(divide="ignore"):
            logw = np.log(self.weights)[:, None] + np.log(self.shape_kernel()) + loglik
        logw -= logw[np.isfinite(logw)].max()
        pairs = np.exp(logw)
        self._pairs = pairs / pairs.sum()

    def pair_weights(self) -> np.ndarray:
        """K x J weights of the (AUC, real shape) components."""
        if self._pairs is not None:
            return self._pairs
        return self.weights[:, None] * self.shape_kernel()

    def measured_crossing(self, target: float) -> tuple[float, float, float] | None:
        """(x where the measured points reach ``target``, x of the point before, x of the point
        reaching it), or None if they have not reached it. Zero-shot is the point (0, 0)."""
        xs, ys, best = [0.0], [0.0], 0.0
        for x, y in sorted(self.points):
            if x <= 0:
                continue
            best = max(best, y)  # the cleaned curve is a running maximum (docs/METHOD.md rule 4)
            xs.append(x)
            ys.append(best)
        cross = crossing_x(xs, ys, target)
        if not math.isfinite(cross):
            return None
        i = next(k for k in range(len(xs)) if ys[k] >= target - 1e-12)
        return cross, xs[max(i - 1, 0)], xs[i]

    def last_x(self) -> float:
        return max([x for x, _ in self.points if x > 0], default=0.0)

    def distribution(self, target: float) -> tuple[np.ndarray, np.ndarray]:
        """(crossing x values, weights) of the mixture; +inf = never within the curve."""
        base = self.model.x_for_target(self.model.exponent(self.grid), target)
        res = self.shapes.residuals(target)
        vals = np.maximum(base[:, None] + res[None, :], 0.0).ravel()
        return self._after_last(vals, self.pair_weights().ravel())

    def _after_last(self, vals: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keep only crossings after the last measured budget (the measured curve has not
        reached the target there), renormalised."""
        after = self.last_x()
        if after > 0:
            keep = vals > after
            if w[keep].sum() > 1e-12:
                vals, w = vals[keep], w[keep]
            else:  # everything predicted a crossing already measured: the next budget is the guess
                vals = np.maximum(vals, np.nextafter(after, 2.0))
                self.notes.append(
                    "the measured curve is below every predicted curve at its last budget; "
                    "the prediction is the next budget up"
                )
        return vals, w / w.sum()

    def summary(self, target: float, level: float) -> dict[str, Any]:
        """x of the central crossing and the interval, and the chance of none within N_max."""
        reached = self.measured_crossing(target)
        if reached is not None:
            x, x_prev, x_hit = reached
            return {"x_median": x, "x_low": x_prev, "x_high": x_hit, "prob_beyond_max": 0.0, "measured_reached": True}
        vals, w = self.distribution(target)
        lo, med, hi = weighted_quantiles(vals, w, [(1.0 - level) / 2.0, 0.5, (1.0 + level) / 2.0])
        return {
            "x_median": med,
            "x_low": lo,
            "x_high": hi,
            "prob_beyond_max": float(w[vals > 1.0 + 1e-12].sum()),
            "measured_reached": False,
        }

    def auc_quantiles(self, level: float) -> tuple[float, float, float]:
        """(median, low, high) of the task's AUC (prior, or posterior after measured points)."""
        marginal = self.pair_weights().sum(axis=1)
        lo, med, hi = weighted_quantiles(self.grid, marginal, [(1.0 - level) / 2.0, 0.5, (1.0 + level) / 2.0])
        return med, lo, hi

    def band(self, level: float, targets: Sequence[float] | None = None) -> list[dict[str, float]]:
        """Per target fraction: the budget quantiles; the band of the predicted curve."""
        targets = targets if targets is not None else np.linspace(0.02, 0.98, 49)
        rows = []
        for tau in targets:
            s = self.summary(float(tau), level)
            rows.append({"fraction": float(tau), "x_low": s["x_low"], "x_median": s["x_median"], "x_high": s["x_high"]})
        return rows
