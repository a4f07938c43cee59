"""Per-family fit of AUC on CoS-Low, with honest uncertainty (docs/METHOD.md section 3).

For one model family: ordinary least squares AUC = slope * CoS-Low + intercept across tasks
(statsmodels, with standard errors and confidence intervals), Pearson and Spearman correlation
with seeded bootstrap intervals, the same for each baseline predictor (cos_sim_k, grad_norm_k,
conf_avg_k), and leave-one-task-out (LOTO) validation: for each task, fit on the others and
predict it. LOTO is the protocol behind the paper's reported prediction error, and its MAE is
what a user should expect for a new task; the in-sample r2 is optimistic.

``coefficients.json`` carries, besides slope and intercept, what a prediction interval needs
later without the data (``resid_std``, ``n_tasks``, ``mean_x``, ``sxx``), under the key names
of the config schema's ``coefficients`` definition; its ``config_entry`` is exactly that subset
and can be pasted under ``families.<name>.coefficients``.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dataeff.core.config import max_budget as config_max_budget
from dataeff.core.errors import DataeffError
from dataeff.core.io import atomic_write_json, atomic_write_text, read_json, read_text
from dataeff.core.provenance import file_hash, provenance
from dataeff.core.schema import top_level
from dataeff.core.settings import analysis_settings

#: predictor name -> column of predictors.tsv (the mean across CoS-Low seeds).
PREDICTORS: dict[str, str] = {
    "coslow": "coslow_mean",
    "cos_sim_k": "cos_sim_k_mean",
    "grad_norm_k": "grad_norm_k_mean",
    "conf_avg_k": "conf_avg_k_mean",
}
PREDICTOR_LABELS: dict[str, str] = {
    "coslow": "CoS-Low",
    "cos_sim_k": "cos_sim_k (random k)",
    "grad_norm_k": "grad_norm_k",
    "conf_avg_k": "conf_avg_k",
}
#: Keys of the config schema's ``coefficients`` definition.
CONFIG_KEYS = (
    "slope",
    "intercept",
    "slope_se",
    "intercept_se",
    "resid_std",
    "n_tasks",
    "mean_x",
    "sxx",
    "max_budget",
    "source",
)
MIN_TASKS = 3
#: Interval level when none is given (the schema's ``analysis.level``).
DEFAULT_LEVEL: float = analysis_settings(None).level

LOTO_COLUMNS = ("task", "coslow", "actual_auc", "predicted_auc", "error", "abs_error", "slope", "intercept")
CORRELATION_COLUMNS = (
    "predictor",
    "n_tasks",
    "pearson",
    "pearson_lo",
    "pearson_hi",
    "pearson_sd",
    "spearman",
    "spearman_lo",
    "spearman_hi",
    "spearman_sd",
    "slope",
    "slope_se",
    "intercept",
    "intercept_se",
    "r2",
    "loto_mae",
    "loto_rmse",
)


# --------------------------------------------------------------------------- inputs


def efficiency_records(data: Any, source: str | None = None) -> dict[str, dict[str, Any]]:
    """task -> record from an ``efficiency.json`` (flat, or under a ``tasks`` key)."""
    if isinstance(data, dict) and isinstance(data.get("tasks"), dict):
        data = data["tasks"]
    if not isinstance(data, dict):
        raise DataeffError(
            "expected an object mapping task -> {auc, ...}",
            file=source,
            fix="pass the efficiency.json written by `dataeff auc`",
        )
    records = {task: rec for task, rec in data.items() if isinstance(rec, dict) and "auc" in rec}
    if not records:
        raise DataeffError(
            "no task with an 'auc' found",
            file=source,
            field="auc",
            fix="pass the efficiency.json written by `dataeff auc`",
        )
    for task, rec in records.items():
        auc = rec["auc"]
        if isinstance(auc, bool) or not isinstance(auc, int | float) or not math.isfinite(auc):
            raise DataeffError(
                f"task '{task}': AUC {auc!r} is not a finite number",
                file=source,
                field=f"{task}.auc",
                fix="re-run `dataeff auc` for this family",
            )
    return records


def read_efficiency(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Read ``results/{family}/efficiency.json`` into task -> record."""

    return efficiency_records(read_json(path), str(path))


def read_predictors(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read ``predictors.tsv``; require ``task`` and a finite ``coslow_mean`` in every row."""

    text = read_text(path)
    try:
        df = pd.read_csv(io.StringIO(text), sep="\t", na_values=["NA", "nan", ""])
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataeffError(
            f"not a tab-separated table ({exc})".splitlines()[0],
            file=str(path),
            fix="write one header line and one row per task, tab-separated",
        ) from None
    for col in ("task", "coslow_mean"):
        if col not in df.columns:
            raise DataeffError(
                f"missing column '{col}'",
                file=str(path),
                field=col,
                fix="pass the predictors.tsv written by the CoS-Low stage",
            )
    df["task"] = df["task"].astype(str)
    dup = df["task"][df["task"].duplicated()]
    if len(dup):
        raise DataeffError(
            f"task '{dup.iloc[0]}' appears twice", file=str(path), field="task", fix="keep one row per task"
        )
    for col in PREDICTORS.values():
        if col in df.columns:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    bad = df.index[~np.isfinite(df["coslow_mean"].to_numpy(dtype=float))]
    if len(bad):
        i = int(bad[0])
        raise DataeffError(
            f"line {i + 2}: task '{df['task'].iloc[i]}' has no finite coslow_mean",
            file=str(path),
            field="coslow_mean",
            fix="re-run CoS-Low for this task or remove its row",
        )
    return df


def fit_table(efficiency: dict[str, dict[str, Any]], predictors: pd.DataFrame) -> pd.DataFrame:
    """One row per task present in both inputs: auc, zero_shot, max_acc, ceiling + predictors."""
    rows = []
    for task, rec in efficiency.items():
        rows.append(
            {
                "task": task,
                "auc": float(rec["auc"]),
                **{
                    k: (float(rec[k]) if isinstance(rec.get(k), int | float) else np.nan)
                    for k in ("zero_shot", "max_acc", "ceiling")
                },
            }
        )
    eff = pd.DataFrame(rows, columns=["task", "auc", "zero_shot", "max_acc", "ceiling"])
    table = eff.merge(predictors, on="task", how="inner").sort_values("task").reset_index(drop=True)
    return table


# --------------------------------------------------------------------------- statistics


def _check_xy(x: np.ndarray, y: np.ndarray, what: str = "CoS-Low") -> None:
    if len(x) < MIN_TASKS:
        raise DataeffError(
            f"only {len(x)} task(s) with both an AUC and {what}; a fit needs at least {MIN_TASKS}",
            field="tasks",
            fix=f"supply efficiency.json and predictors.tsv rows for {MIN_TASKS} or more tasks",
        )
    if float(np.ptp(x)) == 0.0:
        raise DataeffError(
            f"{what} is identical for every task; the slope is undefined",
            field=what,
            fix="supply tasks with different predictor values",
        )


def ols_fit(x: np.ndarray | list[float], y: np.ndarray | list[float], level: float = DEFAULT_LEVEL) -> dict[str, Any]:
    """OLS y = slope * x + intercept (statsmodels) with SEs, CIs and what a PI needs later."""
    import statsmodels.api as sm

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    _check_xy(x, y)
    res = sm.OLS(y, sm.add_constant(x, has_constant="add")).fit()
    ci = np.asarray(res.conf_int(alpha=1.0 - level))
    params, bse = np.asarray(res.params), np.asarray(res.bse)
    return {
        "slope": float(params[1]),
        "intercept": float(params[0]),
        "slope_se": float(bse[1]),
        "intercept_se": float(bse[0]),
        "slope_ci": [float(ci[1, 0]), float(ci[1, 1])],
        "intercept_ci": [float(ci[0, 0]), float(ci[0, 1])],
        "resid_std": float(math.sqrt(res.scale)),
        "n_tasks": len(x),
        "mean_x": float(x.mean()),
        "sxx": float(((x - x.mean()) ** 2).sum()),
        "x_min": float(x.min()),
        "x_max": float(x.max()),
        "r2": float(res.rsquared),
        "level": level,
    }


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


def _rowwise_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of each row pair of two (B, n) arrays; NaN where a row is constant."""
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    den = np.sqrt((xc**2).sum(axis=1) * (yc**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (xc * yc).sum(axis=1) / den
    r[~(den > 1e-300)] = np.nan
    return r


def correlations(
    x: np.ndarray | list[float], y: np.ndarray | list[float], n_boot: int, seed: int, level: float = DEFAULT_LEVEL
) -> dict[str, dict[str, float | None]]:
    """Pearson and Spearman r with percentile bootstrap intervals and spreads (tasks resampled).

    Resamples in which either variable is constant have no correlation and are skipped; with
    ``n_boot == 0`` the intervals are ``None``. Spearman ranks are re-computed within each
    resample (ties get average ranks).
    """
    from scipy.stats import rankdata

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    point = {"pearson": _pearson(x, y), "spearman": _pearson(rankdata(x), rankdata(y))}
    boots: dict[str, np.ndarray] = {"pearson": np.empty(0), "spearman": np.empty(0)}
    if n_boot > 0:
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, len(x), size=(n_boot, len(x)))
        bx, by = x[idx], y[idx]
        boots["pearson"] = _rowwise_pearson(bx, by)
        boots["spearman"] = _rowwise_pearson(rankdata(bx, axis=1), rankdata(by, axis=1))
    alpha = (1.0 - level) / 2.0
    out: dict[str, dict[str, float | None]] = {}
    for name, r in point.items():
        vals = boots[name][np.isfinite(boots[name])]
        if len(vals) >= 2:
            lo, hi = np.quantile(vals, [alpha, 1.0 - alpha])
            out[name] = {
                "r": _finite(r),
                "lo": float(lo),
                "hi": float(hi),
                "sd": float(vals.std(ddof=1)),
                "n_boot": len(vals),
            }
        else:
            out[name] = {"r": _finite(r), "lo": None, "hi": None, "sd": None, "n_boot": len(vals)}
    return out


def _finite(v: float) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Closed-form OLS line (used inside LOTO folds, where 2 points are allowed)."""
    xm, ym = x.mean(), y.mean()
    sxx = ((x - xm) ** 2).sum()
    if sxx == 0:
        return 0.0, float(ym)
    slope = float(((x - xm) * (y - ym)).sum() / sxx)
    return slope, float(ym - slope * xm)


def leave_one_task_out(
    tasks: list[str], x: np.ndarray | list[float], y: np.ndarray | list[float]
) -> tuple[pd.DataFrame, dict[str, float]]:
    """For each task, fit on the others and predict it; per-task rows and a summary.

    Summary: MAE, RMSE and largest absolute error of the predicted AUC, and the mean and
    standard deviation of slope and intercept across folds (how much one task moves the fit).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    _check_xy(x, y)
    rows = []
    for i, task in enumerate(tasks):
        keep = np.arange(len(x)) != i
        slope, intercept = _line(x[keep], y[keep])
        pred = slope * x[i] + intercept
        rows.append(
            {
                "task": task,
                "coslow": float(x[i]),
                "actual_auc": float(y[i]),
                "predicted_auc": float(pred),
                "error": float(pred - y[i]),
                "abs_error": float(abs(pred - y[i])),
                "slope": slope,
                "intercept": intercept,
            }
        )
    df = pd.DataFrame(rows, columns=list(LOTO_COLUMNS))
    err = df["error"].to_numpy()
    summary = {
        "mae": float(np.abs(err).mean()),
        "rmse": float(math.sqrt((err**2).mean())),
        "max_abs_error": float(np.abs(err).max()),
        "slope_mean": float(df["slope"].mean()),
        "slope_std": float(df["slope"].std(ddof=1)),
        "intercept_mean": float(df["intercept"].mean()),
        "intercept_std": float(df["intercept"].std(ddof=1)),
        "n_folds": len(df),
    }
    return df, summary


# --------------------------------------------------------------------------- the family fit


def require_tasks(tasks: list[str], family: str) -> None:
    """Refuse a family with fewer than :data:`MIN_TASKS` tasks having both an AUC and CoS-Low
    (the fit, and the figures drawn from it, need that many)."""
    if len(tasks) < MIN_TASKS:
        have = ", ".join(tasks) or "none"
        raise DataeffError(
            f"family '{family}': only {len(tasks)} task(s) with both an AUC and CoS-Low "
            f"({have}); a fit needs at least {MIN_TASKS}",
            field="tasks",
            fix="list 3 or more tasks in config 'tasks' and run their fine-tuning and CoS-Low",
        )


def fit_family(
    table: pd.DataFrame,
    *,
    family: str,
    n_boot: int | None = None,
    seed: int | None = None,
    max_budget: int | None = None,
    level: float = DEFAULT_LEVEL,
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """Fit one family: (coefficients record, LOTO table, correlations table)."""
    table = table.sort_values("task").reset_index(drop=True)
    tasks = table["task"].tolist()
    x = table["coslow_mean"].to_numpy(dtype=float)
    y = table["auc"].to_numpy(dtype=float)
    require_tasks(tasks, family)
    n_boot = int(n_boot if n_boot is not None else analysis_settings(None).bootstrap)
    seed = int(seed if seed is not None else top_level(None, "seed"))
    fit = ols_fit(x, y, level)
    corr = correlations(x, y, n_boot, seed, level)
    loto, loto_summary = leave_one_task_out(tasks, x, y)

    corr_rows = []
    baselines: dict[str, Any] = {}
    for name, col in PREDICTORS.items():
        if col not in table.columns:
            continue
        sub = table[np.isfinite(table[col].to_numpy(dtype=float))]
        bx, by = sub[col].to_numpy(dtype=float), sub["auc"].to_numpy(dtype=float)
        if len(sub) < MIN_TASKS or np.ptp(bx) == 0:
            continue
        bfit = fit if name == "coslow" else ols_fit(bx, by, level)
        bcorr = corr if name == "coslow" else correlations(bx, by, n_boot, seed, level)
        bsum = loto_summary if name == "coslow" else leave_one_task_out(sub["task"].tolist(), bx, by)[1]
        corr_rows.append(
            {
                "predictor": name,
                "n_tasks": len(sub),
                **{
                    f"pearson{s}": bcorr["pearson"][k]
                    for s, k in (("", "r"), ("_lo", "lo"), ("_hi", "hi"), ("_sd", "sd"))
                },
                **{
                    f"spearman{s}": bcorr["spearman"][k]
                    for s, k in (("", "r"), ("_lo", "lo"), ("_hi", "hi"), ("_sd", "sd"))
                },
                "slope": bfit["slope"],
                "slope_se": bfit["slope_se"],
                "intercept": bfit["intercept"],
                "intercept_se": bfit["intercept_se"],
                "r2": bfit["r2"],
                "loto_mae": bsum["mae"],
                "loto_rmse": bsum["rmse"],
            }
        )
        if name != "coslow":
            baselines[name] = {"fit": bfit, "pearson": bcorr["pearson"], "spearman": bcorr["spearman"], "loto": bsum}
    corr_df = pd.DataFrame(corr_rows, columns=list(CORRELATION_COLUMNS))

    record: dict[str, Any] = {
        **fit,
        "max_budget": int(max_budget) if max_budget else None,
        "source": f"fitted by dataeff on {len(tasks)} tasks: {', '.join(tasks)}",
        "family": family,
        "predictor": "coslow_mean",
        "tasks": tasks,
        "pearson": corr["pearson"],
        "spearman": corr["spearman"],
        "bootstrap": {"n": int(n_boot), "seed": int(seed), "level": level},
        "loto": loto_summary,
        "baselines": baselines,
    }
    record["config_entry"] = {k: record[k] for k in CONFIG_KEYS}
    return record, loto, corr_df


def json_safe(obj: Any) -> Any:
    """``obj`` with non-finite floats replaced by None (JSON has no NaN)."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def tsv_text(df: pd.DataFrame) -> str:
    """A table as TSV with ``NA`` for missing values and full float precision."""
    return df.to_csv(sep="\t", index=False, na_rep="NA", float_format="%.10g", lineterminator="\n")


def _read_table(path: str | os.PathLike[str], columns: tuple[str, ...], key: str) -> pd.DataFrame:
    """A TSV written by :func:`tsv_text`, with ``columns`` (``key`` as text, the rest numbers)."""

    fix = "pass the file `dataeff fit` wrote, or re-run `dataeff fit`"
    try:
        df = pd.read_csv(
            io.StringIO(read_text(path)), sep="\t", dtype={key: str}, keep_default_na=False, na_values=["NA"]
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise DataeffError(f"not a tab-separated table ({exc})".splitlines()[0], file=str(path), fix=fix) from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataeffError(f"missing column '{missing[0]}'", file=str(path), field=missing[0], fix=fix)
    for col in columns:
        if col != key:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    return df[list(columns)]


def read_loto(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read the ``loto.tsv`` that :func:`run_fit` wrote (columns :data:`LOTO_COLUMNS`)."""
    return _read_table(path, LOTO_COLUMNS, "task")


def read_correlations(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read the ``correlations.tsv`` that :func:`run_fit` wrote (columns :data:`CORRELATION_COLUMNS`)."""
    return _read_table(path, CORRELATION_COLUMNS, "predictor")


def run_fit(
    *,
    family: str,
    efficiency: str | os.PathLike[str],
    predictors: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    config: dict[str, Any] | None = None,
    n_boot: int | None = None,
    seed: int | None = None,
    max_budget: int | None = None,
    level: float | None = None,
) -> dict[str, Any]:
    """Read inputs, fit, and write coefficients.json, loto.tsv, correlations.tsv to ``out_dir``.

    Everything is computed before anything is written, so a bad input writes nothing.
    """

    analysis = analysis_settings(config)
    n_boot = int(n_boot if n_boot is not None else analysis.bootstrap)
    seed = int(seed if seed is not None else top_level(config, "seed"))
    level = float(level if level is not None else analysis.level)
    eff = read_efficiency(efficiency)
    if max_budget is None:
        found = {int(r["max_budget"]) for r in eff.values() if isinstance(r.get("max_budget"), int | float)}
        if len(found) == 1:
            max_budget = found.pop()
        elif config and config.get("budgets"):
            max_budget = config_max_budget(config)
    table = fit_table(eff, read_predictors(predictors))
    missing = sorted(set(eff) ^ set(table["task"]))
    record, loto, corr = fit_family(table, family=family, n_boot=n_boot, seed=seed, max_budget=max_budget, level=level)
    record["unmatched_tasks"] = missing
    record["provenance"] = provenance(config=config, seed=seed, data_hash=file_hash(efficiency, predictors))
    record = json_safe(record)
    out = Path(out_dir)
    atomic_write_text(out / "loto.tsv", tsv_text(loto))
    atomic_write_text(out / "correlations.tsv", tsv_text(corr))
    atomic_write_json(out / "coefficients.json", record)
    return record
