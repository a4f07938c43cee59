"""How far the study's finding holds: every predictor against no predictor, out of sample.

    python study/robustness.py [--results study/results/smollm2] [--config config/study.yaml]

The finding is a correlation over 20 tasks whose answer structures differ (two answers against
hundreds), and CoS-Low measures the answer structure of its picks (``confound.tsv``). This
module asks what is left once that is taken seriously, from the committed files alone:

* **out of sample**: every predictor's leave-one-task-out (LOTO) MAE and RMSE of the AUC (the
  line refitted without the task, :func:`dataeff.prediction.fit.leave_one_task_out`), against *no
  predictor* (the other tasks' mean AUC), with percentile bootstrap intervals over tasks and the
  paired difference, resampled with the same task draws;
* **within the answer structure**: Pearson and Spearman r inside the many-answer tasks (more
  than 8 different answers among the 32 picks, mean over seeds) and inside the others;
* **leave two tasks out**: r over all 190 ways of dropping two of the 20 tasks;
* **predictors that hold the answer structure out**, from the recorded pair cosines and the
  picks' gold answers: ``cos_diff`` (median over the pairs whose two picks have different
  answers) and ``cos_balanced`` (the picks subsampled so that each answer among them contributes
  equally, i.e. the smallest answer group's size from every answer, median over their pairs,
  averaged over 200 seeded subsamples); and ``same_answer_share`` (the share of same-answer
  pairs: the answer structure alone), each the mean over CoS-Low's 3 seeds.

Correlations and their intervals come from :func:`dataeff.prediction.fit.correlations` with the study's
seed and bootstrap count, so CoS-Low's match ``correlations.tsv``. Writes
``{results}/analysis/robustness.json`` and ``robustness.tsv``.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections import defaultdict
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from dataeff.core.settings import analysis_settings  # noqa: E402
from dataeff.pipeline.config import load_config  # noqa: E402
from dataeff.prediction.fit import correlations, leave_one_task_out  # noqa: E402

#: A task whose 32 picks hold more than this many different answers (mean over seeds) is a
#: many-answer task; the others have at most 8 (ten of them exactly two).
MANY_ANSWERS = 8
#: Subsamples behind each ``cos_balanced`` value.
BALANCED_DRAWS = 200
#: Predictors of ``{family}_predictors.tsv`` (column -> name), as ``dataeff fit`` reads them.
TABLE_PREDICTORS = {
    "coslow_mean": "coslow",
    "cos_sim_k_mean": "cos_sim_k",
    "grad_norm_k_mean": "grad_norm_k",
    "conf_avg_k_mean": "conf_avg_k",
}
#: Predictors from the picks (name -> what it is).
PICK_PREDICTORS = {
    "cos_diff": "median cosine over the different-answer pairs only",
    "cos_balanced": "median cosine over picks balanced by answer",
    "same_answer_share": "share of same-answer pairs (the answer structure alone)",
}
NO_PREDICTOR = "no predictor (the other tasks' mean AUC)"


def pair_matrix(pair_cosines: list[float], k: int) -> np.ndarray:
    """The k x k cosine matrix from the record's pairs (i < j, row-major); NaN diagonal."""
    m = np.full((k, k), np.nan)
    iu = np.triu_indices(k, 1)
    if len(pair_cosines) != len(iu[0]):
        raise ValueError(f"{len(pair_cosines)} pair cosines for k = {k} (expected {len(iu[0])})")
    m[iu] = pair_cosines
    m[(iu[1], iu[0])] = pair_cosines
    return m


def balanced_median(pair_cosines: list[float], labels: list[str], rng: np.random.Generator) -> float:
    """Median pair cosine of the picks subsampled so that each answer among them contributes the
    same number of picks (the smallest answer group's size), averaged over
    :data:`BALANCED_DRAWS` subsamples; NaN with a single answer (nothing to balance)."""
    k = len(labels)
    m = pair_matrix(pair_cosines, k)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        groups[label].append(i)
    if len(groups) < 2:
        return math.nan
    size = min(len(g) for g in groups.values())
    # already balanced: every subsample is the whole set
    draws = 1 if all(len(g) == size for g in groups.values()) else BALANCED_DRAWS
    medians = []
    for _ in range(draws):
        idx = np.sort(np.concatenate([rng.choice(g, size, replace=False) for g in groups.values()]))
        sub = m[np.ix_(idx, idx)]
        medians.append(float(np.median(sub[np.triu_indices(len(idx), 1)])))
    return float(np.mean(medians))


def pick_predictors(root: Path, tasks: list[str], seed: int) -> dict[str, dict[str, float]]:
    """Per task, the mean over CoS-Low's seeds of ``cos_diff``, ``cos_balanced``,
    ``same_answer_share`` and the number of different answers among the picks, from
    ``raw/{task}/coslow_seed*.json`` (every pair's cosine) and ``picks.json`` (their answers)."""
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, float]] = {}
    for task in tasks:
        picks = json.loads((root / "raw" / task / "picks.json").read_text())["selected"]
        per: dict[str, list[float]] = defaultdict(list)
        for s, labels in sorted(picks.items(), key=lambda kv: int(kv[0])):
            rec = json.loads((root / "raw" / task / f"coslow_seed{s}.json").read_text())
            pairs = rec["coslow_details"]["pair_cosines"]
            k = len(labels)
            same = [a == b for a, b in combinations(labels, 2)]
            diff = [c for c, eq in zip(pairs, same, strict=True) if not eq]
            per["cos_diff"].append(float(np.median(diff)) if diff else math.nan)
            per["cos_balanced"].append(balanced_median(pairs, labels, rng))
            per["same_answer_share"].append(sum(same) / (k * (k - 1) / 2))
            per["distinct_answers"].append(float(len(set(labels))))
        out[task] = {name: float(np.nanmean(v)) for name, v in per.items()}
    return out


def table_predictors(path: Path) -> dict[str, dict[str, float]]:
    """Per task, the seed means of CoS-Low and the three baselines (``{family}_predictors.tsv``)."""
    out: dict[str, dict[str, float]] = {}
    for row in csv.DictReader(path.open(), delimiter="\t"):
        out[row["task"]] = {name: float(row[col]) for col, name in TABLE_PREDICTORS.items() if row.get(col)}
    return out


def mean_errors(y: np.ndarray) -> np.ndarray:
    """Leave-one-task-out errors of no predictor: each task's AUC predicted by the others' mean."""
    n = len(y)
    return (y.sum() - y) / (n - 1) - y


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(values[np.isfinite(values)], [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def out_of_sample(errors: np.ndarray, baseline: np.ndarray, n_boot: int, seed: int, level: float) -> dict[str, Any]:
    """MAE and RMSE of LOTO ``errors`` and of the ``baseline``'s, with bootstrap intervals over
    tasks and the paired differences (predictor minus baseline; below 0: the predictor is better),
    each resample drawing the same tasks for both."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(errors), size=(n_boot, len(errors)))
    ae, ab = np.abs(errors)[idx], np.abs(baseline)[idx]
    se, sb = (errors**2)[idx], (baseline**2)[idx]
    boot = {
        "mae": ae.mean(axis=1),
        "rmse": np.sqrt(se.mean(axis=1)),
        "mae_minus_baseline": ae.mean(axis=1) - ab.mean(axis=1),
        "rmse_minus_baseline": np.sqrt(se.mean(axis=1)) - np.sqrt(sb.mean(axis=1)),
    }
    point = {
        "mae": float(np.abs(errors).mean()),
        "rmse": float(math.sqrt((errors**2).mean())),
    }
    point["mae_minus_baseline"] = point["mae"] - float(np.abs(baseline).mean())
    point["rmse_minus_baseline"] = point["rmse"] - float(math.sqrt((baseline**2).mean()))
    out: dict[str, Any] = {}
    for name, value in point.items():
        lo, hi = _interval(boot[name], level)
        out[name] = {"value": value, "lo": lo, "hi": hi}
    out["share_of_resamples_better_than_baseline"] = float(np.mean(boot["mae_minus_baseline"] < 0))
    return out


def leave_two_out(x: np.ndarray, y: np.ndarray, tasks: list[str]) -> dict[str, Any]:
    """Pearson r over every way of dropping two tasks: its range, median and share below 0, and
    the pairs whose removal moves r most either way."""
    rs = []
    for i, j in combinations(range(len(tasks)), 2):
        keep = np.array([k not in (i, j) for k in range(len(tasks))])
        rs.append((float(np.corrcoef(x[keep], y[keep])[0, 1]), tasks[i], tasks[j]))
    values = np.array([r for r, _, _ in rs])
    low, high = min(rs), max(rs)
    return {
        "pairs": len(rs),
        "min": low[0],
        "min_dropped": [low[1], low[2]],
        "max": high[0],
        "max_dropped": [high[1], high[2]],
        "median": float(np.median(values)),
        "share_negative": float(np.mean(values < 0)),
    }


def within_groups(
    values: dict[str, float], aucs: dict[str, float], answers: dict[str, float], n_boot: int, seed: int, level: float
) -> dict[str, dict[str, Any]]:
    """Pearson and Spearman r (with bootstrap intervals) inside the many-answer tasks and inside
    the others (:data:`MANY_ANSWERS`)."""
    out = {}
    for name, many in (("many_answers", True), ("few_answers", False)):
        tasks = [t for t in values if (answers[t] > MANY_ANSWERS) == many and math.isfinite(values[t])]
        x = np.array([values[t] for t in tasks])
        y = np.array([aucs[t] for t in tasks])
        corr = correlations(x, y, n_boot, seed, level) if len(tasks) >= 3 else None
        out[name] = {
            "tasks": tasks,
            "n": len(tasks),
            "pearson": corr and corr["pearson"],
            "spearman": corr and corr["spearman"],
        }
    return out


def robustness(
    aucs: dict[str, float],
    predictors: dict[str, dict[str, float]],
    answers: dict[str, float],
    n_boot: int,
    seed: int,
    level: float,
) -> dict[str, Any]:
    """Every predictor of ``predictors`` (task -> name -> value) against ``aucs``: correlations,
    LOTO against no predictor, within-group r; and CoS-Low's leave-two-out range."""
    tasks = sorted(aucs)
    y = np.array([aucs[t] for t in tasks])
    base = mean_errors(y)
    names = sorted({n for per in predictors.values() for n in per}, key=_order)
    rows: dict[str, Any] = {}
    for name in names:
        have = [t for t in tasks if math.isfinite(predictors.get(t, {}).get(name, math.nan))]
        if len(have) != len(tasks):
            continue  # every predictor is compared on the same tasks as no predictor
        x = np.array([predictors[t][name] for t in tasks])
        loto, summary = leave_one_task_out(tasks, x, y)
        values = {t: predictors[t][name] for t in tasks}
        rows[name] = {
            "tasks": len(tasks),
            **correlations(x, y, n_boot, seed, level),
            "loto": out_of_sample(loto["error"].to_numpy(), base, n_boot, seed, level),
            "within": within_groups(values, aucs, answers, n_boot, seed, level),
        }
    rows[NO_PREDICTOR] = {"tasks": len(tasks), "loto": out_of_sample(base, base, n_boot, seed, level)}
    x = np.array([predictors[t]["coslow"] for t in tasks])
    return {
        "predictors": rows,
        "leave_two_out": leave_two_out(x, y, tasks),
        "bootstrap": {"n": n_boot, "seed": seed, "level": level},
        "many_answers_threshold": MANY_ANSWERS,
    }


def _order(name: str) -> tuple[int, str]:
    order = ["coslow", *PICK_PREDICTORS, *list(TABLE_PREDICTORS.values())[1:]]
    return (order.index(name), name) if name in order else (len(order), name)


def ci_text(rec: dict[str, Any] | None, fmt: str = "{:.2f}") -> str:
    """``value [lo, hi]`` of a correlation (``r``) or error (``value``) record; ``-`` when absent."""
    if not rec or rec.get("r", rec.get("value")) is None:
        return "-"
    v = rec.get("r", rec.get("value"))
    if rec.get("lo") is None:
        return fmt.format(v)
    return f"{fmt.format(v)} [{fmt.format(rec['lo'])}, {fmt.format(rec['hi'])}]"


def write_robustness(root: Path, config: dict, tasks: list[str], out: Path) -> dict[str, Any]:
    """``out/robustness.json`` and ``out/robustness.tsv`` from ``out/efficiency.json`` (the
    config's floor), the predictors table and the picks."""
    (family,) = list(config["families"])
    eff = json.loads((out / "efficiency.json").read_text())
    aucs = {t: float(eff[t]["auc"]) for t in tasks}
    seed = int(config["seed"])
    table = table_predictors(root / f"{family}_predictors.tsv")
    picks = pick_predictors(root, tasks, seed)
    predictors = {t: {**table[t], **{k: v for k, v in picks[t].items() if k != "distinct_answers"}} for t in tasks}
    answers = {t: picks[t]["distinct_answers"] for t in tasks}
    analysis = analysis_settings(config)
    rec = robustness(aucs, predictors, answers, int(analysis.bootstrap), seed, float(analysis.level))
    rec["floor_rule"] = analysis.floor
    rec["distinct_answers"] = answers
    rec["values"] = predictors
    (out / "robustness.json").write_text(json.dumps(rec, indent=2) + "\n")
    cols = ["predictor", "tasks", "pearson", "pearson_lo", "pearson_hi", "spearman", "spearman_lo", "spearman_hi"]
    cols += ["loto_mae", "loto_mae_lo", "loto_mae_hi", "loto_rmse", "loto_rmse_lo", "loto_rmse_hi"]
    cols += ["mae_minus_no_predictor", "mae_minus_lo", "mae_minus_hi", "r_many_answers", "r_few_answers"]
    lines = ["\t".join(cols)]
    for name, r in rec["predictors"].items():
        loto = r["loto"]
        cells = [name, r["tasks"]]
        for key in ("pearson", "spearman"):
            cells += [r[key][k] for k in ("r", "lo", "hi")] if key in r else ["NA"] * 3
        cells += [loto["mae"][k] for k in ("value", "lo", "hi")] + [loto["rmse"][k] for k in ("value", "lo", "hi")]
        cells += [loto["mae_minus_baseline"][k] for k in ("value", "lo", "hi")]
        within = r.get("within") or {}
        cells += [((within.get(g) or {}).get("pearson") or {}).get("r", "NA") for g in ("many_answers", "few_answers")]
        lines.append("\t".join("NA" if c is None else repr(c) if isinstance(c, float) else str(c) for c in cells))
    (out / "robustness.tsv").write_text("\n".join(lines) + "\n")
    return rec


def main(argv: list[str] | None = None) -> int:
    import argparse

    sys.path.insert(0, str(REPO / "study"))
    from committed import committed_tasks

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="study/results/smollm2")
    ap.add_argument("--config", default="config/study.yaml")
    args = ap.parse_args(argv)
    config = load_config(REPO / args.config)
    root = REPO / args.results
    rec = write_robustness(root, config, committed_tasks(root, config), root / "analysis")
    for name, r in rec["predictors"].items():
        print(f"{name}: r {ci_text(r.get('pearson'))}, LOTO MAE {ci_text(r['loto']['mae'], '{:.3f}')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
