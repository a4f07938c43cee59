"""``dataeff fit``: per-family OLS of AUC on CoS-Low, correlations, leave-one-task-out."""

from __future__ import annotations

import argparse
from pathlib import Path

from dataeff.core.errors import DataeffError
from dataeff.pipeline.config import load_optional_config


def _fmt(v: float | None) -> str:
    return "NA" if v is None else f"{v:.3f}"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "fit",
        help="fit AUC = slope * CoS-Low + intercept for one family",
        description="Fit AUC on CoS-Low across a family's tasks (OLS with SEs), correlate every predictor "
        "with AUC (bootstrap intervals) and validate leave-one-task-out. Writes "
        "coefficients.json, loto.tsv and correlations.tsv to --out-dir.",
    )
    p.add_argument("--family", required=True, help="model family name (recorded in the output)")
    p.add_argument("--efficiency", required=True, help="results/{family}/efficiency.json")
    p.add_argument("--predictors", required=True, help="results/{family}/predictors.tsv")
    p.add_argument("--out-dir", required=True, help="directory for the three outputs (results/{family})")
    p.add_argument("--config", default=None, help="pipeline config (default: the packaged default configuration)")
    p.add_argument(
        "--bootstrap", type=int, default=None, help="bootstrap resamples (default config analysis.bootstrap)"
    )
    p.add_argument("--seed", type=int, default=None, help="bootstrap seed (default config seed)")
    p.add_argument(
        "--max-budget",
        type=int,
        default=None,
        help="N_max of the AUC, recorded with the coefficients (default from efficiency.json/config)",
    )
    p.add_argument(
        "--level", type=float, default=None, help="confidence level of intervals (default config analysis.level, 0.95)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataeff.prediction.fit import run_fit

    if args.level is not None and not 0.0 < args.level < 1.0:
        raise DataeffError(f"level {args.level} is outside (0, 1)", field="--level", fix="e.g. 0.95")
    if args.bootstrap is not None and args.bootstrap < 0:
        raise DataeffError("bootstrap must be >= 0", field="--bootstrap", fix="e.g. 1000")

    config = load_optional_config(args.config)
    rec = run_fit(
        family=args.family,
        efficiency=args.efficiency,
        predictors=args.predictors,
        out_dir=args.out_dir,
        config=config,
        n_boot=args.bootstrap,
        seed=args.seed,
        max_budget=args.max_budget,
        level=args.level,
    )
    pr, loto = rec["pearson"], rec["loto"]
    ci = f" [{pr['lo']:.3f}, {pr['hi']:.3f}]" if pr["lo"] is not None else ""
    print(
        f"{args.family}: AUC = {rec['slope']:.4f} (±{rec['slope_se']:.4f}) * CoS-Low + "
        f"{rec['intercept']:.4f} (±{rec['intercept_se']:.4f}) on {rec['n_tasks']} tasks; "
        f"Pearson r {_fmt(pr['r'])}{ci}; leave-one-task-out MAE {loto['mae']:.4f}, RMSE {loto['rmse']:.4f}"
    )
    print(f"wrote {Path(args.out_dir) / 'coefficients.json'}, loto.tsv, correlations.tsv")
    return 0
