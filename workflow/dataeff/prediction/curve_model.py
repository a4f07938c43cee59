"""The x**p curve model, made consistent with how the empirical AUC is measured.

docs/METHOD.md section 3 models the normalised data-efficiency curve as y(x) = x**p with
p = (1 - a) / a, the exponent whose *continuous* area is the predicted AUC ``a``. But the AUC
the coefficients were fitted to (docs/METHOD.md section 1) is a trapezoid on the budget grid: the
point (0, 0) for zero-shot, then the grid budgets. On the paper's grid the first segment spans
x = 0 .. 0.459 (0 .. 50 labels), so a curve that reaches the ceiling at 50 labels has a
trapezoid AUC of only 1 - 0.459 / 2 = 0.7703, and the continuous formula with a = 0.7 asks for
781 labels to reach 90% of the gap where an x**p curve whose *trapezoid* AUC is 0.7 needs 167.

:class:`CurveModel` therefore picks p so that the trapezoid of x**p sampled on the grid equals
``a`` (the grid-consistent exponent). The attainable AUC range of the grid follows: from the
curve that jumps to the ceiling at the first budget (p -> 0) down to the one that stays at zero
until N_max (p -> inf, area (1 - x_last_but_one) / 2). Without a grid the model falls back to
the continuous formula (range (0, 1)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dataeff.efficiency.auc import resolve_grid

#: log10 range of exponents tabulated for the grid-consistent inversion (p from 1e-4 to 1e4).
_LOG10_P = np.linspace(-4.0, 4.0, 8001)


@dataclass(frozen=True)
class CurveModel:
    """y = x**p on the log budget axis x = log(n) / log(N_max), with a grid-consistent p.

    ``grid`` holds the positive budgets of the AUC's grid (``None``: continuous model).
    """

    max_budget: int
    grid: tuple[int, ...] | None = None
    _xs: np.ndarray = field(init=False, repr=False, compare=False)
    _table: tuple[np.ndarray, np.ndarray] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.grid is None:
            object.__setattr__(self, "_xs", np.array([0.0, 1.0]))
            object.__setattr__(self, "_table", None)
            return
        positive, n_max = resolve_grid(self.grid, self.max_budget)
        object.__setattr__(self, "grid", tuple(positive))
        xs = np.array([0.0] + [math.log2(b) / math.log2(n_max) for b in positive])
        object.__setattr__(self, "_xs", xs)
        p = 10.0**_LOG10_P
        areas = self.area(p)
        # areas decrease in p; np.interp needs increasing abscissae
        object.__setattr__(self, "_table", (areas[::-1].copy(), _LOG10_P[::-1].copy()))

    @classmethod
    def for_budgets(cls, max_budget: int, grid: Sequence[int] | None) -> CurveModel:
        return cls(int(max_budget), tuple(int(b) for b in grid) if grid else None)

    @property
    def min_budget(self) -> int | None:
        """The smallest grid budget: below it nothing was measured when the AUC was defined."""
        return self.grid[0] if self.grid else None

    def area(self, p: float | np.ndarray) -> np.ndarray:
        """Trapezoid AUC of x**p sampled at the grid's x (continuous: 1 / (1 + p))."""
        p = np.asarray(p, dtype=float)
        if self.grid is None:
            return 1.0 / (1.0 + p)
        xs = self._xs
        ys = np.where(xs[:, None] > 0, xs[:, None] ** p[None, ...].reshape(1, -1), 0.0)
        area = ((xs[1:, None] - xs[:-1, None]) * (ys[1:] + ys[:-1]) / 2.0).sum(axis=0)
        return area.reshape(p.shape)

    def auc_range(self) -> tuple[float, float]:
        """(lowest, highest) AUC an x**p curve can have on this grid."""
        if self.grid is None:
            return 0.0, 1.0
        xs = self._xs
        high = float(((xs[1:] - xs[:-1]) * np.where(xs[:-1] > 0, 2.0, 1.0) / 2.0).sum())
        low = float((xs[-1] - xs[-2]) / 2.0) if len(xs) > 2 and xs[-1] == 1.0 else 0.0
        return low, high

    def exponent(self, auc: float | np.ndarray) -> np.ndarray:
        """The p whose (grid) area is ``auc``; ``auc`` is clipped into the attainable range."""
        a = np.asarray(auc, dtype=float)
        if self._table is None:
            a = np.clip(a, 1e-6, 1.0 - 1e-6)
            return (1.0 - a) / a
        areas, log_p = self._table
        return 10.0 ** np.interp(a, areas, log_p)

    def x_for_target(self, p: float | np.ndarray, target: float | np.ndarray) -> np.ndarray:
        """x where x**p reaches ``target``: target ** (1 / p)."""
        p = np.asarray(p, dtype=float)
        with np.errstate(divide="ignore", over="ignore", under="ignore"):
            return np.asarray(target, dtype=float) ** (1.0 / p)

    def fraction(self, n: float | np.ndarray, p: float | np.ndarray) -> np.ndarray:
        """Predicted fraction of the gap closed with ``n`` labels."""
        return self.to_x(n) ** np.asarray(p, dtype=float)

    def to_x(self, n: float | np.ndarray) -> np.ndarray:
        n_arr = np.maximum(np.asarray(n, dtype=float), 1.0)
        return np.clip(np.log(n_arr) / math.log(self.max_budget), 0.0, 1.0)

    def to_budget(self, x: float | np.ndarray) -> np.ndarray:
        return float(self.max_budget) ** np.asarray(x, dtype=float)

    def budget(self, auc: float, target: float) -> float:
        """Labels where the curve of (grid) area ``auc`` reaches ``target`` (real-valued)."""
        return float(self.to_budget(self.x_for_target(self.exponent(auc), target)))
