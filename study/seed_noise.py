"""How much of a task's AUC is training noise: the training-seed replicates, analysed.

    python study/seed_noise.py [--results study/results/bbh_seeds] [--config study/seeds.yaml]

study/seeds.py fine-tunes each task of study/seeds.yaml at every budget with several training
seeds; the splits are the same for every seed, so two seeds differ only in the order the
training examples are drawn (and what that does to early stopping). For each task this computes,
under each floor rule, the AUC of every seed's curve and of the seed-mean curve (METHOD.md
section 1 rule 2: average the runs of a budget), and splits the spread of a one-run AUC into

* training noise: the variance of the AUC across seeds (same test rows, so no test noise in it);
* test noise: the variance of the AUC when every mean accuracy and the floor's majority share
  are redrawn from Binomial(n_test, p) / n_test (which test rows were drawn).

It also reports, per budget, the accuracy's seed-to-seed sd next to its binomial test sd, and how
the early stop behaved with the small validation sets of the small budgets (``ceil(0.2 * n)``
rows: 2 at budget 10). The numbers go to ``{results}/analysis/seed_noise.json`` and ``.md``; the
per-budget training sd is what study/noise.py adds to the CPU study's bootstrap. The bootstrap's
seed comes from the config and is recorded.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from dataeff.core.settings import analysis_settings, data_settings, train_settings  # noqa: E402
from dataeff.efficiency.auc import compute_curve  # noqa: E402
from dataeff.efficiency.chance import majority_score, options_guess_score  # noqa: E402
from dataeff.pipeline.config import load_config  # noqa: E402
from dataeff.tasks.bbh import option_letters, read_bbh  # noqa: E402
from dataeff.tasks.prepare import validation_size  # noqa: E402
from dataeff.tasks.registry import get_task  # noqa: E402

sys.path.insert(0, str(REPO / "study"))
from noise import SHARE_DRAWS, training_share  # noqa: E402

FLOORS = ("majority", "fair")


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def task_runs(root: Path, task: str, budgets: list[int]) -> dict[str, Any] | None:
    """Zero-shot, and every finished seed's accuracy, test size and early-stop record per budget."""
    raw = root / "raw" / task
    if not (raw / "eval_n0.json").is_file():
        return None
    zero = json.loads((raw / "eval_n0.json").read_text())
    seeds: dict[int, dict[int, dict[str, Any]]] = {}
    for folder in sorted(raw.glob("s*")):
        if not all((folder / f"eval_n{b}.json").is_file() for b in budgets):
            continue
        runs = {}
        for b in budgets:
            ev = json.loads((folder / f"eval_n{b}.json").read_text())
            metrics = json.loads((folder / f"train_n{b}.metrics.json").read_text())
            runs[b] = {
                "accuracy": float(ev["accuracy"]),
                "n_test": int(ev["n_test"]),
                "best_step": metrics.get("best_step"),
                "steps_run": metrics.get("steps_run"),
                "stop_reason": metrics.get("stop_reason"),
            }
        seeds[int(folder.name[1:])] = runs
    gold = [r["gold"] for r in _jsonl(raw / "eval_n0.predictions.jsonl")]
    ids = [r["id"] for r in _jsonl(raw / "eval_n0.predictions.jsonl")]
    return {
        "zero_shot": float(zero["accuracy"]),
        "n_test": int(zero["n_test"]),
        "gold": gold,
        "ids": ids,
        "seeds": seeds,
    }


def chance_scores(task_file: str, ids: list[str], gold: list[str]) -> dict[str, float]:
    """The majority share M of the test answers and the uniform guess among each example's own
    listed options (0 for an example that lists none), over the test rows: the pipeline's own
    :mod:`dataeff.efficiency.chance` rules, with the options counted from the shipped BBH inputs."""
    inputs = {r["id"]: r["input"] for r in read_bbh(task_file)}
    return {
        "majority": majority_score(gold)["score"],
        "uniform_options": options_guess_score([len(option_letters(inputs[rid])) or None for rid in ids]),
    }


def _floor(rule: str, chance: dict[str, float]) -> float:
    """The floor a curve starts from besides zero-shot (compute_curve takes the max with it)."""
    if rule == "majority":
        return chance["majority"]
    return max(chance["majority"], chance["uniform_options"])


def _auc(points: dict[int, float], ceiling: float | None, grid: list[int], n_max: int, floor: float) -> float:
    return compute_curve(points, ceiling, grid, n_max, floor=floor).auc


def analyse_task(runs: dict[str, Any], chance: dict[str, float], ceiling: float | None, config: dict, rng) -> dict:
    """Per floor rule: each seed's AUC, the mean curve's AUC, training and test sd; per budget:
    the accuracy's seed sd and binomial sd; the early stops."""
    grid = sorted(int(b) for b in config["budgets"])
    n_max = int(config["max_budget"])
    n_boot, data = int(analysis_settings(config).bootstrap), data_settings(config)
    seeds = sorted(runs["seeds"])
    mean_acc = {b: statistics.fmean(runs["seeds"][s][b]["accuracy"] for s in seeds) for b in grid}
    n_test = runs["n_test"]
    first_eval = int(train_settings(config).eval_every)
    out: dict[str, Any] = {"seeds": seeds, "n_test": n_test, "zero_shot": runs["zero_shot"], "chance": chance}
    for rule in FLOORS:
        floor = _floor(rule, chance)
        per_seed = [
            _auc(
                {0: runs["zero_shot"], **{b: runs["seeds"][s][b]["accuracy"] for b in grid}},
                ceiling,
                grid,
                n_max,
                floor,
            )
            for s in seeds
        ]
        mean_auc = _auc({0: runs["zero_shot"], **mean_acc}, ceiling, grid, n_max, floor)
        draws = []
        for _ in range(n_boot):
            pts = {b: rng.binomial(n_test, p) / n_test for b, p in {0: runs["zero_shot"], **mean_acc}.items()}
            m = dict(chance, majority=rng.binomial(n_test, chance["majority"]) / n_test)
            draws.append(_auc(pts, ceiling, grid, n_max, _floor(rule, m)))
        train_sd = statistics.stdev(per_seed) if len(per_seed) > 1 else float("nan")
        test_sd = statistics.pstdev(draws)
        total = train_sd**2 + test_sd**2
        out[rule] = {
            "floor": floor,
            "auc_per_seed": per_seed,
            "auc_mean_curve": mean_auc,
            "auc_train_sd": train_sd,
            "auc_test_sd": test_sd,
            "training_share": train_sd**2 / total if total > 0 and not math.isnan(total) else None,
        }
    out["budgets"] = {
        str(b): {
            "accuracy": [runs["seeds"][s][b]["accuracy"] for s in seeds],
            "seed_sd": statistics.stdev([runs["seeds"][s][b]["accuracy"] for s in seeds]) if len(seeds) > 1 else None,
            "binomial_sd": math.sqrt(mean_acc[b] * (1 - mean_acc[b]) / n_test),
            "validation_rows": validation_size(b, float(data.validation_fraction)),
            "best_step": [runs["seeds"][s][b]["best_step"] for s in seeds],
            "steps_run": [runs["seeds"][s][b]["steps_run"] for s in seeds],
            "first_validation_gap": first_validation_gaps(runs, seeds, b, first_eval),
        }
        for b in grid
    }
    return out


def first_validation_gaps(runs: dict[str, Any], seeds: list[int], budget: int, first_eval: int) -> list[float]:
    """For every seed whose best step was the first validation, its accuracy minus the mean of the
    same task's other seeds at this budget. A tiny validation set that stops runs too early shows
    up as negative gaps: the stopped run scores below its siblings, which trained on."""
    gaps = []
    for s in seeds:
        if runs["seeds"][s][budget]["best_step"] != first_eval:
            continue
        others = [runs["seeds"][o][budget]["accuracy"] for o in seeds if o != s]
        if others:
            gaps.append(runs["seeds"][s][budget]["accuracy"] - statistics.fmean(others))
    return gaps


def modelled_training_sd(
    runs: dict[str, Any], chance: dict[str, float], ceiling: float | None, config: dict, sd_by_budget: dict[int, float]
) -> dict[str, float]:
    """Per floor rule, the AUC's training sd as study/noise.py models it for the CPU study's
    tasks: one run's curve with every budget's accuracy moved by Normal(0, sd) noise of the
    transferred per-budget sd. Centred on each seed's own curve in turn (the study has one run
    per task) and pooled as a root mean square over the seeds, so it can be set against the sd
    of the seeds' AUCs that was measured: whether the study's intervals carry the training noise
    they claim to."""
    grid = sorted(int(b) for b in config["budgets"])
    n, n_max, seed = runs["n_test"], int(config["max_budget"]), int(config["seed"])
    out = {}
    for rule in FLOORS:
        variances = []
        for s in sorted(runs["seeds"]):
            m = {
                "task": "",
                "points": {0: (runs["zero_shot"], n), **{b: (runs["seeds"][s][b]["accuracy"], n) for b in grid}},
                "floor": (chance["majority"], n),
                "guess": chance["uniform_options"],
                "ceiling": ceiling,
                "train_sd": {b: sd_by_budget[b] for b in grid},
                "train_seeds": {b: 0 for b in grid},
            }
            variances.append(training_share(m, grid, n_max, rule, SHARE_DRAWS, seed)["auc_sd_training"] ** 2)
        out[rule] = math.sqrt(statistics.fmean(variances))
    return out


def pooled_seed_sd(tasks: dict[str, dict], grid: list[int], left_out: str | None = None) -> dict[int, float]:
    """Per budget, the root mean square seed-to-seed accuracy sd over the tasks (but ``left_out``):
    what study/noise.py transfers to the CPU study."""
    kept = [t for name, t in tasks.items() if name != left_out]
    return {b: math.sqrt(statistics.fmean(t["budgets"][str(b)]["seed_sd"] ** 2 for t in kept)) for b in grid}


def leave_task_out_sd(tasks: dict[str, dict], left_out: str, grid: list[int]) -> dict[int, float]:
    """The transfer study/noise.py makes, without the task it is checked on."""
    return pooled_seed_sd(tasks, grid, left_out)


def _seeds_differ(task: dict[str, Any]) -> bool:
    """Whether the task's seeds score differently at any budget."""
    return any(row["seed_sd"] for row in task["budgets"].values())


def summarise(tasks: dict[str, dict], config: dict) -> dict[str, Any]:
    """Pooled over tasks: the per-budget training sd (root mean square), and per floor rule the
    median training share and root-mean-square training and test sd of the AUC."""
    grid = sorted(int(b) for b in config["budgets"])
    pooled: dict[str, Any] = {"tasks": len(tasks)}
    pooled["accuracy_seed_sd_by_budget"] = {str(b): sd for b, sd in pooled_seed_sd(tasks, grid).items()}
    pooled["accuracy_binomial_sd_by_budget"] = {
        str(b): math.sqrt(statistics.fmean(t["budgets"][str(b)]["binomial_sd"] ** 2 for t in tasks.values()))
        for b in grid
    }
    first_eval = int(train_settings(config).eval_every)
    for b in grid:
        steps = [s for t in tasks.values() for s in t["budgets"][str(b)]["best_step"]]
        pooled.setdefault("best_at_first_validation_share", {})[str(b)] = sum(s == first_eval for s in steps) / len(
            steps
        )
        # Only tasks whose seeds score differently somewhere: where every run gives the same
        # answers (a constant answer, or nothing learned) a stop cannot cost anything.
        gaps = [g for t in tasks.values() if _seeds_differ(t) for g in t["budgets"][str(b)]["first_validation_gap"]]
        pooled.setdefault("first_validation_gap", {})[str(b)] = {
            "runs": len(gaps),
            "mean": statistics.fmean(gaps) if gaps else None,
        }
    for rule in FLOORS:
        shares = [t[rule]["training_share"] for t in tasks.values() if t[rule]["training_share"] is not None]
        pooled[rule] = {
            "auc_train_sd_rms": math.sqrt(statistics.fmean(t[rule]["auc_train_sd"] ** 2 for t in tasks.values())),
            "auc_test_sd_rms": math.sqrt(statistics.fmean(t[rule]["auc_test_sd"] ** 2 for t in tasks.values())),
            "training_share_median": statistics.median(shares) if shares else None,
            "auc_train_sd_modelled_rms": (
                math.sqrt(statistics.fmean(t[rule]["auc_train_sd_modelled"] ** 2 for t in tasks.values()))
                if all("auc_train_sd_modelled" in t[rule] for t in tasks.values())
                else None
            ),
            # A single seed's running maximum keeps its own lucky budget, so one run's AUC sits above
            # the AUC of the seed-mean curve that METHOD section 1 rule 2 asks for: by this much.
            "single_seed_excess_mean": statistics.fmean(
                statistics.fmean(t[rule]["auc_per_seed"]) - t[rule]["auc_mean_curve"] for t in tasks.values()
            ),
        }
    return pooled


def write_report(out: Path, tasks: dict[str, dict], pooled: dict, config: dict) -> None:
    """``seed_noise.json`` and a table per floor rule in ``seed_noise.md``."""
    out.mkdir(parents=True, exist_ok=True)
    record = {
        "seed": int(config["seed"]),
        "bootstrap": int(analysis_settings(config).bootstrap),
        "pooled": pooled,
        "tasks": tasks,
    }
    (out / "seed_noise.json").write_text(json.dumps(record, indent=2) + "\n")
    grid = sorted(int(b) for b in config["budgets"])
    seeds = sorted({s for t in tasks.values() for s in t["seeds"]})
    lines = [
        f"Training-seed replicates: {len(tasks)} BBH tasks, seeds {seeds}, "
        f"{record['bootstrap']} binomial redraws for the test noise (seed {record['seed']}).",
        "",
    ]
    for rule in FLOORS:
        lines += [
            f"Floor: {rule}.",
            "",
            "| task | AUC per seed | AUC of the mean curve | training sd | as study/noise.py models it | test sd "
            "| training share |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for name, t in tasks.items():
            r = t[rule]
            share = "-" if r["training_share"] is None else f"{r['training_share']:.0%}"
            modelled = "-" if r.get("auc_train_sd_modelled") is None else f"{r['auc_train_sd_modelled']:.3f}"
            lines.append(
                f"| {name} | {', '.join(f'{a:.3f}' for a in r['auc_per_seed'])} | {r['auc_mean_curve']:.3f} | "
                f"{r['auc_train_sd']:.3f} | {modelled} | {r['auc_test_sd']:.3f} | {share} |"
            )
        p = pooled[rule]
        share = "-" if p["training_share_median"] is None else f"{p['training_share_median']:.0%}"
        modelled = "-" if p["auc_train_sd_modelled_rms"] is None else f"{p['auc_train_sd_modelled_rms']:.3f}"
        lines += [
            f"| root mean square / median | | | {p['auc_train_sd_rms']:.3f} | {modelled} | {p['auc_test_sd_rms']:.3f} "
            f"| {share} |",
            "",
            "The modelled column is study/noise.py's model of training noise (each budget's accuracy moved by "
            "Normal noise of the per-budget seed sd pooled over the other tasks), centred on each seed's curve: "
            "the noise the CPU study's intervals assume, set against the spread of the seeds' AUCs measured here.",
            "",
            f"A single seed's AUC exceeds the AUC of its task's seed-mean curve by {p['single_seed_excess_mean']:+.3f} "
            "on average (each run's running maximum keeps its own lucky budget).",
            "",
        ]
    lines += [
        "Accuracy per budget, pooled over tasks (root mean square):",
        "",
        "| budget | validation rows | seed-to-seed sd | binomial test sd | best step at the first validation "
        "| those runs against their other seeds (tasks whose seeds differ) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    any_task = next(iter(tasks.values()))
    for b in grid:
        gap = pooled["first_validation_gap"][str(b)]
        runs = f"{gap['runs']} run" + "s" * (gap["runs"] != 1)
        gap_text = "-" if gap["mean"] is None else f"{gap['mean']:+.3f} over {runs}"
        lines.append(
            f"| {b} | {any_task['budgets'][str(b)]['validation_rows']} | "
            f"{pooled['accuracy_seed_sd_by_budget'][str(b)]:.3f} | "
            f"{pooled['accuracy_binomial_sd_by_budget'][str(b)]:.3f} | "
            f"{pooled['best_at_first_validation_share'][str(b)]:.0%} | {gap_text} |"
        )
    (out / "seed_noise.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    import numpy as np

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="study/results/bbh_seeds")
    ap.add_argument("--config", default="study/seeds.yaml")
    ap.add_argument("--min-seeds", type=int, default=2)
    args = ap.parse_args(argv)
    config = load_config(REPO / args.config)
    root = REPO / args.results
    rng = np.random.default_rng(int(config["seed"]))
    grid = sorted(int(b) for b in config["budgets"])
    tasks: dict[str, dict] = {}
    inputs: dict[str, tuple] = {}
    for task in config["tasks"]:
        runs = task_runs(root, task, grid)
        if runs is None or len(runs["seeds"]) < args.min_seeds:
            continue
        spec = get_task(task, config)
        chance = chance_scores(spec.bbh["task"], runs["ids"], runs["gold"])
        tasks[task] = analyse_task(runs, chance, spec.ceiling, config, rng)
        inputs[task] = (runs, chance, spec.ceiling)
    if not tasks:
        print(f"no task has {args.min_seeds} finished seeds under {root}/raw yet")
        return 0
    if len(tasks) > 1:
        for task, (runs, chance, ceiling) in inputs.items():
            sd = leave_task_out_sd(tasks, task, grid)
            for rule, value in modelled_training_sd(runs, chance, ceiling, config, sd).items():
                tasks[task][rule]["auc_train_sd_modelled"] = value
    pooled = summarise(tasks, config)
    write_report(root / "analysis", tasks, pooled, config)
    print((root / "analysis" / "seed_noise.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
