"""Place a run's tasks among a reference run's results, for one family's fit and figures.

A fit of AUC on CoS-Low needs many tasks; a short run (the embedded default trains two) has too
few to mean anything on its own. With ``analysis.reference_results`` naming a directory of
another run's results of the same family and protocol (the committed study,
``study/results/smollm2``: curves in the paper's layout, ``{family}_predictors.tsv`` and
``ceilings.json``), the fit and figures see the reference's tasks plus this run's own. This
run's tasks are marked (their name ends in :data:`MARK`) and replace a reference task of the
same name, so a figure shows where the new measurements fall among the reference ones.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dataeff.core.errors import DataeffError
from dataeff.efficiency.results import result_filename

#: Suffix that marks this run's own tasks in the combined tables and every figure.
MARK = "*"


def predictors_path(root: str | os.PathLike[str], family: str) -> Path:
    return Path(root) / f"{family}_predictors.tsv"


def reference_tasks(root: str | os.PathLike[str], family: str, exclude: Iterable[str] = ()) -> list[str]:
    """Tasks of the reference directory with both a curve file and a predictors row, except
    ``exclude`` (this run's own tasks), sorted. Standard library only (the Snakefile calls it)."""

    path = predictors_path(root, family)
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    names = {line.split("\t", 1)[0] for line in lines if line.strip()}
    skip = set(exclude)
    return sorted(t for t in names - skip if (Path(root) / result_filename(family, t)).is_file())


def combine(
    own_efficiency: Mapping[str, Mapping[str, Any]],
    own_predictors: str,
    ref_efficiency: Mapping[str, Mapping[str, Any]],
    ref_predictors: str,
    source: str,
) -> tuple[dict[str, dict[str, Any]], str]:
    """(efficiency records, predictors TSV text) of the reference's tasks plus this run's own,
    renamed ``task*``; every record says where it came from (``origin``)."""
    import pandas as pd

    own_p = pd.read_csv(io.StringIO(own_predictors), sep="\t")
    ref_p = pd.read_csv(io.StringIO(ref_predictors), sep="\t")
    if list(own_p.columns) != list(ref_p.columns):
        raise DataeffError(
            "the reference predictors table has other columns than this run's",
            file=source,
            field="columns",
            fix="regenerate it with the same dataeff version",
        )
    own = set(own_efficiency)
    eff: dict[str, dict[str, Any]] = {}
    for task, rec in ref_efficiency.items():
        if task not in own:
            eff[task] = dict(rec, origin=f"reference: {source}")
    for task, rec in own_efficiency.items():
        eff[task + MARK] = dict(rec, origin="this run")
    ref_p = ref_p[~ref_p["task"].isin(own) & ref_p["task"].isin(list(eff))]
    own_p = own_p.assign(task=own_p["task"].astype(str) + MARK)
    table = pd.concat([ref_p, own_p], ignore_index=True).sort_values("task")
    lines = ["\t".join(table.columns)]
    for row in table.itertuples(index=False):
        lines.append("\t".join(_cell(v) for v in row))
    return eff, "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    """A TSV cell: floats as repr (round-trips exactly), everything else as text."""
    if isinstance(value, float):
        return repr(float(value))
    return str(value)
