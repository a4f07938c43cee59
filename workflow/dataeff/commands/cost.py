"""``dataeff cost``: GPU-hours of one family's grid from the Snakemake benchmark files.

Writes ``results/{family}/gpu_hours.tsv`` (task x budget GPU-hours, a CoS-Low column and totals;
budget 0 is the zero-shot evaluation) and, next to it, ``gpu_hours.json`` with the same numbers,
the GPUs counted per rule, wall hours, the cells that had no benchmark yet, and provenance.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dataeff.cluster.cost import format_table, gpu_hours_table
from dataeff.commands._common import add_config_arg, config_from
from dataeff.core.errors import DataeffError
from dataeff.core.io import atomic_write_json, atomic_write_text
from dataeff.core.provenance import provenance
from dataeff.core.settings import family_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "cost", help="GPU-hours of the grid (task x budget) from benchmark files", description=__doc__.splitlines()[0]
    )
    add_config_arg(p)
    p.add_argument("--family", required=True, help="model family (a key of config families)")
    p.add_argument("--benchmarks", default="results/benchmarks", help="root of the benchmark files")
    p.add_argument("--out", default=None, help="TSV to write (default results/{family}/gpu_hours.tsv)")
    p.add_argument("--json", default=None, help="JSON summary (default: the TSV path with .json)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    if args.family not in config["families"]:
        raise DataeffError(
            f"unknown family '{args.family}'", field="families", fix=f"use one of {', '.join(config['families'])}"
        )
    fam = family_settings(config["families"][args.family])
    table = gpu_hours_table(args.family, fam, list(config["tasks"]), list(config["budgets"]), args.benchmarks)
    out = Path(args.out or f"results/{args.family}/gpu_hours.tsv")
    summary = Path(args.json) if args.json else out.with_suffix(".json")
    atomic_write_text(out, format_table(table))
    atomic_write_json(
        summary,
        {
            **{k: table[k] for k in ("family", "columns", "rows", "totals", "total", "wall_hours", "gpus")},
            "missing": [list(cell) for cell in table["missing"]],
            "provenance": provenance(config=config, seed=config.get("seed"), model=fam.model),
        },
    )
    note = f", {len(table['missing'])} cell(s) without a benchmark" if table["missing"] else ""
    print(
        f"dataeff cost: {args.family}: {table['total']:.3f} GPU-hours "
        f"({table['wall_hours']:.3f} wall hours{note}) -> {out}"
    )
    return 0
