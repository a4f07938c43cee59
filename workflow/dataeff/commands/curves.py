"""``dataeff curves``: figures of one family's data-efficiency curves.

Reads ``efficiency.json`` (written by ``dataeff auc``) and writes ``curves.png/.pdf`` (one
panel per task, least data-efficient first) and ``overlay.png/.pdf`` (all tasks, coloured by
AUC) to ``--out-dir``. With ``--results`` the curves are recomputed from the per-budget files
(same grid and ceilings) and must match the stored AUCs, which catches a stale efficiency.json.
"""

from __future__ import annotations

import argparse
import math

from dataeff.commands.auc import add_curve_arguments, resolve_curve_arguments
from dataeff.core.errors import DataeffError
from dataeff.core.io import read_json
from dataeff.efficiency.auc import Curve, compute_curve
from dataeff.efficiency.results import read_family
from dataeff.pipeline.config import load_optional_config


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "curves", help="plot data-efficiency curves of one family", description=__doc__.splitlines()[0]
    )
    p.add_argument("--efficiency", required=True, help="efficiency.json written by dataeff auc")
    p.add_argument("--family", required=True, help="model family (figure titles, result file prefix)")
    p.add_argument(
        "--results",
        default=None,
        help="directory of {family}_{task}_full_result_v2.json to recompute and check the curves",
    )
    p.add_argument("--config", default=None, help="config (YAML or resolved JSON) for grid and N_max")
    p.add_argument("--out-dir", required=True, help="directory for curves.png/.pdf and overlay.png/.pdf")
    add_curve_arguments(p)
    p.set_defaults(func=run)


def load_efficiency(path: str) -> dict[str, Curve]:
    """Task -> curve from an ``efficiency.json``; a malformed entry names the task and key."""
    data = read_json(path)
    if not isinstance(data, dict) or not data:
        raise DataeffError("expected an object mapping task -> {auc, curve, ...}", file=path, fix="re-run dataeff auc")
    curves = {}
    for task, record in data.items():
        try:
            curves[task] = Curve.from_summary(record)
        except (KeyError, TypeError, ValueError) as exc:
            raise DataeffError(
                f"task '{task}': missing or bad entry {exc}",
                file=path,
                field=task,
                fix="re-run dataeff auc (this file predates the curve fields)",
            ) from None
    return curves


def run(args: argparse.Namespace) -> int:
    from dataeff.plots.curves import write_curve_figures  # matplotlib only when plotting

    curves = load_efficiency(args.efficiency)
    config = load_optional_config(args.config, default=False)
    grid = None
    if args.results is not None:
        grid, n_max = resolve_curve_arguments(args, config)
        results, _ = read_family(args.results, args.family, sorted(curves))
        for task, stored in curves.items():
            fresh = compute_curve(results[task], stored.human_ceiling, grid, n_max, stored.floor)
            if not math.isclose(fresh.auc, stored.auc, rel_tol=0, abs_tol=1e-9):
                raise DataeffError(
                    f"task '{task}': AUC {stored.auc:.6f} does not match {fresh.auc:.6f} "
                    f"recomputed from {args.results}",
                    file=args.efficiency,
                    field=task,
                    fix="re-run dataeff auc with the same --grid and --max-budget",
                )
            curves[task] = fresh
    elif args.grid is not None:
        grid = args.grid
    paths = write_curve_figures(curves, args.family, args.out_dir, grid=grid)
    print(f"dataeff curves: {len(paths)} files -> {args.out_dir}")
    return 0
