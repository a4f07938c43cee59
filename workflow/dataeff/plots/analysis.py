"""The paper's prediction figures and tables for one model family.

Inputs are the family's per-task table (AUC, zero-shot, best accuracy, ceiling, predictors;
:func:`dataeff.prediction.fit.fit_table`), its measured normalised curves (from ``efficiency.json``, or
recomputed from ``finetune_results`` with :mod:`dataeff.efficiency.auc`) and its coefficients.
Every prediction shown for a task comes from the leave-one-task-out fit that did not see it,
so the figures show what a user would get on a new task, not an in-sample fit.

Annotation savings are computed by :mod:`dataeff.prediction.savings` (definitions there); this module
draws them. Tasks whose curve never reaches a target are drawn as "never reached", and
predictions of "more than N_max" as such, not as spending the largest budget.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.ticker as mticker
import numpy as np
import pandas as pd

from dataeff.plots.style import PALETTE, save_figure  # isort: skip  (Agg backend + project style)

import matplotlib.pyplot as plt  # isort: skip  (after the style module chose the backend)

from dataeff.core.errors import DataeffError
from dataeff.core.io import atomic_write_text
from dataeff.core.names import PREDICTION_FIGURES, PREDICTION_TABLES
from dataeff.efficiency.auc import PAPER_GRID, compute_curve
from dataeff.efficiency.results import read_result_file, result_filename
from dataeff.prediction.fit import PREDICTOR_LABELS, PREDICTORS
from dataeff.prediction.savings import savings_table

#: Output stems of the figures (PNG + PDF) and of the ``.csv`` tables written by :func:`write_all`,
#: the same names the rule ``prediction_figures`` declares (:mod:`dataeff.core.names`).
FIGURES = PREDICTION_FIGURES
TABLES = PREDICTION_TABLES


# --------------------------------------------------------------------------- measured curves


def measured_curves(
    efficiency: Mapping[str, Mapping[str, Any]],
    finetune_results: str | os.PathLike[str] | None = None,
    family: str | None = None,
) -> dict[str, dict[str, Any]]:
    """task -> {budgets, x, y, max_budget} of the measured, cleaned, normalised curve.

    Taken from the ``curve`` block of each ``efficiency.json`` record; a task without one is
    recomputed from ``finetune_results/{family}_{task}_full_result_v2.json`` with the record's
    grid, N_max and human ceiling. Tasks with neither are left out.
    """
    out: dict[str, dict[str, Any]] = {}
    for task, rec in efficiency.items():
        curve = rec.get("curve")
        if isinstance(curve, Mapping) and curve.get("x") and curve.get("y"):
            out[task] = {
                "budgets": [int(b) for b in curve.get("budgets", [])],
                "x": [float(v) for v in curve["x"]],
                "y": [float(v) for v in curve["y"]],
                "max_budget": int(rec.get("max_budget") or 0) or None,
            }
            continue
        if finetune_results is None or family is None:
            continue

        path = Path(finetune_results) / result_filename(family, task)
        if not path.is_file():
            continue
        grid = rec.get("grid") or PAPER_GRID
        c = compute_curve(
            read_result_file(path, task), rec.get("human_ceiling"), grid, rec.get("max_budget"), rec.get("floor")
        )
        out[task] = {"budgets": list(c.budgets), "x": list(c.x), "y": list(c.y), "max_budget": c.max_budget}
    return out


def coefficients_table(records: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per coefficient set (label -> record), with 'value ± se' strings."""

    def pm(v: Any, se: Any) -> str:
        if v is None:
            return ""
        return f"{v:.4f} ± {se:.4f}" if isinstance(se, int | float) and math.isfinite(se) else f"{v:.4f}"

    rows = []
    for label, rec in records.items():
        loto = rec.get("loto") or {}
        pear = rec.get("pearson") or {}
        rows.append(
            {
                "coefficients": label,
                "slope": rec.get("slope"),
                "slope_se": rec.get("slope_se"),
                "slope_pm": pm(rec.get("slope"), rec.get("slope_se")),
                "intercept": rec.get("intercept"),
                "intercept_se": rec.get("intercept_se"),
                "intercept_pm": pm(rec.get("intercept"), rec.get("intercept_se")),
                "resid_std": rec.get("resid_std"),
                "n_tasks": rec.get("n_tasks"),
                "r2": rec.get("r2"),
                "pearson": pear.get("r"),
                "pearson_lo": pear.get("lo"),
                "pearson_hi": pear.get("hi"),
                "loto_mae": loto.get("mae"),
                "loto_rmse": loto.get("rmse"),
                "loto_slope_std": loto.get("slope_std"),
                "max_budget": rec.get("max_budget"),
                "source": rec.get("source"),
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- figures


def _fmt_r(c: Mapping[str, Any] | None, name: str = "r") -> str:
    if not c or c.get("r") is None:
        return f"{name} = NA"
    spread = f" ± {c['sd']:.2f}" if c.get("sd") is not None else ""
    return f"{name} = {c['r']:.2f}{spread}"


def plot_correlations(table: pd.DataFrame, corr: Mapping[str, Mapping[str, Any]], family: str) -> plt.Figure:
    """2 x 2 panels: CoS-Low and the three baselines against AUC, with OLS line and r ± spread.

    ``corr`` maps predictor -> {"pearson": {r, sd, ...}, "spearman": {...}, "slope", "intercept"}.
    """
    fig, axes = plt.subplots(2, 2, figsize=(7.5, 6.2), sharey=True)
    for ax, (name, col) in zip(axes.flat, PREDICTORS.items(), strict=True):
        c = corr.get(name)
        if col not in table.columns or c is None:
            ax.text(
                0.5,
                0.5,
                f"{PREDICTOR_LABELS[name]}\nnot available",
                ha="center",
                va="center",
                transform=ax.transAxes,
                color="0.4",
            )
            ax.set_xticks([])
            continue
        sub = table[np.isfinite(table[col].to_numpy(float))]
        x, y = sub[col].to_numpy(float), sub["auc"].to_numpy(float)
        err = sub[f"{col[:-5]}_std"].to_numpy(float) if f"{col[:-5]}_std" in sub.columns else None
        color = PALETTE[0] if name == "coslow" else PALETTE[5]
        ax.errorbar(
            x, y, xerr=err, fmt="o", color=color, ecolor="0.75", elinewidth=0.8, ms=4, mec="white", mew=0.4, zorder=3
        )
        xs = np.linspace(x.min(), x.max(), 50)
        ax.plot(xs, c["slope"] * xs + c["intercept"], color=PALETTE[1], lw=1.2, zorder=2)
        ax.set_title(f"{PREDICTOR_LABELS[name]}: {_fmt_r(c['pearson'])}, {_fmt_r(c['spearman'], 'ρ')}")
        ax.set_xlabel(PREDICTOR_LABELS[name])
    for ax in axes[:, 0]:
        ax.set_ylabel("data-efficiency AUC")
    fig.suptitle(f"{family}: predictors of data efficiency across {len(table)} tasks (± = bootstrap s.d. over tasks)")
    fig.tight_layout()
    return fig


def plot_loto(loto: pd.DataFrame, family: str) -> plt.Figure:
    """Leave-one-task-out predicted against measured AUC, identity line, MAE in the title."""
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    lo = float(min(loto["actual_auc"].min(), loto["predicted_auc"].min()))
    hi = float(max(loto["actual_auc"].max(), loto["predicted_auc"].max()))
    pad = 0.05 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.5", ls="--", lw=1, label="identity")
    ax.scatter(loto["actual_auc"], loto["predicted_auc"], color=PALETTE[0], s=22, edgecolor="white", lw=0.4, zorder=3)
    worst = loto.nlargest(min(3, len(loto)), "abs_error")
    for _, r in worst.iterrows():
        ax.annotate(
            r["task"],
            (r["actual_auc"], r["predicted_auc"]),
            fontsize=6,
            xytext=(3, 3),
            textcoords="offset points",
            color="0.3",
        )
    mae = loto["abs_error"].mean()
    rmse = math.sqrt((loto["error"] ** 2).mean())
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_aspect("equal")
    ax.set_xlabel("measured AUC")
    ax.set_ylabel("predicted AUC (task held out)")
    ax.set_title(f"{family}: leave-one-task-out, MAE {mae:.3f}, RMSE {rmse:.3f}")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def plot_predicted_curves(
    table: pd.DataFrame,
    predictions: Mapping[str, Mapping[str, Any]],
    curves: Mapping[str, Mapping[str, Any]],
    max_budget: int,
    family: str,
) -> plt.Figure:
    """Grid of panels: measured normalised curve, and per task the held-out prediction's central
    grid-consistent x**p curve with its band (fit, one CoS-Low draw, curve shape)."""
    from dataeff.prediction.budget import predicted_curve

    tasks = [t for t in table["task"] if t in curves and t in predictions]
    if not tasks:
        raise DataeffError(
            "no measured curves for any task",
            field="curve",
            fix="pass an efficiency.json written by `dataeff auc` or --finetune-results",
        )
    ncols = min(6, max(1, math.ceil(math.sqrt(len(tasks)))))
    nrows = math.ceil(len(tasks) / ncols)
    width, height = 1.75 * ncols + 0.6, 1.55 * nrows + 1.0
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False)
    grid_budgets = sorted({b for t in tasks for b in curves[t]["budgets"] if b > 0})
    tick_budgets = [max_budget]
    if grid_budgets and grid_budgets[0] < max_budget:
        # the smallest budget and the one midway (in log scale) between it and N_max
        x0 = math.log2(grid_budgets[0]) / math.log2(max_budget)
        mid = min(grid_budgets, key=lambda b: abs(math.log2(b) / math.log2(max_budget) - (1 + x0) / 2))
        tick_budgets = sorted({grid_budgets[0], mid, max_budget})
    ticks = [0.0] + [math.log2(b) / math.log2(max_budget) for b in tick_budgets]
    labels = ["0"] + [str(b) for b in tick_budgets]
    level = None
    for i, ax in enumerate(axes.flat):
        if i >= len(tasks):
            ax.set_visible(False)
            continue
        task = tasks[i]
        c, pred = curves[task], predictions[task]
        level = pred["level"]
        n_max = int(pred["max_budget"])
        rows = predicted_curve(pred, points=60)
        xs = [math.log2(max(r["budget"], 1)) / math.log2(n_max) for r in rows]
        ax.fill_between(
            xs,
            [r["fraction_low"] for r in rows],
            [r["fraction_high"] for r in rows],
            color=PALETTE[1],
            alpha=0.15,
            lw=0,
        )
        ax.plot(xs, [r["fraction"] for r in rows], color=PALETTE[1], ls="--", lw=1.1)
        ax.plot(c["x"], c["y"], "o-", color=PALETTE[0], ms=2.5, lw=1.1)
        auc = float(table.loc[table["task"] == task, "auc"].iloc[0])
        ax.set_title(f"{task[:26]}\nAUC {auc:.2f}, predicted {pred['predicted_auc']:.2f}", fontsize=6.5)
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlim(0, 1)
        ax.set_xticks(ticks, labels if i + ncols >= len(tasks) else [])
        ax.set_yticks([0, 0.5, 1], ["0", "0.5", "1"] if i % ncols == 0 else [])
        ax.tick_params(labelsize=6)
        if i % ncols == 0:
            ax.set_ylabel("fraction of gap", fontsize=7)
    fig.supxlabel("labeled examples (log scale)", fontsize=8)
    handles = [
        plt.Line2D([], [], color=PALETTE[0], marker="o", ms=3, label="measured (cleaned)"),
        plt.Line2D([], [], color=PALETTE[1], ls="--", label="predicted, median (task held out)"),
        plt.Rectangle(
            (0, 0), 1, 1, color=PALETTE[1], alpha=0.15, label=f"{level:.0%} band: fit, one CoS-Low draw, curve shape"
        ),
    ]
    top = 1.0 - 0.75 / height
    fig.suptitle(f"{family}: measured vs predicted data-efficiency curves", y=1.0 - 0.12 / height)
    fig.legend(
        handles=handles, loc="lower center", ncol=len(handles), fontsize=7, frameon=False, bbox_to_anchor=(0.5, top)
    )
    fig.tight_layout(rect=(0, 0, 1, top))
    return fig


def plot_zero_shot_vs_best(table: pd.DataFrame, family: str) -> plt.Figure:
    """Zero-shot against best fine-tuned accuracy per task, coloured by AUC."""
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    sub = table[np.isfinite(table["zero_shot"].to_numpy(float)) & np.isfinite(table["max_acc"].to_numpy(float))]
    ax.plot([0, 1], [0, 1], color="0.5", ls="--", lw=1, label="no gain from fine-tuning")
    sc = ax.scatter(sub["zero_shot"], sub["max_acc"], c=sub["auc"], s=26, edgecolor="0.2", lw=0.3, zorder=3)
    if len(sub) <= 15:  # beyond that the names hide the points; efficiency.tsv lists them
        for _, r in sub.iterrows():
            ax.annotate(
                r["task"][:18],
                (r["zero_shot"], r["max_acc"]),
                fontsize=5,
                xytext=(2, -6),
                textcoords="offset points",
                color="0.35",
            )
    fig.colorbar(sc, ax=ax, label="AUC")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_aspect("equal")
    ax.set_xlabel("zero-shot accuracy")
    ax.set_ylabel("best fine-tuned accuracy")
    ax.set_title(f"{family}: zero-shot vs best fine-tuned accuracy ({len(sub)} tasks)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def plot_zero_shot_vs_auc(table: pd.DataFrame, family: str) -> plt.Figure:
    """Zero-shot accuracy against AUC (is data efficiency just a high starting point?)."""
    fig, ax = plt.subplots(figsize=(4.8, 4.0))
    sub = table[np.isfinite(table["zero_shot"].to_numpy(float))]
    x, y = sub["zero_shot"].to_numpy(float), sub["auc"].to_numpy(float)
    ax.scatter(x, y, color=PALETTE[2], s=24, edgecolor="white", lw=0.4, zorder=3)
    title = f"{family}: zero-shot accuracy vs AUC"
    if len(sub) >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
        slope, intercept = np.polyfit(x, y, 1)
        xs = np.linspace(x.min(), x.max(), 20)
        ax.plot(xs, slope * xs + intercept, color=PALETTE[1], lw=1.1)
        title += f" (Pearson r = {np.corrcoef(x, y)[0, 1]:.2f})"
    ax.set_xlabel("zero-shot accuracy")
    ax.set_ylabel("data-efficiency AUC")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_savings(savings: pd.DataFrame, family: str) -> plt.Figure:
    """Per target: labels asked by the held-out prediction against labels the retrain loop
    spent (top), and the budget error with 0, 1 and 2 measured budgets (bottom).

    Tasks whose curve never reaches the target sit in a "never reached" column right of the
    axis, predictions of "more than N_max" in a row above it: neither is drawn as N_max labels.
    """
    targets = sorted(savings["target"].unique())
    ncol = max(1, len(targets))
    fig, axes = plt.subplots(2, ncol, figsize=(3.6 * ncol, 7.0), squeeze=False, gridspec_kw={"height_ratios": [3, 1.6]})
    rng = np.random.default_rng(0)  # small horizontal jitter: loop budgets sit on the grid
    finite = pd.concat([savings["loop_budget"], savings["predicted_budget"]]).dropna().astype(float)
    lo = max(1.0, float(finite.min()) / 1.5) if len(finite) else 1.0
    hi = float(finite.max()) * 1.5 if len(finite) else 10.0
    never_x, beyond_y = hi * 2.2, hi * 2.2
    for ax, tau in zip(axes[0], targets, strict=False):
        s = savings[savings["target"] == tau]
        xs = s["loop_budget"].astype(float).fillna(never_x).to_numpy()
        ys = s["predicted_budget"].astype(float).fillna(beyond_y).to_numpy()
        xs = xs * np.exp(rng.uniform(-0.06, 0.06, len(s)))
        ok = s["prediction_sufficient"].to_numpy(bool)
        ax.plot([lo, hi], [lo, hi], color="0.5", ls="--", lw=1)
        ax.scatter(xs[ok], ys[ok], color=PALETTE[0], s=20, label="prediction sufficient", zorder=3)
        ax.scatter(
            xs[~ok], ys[~ok], facecolor="white", edgecolor=PALETTE[1], s=20, label="prediction too few / none", zorder=3
        )
        ax.axvline(hi * 1.4, color="0.7", lw=0.8)
        ax.axhline(hi * 1.4, color="0.7", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        decades = [
            10.0**k for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1) if lo <= 10.0**k <= hi
        ]
        ax.set_xticks(decades + [never_x], [f"{v:g}" for v in decades] + ["never"])
        ax.set_yticks(decades + [beyond_y], [f"{v:g}" for v in decades] + [">N_max"])
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_minor_formatter(mticker.NullFormatter())
        ax.set_xlim(lo, never_x * 1.5)
        ax.set_ylim(lo, beyond_y * 1.5)
        ax.set_xlabel("labels spent by annotate-and-retrain loop")
        reached = s[s["loop_reached"]]
        n_beyond = int(reached["predicted_budget"].isna().sum())
        beyond = f" + {n_beyond} × >N_max" if n_beyond else ""
        ax.set_title(
            f"target {tau:.0%} of gap: reached by {len(reached)}/{len(s)} tasks\n"
            f"on those, predicted {int(reached['predicted_budget'].sum()):,}{beyond} vs loop "
            f"{int(reached['loop_budget'].sum()):,} labels;\n"
            f"prediction sufficient for {int(ok.sum())}/{len(s)} tasks",
            fontsize=8,
        )
        ax_e = axes[1][list(targets).index(tau)]
        errs = [s[f"error_{m}"].dropna().astype(float) for m in (0, 1, 2)]
        meds = [float(e.median()) if len(e) else np.nan for e in errs]
        ax_e.bar([0, 1, 2], meds, color=[PALETTE[0], PALETTE[2], PALETTE[3]])
        for m, (v, e) in enumerate(zip(meds, errs, strict=True)):
            if np.isfinite(v):
                ax_e.text(m, v, f"{v:.0f}\n(n={len(e)})", ha="center", va="bottom", fontsize=6.5)
        ax_e.set_xticks([0, 1, 2], ["CoS-Low only", "+1 measured", "+2 measured"], fontsize=7)
        ax_e.set_ylabel("median |budget error|", fontsize=7)
        ax_e.margins(y=0.3)
    axes[0, 0].set_ylabel("labels asked by CoS-Low prediction")
    axes[0, 0].legend(loc="upper left", fontsize=7)
    fig.suptitle(f"{family}: annotation cost, prediction vs annotate-and-retrain loop (task held out)")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


# --------------------------------------------------------------------------- everything


def correlations_by_predictor(corr_df: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """predictor -> {"pearson": {r, sd}, "spearman": {r, sd}, "slope", "intercept"}: the rows of
    ``correlations.tsv`` in the shape :func:`plot_correlations` draws."""
    return {
        r["predictor"]: {
            "pearson": {"r": _nn(r["pearson"]), "sd": _nn(r["pearson_sd"])},
            "spearman": {"r": _nn(r["spearman"]), "sd": _nn(r["spearman_sd"])},
            "slope": r["slope"],
            "intercept": r["intercept"],
        }
        for _, r in corr_df.iterrows()
    }


def _check_same_tasks(table: pd.DataFrame, loto: pd.DataFrame, source: str) -> None:
    """The fit's tables must describe the tasks being drawn: a stale loto.tsv would otherwise
    put one fit's numbers beside another's points."""
    want, have = set(table["task"]), set(loto["task"])
    if want != have:
        diff = sorted(want ^ have)
        raise DataeffError(
            f"its tasks differ from the efficiency and predictors tables' ({', '.join(diff[:5])})",
            file=source,
            field="task",
            fix="re-run `dataeff fit` on the same efficiency.json and predictors.tsv",
        )


def write_all(
    *,
    family: str,
    table: pd.DataFrame,
    curves: Mapping[str, Mapping[str, Any]],
    coefficients: Mapping[str, Any],
    loto: pd.DataFrame,
    correlations: pd.DataFrame,
    out_dir: str | os.PathLike[str],
    max_budget: int,
    targets: Sequence[float],
    extra_coefficients: Mapping[str, Mapping[str, Any]] | None = None,
    efficiency: Mapping[str, Mapping[str, Any]] | None = None,
    level: float = 0.8,
    coslow_sd: float | None = None,
    loto_source: str = "loto.tsv",
) -> list[Path]:
    """Compute the savings and held-out predictions, then write every figure (PNG + PDF) and
    table to ``out_dir``.

    ``loto`` and ``correlations`` are the tables ``dataeff fit`` wrote (:func:`dataeff.prediction.fit.read_loto`,
    :func:`dataeff.prediction.fit.read_correlations`): the figures draw them as they are and never refit,
    so a figure cannot disagree with the table beside it. ``efficiency`` (the records of
    ``efficiency.json``) supplies zero-shot, ceiling and grid for the held-out predictions and
    their updates; without it, records are rebuilt from ``curves``.
    """
    from dataeff.prediction.budget import predict_budget
    from dataeff.prediction.fit import require_tasks
    from dataeff.prediction.savings import held_out_coefficients

    require_tasks(table["task"].tolist(), family)
    _check_same_tasks(table, loto, loto_source)
    corr = correlations_by_predictor(correlations)
    eff = dict(efficiency or {})
    savings = savings_table(table, eff, curves, targets, max_budget, coefficients, level, coslow_sd)
    if savings.empty:
        raise DataeffError(
            "no task has both a measured curve and a prediction",
            field="curve",
            fix="pass an efficiency.json written by `dataeff auc` or --finetune-results",
        )
    predictions = {}
    mid_target = sorted(targets)[len(targets) // 2]
    for task in savings["task"].unique():
        rec, curve = eff[task], curves[task]
        n_max = int(curve.get("max_budget") or max_budget)
        grid = rec.get("grid") or [b for b in curve["budgets"] if b > 0]
        row = table.loc[table["task"] == task].iloc[0]
        sd = (
            float(row["coslow_std"])
            if "coslow_std" in row and np.isfinite(row.get("coslow_std", np.nan))
            else coslow_sd
        )
        predictions[task] = predict_budget(
            float(row["coslow_mean"]),
            held_out_coefficients(table, task, coefficients, n_max, grid),
            mid_target,
            n_max,
            level,
            coslow_sd=sd,
            grid=grid,
            band=True,
        )
    coef_rows = {
        f"{family} ({'fitted' if 'loto' in coefficients else 'given'})": coefficients,
        **(extra_coefficients or {}),
    }
    coef_df = coefficients_table(coef_rows)
    out = Path(out_dir)
    written: list[Path] = []
    figs = {
        "correlations": lambda: plot_correlations(table, corr, family),
        "loto": lambda: plot_loto(loto, family),
        "predicted_curves": lambda: plot_predicted_curves(table, predictions, curves, max_budget, family),
        "zero_shot_vs_best": lambda: plot_zero_shot_vs_best(table, family),
        "zero_shot_vs_auc": lambda: plot_zero_shot_vs_auc(table, family),
        "savings": lambda: plot_savings(savings, family),
    }
    for stem in FIGURES:  # the stems the rule declares; a stem without a drawing is a KeyError here
        written += save_figure(figs[stem](), out / stem)
    tables = {"coefficients": coef_df, "savings": savings}
    for stem in TABLES:
        path = out / f"{stem}.csv"
        atomic_write_text(path, tables[stem].to_csv(index=False, float_format="%.6g", lineterminator="\n"))
        written.append(path)
    return written


def _nn(v: Any) -> float | None:
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else float(v)
