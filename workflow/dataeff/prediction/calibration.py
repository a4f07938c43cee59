"""Do the budget intervals cover what they say? Leave-one-task-out, measured.

For each task of a family, everything the prediction uses is built from the *other* tasks: the
prior over the task's AUC and the curve-shape residuals (and the curve scatter of the update).
The held-out task's own curve then says how many labels were actually needed to reach each
target tau (linear between measured budgets on the log axis, :func:`dataeff.prediction.shape.crossing_x`;
"beyond N_max" when the curve never reaches tau). Per tau and per number m of measured budgets
(the task's first m grid budgets, zero-shot and ceiling known), we record:

* **coverage**: whether the stated interval contains the labels needed. A task that never
  reaches tau is covered when the interval's upper end is "more than N_max".
* **absolute budget error** of the central budget, with both budgets censored at N_max (a
  prediction of "more than N_max" for a task that never gets there is no error; a task that
  never reaches tau counts as needing N_max, which makes the error a lower bound there).

Two sources:

* **The paper's published curves** (shipped, :mod:`dataeff.efficiency.published_curves`). Their CoS-Low values
  are not published, so the prior stands in for a CoS-Low prediction: its mean is the true AUC
  of a seeded random one of the K tasks nearest in true AUC (the task itself excluded), its
  standard deviation the root mean square error of that stand-in over the other tasks.
* **The project's own study results** (``efficiency.json`` + ``predictors.tsv``): the prior is
  the OLS fit of the other tasks (its prediction interval), plus the held-out task's own
  CoS-Low seed spread as the single-draw noise.

Every update method of :mod:`dataeff.prediction.curve_update` is compared ("bayes", "bayes_xp",
"measured_only", "library"). Each measured point carries the binomial noise of the task's test
size, inferred from its accuracies (:func:`curve_noise`), as a practitioner passing
``--test-size`` gets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from dataeff.core.errors import DataeffError
from dataeff.core.settings import AnalysisSettings, to_dict
from dataeff.efficiency.auc import PAPER_GRID, PAPER_MAX_BUDGET, Curve
from dataeff.efficiency.published_curves import PAPER_FAMILIES, paper_curves
from dataeff.prediction.curve_model import CurveModel
from dataeff.prediction.curve_update import METHODS, build_predictive, infer_test_size, measurement_sd
from dataeff.prediction.interval import auc_grid, prior_weights
from dataeff.prediction.shape import ShapeCurve, ShapeSet, crossing_x

TASK_COLUMNS = (
    "source",
    "task",
    "auc",
    "prior_auc",
    "prior_sd",
    "method",
    "measured",
    "target",
    "needed_x",
    "needed_budget",
    "reached",
    "pred_x",
    "pred_low_x",
    "pred_high_x",
    "pred_budget",
    "pred_low",
    "pred_high",
    "pred_beyond",
    "covered",
    "abs_error",
    "test_size",
)
SUMMARY_COLUMNS = (
    "source",
    "method",
    "target",
    "measured",
    "n_tasks",
    "n_never_reached",
    "level",
    "coverage",
    "median_abs_error",
    "median_abs_error_reached",
    "error_ratio_vs_none",
    "median_interval_ratio",
)


#: Spreads and noise levels of the budget model read from ``analysis`` (all floats).
FLOAT_SETTINGS = ("coslow_sd", "update_sigma", "shape_bandwidth", "library_sigma", "library_jitter")


def recorded_settings(analysis: AnalysisSettings) -> dict[str, Any]:
    """The settings a calibration run reads, as plain JSON for its output to record: the targets,
    the budget model's spreads (:data:`FLOAT_SETTINGS`) and the whole of ``analysis.calibration``."""
    return {
        "targets": [float(t) for t in analysis.targets],
        **{k: float(getattr(analysis, k)) for k in FLOAT_SETTINGS},
        **to_dict(analysis.calibration),
    }


# --------------------------------------------------------------------------- one held-out task


def evaluate_task(
    curve: ShapeCurve,
    *,
    source: str,
    prior_mean: float,
    prior_sd: float,
    prior_df: float | None,
    shapes: ShapeSet,
    model: CurveModel,
    targets: Sequence[float],
    level: float,
    measured: Sequence[int],
    sigma: float,
    bandwidth: float | None = None,
    methods: Sequence[str] = METHODS,
    point_sd: Sequence[float] | None = None,
    test_size: int | None = None,
    library_sigma: float | None = None,
    library_jitter: float | None = None,
    paper_formula: bool = False,
) -> list[dict[str, Any]]:
    """Rows of :data:`TASK_COLUMNS` for one held-out task (``shapes`` must exclude it).

    ``paper_formula``: the budget is read as ``dataeff budget --curve-model paper`` reads it
    (``model`` is then the continuous x**p): with nothing measured, the central budget is the
    paper's N_max ** (tau ** (a / (1 - a))) at the prior mean, and the interval is widened to
    hold it where the predictive's does not.

    ``point_sd``: the measurement sd of each positive budget's point (in curve order), from
    the task's test size (:func:`dataeff.prediction.curve_update.measurement_sd`); None, no noise beyond
    the methods' sigma. With m = 0 the methods that update the x**p prior are the prior alone,
    so only ``bayes`` and ``library`` (another prior predictive: the library's crossings) are
    evaluated there.
    """
    grid = auc_grid(model)
    prior = prior_weights(grid, prior_mean, prior_sd, prior_df)
    positive = [(x, y) for x, y in zip(curve.x, curve.y, strict=True) if x > 0]
    sds = list(point_sd) if point_sd is not None else [0.0] * len(positive)
    rows = []
    for method in methods:
        for m in measured:
            if method not in (METHODS[0], "library") and m == 0:
                continue  # nothing measured: the same prior as the first method
            pred = build_predictive(
                method,
                model,
                grid,
                prior,
                shapes,
                positive[:m],
                point_sd=sds[:m],
                sigma=sigma,
                bandwidth=bandwidth,
                library_sigma=library_sigma,
                library_jitter=library_jitter,
            )
            for tau in targets:
                s = pred.summary(tau, level)
                if paper_formula and m == 0 and s["x_median"] <= 1.0:
                    s = _with_formula(s, prior_mean, tau)
                truth = crossing_x(curve.x, curve.y, tau)
                row = _row(source, curve, prior_mean, prior_sd, method, m, tau, truth, s, model)
                rows.append({**row, "test_size": test_size})
    return rows


def _with_formula(s: Mapping[str, Any], auc: float, tau: float) -> dict[str, Any]:
    """``s`` with the paper formula's x = tau ** (a / (1 - a)) as its median (the AUC clipped as
    the budget command clips it), the interval widened to hold it."""
    from dataeff.prediction.budget import AUC_CLIP

    a = min(max(auc, AUC_CLIP[0]), AUC_CLIP[1])
    x = tau ** (a / (1.0 - a))
    return {**s, "x_median": x, "x_low": min(s["x_low"], x), "x_high": max(s["x_high"], x)}


def curve_noise(curve: Any, model: CurveModel) -> tuple[int | None, list[float]]:
    """(inferred test size, measurement sd of each positive budget's normalised point) of a
    :class:`dataeff.efficiency.auc.Curve`; zeros when the test size cannot be inferred."""
    test_size = infer_test_size(curve.raw)
    positive = [(n, r) for n, x, r in zip(curve.budgets, curve.x, curve.raw, strict=True) if x > 0]
    if test_size is None or curve.flat:
        return test_size, [0.0] * len(positive)
    measured = {0: float(curve.min_acc)}
    measured.update({int(n): (float(r) if r is not None else float(curve.min_acc)) for n, r in positive})
    sds = measurement_sd(measured, float(curve.ceiling), test_size, model)
    return test_size, sds


def _row(
    source: str,
    curve: ShapeCurve,
    prior_mean: float,
    prior_sd: float,
    method: str,
    m: int,
    tau: float,
    truth: float,
    s: Mapping[str, Any],
    model: CurveModel,
) -> dict[str, Any]:
    n_max = model.max_budget
    lo, mid, hi = s["x_low"], s["x_median"], s["x_high"]
    beyond = hi > 1.0 + 1e-12
    reached = math.isfinite(truth)
    # a task that never reaches tau is covered by an interval reaching "more than N_max"
    covered = (lo - 1e-9 <= truth and (beyond or truth <= hi + 1e-9)) if reached else beyond
    budget = lambda x: float(n_max ** min(x, 1.0))  # noqa: E731  censored at N_max
    return {
        "source": source,
        "task": curve.task,
        "auc": curve.auc,
        "prior_auc": prior_mean,
        "prior_sd": prior_sd,
        "method": method,
        "measured": m,
        "target": tau,
        "needed_x": truth if reached else None,
        "needed_budget": budget(truth) if reached else None,
        "reached": reached,
        "pred_x": mid,
        "pred_low_x": lo,
        "pred_high_x": hi,
        "pred_budget": budget(mid),
        "pred_low": budget(lo),
        "pred_high": None if beyond else budget(hi),
        "pred_beyond": bool(mid > 1.0 + 1e-12),
        "covered": bool(covered),
        "abs_error": abs(budget(mid) - budget(truth)),
    }


# --------------------------------------------------------------------------- the two sources


def neighbour_prior(aucs: Mapping[str, float], task: str, k: int, rng: np.random.Generator) -> tuple[float, float]:
    """(mean, sd) of the stand-in prior for ``task``: a random one of its k nearest other tasks in
    true AUC, and the root mean square error of that stand-in over the other tasks."""
    others = {t: a for t, a in aucs.items() if t != task}
    if len(others) < 2:
        raise DataeffError(
            f"task '{task}': a neighbour prior needs at least 2 other tasks",
            field="tasks",
            fix="calibrate a family with 3 or more curves",
        )
    k = min(k, len(others) - 1)

    def nearest(target: float, pool: Mapping[str, float]) -> list[float]:
        return sorted(pool.values(), key=lambda a: (abs(a - target), a))[:k]

    near = nearest(aucs[task], others)
    mean = float(near[int(rng.integers(len(near)))])
    sq = []
    for t, a in others.items():
        pool = {u: b for u, b in others.items() if u != t}
        sq += [(b - a) ** 2 for b in nearest(a, pool)]
    return mean, float(math.sqrt(sum(sq) / len(sq)))


def calibrate_published(
    families: Sequence[str],
    *,
    targets: Sequence[float],
    level: float,
    measured: Sequence[int],
    neighbours: int,
    seed: int,
    sigma: float,
    bandwidth: float | None = None,
    methods: Sequence[str] = METHODS,
    test_noise: bool = True,
    library_sigma: float | None = None,
    library_jitter: float | None = None,
    curve_model: str = "grid",
) -> pd.DataFrame:
    """Per-task rows for the paper's published curves of ``families`` (neighbour prior).

    ``test_noise``: measured points carry the binomial noise of the task's test size, inferred
    from its accuracies (:func:`curve_noise`); False, sigma alone (the update before it).
    ``curve_model``: how a predicted AUC becomes a budget, as ``dataeff budget --curve-model``
    (``grid``: the grid-consistent x**p; ``paper``: the paper's formula, :func:`evaluate_task`)."""
    from dataeff.prediction.shape import shape_set_from_curves

    rows: list[dict[str, Any]] = []
    for fi, family in enumerate(families):
        if family not in PAPER_FAMILIES:
            raise DataeffError(
                f"no published curves for family '{family}'",
                field="families",
                fix=f"use one of {', '.join(PAPER_FAMILIES)}",
            )
        full = paper_curves(family)
        shapes = shape_set_from_curves(full, PAPER_MAX_BUDGET, PAPER_GRID, f"published {family} curves")
        read = _reading_model(shapes, curve_model)
        aucs = {c.task: c.auc for c in shapes.curves}
        for ti, curve in enumerate(shapes.curves):
            rng = np.random.default_rng([seed, fi, ti])
            mean, sd = neighbour_prior(aucs, curve.task, neighbours, rng)
            test_size, point_sd = curve_noise(full[curve.task], shapes.model) if test_noise else (None, None)
            rows += evaluate_task(
                curve,
                source=f"paper/{family}",
                prior_mean=mean,
                prior_sd=sd,
                prior_df=None,
                shapes=replace(shapes.without(curve.task), model=read),
                model=read,
                targets=targets,
                level=level,
                measured=measured,
                sigma=sigma,
                bandwidth=bandwidth,
                methods=methods,
                point_sd=point_sd,
                test_size=test_size,
                library_sigma=library_sigma,
                library_jitter=library_jitter,
                paper_formula=curve_model == "paper",
            )
    return pd.DataFrame(rows, columns=list(TASK_COLUMNS))


def _reading_model(shapes: ShapeSet, curve_model: str) -> CurveModel:
    """The curve a budget is read on: the shape set's grid-consistent model, or the paper's
    continuous x**p over the same N_max (the shape error is then measured around it, as
    ``dataeff budget --curve-model paper`` measures it)."""
    if curve_model not in ("grid", "paper"):
        raise DataeffError(f"unknown curve model '{curve_model}'", field="--curve-model", fix="use paper or grid")
    return shapes.model if curve_model == "grid" else CurveModel(shapes.model.max_budget, None)


def calibrate_study(
    efficiency: Mapping[str, Mapping[str, Any]],
    predictors: pd.DataFrame,
    *,
    family: str,
    targets: Sequence[float],
    level: float,
    measured: Sequence[int],
    coslow_sd: float,
    sigma: float,
    bandwidth: float | None = None,
    source: str = "efficiency.json",
    methods: Sequence[str] = METHODS,
    test_noise: bool = True,
    library_sigma: float | None = None,
    library_jitter: float | None = None,
    curve_model: str = "grid",
) -> pd.DataFrame:
    """Per-task rows for a family's own results: LOTO OLS prior with each task's CoS-Low spread
    (and, with ``test_noise``, each point's binomial noise, and ``curve_model``, as
    :func:`calibrate_published`)."""
    from dataeff.prediction.budget import predict_auc
    from dataeff.prediction.fit import fit_table, ols_fit
    from dataeff.prediction.shape import shape_set_from_efficiency

    table = fit_table(efficiency, predictors)
    if len(table) < 4:
        raise DataeffError(
            f"family '{family}': {len(table)} task(s) with an AUC and CoS-Low; leave-one-"
            "task-out calibration needs at least 4 (a fit on 3 others)",
            field="tasks",
            fix="calibrate a family with 4 or more tasks",
        )
    all_shapes = shape_set_from_efficiency(efficiency, source, tasks=table["task"])
    read = _reading_model(all_shapes, curve_model)
    by_task = {c.task: c for c in all_shapes.curves}
    rows: list[dict[str, Any]] = []
    for _, r in table.iterrows():
        task = r["task"]
        if task not in by_task:
            continue  # a flat curve: zero-shot already at the ceiling, nothing to predict
        others = table[table["task"] != task]
        fit = ols_fit(others["coslow_mean"].to_numpy(float), others["auc"].to_numpy(float))
        p = predict_auc(float(r["coslow_mean"]), fit)
        sd_draw = (
            float(r["coslow_std"]) if "coslow_std" in r and np.isfinite(r.get("coslow_std", np.nan)) else coslow_sd
        )
        sd = math.sqrt(p["auc_se"] ** 2 + (fit["slope"] * sd_draw) ** 2)
        noise = curve_noise(Curve.from_summary(efficiency[task]), all_shapes.model) if test_noise else (None, None)
        rows += evaluate_task(
            by_task[task],
            source=family,
            prior_mean=p["predicted_auc_raw"],
            prior_sd=sd,
            prior_df=p["auc_df"],
            shapes=replace(all_shapes.without(task), model=read),
            model=read,
            targets=targets,
            level=level,
            measured=measured,
            sigma=sigma,
            bandwidth=bandwidth,
            methods=methods,
            point_sd=noise[1],
            test_size=noise[0],
            library_sigma=library_sigma,
            library_jitter=library_jitter,
            paper_formula=curve_model == "paper",
        )
    return pd.DataFrame(rows, columns=list(TASK_COLUMNS))


# --------------------------------------------------------------------------- summaries


def summarise(tasks: pd.DataFrame, level: float, pooled: str | None = None) -> pd.DataFrame:
    """Coverage and median absolute error per (source, method, target, measured).

    ``pooled`` adds rows that pool every source under that name. ``error_ratio_vs_none`` is the
    median error with m measured budgets over the bayes median error with none.
    """
    frames = [tasks]
    if pooled is not None and tasks["source"].nunique() > 1:
        frames.append(tasks.assign(source=pooled))
    data = pd.concat(frames, ignore_index=True)
    rows = []
    for (src, method, tau, m), g in data.groupby(["source", "method", "target", "measured"], sort=True):
        reached = g[g["reached"]]
        ratio = (g["pred_high"] / g["pred_low"]).dropna()
        rows.append(
            {
                "source": src,
                "method": method,
                "target": tau,
                "measured": int(m),
                "n_tasks": len(g),
                "n_never_reached": int((~g["reached"]).sum()),
                "level": level,
                "coverage": float(g["covered"].mean()),
                "median_abs_error": float(g["abs_error"].median()),
                "median_abs_error_reached": float(reached["abs_error"].median()) if len(reached) else None,
                "median_interval_ratio": float(ratio.median()) if len(ratio) else None,
            }
        )
    out = pd.DataFrame(rows)
    base = out[(out["method"] == "bayes") & (out["measured"] == 0)].set_index(["source", "target"])
    out["error_ratio_vs_none"] = [
        r["median_abs_error"] / base.loc[(r["source"], r["target"]), "median_abs_error"]
        if (r["source"], r["target"]) in base.index and base.loc[(r["source"], r["target"]), "median_abs_error"] > 0
        else None
        for _, r in out.iterrows()
    ]
    return out[list(SUMMARY_COLUMNS)]


def markdown_table(summary: pd.DataFrame, title: str) -> str:
    """The summary as a Markdown table, with the issue's targets checked per row."""
    level = float(summary["level"].iloc[0])
    lines = [
        f"## {title}",
        "",
        f"Stated interval: {level:.0%}. Target coverage 70-90%; target error ratio (2 measured "
        "budgets vs none) at most 0.5. Budgets censored at N_max (see docs/PREDICTIONS.md).",
        "",
        "| source | method | tau | measured | tasks | never reached | coverage | median abs error "
        "(labels) | median abs error, reached | error / none | interval high/low |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def f(v: Any, fmt: str) -> str:
        return "NA" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, fmt)

    for _, r in summary.iterrows():
        cov = r["coverage"]
        mark = "" if 0.7 <= cov <= 0.9 else (" (low)" if cov < 0.7 else " (high)")
        lines.append(
            f"| {r['source']} | {r['method']} | {r['target']:g} | {r['measured']} | {r['n_tasks']} | "
            f"{r['n_never_reached']} | {cov:.0%}{mark} | {f(r['median_abs_error'], '.0f')} | "
            f"{f(r['median_abs_error_reached'], '.0f')} | {f(r['error_ratio_vs_none'], '.2f')} | "
            f"{f(r['median_interval_ratio'], '.1f')} |"
        )
    return "\n".join(lines) + "\n"
