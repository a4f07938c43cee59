"""A nonparametric update: the fitting tasks' real curves as a library of possible curves.

The ``bayes`` update (:class:`dataeff.prediction.interval.Predictive`) moves real curve shapes along the
log budget axis to each candidate AUC. This one does not move anything: each real, cleaned,
normalised curve j of the library (the fitting tasks, the held-out one excluded) is one
possible future of the task, weighted by

* the prior of its own AUC (the CoS-Low prediction, density of the prior AUC distribution at
  the curve's AUC: curves close to the predicted AUC count most), times
* the likelihood of the measured points under it, y_i ~ Normal(curve_j(x_i), s_i) with
  s_i = hypot(sigma, measurement sd of point i): sigma (config schema
  ``analysis.library_sigma``) is how far a task may fall from the nearest library curve, the
  measurement sd the binomial noise of the test set when its size is known.

The crossing of the target is then the weighted distribution of the library curves' own
crossings (a curve that never reaches the target: "beyond N_max"), each smoothed by a normal
kernel of sd ``analysis.library_jitter`` on the log budget axis so that a few library curves do
not give a handful of atoms. As in ``bayes``, crossings already ruled out by the measured points
(before the last measured budget) are dropped. Real curve shapes (plateaus, late jumps, curves
stuck below the ceiling) enter as they are, not through x**p.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from dataeff.prediction.interval import NEVER_X, Predictive, weighted_quantiles
from dataeff.prediction.shape import crossing_x

#: Normal quantile offsets (in sd) with which each library crossing is smoothed.
_OFFSETS = stats.norm.ppf((np.arange(41) + 0.5) / 41)


@dataclass
class LibraryPredictive(Predictive):
    """:class:`Predictive` whose components are the library's real curves, unmoved.

    ``weights`` is the prior over the AUC grid (as for :class:`Predictive`); ``sigma`` the
    library likelihood's sd (``None``: prior only); ``jitter`` the smoothing sd on the x axis.
    """

    jitter: float = 0.0
    _lib: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        aucs = np.array([c.auc for c in self.shapes.curves])
        cells = np.abs(self.grid[None, :] - aucs[:, None]).argmin(axis=1)
        with np.errstate(divide="ignore"):
            logw = np.log(self.weights[cells])  # prior density at each curve's AUC (uniform grid)
        sds = list(self.point_sd) if self.point_sd is not None else [0.0] * len(self.points)
        if self.sigma is not None:
            for (x, y), sd in zip(self.points, sds, strict=True):
                if x <= 0:
                    continue
                s = math.hypot(self.sigma, sd)
                at = np.array([np.interp(x, c.x, c.y) for c in self.shapes.curves])
                logw -= (y - at) ** 2 / (2.0 * s**2)
        if not np.isfinite(logw).any():  # the prior puts no mass near any library curve
            logw = np.zeros(len(aucs))
        logw -= logw[np.isfinite(logw)].max()
        w = np.exp(logw)
        self._lib = w / w.sum()

    def library_weights(self) -> np.ndarray:
        """Weight of each library curve (prior x likelihood, normalised)."""
        assert self._lib is not None
        return self._lib

    def pair_weights(self) -> np.ndarray:
        """One component per library curve (a 1 x J array, for callers that sum them)."""
        return self.library_weights()[None, :]

    def auc_quantiles(self, level: float) -> tuple[float, float, float]:
        aucs = np.array([c.auc for c in self.shapes.curves])
        lo, med, hi = weighted_quantiles(aucs, self.library_weights(), [(1.0 - level) / 2.0, 0.5, (1.0 + level) / 2.0])
        return med, lo, hi

    def distribution(self, target: float) -> tuple[np.ndarray, np.ndarray]:
        cross = np.array([crossing_x(c.x, c.y, target) for c in self.shapes.curves])
        cross = np.where(np.isfinite(cross), cross, NEVER_X)
        vals = np.maximum(cross[:, None] + self.jitter * _OFFSETS[None, :], 0.0).ravel()
        w = np.repeat(self.library_weights() / len(_OFFSETS), len(_OFFSETS))
        return self._after_last(vals, w)
