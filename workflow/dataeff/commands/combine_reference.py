"""``dataeff combine-reference``: this run's tasks among a reference run's, for the fit and figures."""

from __future__ import annotations

import argparse

from dataeff.core.io import atomic_write_json, atomic_write_text, read_json, read_text
from dataeff.efficiency.reference import combine


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "combine-reference",
        help="add a reference run's tasks to this run's efficiency and predictors",
        description="Write efficiency.json and predictors.tsv holding the reference run's tasks plus this "
        "run's own (marked '*', replacing a reference task of the same name), so the fit and "
        "figures place this run's tasks among the reference's (see dataeff.efficiency.reference).",
    )
    p.add_argument("--efficiency", required=True, help="this run's results/{family}/efficiency.json")
    p.add_argument("--predictors", required=True, help="this run's results/{family}/predictors.tsv")
    p.add_argument("--ref-efficiency", required=True, help="efficiency.json of the reference tasks")
    p.add_argument("--ref-predictors", required=True, help="the reference's {family}_predictors.tsv")
    p.add_argument("--reference", required=True, help="the reference directory (recorded as the origin)")
    p.add_argument("--out-efficiency", required=True)
    p.add_argument("--out-predictors", required=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataeff.prediction.fit import efficiency_records

    own = efficiency_records(read_json(args.efficiency), args.efficiency)
    ref = efficiency_records(read_json(args.ref_efficiency), args.ref_efficiency)
    eff, table = combine(own, read_text(args.predictors), ref, read_text(args.ref_predictors), args.reference)
    atomic_write_json(args.out_efficiency, eff)
    atomic_write_text(args.out_predictors, table)
    print(f"dataeff combine-reference: {len(own)} own task(s) among {len(eff) - len(own)} of {args.reference}")
    return 0
