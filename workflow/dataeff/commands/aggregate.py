"""``dataeff aggregate``: the pipeline's eval JSONs of one family -> the paper's result layout.

Writes ``{out_dir}/{family}_{task}_full_result_v2.json`` = ``{"0": {"accuracy": ..}, "16": ..}``
per task, so ``dataeff auc`` reads the pipeline's results and the paper's the same way. It also
records the task's chance scores (``"chance"``, :mod:`dataeff.efficiency.chance`: the majority-answer score,
the expected score of a uniform guess among each example's options, and their maximum), from the
gold answers and option counts in the ``.predictions.jsonl`` beside each eval JSON, for
``analysis.floor: majority`` and ``fair``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from dataeff.core.io import atomic_write_json, read_json
from dataeff.core.provenance import file_hash, provenance
from dataeff.efficiency.chance import chance_of_evals
from dataeff.efficiency.results import aggregate_evals, result_filename


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "aggregate", help="collect eval JSONs into per-task curve files", description=__doc__.splitlines()[0]
    )
    p.add_argument("--family", required=True, help="model family of every eval file")
    p.add_argument(
        "--evals",
        nargs="+",
        required=True,
        metavar="EVAL_JSON",
        help="results/{family}/{task}/eval/n{budget}.json files (several seeds allowed)",
    )
    p.add_argument("--out-dir", required=True, help="directory for {family}_{task}_full_result_v2.json")
    p.set_defaults(func=run)


def _from_evals(sources: list[str], family: str, task: str) -> dict[str, Any]:
    """Seed, model and configuration of the evaluations a curve was built from, so the curve
    file is traceable on its own: one value when all evaluations agree, else the sorted list."""
    provs = [(read_json(src).get("provenance") or {}) for src in sources]

    def common(key: str) -> Any:
        values = sorted({json.dumps(p.get(key), sort_keys=True) for p in provs})
        decoded = [json.loads(v) for v in values]
        return decoded[0] if len(decoded) == 1 else decoded

    return {
        "config": {"family": family, "task": task, "evals": [p.get("config_hash") for p in provs]},
        "seed": common("seed"),
        "model": common("model"),
        "model_revision": common("model_revision"),
    }


def run(args: argparse.Namespace) -> int:
    tables = aggregate_evals(args.evals, args.family)  # validates everything before writing
    out_dir = Path(args.out_dir)
    for task, layout in tables.items():
        sources = sorted(src for entry in layout.values() for src in entry["sources"])
        prov = provenance(**_from_evals(sources, args.family, task), data_hash=file_hash(*sources))
        record = {**layout, "provenance": prov}
        chance = chance_of_evals(sources, metric=str(next(iter(layout.values()))["metric"]))
        if chance is not None:
            record["chance"] = chance
        atomic_write_json(out_dir / result_filename(args.family, task), record)
    print(f"dataeff aggregate: {len(tables)} task(s) of '{args.family}' -> {out_dir}")
    return 0
