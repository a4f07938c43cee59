"""GPU-hours of the grid, from the Snakemake benchmark files of the compute rules.

Every compute job (fine-tune, evaluation, CoS-Low) writes a Snakemake ``benchmark:`` TSV whose
``s`` column is its wall-clock seconds. A job holds the GPUs it requested for that whole time,
so its cost is ``seconds x GPUs requested / 3600`` GPU-hours. :func:`gpu_hours_table` lays the
costs of one family out as task x budget (fine-tune + evaluation of that budget; budget 0 is
the zero-shot evaluation) plus a CoS-Low column and totals: what running the data-efficiency
grid cost, next to what CoS-Low costs to predict it.

Benchmark layouts read (relative to ``results/benchmarks``):

* ``{family}/{task}/{rule}_n{budget}.tsv`` (finetune, evaluate);
* ``{family}/{task}/{rule}_seed{seed}.tsv`` and ``{family}/{task}/{rule}.tsv`` (coslow);
* ``coslow/{family}/{task}/seed{seed}.tsv`` (coslow, older layout).
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataeff.core.errors import DataeffError
from dataeff.core.settings import FamilySettings

_NAME = re.compile(r"^(?P<rule>[A-Za-z_]+?)(?:_n(?P<budget>\d+)|_seed(?P<seed>\d+))?$")


@dataclass(frozen=True)
class Benchmark:
    """One benchmark file: which job it measured and how long it ran."""

    rule: str
    task: str
    budget: int | None
    seconds: float
    path: str


def read_benchmark_seconds(path: str | os.PathLike[str]) -> float:
    """Total wall seconds in a Snakemake benchmark TSV (summed over --benchmark-repeats rows)."""
    text = Path(path).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text), delimiter="\t"))
    if not rows or "s" not in rows[0]:
        raise DataeffError(
            "not a Snakemake benchmark file (no 's' column)",
            file=str(path),
            fix="delete it and re-run the job that writes it",
        )
    total = 0.0
    for i, row in enumerate(rows, start=2):
        try:
            value = float(row["s"])
        except (TypeError, ValueError):
            raise DataeffError(
                f"line {i}: seconds '{row['s']}' is not a number",
                file=str(path),
                field="s",
                fix="delete it and re-run the job that writes it",
            ) from None
        if math.isfinite(value) and value > 0:
            total += value
    return total


def find_benchmarks(family: str, benchmarks: str | os.PathLike[str] = "results/benchmarks") -> list[Benchmark]:
    """Every benchmark file of ``family`` (see the module docstring for the layouts)."""
    root = Path(benchmarks)
    found: list[Benchmark] = []
    for path in sorted((root / family).glob("*/*.tsv")):
        m = _NAME.match(path.stem)
        if not m:
            continue
        budget = m.group("budget")
        found.append(
            Benchmark(
                m.group("rule"),
                path.parent.name,
                int(budget) if budget is not None else None,
                read_benchmark_seconds(path),
                str(path),
            )
        )
    for path in sorted((root / "coslow" / family).glob("*/*.tsv")):
        found.append(Benchmark("coslow", path.parent.name, None, read_benchmark_seconds(path), str(path)))
    return found


def gpus_per_rule(settings: FamilySettings) -> dict[str, int]:
    """GPUs each rule requests for this family (as the rules' ``gpu`` resources compute them)."""
    gpus = int(settings.gpus)
    return {"finetune": gpus, "evaluate": min(1, gpus), "coslow": min(1, gpus)}


def gpu_hours_table(
    family: str,
    settings: FamilySettings,
    tasks: list[str],
    budgets: list[int],
    benchmarks: str | os.PathLike[str] = "results/benchmarks",
) -> dict[str, Any]:
    """Task x budget GPU-hours of one family (``settings``: its entry), with CoS-Low and totals.

    Returns ``{"columns", "rows": {task: {column: hours}}, "totals": {column: hours}, "total",
    "wall_hours", "gpus", "missing"}``; ``missing`` lists (task, column) cells without any
    benchmark (jobs not run yet), which count as 0.
    """
    gpus = gpus_per_rule(settings)
    columns = [f"n{b}" for b in [0, *sorted(b for b in budgets if b != 0)]] + ["coslow"]
    rows = {task: dict.fromkeys(columns, 0.0) for task in tasks}
    seen: set[tuple[str, str]] = set()
    wall = 0.0
    for bench in find_benchmarks(family, benchmarks):
        if bench.task not in rows:
            continue
        column = "coslow" if bench.rule == "coslow" else f"n{bench.budget}"
        if column not in rows[bench.task]:
            continue
        hours = bench.seconds * gpus.get(bench.rule, gpus["evaluate"]) / 3600
        rows[bench.task][column] += hours
        wall += bench.seconds / 3600
        seen.add((bench.task, column))
    for row in rows.values():
        row["total"] = sum(row[c] for c in columns)
    totals = {c: sum(rows[t][c] for t in tasks) for c in [*columns, "total"]}
    missing = [(t, c) for t in tasks for c in columns if (t, c) not in seen]
    return {
        "family": family,
        "columns": [*columns, "total"],
        "rows": rows,
        "totals": totals,
        "total": totals["total"],
        "wall_hours": wall,
        "gpus": gpus,
        "missing": missing,
    }


def format_table(table: Mapping[str, Any], digits: int = 4) -> str:
    """The table as TSV: one row per task, then a ``total`` row."""
    cols = table["columns"]
    lines = ["\t".join(["task", *cols])]
    for task, row in table["rows"].items():
        lines.append("\t".join([task, *(f"{row[c]:.{digits}f}" for c in cols)]))
    lines.append("\t".join(["total", *(f"{table['totals'][c]:.{digits}f}" for c in cols)]))
    return "\n".join(lines) + "\n"
