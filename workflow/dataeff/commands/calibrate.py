"""``dataeff calibrate``: measured coverage and error of the budget intervals, leave-one-task-out."""

from __future__ import annotations

import argparse
from pathlib import Path

from dataeff.core.errors import DataeffError
from dataeff.core.provenance import file_hash, provenance
from dataeff.core.settings import analysis_settings
from dataeff.pipeline.config import load_optional_config


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "calibrate",
        help="coverage and error of budget intervals, leave-one-task-out",
        description="Hold out each task in turn, predict the labels it needs for every target from the "
        "other tasks (with 0, 1, 2 measured budgets), and compare with its measured curve: "
        "coverage of the stated interval and median absolute budget error. Writes tasks.tsv, "
        "calibration.tsv, calibration.md, calibration.json and calibration.png/.pdf to "
        "--out-dir. Either --paper (the published curves shipped with dataeff) or "
        "--family with --efficiency and --predictors (a family's own study results).",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--paper",
        nargs="*",
        metavar="FAMILY",
        help="calibrate on the paper's published curves of these families "
        "(default: config analysis.calibration.families)",
    )
    src.add_argument("--family", help="calibrate on this family's own results")
    p.add_argument("--efficiency", help="results/{family}/efficiency.json (with --family)")
    p.add_argument("--predictors", help="results/{family}/predictors.tsv (with --family)")
    p.add_argument("--out-dir", required=True, help="where to write the tables and the figure")
    p.add_argument("--config", default=None, help="pipeline config (default config/config.yaml if present)")
    p.add_argument(
        "--curve-model",
        choices=("grid", "paper"),
        default="grid",
        help="how a predicted AUC becomes a budget, as in `dataeff budget --curve-model` (default grid)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataeff.plots.calibration import write_calibration
    from dataeff.prediction.calibration import (
        calibrate_published,
        calibrate_study,
        recorded_settings,
    )

    config = load_optional_config(args.config)
    analysis = analysis_settings(config)
    cal = analysis.calibration
    common = {
        "targets": [float(t) for t in analysis.targets],
        "level": cal.level,
        "measured": cal.measured,
        "sigma": float(analysis.update_sigma),
        "bandwidth": float(analysis.shape_bandwidth),
        "library_sigma": float(analysis.library_sigma),
        "library_jitter": float(analysis.library_jitter),
        "curve_model": args.curve_model,
    }
    if args.family:
        for flag in ("efficiency", "predictors"):
            if not getattr(args, flag):
                raise DataeffError(
                    f"--family needs --{flag}",
                    field=f"--{flag}",
                    fix=f"pass results/{args.family}/{flag}.{'json' if flag == 'efficiency' else 'tsv'}",
                )
        from dataeff.prediction.fit import read_efficiency, read_predictors

        tasks = calibrate_study(
            read_efficiency(args.efficiency),
            read_predictors(args.predictors),
            family=args.family,
            coslow_sd=float(analysis.coslow_sd),
            source=args.efficiency,
            **common,
        )
        title = f"{args.family}: budget intervals, leave-one-task-out"
        prov = provenance(config=config, seed=cal.seed, data_hash=file_hash(args.efficiency, args.predictors))
        pooled = None
    else:
        families = args.paper or list(cal.families)
        tasks = calibrate_published(families, neighbours=cal.neighbours, seed=cal.seed, **common)
        title = f"Published curves ({', '.join(families)}): budget intervals, leave-one-task-out"
        prov = provenance(config=config, seed=cal.seed)
        pooled = "paper (all)"
    if args.curve_model != "grid":  # the default's outputs stay as they were
        title += f", curve model {args.curve_model}"
        prov["curve_model"] = args.curve_model
    prov = {**prov, "settings": recorded_settings(analysis)}
    written = write_calibration(tasks, args.out_dir, title=title, level=cal.level, provenance=prov, pooled=pooled)
    print(f"dataeff calibrate: {len(written)} files in {Path(args.out_dir)}")
    return 0
