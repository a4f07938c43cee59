"""Figures of data-efficiency curves: one panel per task, and all tasks overlaid.

Panels are ordered by AUC, least data-efficient first, so a reader scanning the grid sees the
tasks that need the most labels at the top. The cleaned curve (running maximum) is the line
whose area is the AUC; the measured points are drawn on top so that drops the running maximum
hid (clamped) and budgets that were never run (filled) stay visible.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib import colors as mcolors
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from dataeff.core.errors import DataeffError
from dataeff.core.names import CURVE_FIGURES
from dataeff.efficiency.auc import Curve
from dataeff.plots.style import CLAMPED_COLOR, CMAP, LINE_COLOR, POINT_COLOR, save_figure

X_LABEL = "labeled training examples"
#: Lower y limit of every panel; measured points further below are drawn on it as triangles.
Y_MIN = -0.2
Y_LABEL = "fraction of the gap from zero-shot to ceiling"
#: The same with a chance floor (``analysis.floor: majority`` or ``fair``, :mod:`dataeff.efficiency.chance`).
Y_LABEL_FLOOR = "fraction of the gap from floor to ceiling"
#: What "floor" means, added to the title of a figure that uses it (the curves do not say which
#: chance score: the majority answer's, or under ``fair`` the larger of it and a guess among the options).
FLOOR_NOTE = "floor = max(zero-shot, chance: majority answer or a guess among the options)"


def _bottom(curves: Iterable[Curve]) -> tuple[str, str]:
    """(axis label, tick label of y = 0): the zero-shot point, or the floor where one applies."""
    if any(c.floor is not None for c in curves):
        return Y_LABEL_FLOOR, "floor"
    return Y_LABEL, "0-shot"


def budget_label(n: int) -> str:
    """Compact tick label: 0 -> "0-shot", 2500 -> "2.5k"."""
    if n == 0:
        return "0-shot"
    if n >= 1000:
        return f"{n / 1000:g}k"
    return str(n)


def _ticks(curves: Mapping[str, Curve], grid: Sequence[int] | None) -> tuple[list[float], list[str]]:
    """Tick positions (x) and labels for the budgets of the grid plus zero-shot.

    Without ``grid``, the budgets every curve has (every grid budget is in every curve, since
    missing ones are filled), so off-grid extras such as 2200 get no tick of their own.
    """
    first = next(iter(curves.values()))
    n_max = first.max_budget
    if grid is None:
        shared = set.intersection(*(set(c.budgets) for c in curves.values()))
        budgets = sorted(shared | {0})
    else:
        budgets = sorted({0, *(int(b) for b in grid if 0 < int(b) <= n_max)})
    xs = [math.log2(max(n, 1)) / math.log2(n_max) for n in budgets]
    return xs, [budget_label(n) for n in budgets]


def _raw_y(curve: Curve) -> list[float | None]:
    gap = curve.ceiling - curve.min_acc
    if curve.flat or gap <= 0:
        return [None if r is None else 0.0 for r in curve.raw]
    return [None if r is None else (r - curve.min_acc) / gap for r in curve.raw]


def _title(task: str, auc: float, width: int = 24) -> str:
    name = "\n".join(textwrap.wrap(task.replace("_", " "), width=width)) or task
    return f"{name}\nAUC {auc:.3f}"


def draw_curve(ax: Axes, curve: Curve, xticks: Sequence[float], xlabels: Sequence[str]) -> None:
    """One task's panel: cleaned curve, measured points, clamped drops, best accuracy."""
    ax.plot(curve.x, curve.y, color=LINE_COLOR, lw=1.6, zorder=2)
    ax.fill_between(curve.x, curve.y, color=LINE_COLOR, alpha=0.12, lw=0, zorder=1)
    raw_y = _raw_y(curve)
    clamped = set(curve.clamped)
    keep = [(x, y) for n, x, y in zip(curve.budgets, curve.x, raw_y, strict=True) if y is not None and n not in clamped]
    drops = [
        (x, y)
        for n, x, y in zip(curve.budgets, curve.x, raw_y, strict=True)
        if y is not None and n in clamped and y >= Y_MIN
    ]
    off = [
        (x, Y_MIN + 0.03)
        for n, x, y in zip(curve.budgets, curve.x, raw_y, strict=True)
        if y is not None and n in clamped and y < Y_MIN
    ]
    filled = [(x, y) for n, x, y in zip(curve.budgets, curve.x, curve.y, strict=True) if n in curve.filled]
    if keep:
        ax.scatter(*zip(*keep, strict=True), s=14, color=POINT_COLOR, zorder=3)
    if drops:
        ax.scatter(
            *zip(*drops, strict=True), s=22, facecolors="white", edgecolors=CLAMPED_COLOR, linewidths=1.2, zorder=4
        )
    if off:
        ax.scatter(
            *zip(*off, strict=True),
            s=24,
            marker="v",
            facecolors="white",
            edgecolors=CLAMPED_COLOR,
            linewidths=1.2,
            zorder=4,
            clip_on=False,
        )
    if filled:
        ax.scatter(*zip(*filled, strict=True), s=18, marker="x", color="#888888", linewidths=1, zorder=3)
    ax.axhline(1.0, color="#444444", lw=0.7, ls="--", zorder=0)
    if not curve.flat and curve.ceiling > curve.min_acc:
        best = (curve.max_acc - curve.min_acc) / (curve.ceiling - curve.min_acc)
        if best < 0.999:
            ax.axhline(best, color="#888888", lw=0.7, ls=":", zorder=0)
    ax.set_ylim(Y_MIN, 1.08)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xticks(list(xticks))
    ax.set_xticklabels(list(xlabels), rotation=90)
    ax.set_yticks([0.0, 0.5, 1.0])
    ax.set_yticklabels([_bottom([curve])[1], "0.5", "ceiling"])
    ax.grid(True, axis="both")


def plot_curve_grid(
    curves: Mapping[str, Curve], family: str, *, grid: Sequence[int] | None = None, ncols: int | None = None
) -> Figure:
    """Small multiples, one panel per task, ordered by AUC (least data-efficient first)."""
    if not curves:
        raise ValueError("no curves to plot")
    order = sorted(curves, key=lambda t: (curves[t].auc, t))
    n = len(order)
    ncols = ncols or max(1, min(6, math.ceil(math.sqrt(n))))
    nrows = math.ceil(n / ncols)
    # At least 7 inches wide, so the legend and title fit above a figure of one or two panels; the
    # top band grows with the legend's rows.
    width = max(2.1 * ncols + 0.8, 7.0)
    legend_cols = 3 if width >= 9.5 else 2
    top_band = 0.55 + 0.2 * math.ceil(6 / legend_cols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(width, 2.05 * nrows + 0.6 + top_band), sharex=True, sharey=True, squeeze=False
    )
    xticks, xlabels = _ticks(curves, grid)
    for i, task in enumerate(order):
        ax = axes[i // ncols][i % ncols]
        draw_curve(ax, curves[task], xticks, xlabels)
        ax.set_title(_title(task, curves[task].auc), fontsize=8, pad=3)
    for j in range(n, nrows * ncols):
        axes[j // ncols][j % ncols].set_visible(False)
    # With sharex, matplotlib hides x labels on all but the bottom row; show them under every
    # panel that has no visible panel below it (the last, partial row).
    for i in range(n):
        below = i + ncols
        if below >= n:
            axes[i // ncols][i % ncols].tick_params(labelbottom=True)
    fig.supxlabel(f"{X_LABEL} (log scale)", fontsize=10)
    fig.supylabel(_bottom(curves.values())[0], fontsize=10)
    title = f"Data-efficiency curves, {family} ({n} tasks, least data-efficient first)"
    if _bottom(curves.values())[1] == "floor":
        title += f"\n{FLOOR_NOTE}"
    fig.suptitle(title, y=1.0)
    handles = [
        Line2D([], [], color=LINE_COLOR, lw=1.6, label="curve used for the AUC (running maximum)"),
        Line2D([], [], color=POINT_COLOR, marker="o", ls="", ms=4, label="measured accuracy"),
        Line2D(
            [],
            [],
            color=CLAMPED_COLOR,
            marker="o",
            mfc="white",
            ls="",
            ms=5,
            label="measured, below an earlier budget (raised; \u25bd = off the scale)",
        ),
        Line2D([], [], color="#888888", marker="x", ls="", ms=5, label="budget not run (carried forward)"),
        Line2D([], [], color="#444444", ls="--", lw=0.7, label="ceiling"),
        Line2D([], [], color="#888888", ls=":", lw=0.7, label="best measured accuracy"),
    ]
    fig.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 1 - 0.4 / fig.get_figheight()),
        ncol=legend_cols,
        frameon=False,
        fontsize=8,
    )
    height = fig.get_figheight()
    fig.tight_layout(rect=(0, 0, 1, 1 - top_band / height))
    # tight_layout leaves room above the panels for the suptitle as well, which the top band
    # already holds: with one row of panels that emptied a third of the figure. The panels start
    # just below the band instead (their titles take about 0.35 inch).
    fig.subplots_adjust(top=1 - (top_band + 0.35) / height)
    return fig


def plot_overlay(curves: Mapping[str, Curve], family: str, *, grid: Sequence[int] | None = None) -> Figure:
    """All tasks' normalised curves on one axis, coloured by AUC (with a colour bar)."""
    if not curves:
        raise ValueError("no curves to plot")
    fig, ax = plt.subplots(figsize=(7.0, 4.6))
    aucs = [c.auc for c in curves.values()]
    lo, hi = min(aucs), max(aucs)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.05, hi + 0.05
    norm = mcolors.Normalize(vmin=lo, vmax=hi)
    cmap = plt.get_cmap(CMAP)
    for task in sorted(curves, key=lambda t: (curves[t].auc, t)):
        c = curves[task]
        ax.plot(c.x, c.y, color=cmap(norm(c.auc)), lw=1.3, alpha=0.85, marker="o", ms=2.5)
    xticks, xlabels = _ticks(curves, grid)
    ax.set_xticks(xticks)
    ax.set_xticklabels(xlabels)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.03, 1.05)
    ax.set_yticks([0.0, 0.25, 0.5, 0.75, 1.0])
    label, bottom = _bottom(curves.values())
    ax.set_yticklabels([bottom, "0.25", "0.5", "0.75", "ceiling"])
    ax.set_xlabel(f"{X_LABEL} (log scale)")
    ax.set_ylabel(label)

    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    cbar = fig.colorbar(sm, ax=ax, pad=0.02)
    cbar.set_label("AUC (higher = fewer labels needed)")
    # Name the extremes so the colour scale is anchored to real tasks.
    order = sorted(curves, key=lambda t: curves[t].auc)
    notes = [f"lowest AUC: {order[0]} ({curves[order[0]].auc:.3f})"]
    if len(order) > 1:
        notes.append(f"highest AUC: {order[-1]} ({curves[order[-1]].auc:.3f})")
    if bottom == "floor":
        notes.append(FLOOR_NOTE)
    ax.set_title(f"Data-efficiency curves of all {len(curves)} tasks, {family}\n" + "; ".join(notes), fontsize=9)
    fig.tight_layout()
    return fig


def write_curve_figures(
    curves: Mapping[str, Curve], family: str, out_dir: str | os.PathLike[str], *, grid: Sequence[int] | None = None
) -> list[Path]:
    """``curves.png/.pdf`` and ``overlay.png/.pdf`` in ``out_dir``; returns the paths written."""
    out = Path(out_dir)
    draw = {"curves": plot_curve_grid, "overlay": plot_overlay}
    paths: list[Path] = []
    for stem in CURVE_FIGURES:  # the stems the rule `curves` declares
        paths += save_figure(draw[stem](curves, family, grid=grid), out / stem)
    return paths


def plot_predicted_budget(prediction: Mapping, out: str | os.PathLike[str]) -> None:
    """One prediction of ``dataeff budget``: the central x**p curve, the band of its interval,
    the measured points it was updated with, the target and the budget interval, to ``out``
    (PNG, PDF or SVG)."""
    import numpy as np

    from dataeff.prediction.budget import predicted_curve

    out = Path(out)
    suffix = out.suffix.lower().lstrip(".")
    if suffix not in {"png", "pdf", "svg"}:
        raise DataeffError(f"unsupported plot type '{out.suffix}'", field="--plot", fix="use .png, .pdf or .svg")
    n_max = prediction["max_budget"]
    rows = predicted_curve(prediction, points=120)
    n = np.array([r["budget"] for r in rows], float)
    level = prediction["level"]
    fig, ax = plt.subplots(figsize=(5.8, 4.0))
    ax.fill_between(
        n,
        [r["fraction_low"] for r in rows],
        [r["fraction_high"] for r in rows],
        color="C0",
        alpha=0.2,
        lw=0,
        label=f"{level:.0%} band (fit, one CoS-Low draw, curve shape)",
    )
    ax.plot(
        n, [r["fraction"] for r in rows], color="C0", label=f"predicted, median (AUC {prediction['predicted_auc']:.3f})"
    )
    pts = prediction.get("measured_points") or []
    if pts:
        ax.plot([n_max ** p["x"] for p in pts], [p["fraction"] for p in pts], "ko", ms=4, label="measured (normalised)")
    tau = prediction["target"]
    ax.axhline(tau, color="0.4", ls="--", lw=1, label=f"target {tau:g} of the gap")
    lo, mid, hi = prediction["budget_low"], prediction["budget"], prediction["budget_high"]
    span = f"{lo if lo is not None else f'>{n_max}'}–{hi if hi is not None else f'>{n_max}'}"
    if mid is not None:
        ax.axvline(mid, color="C3", lw=1, label=f"{mid} labels ({span})")
    else:
        ax.plot([], [], color="C3", label=f"{prediction['status']}: {span}")
    ax.axvspan(max(lo or n_max, 1), hi or n_max, color="C3", alpha=0.08)
    ax.set_xscale("log")
    ax.set_xlim(1, n_max)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(X_LABEL)
    ax.set_ylabel("fraction of zero-shot→ceiling gap")
    ax.set_title(
        f"Predicted data-efficiency curve (CoS-Low {prediction['coslow']:.3f}, {prediction['status']})", fontsize=10
    )
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    save_figure(fig, out, formats=(suffix,))
