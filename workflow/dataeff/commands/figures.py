"""``dataeff figures``: the paper's prediction figures and tables for one family."""

from __future__ import annotations

import argparse
from pathlib import Path

from dataeff.core.settings import analysis_settings
from dataeff.pipeline.config import load_optional_config
from dataeff.prediction.published import published_coefficients


def _targets(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated fractions, got {text!r}") from None
    if not values or any(not 0.0 < v < 1.0 for v in values):
        raise argparse.ArgumentTypeError(f"targets must lie in (0, 1), got {text!r}")
    return values


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "figures",
        help="correlation, leave-one-task-out, curve and savings figures for one family",
        description="Write the prediction figures (PNG + PDF: correlations, loto, predicted_curves, "
        "zero_shot_vs_best, zero_shot_vs_auc, savings) and tables (coefficients.csv, "
        "savings.csv) of one family to --out-dir. Every per-task prediction comes from the "
        "leave-one-task-out fit that did not see the task. The correlation and leave-one-task-out "
        "figures draw the tables `dataeff fit` wrote (--loto, --correlations); nothing is refitted.",
    )
    p.add_argument("--family", required=True)
    p.add_argument("--efficiency", required=True, help="results/{family}/efficiency.json")
    p.add_argument("--predictors", required=True, help="results/{family}/predictors.tsv")
    p.add_argument("--coefficients", required=True, help="results/{family}/coefficients.json")
    p.add_argument("--loto", required=True, help="results/{family}/loto.tsv (written by `dataeff fit`)")
    p.add_argument("--correlations", required=True, help="results/{family}/correlations.tsv (written by `dataeff fit`)")
    p.add_argument("--out-dir", required=True, help="results/{family}/figures")
    p.add_argument(
        "--finetune-results",
        default=None,
        help="results/{family}/finetune_results, to recompute curves efficiency.json lacks",
    )
    p.add_argument(
        "--targets",
        type=_targets,
        default=None,
        help="comma-separated target fractions (default config analysis.targets, else 0.5,0.7,0.9)",
    )
    p.add_argument(
        "--compare-published",
        action="store_true",
        help="add the paper's coefficients for this family to coefficients.csv (if published)",
    )
    p.add_argument("--config", default=None, help="pipeline config (default: the packaged default configuration)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataeff.plots.analysis import measured_curves, write_all
    from dataeff.prediction.budget import DEFAULT_MAX_BUDGET
    from dataeff.prediction.coefficients import coefficients_from_file
    from dataeff.prediction.fit import (
        fit_table,
        read_correlations,
        read_efficiency,
        read_loto,
        read_predictors,
        require_tasks,
    )

    config = load_optional_config(args.config)
    analysis = analysis_settings(config)
    targets = args.targets or list(analysis.targets)
    eff = read_efficiency(args.efficiency)
    table = fit_table(eff, read_predictors(args.predictors))
    require_tasks(table["task"].tolist(), args.family)
    loto, correlations = read_loto(args.loto), read_correlations(args.correlations)
    coefs = coefficients_from_file(args.coefficients, args.family)
    max_budget = int(
        coefs.get("max_budget")
        or next((r["max_budget"] for r in eff.values() if r.get("max_budget")), DEFAULT_MAX_BUDGET)
    )
    curves = measured_curves(eff, args.finetune_results, args.family)
    extra = {}
    if args.compare_published and (pub := published_coefficients(args.family)):
        extra[f"{args.family} (published)"] = pub
    level = float(analysis.calibration.level)
    written = write_all(
        family=args.family,
        table=table,
        curves=curves,
        coefficients=coefs,
        loto=loto,
        correlations=correlations,
        out_dir=args.out_dir,
        max_budget=max_budget,
        targets=targets,
        extra_coefficients=extra,
        efficiency=eff,
        level=level,
        coslow_sd=analysis.coslow_sd,
        loto_source=args.loto,
    )
    print(f"dataeff figures: {len(written)} files for '{args.family}' in {Path(args.out_dir)}")
    return 0
