"""The fair chance floor of every committed task, from its recorded predictions and options.

    python study/floor.py [--results study/results/smollm2] [--config config/study.yaml]

``analysis.floor: fair`` (docs/METHOD.md section 1, :mod:`dataeff.efficiency.chance`) normalises each curve
from max(zero-shot, the majority-answer score, the expected score of a uniform guess among each
test example's own options). The study's evaluations ran before ``dataeff evaluate`` recorded
each example's number of options, and its predictions files keep no prompts; the per-task
counts are in ``{results}/options.json``, each with the record it rests on. This script maps
them onto every test row (by its gold answer where a task's count depends on it), recomputes
the chance record of each committed curve file with :func:`dataeff.efficiency.chance.chance_of_evals` from
the raw predictions, checks that the majority score is the one already recorded, and writes the
record back into the curve file, so ``dataeff auc --floor fair`` (and the pipeline) read it from
there like any curve ``dataeff aggregate`` wrote.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from dataeff.core.errors import DataeffError  # noqa: E402
from dataeff.core.io import atomic_write_json, read_jsonl  # noqa: E402
from dataeff.efficiency.chance import chance_of_evals, predictions_path  # noqa: E402
from dataeff.efficiency.results import result_filename  # noqa: E402

sys.path.insert(0, str(REPO / "study"))
from committed import run_on_committed  # noqa: E402

OPTIONS_FILE = "options.json"


def task_options(root: Path) -> dict[str, dict[str, Any]]:
    """``{results}/options.json``'s per-task entries (``n_options``, ``n_options_by_gold``, ``basis``)."""
    return json.loads((root / OPTIONS_FILE).read_text())["tasks"]


def eval_files(root: Path, task: str) -> list[Path]:
    """The committed evaluations of one task, every budget (``raw/{task}/eval_n*.json``)."""
    return sorted(p for p in (root / "raw" / task).glob("eval_n*.json") if ".predictions" not in p.name)


def options_by_id(root: Path, task: str, entry: dict[str, Any]) -> dict[str, int | None]:
    """Test id -> number of options, from the task's entry: ``n_options_by_gold`` for the rows
    whose (normalised) gold answer it names, ``n_options`` for the rest."""
    by_gold = entry.get("n_options_by_gold") or {}
    rows = read_jsonl(predictions_path(eval_files(root, task)[0]))
    return {str(r["id"]): by_gold.get(str(r["gold"]), entry["n_options"]) for r in rows}


def task_chance(root: Path, family: str, task: str, entry: dict[str, Any]) -> dict[str, Any]:
    """The chance record of one committed task (majority score, options guess, fair floor)."""
    curve = json.loads((root / result_filename(family, task)).read_text())
    metric = str(next(v["metric"] for k, v in curve.items() if k.isdigit()))
    where = root.relative_to(REPO) if root.is_relative_to(REPO) else root
    source = f"{where / OPTIONS_FILE}: {entry['basis']}"
    chance = chance_of_evals(eval_files(root, task), metric, options_by_id(root, task, entry), source)
    if chance is None:
        raise DataeffError("no predictions to compute the chance floor from", file=str(root / "raw" / task))
    old = curve.get("chance") or {}
    if "score" in old and not math.isclose(old["score"], chance["score"], abs_tol=1e-12):
        raise DataeffError(
            f"the recorded majority score {old['score']} differs from the predictions' {chance['score']}",
            file=str(root / result_filename(family, task)),
            field="chance.score",
        )
    return chance


def write_floors(root: Path, tasks: list[str], out: Path, family: str = "smollm2") -> list[dict[str, Any]]:
    """Write each task's chance record into its curve file, and ``out/floor.tsv`` / ``floor.md``
    (per task: the majority score, the options guess, the fair floor and the zero-shot point)."""
    options = task_options(root)
    missing = [t for t in tasks if t not in options]
    if missing:
        raise DataeffError(f"no options entry for {', '.join(missing)}", file=str(root / OPTIONS_FILE))
    rows = []
    for task in tasks:
        path = root / result_filename(family, task)
        curve = json.loads(path.read_text())
        chance = task_chance(root, family, task, options[task])
        if curve.get("chance") != chance:
            curve["chance"] = chance
            atomic_write_json(path, curve)
        per = chance.get("options_per_example") or {}
        rows.append(
            {
                "task": task,
                "n_test": chance["n_test"],
                "zero_shot": float(curve["0"]["accuracy"]),
                "majority": chance["score"],
                "options": "-"
                if not per
                else str(per["min"])
                if per["min"] == per["max"]
                else f"{per['min']}-{per['max']}",
                "options_guess": chance["options_guess"],
                "fair": chance["fair_score"],
            }
        )
    cols = list(rows[0]) if rows else []
    lines = ["\t".join(cols)] + ["\t".join(str(r[c]) for c in cols) for r in rows]
    (out / "floor.tsv").write_text("\n".join(lines) + "\n")
    head = "| task | test rows | zero-shot | majority share M | options per example | options guess G "
    md = [head + "| floor: max(zero-shot, M, G) |"]
    md.append("|---|---|---|---|---|---|---|")
    for r in rows:
        raised = " **(raised)**" if r["fair"] > max(r["majority"], r["zero_shot"]) + 1e-12 else ""
        md.append(
            f"| {r['task']} | {r['n_test']} | {r['zero_shot']:.2f} | {r['majority']:.3f} | {r['options']} "
            f"| {r['options_guess']:.3f} | {max(r['fair'], r['zero_shot']):.3f}{raised} |"
        )
    (out / "floor.md").write_text("\n".join(md) + "\n")
    return rows


def main(argv: list[str] | None = None) -> int:
    return run_on_committed(__doc__, write_floors, "floor.md", argv)


if __name__ == "__main__":
    raise SystemExit(main())
