"""``dataeff auc``: per-task data-efficiency AUCs of one model family.

Reads every ``{family}_{task}_full_result_v2.json`` in ``--results`` (the paper's published
layout, or what ``dataeff aggregate`` wrote from the pipeline's evaluations) and writes
``--out`` (JSON, task -> {auc, zero_shot, max_acc, ceiling, ...}) and optionally ``--tsv``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dataeff.core.config import max_budget as config_max_budget
from dataeff.core.errors import DataeffError
from dataeff.core.io import atomic_write_json, atomic_write_text, read_json
from dataeff.core.provenance import file_hash, provenance
from dataeff.core.settings import analysis_settings
from dataeff.efficiency.auc import PAPER_GRID, Curve, efficiency_tsv, family_curves, resolve_grid
from dataeff.efficiency.results import read_ceilings, read_family, read_floor, validate_ceilings
from dataeff.pipeline.config import load_optional_config
from dataeff.tasks.registry import ceilings as registry_ceilings


def parse_grid(text: str) -> list[int]:
    """``"50,100,200"`` -> ``[50, 100, 200]`` (argparse type)."""
    try:
        grid = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not grid or any(b <= 0 for b in grid):
        raise argparse.ArgumentTypeError(f"expected positive budgets, got {text!r}")
    return grid


def parse_tasks(text: str) -> list[str]:
    """``"a,b"`` -> ``["a", "b"]`` (argparse type)."""
    return [t for t in text.replace(" ", "").split(",") if t]


def add_curve_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``auc`` and ``curves``: the grid and N_max."""
    parser.add_argument(
        "--grid",
        type=parse_grid,
        default=None,
        help="positive budgets, comma-separated (default: the config's budgets with "
        "--config, else the paper's 50,100,200,500,1000,2500,5000)",
    )
    parser.add_argument(
        "--max-budget",
        type=int,
        default=None,
        help="N_max, the budget at x = 1 (default: the config's max_budget with "
        "--config, else the largest grid budget)",
    )


def resolve_curve_arguments(args: argparse.Namespace, config: Mapping[str, Any] | None) -> tuple[list[int], int]:
    """Grid and N_max from the options, else the config, else the paper's."""
    grid = args.grid
    if grid is None:
        grid = sorted(config["budgets"]) if config is not None else list(PAPER_GRID)
    max_budget = args.max_budget
    if max_budget is None and config is not None:
        max_budget = config_max_budget(dict(config))
    return resolve_grid(grid, max_budget)


def resolve_ceilings(
    ceilings_path: str | None, config: Mapping[str, Any] | None
) -> tuple[dict[str, float | None], str]:
    """Ceilings and where they came from: ``--ceilings``, else the config's
    ``analysis.ceilings`` file, else the task registry (``dataeff.tasks.registry.ceilings``)."""
    if ceilings_path is None and config is not None:
        ceilings_path = analysis_settings(config).ceilings
    if ceilings_path is not None:
        return read_ceilings(ceilings_path), str(ceilings_path)
    if config is None:
        raise DataeffError(
            "no ceilings given",
            field="--ceilings",
            fix='pass --ceilings FILE ({task: {"score": number or null}}) or --config',
        )

    return dict(registry_ceilings(dict(config))), "task registry"


#: Values of ``--floor`` / ``analysis.floor``.
FLOOR_RULES = ("zero_shot", "majority", "fair")


def resolve_floors(
    rule: str | None, config: Mapping[str, Any] | None, files: Mapping[str, os.PathLike[str] | str]
) -> tuple[str, dict[str, float] | None]:
    """The floor rule (option, else the config's ``analysis.floor``, whose schema default is the
    paper's ``zero_shot``) and, for ``majority`` and ``fair``, each task's floor read from its
    curve file."""
    if rule is None:
        rule = analysis_settings(config).floor
    if rule == "zero_shot":
        return rule, None
    return rule, {task: read_floor(path, rule) for task, path in files.items()}


#: The chance scores a curve file records (:mod:`dataeff.efficiency.chance`) that ``efficiency.json`` repeats
#: beside the floor it used, so the floor can be checked against its parts.
CHANCE_KEYS = ("score", "majority_share", "n_answers", "options_guess", "options_source", "fair_score", "n_test")


def chance_parts(path: os.PathLike[str] | str) -> dict[str, Any] | None:
    """The curve file's chance record, restricted to :data:`CHANCE_KEYS` (None: it has none)."""
    data = read_json(path)
    chance = data.get("chance") if isinstance(data, dict) else None
    if not isinstance(chance, dict):
        return None
    return {k: chance.get(k) for k in CHANCE_KEYS if k in chance}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "auc", help="data-efficiency AUC per task of one family", description=__doc__.splitlines()[0]
    )
    p.add_argument("--results", required=True, help="directory of {family}_{task}_full_result_v2.json files")
    p.add_argument("--family", required=True, help="model family (file name prefix)")
    p.add_argument(
        "--ceilings",
        default=None,
        help='JSON {task: {"score": number or null}}; default: config analysis.ceilings, '
        "else the task registry (needs --config)",
    )
    p.add_argument("--config", default=None, help="config (YAML or resolved JSON) for grid, N_max, ceilings")
    p.add_argument(
        "--tasks",
        type=parse_tasks,
        default=None,
        help="comma-separated tasks to require (default: every file of the family)",
    )
    p.add_argument(
        "--unknown-ceiling-ok",
        action="store_true",
        help="treat a task missing from the ceilings file as unknown (ceiling = best accuracy) instead of an error",
    )
    p.add_argument(
        "--floor",
        choices=FLOOR_RULES,
        default=None,
        help="bottom of the normalisation: zero_shot (the paper's: the first point), majority "
        "(max of the first point and the majority-answer score each curve file records) or fair "
        "(max of the first point, the majority score and a uniform guess among each example's "
        "options); default: the config's analysis.floor, else zero_shot",
    )
    p.add_argument("--out", required=True, help="output JSON: task -> {auc, zero_shot, max_acc, ceiling, ...}")
    p.add_argument("--tsv", default=None, help="also write the table as TSV")
    add_curve_arguments(p)
    p.set_defaults(func=run)


def _origin(path: os.PathLike[str] | str, family: str, config: Mapping[str, Any] | None) -> dict[str, Any]:
    """Seed, model and model revision behind a curve file: its own provenance (written by
    ``dataeff aggregate``), else the config's family entry (published curves carry none)."""

    data = read_json(path)
    prov = data.get("provenance") if isinstance(data, dict) else None
    if isinstance(prov, dict) and prov.get("model") is not None:
        return {k: prov.get(k) for k in ("seed", "model", "model_revision")}
    fam = ((config or {}).get("families") or {}).get(family) or {}
    return {"seed": (config or {}).get("seed"), "model": fam.get("model"), "model_revision": fam.get("revision")}


def efficiency_records(
    curves: Mapping[str, Curve],
    family: str,
    grid: Sequence[int],
    files: Mapping[str, os.PathLike[str] | str],
    ceilings_source: str,
    config: Mapping[str, Any] | None,
) -> dict[str, dict[str, Any]]:
    """The ``efficiency.json`` object: per task the curve summary plus where it came from."""
    out: dict[str, dict[str, Any]] = {}
    for task, curve in curves.items():
        origin = _origin(files[task], family, config)
        prov = provenance(
            config=config if config is not None else {"grid": list(grid), "max_budget": curve.max_budget},
            data_hash=file_hash(files[task]),
            **origin,
        )
        out[task] = {
            **curve.summary(),
            "family": family,
            "grid": list(grid),
            "source": str(files[task]),
            "ceilings_source": ceilings_source,
            "provenance": prov,
        }
    return out


def run(args: argparse.Namespace) -> int:
    config = load_optional_config(args.config, default=False)
    grid, n_max = resolve_curve_arguments(args, config)
    ceilings, source = resolve_ceilings(args.ceilings, config)
    results, files = read_family(args.results, args.family, args.tasks)
    validate_ceilings(ceilings, results, source)
    floor_rule, floors = resolve_floors(args.floor, config, files)
    curves = family_curves(
        results,
        ceilings,
        grid,
        n_max,
        ceilings_source=source,
        unknown_ceiling_ok=args.unknown_ceiling_ok,
        floors=floors,
    )
    records = efficiency_records(curves, args.family, grid, files, source, config)
    for task, record in records.items():
        record["floor_rule"] = floor_rule
        record["chance"] = chance_parts(files[task])  # the floor's parts: zero-shot, majority, options guess
    if args.tsv:
        atomic_write_text(args.tsv, efficiency_tsv(curves))
    atomic_write_json(args.out, records)
    print(f"dataeff auc: {len(curves)} tasks of '{args.family}' -> {Path(args.out)}")
    return 0
