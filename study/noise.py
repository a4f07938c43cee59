"""Is the study's correlation an artefact of measurement noise? A bootstrap that adds it.

The bootstrap intervals of ``finding.md`` resample tasks only; every AUC and CoS-Low is taken as
exact. Both are measured: each accuracy on 100 test rows (binomial noise, standard error up to
0.05), the majority share on the same rows (the options guess of the fair floor is fixed by the
options the rows list: no noise), and CoS-Low as the mean of 3 seeds. Here every
replicate resamples the tasks *and* redraws each task's measurements from their noise (each
accuracy and the majority share as Binomial(n_test, p) / n_test, CoS-Low as the seeds' mean plus
Normal noise with the seeds' standard error; each redrawn independently, an approximation since
the accuracies and the share are counted on the same test rows), recomputes each AUC with the pipeline's own
:func:`dataeff.efficiency.auc.compute_curve` under the study's floor rule, and takes Pearson r. A
second run keeps the tasks fixed and redraws only the noise: how far r moves from test noise
alone. The seed comes from the study config and is recorded in the output.

Training-seed noise (each budget fine-tuned once, seed 123, as in the paper) is in neither
interval unless it was measured: replicate fine-tunes of a (task, budget) with other training
seeds, evaluated on the same test rows, go in ``raw/{task}/s{seed}/eval_n{budget}.json`` (the eval
JSON ``dataeff evaluate`` writes, its ``.predictions.jsonl`` beside it; the layout
``study/seeds.py`` harvests). Where they exist, :func:`seed_replicates` reads them with the
committed evaluation (``raw/{task}/eval_n{budget}.json``, its own seed) as one more replicate, the
seed-to-seed sd of the accuracy joins every draw as Normal noise, and :func:`training_share`
reports the share of each task's AUC variance that is training noise (against the test noise of
the same curve). Where none exist the record says "not measured": nothing is assumed.

    python study/noise.py [--results study/results/smollm2] [--config config/study.yaml]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from dataeff.core.errors import DataeffError  # noqa: E402
from dataeff.core.settings import analysis_settings  # noqa: E402
from dataeff.efficiency.auc import compute_curve  # noqa: E402
from dataeff.efficiency.results import result_filename  # noqa: E402
from dataeff.pipeline.config import load_config  # noqa: E402

sys.path.insert(0, str(REPO / "study"))
from committed import committed_tasks  # noqa: E402

#: Where the replicate fine-tunes of a task are evaluated, relative to ``raw/{task}/``.
SEEDS_LAYOUT = "s{seed}/eval_n{budget}.json"
#: Monte Carlo draws behind :func:`training_share`.
SHARE_DRAWS = 4000


def seed_replicates(root: Path, task: str) -> dict[int, list[float]]:
    """Budget -> accuracies of every training seed evaluated there: the committed evaluation
    (``raw/{task}/eval_n{budget}.json``) and each replicate ``raw/{task}/s{seed}/eval_n{budget}.json``
    (a seed counted once); only budgets above 0 with at least two seeds. A replicate scored on
    another number of test rows than the others is an error."""
    raw = root / "raw" / task
    by_budget: dict[int, dict[int, tuple[float, int, Path]]] = {}
    paths = [p for p in raw.glob("eval_n*.json") if ".predictions" not in p.name]
    paths += [p for p in raw.glob("s*/eval_n*.json") if re.fullmatch(r"s\d+", p.parent.name)]
    for path in sorted(paths):
        match = re.fullmatch(r"eval_n(\d+)\.json", path.name)
        if match is None or int(match.group(1)) == 0:
            continue  # zero-shot: no training, no training noise
        rec = json.loads(path.read_text())
        seed = int(path.parent.name[1:]) if path.parent != raw else int(rec["seed"])
        by_budget.setdefault(int(match.group(1)), {}).setdefault(
            seed, (float(rec["accuracy"]), int(rec["n_test"]), path)
        )
    out: dict[int, list[float]] = {}
    for budget, seeds in sorted(by_budget.items()):
        sizes = {n for _, n, _ in seeds.values()}
        if len(sizes) > 1:
            raise DataeffError(
                f"budget {budget}: the seeds' evaluations scored {sorted(sizes)} test rows",
                file=str(raw),
                fix="evaluate every replicate on the task's one test split",
            )
        if len(seeds) >= 2:
            out[budget] = [acc for _, (acc, _, _) in sorted(seeds.items())]
    return out


def task_measurements(root: Path, family: str, task: str) -> dict:
    """Accuracies with their test sizes, the chance floor's parts (majority share with its test
    size, the options guess), the ceiling, the CoS-Low seeds and the training-seed sd per budget
    (only where replicates were measured) of one committed task."""
    result = json.loads((root / result_filename(family, task)).read_text())
    points = {int(b): (float(v["accuracy"]), int(v["n_test"])) for b, v in result.items() if b.isdigit()}
    chance = result.get("chance") or {}
    ceiling = json.loads((root / "ceilings.json").read_text())[task]["score"]
    seeds = [
        float(json.loads(p.read_text())["coslow"]) for p in sorted((root / "raw" / task).glob("coslow_seed*.json"))
    ]
    replicates = seed_replicates(root, task)
    return {
        "task": task,
        "points": points,
        "floor": (float(chance["score"]), int(chance["n_test"])) if chance else None,
        "guess": chance.get("options_guess"),
        "ceiling": float(ceiling) if ceiling is not None else None,
        "coslow": seeds,
        "train_sd": {b: statistics.stdev(v) for b, v in replicates.items()},
        "train_seeds": {b: len(v) for b, v in replicates.items()},
    }


def _floor(m: dict, floor_rule: str, draw) -> float | None:
    """The task's chance floor under ``floor_rule`` with the majority share drawn by ``draw``
    (the options guess is fixed by the test rows' options: no sampling noise)."""
    if floor_rule not in ("majority", "fair") or not m["floor"]:
        return None
    majority = draw(*m["floor"])
    if floor_rule == "fair":
        if m.get("guess") is None:
            raise DataeffError(f"task '{m['task']}': no options guess for the fair floor", field="chance.options_guess")
        return max(majority, float(m["guess"]))
    return majority


def _auc(
    m: dict, grid: list[int], max_budget: int, floor_rule: str, rng, test: bool = True, train: bool = True
) -> float:
    """One draw of the task's AUC: accuracies (and the majority share) redrawn from their
    binomial test noise (``test``) and, where measured, the training-seed noise (``train``;
    ``rng`` None: as measured)."""

    def draw(p: float, n: int) -> float:
        return p if rng is None or not test else float(rng.binomial(n, p)) / n

    def trained(b: int, p: float) -> float:
        sd = m.get("train_sd", {}).get(b)
        if rng is None or not train or not sd:
            return p
        return min(1.0, max(0.0, p + float(rng.normal(0.0, sd))))

    points = {b: draw(trained(b, p), n) for b, (p, n) in m["points"].items()}
    return compute_curve(points, m["ceiling"], grid, max_budget, floor=_floor(m, floor_rule, draw)).auc


def _coslow(m: dict, rng) -> float:
    """One draw of the task's 3-seed mean CoS-Low (the seeds' standard error as Normal noise)."""
    mean = statistics.fmean(m["coslow"])
    if rng is None or len(m["coslow"]) < 2:
        return mean
    return mean + rng.normal(0.0, statistics.stdev(m["coslow"]) / len(m["coslow"]) ** 0.5)


def training_share(m: dict, grid: list[int], max_budget: int, floor_rule: str, draws: int, seed: int) -> dict:
    """The share of the task's AUC variance that is training-seed noise: the AUC's variance
    with only the training noise drawn, over that plus its variance with only the test noise
    drawn ("not measured" without replicates)."""
    import numpy as np

    if not m.get("train_sd"):
        return {"measured": False}
    rng = np.random.default_rng(seed)
    train = np.var([_auc(m, grid, max_budget, floor_rule, rng, test=False) for _ in range(draws)])
    test = np.var([_auc(m, grid, max_budget, floor_rule, rng, train=False) for _ in range(draws)])
    total = train + test
    return {
        "measured": True,
        "budgets": sorted(m["train_sd"]),
        "seeds": {str(b): m["train_seeds"][b] for b in sorted(m["train_seeds"])},
        "accuracy_sd": {str(b): m["train_sd"][b] for b in sorted(m["train_sd"])},
        "auc_sd_training": float(np.sqrt(train)),
        "auc_sd_test": float(np.sqrt(test)),
        "share_training": float(train / total) if total > 0 else None,
    }


def noise_bootstrap(
    measurements: list[dict], grid: list[int], max_budget: int, floor_rule: str, n_boot: int, seed: int
) -> dict:
    """Pearson r(CoS-Low, AUC) as measured; its 95% interval with tasks and measurement noise
    resampled, and with the noise alone; the share of replicates with r < 0."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = len(measurements)
    x0 = np.array([_coslow(m, None) for m in measurements])
    y0 = np.array([_auc(m, grid, max_budget, floor_rule, None) for m in measurements])
    out = {"tasks": n, "n_boot": n_boot, "seed": seed, "floor_rule": floor_rule, "r": float(np.corrcoef(x0, y0)[0, 1])}
    for name, resample in (("tasks_and_noise", True), ("noise_only", False)):
        rs = []
        for _ in range(n_boot):
            idx = rng.integers(0, n, n) if resample else np.arange(n)
            x = np.array([_coslow(measurements[i], rng) for i in idx])
            y = np.array([_auc(measurements[i], grid, max_budget, floor_rule, rng) for i in idx])
            if np.ptp(x) > 0 and np.ptp(y) > 0:
                rs.append(float(np.corrcoef(x, y)[0, 1]))
        lo, hi = np.percentile(rs, [2.5, 97.5])
        out[name] = {
            "low": float(lo),
            "high": float(hi),
            "median": float(np.median(rs)),
            "share_negative": float(np.mean(np.array(rs) < 0)),
            "replicates": len(rs),
        }
    return out


#: The training-seed replicates run on shipped BBH tasks (study/seeds.py, study/seed_noise.py).
SEED_REPLICATES = Path("study/results/bbh_seeds/analysis/seed_noise.json")
#: Fewest replicated tasks whose pooled seed-to-seed sd stands in for the study's own.
MIN_TRANSFER_TASKS = 4


def transfer_training_sd(measurements: list[dict], grid: list[int], path: Path) -> dict | None:
    """Give every task without replicates of its own the accuracy sd between training seeds that
    study/seeds.py measured on shipped BBH tasks (root mean square over tasks, per budget), matched
    by the budget's rank on the doubling grid (the study's 16..256 against BBH's 10..160: the same
    protocol, scaled). The study's own tasks cannot be fine-tuned again, so this is the measured
    training noise of the same model and protocol on other real tasks; it is recorded as such."""
    if not path.is_file():
        return None
    pooled = json.loads(path.read_text())["pooled"]
    if int(pooled["tasks"]) < MIN_TRANSFER_TASKS:
        return None
    by_rank = [pooled["accuracy_seed_sd_by_budget"][b] for b in sorted(pooled["accuracy_seed_sd_by_budget"], key=int)]
    if len(by_rank) != len(grid):
        return None
    for m in measurements:
        if not m["train_sd"]:
            m["train_sd"] = {b: float(sd) for b, sd in zip(grid, by_rank, strict=True)}
            m["train_seeds"] = {b: 0 for b in grid}  # 0: transferred, not this task's own seeds
    return {"file": str(path), "tasks": int(pooled["tasks"]), "accuracy_sd_by_rank": by_rank}


def write_noise(root: Path, config: dict, tasks: list[str], out: Path, n_boot: int = 2000) -> dict:
    """``out/noise.json`` and sentences in ``out/noise.md``; returns the record."""
    (family,) = list(config["families"])
    seed = int(config["seed"])
    measurements = [task_measurements(root, family, t) for t in tasks]
    grid = sorted(int(b) for b in config["budgets"])
    transferred = transfer_training_sd(measurements, grid, REPO / SEED_REPLICATES)
    floor_rule = analysis_settings(config).floor
    rec = noise_bootstrap(measurements, grid, int(config["max_budget"]), floor_rule, n_boot, seed)
    shares = {
        m["task"]: training_share(m, grid, int(config["max_budget"]), floor_rule, SHARE_DRAWS, seed)
        for m in measurements
    }
    measured = [t for t, v in shares.items() if v["measured"]]
    rec["training_noise"] = {
        "transferred_from": transferred,
        "layout": f"raw/{{task}}/{SEEDS_LAYOUT}",
        "tasks_measured": measured,
        "per_task": shares,
    }
    (out / "noise.json").write_text(json.dumps(rec, indent=2) + "\n")
    both, alone = rec["tasks_and_noise"], rec["noise_only"]
    text = (
        f"With the measurement noise added (every accuracy and majority share redrawn from Binomial(n_test, p), "
        f"CoS-Low from its 3 seeds' standard error; AUC under the {floor_rule} floor; {rec['n_boot']} replicates, "
        f"seed {rec['seed']}), "
        f"r(CoS-Low, AUC) = {rec['r']:.2f} over {rec['tasks']} tasks has the 95% interval "
        f"[{both['low']:.2f}, {both['high']:.2f}] with tasks resampled too ({both['share_negative']:.1%} of "
        f"replicates negative), and [{alone['low']:.2f}, {alone['high']:.2f}] from the noise alone.\n"
    )
    if not measured:
        text += (
            f"\nTraining-seed noise: **not measured**. Every budget was fine-tuned once (seed {seed}); no task has "
            f"replicate fine-tunes ({rec['training_noise']['layout']}), so the intervals above hold test noise and "
            "CoS-Low's seed noise only, and the share of an AUC's spread that is training noise is unknown.\n"
        )
    else:
        parts = [
            f"{t} {shares[t]['share_training']:.0%} (AUC sd {shares[t]['auc_sd_training']:.3f} from training, "
            f"{shares[t]['auc_sd_test']:.3f} from the test rows; budgets {', '.join(map(str, shares[t]['budgets']))})"
            for t in measured
        ]
        if transferred:
            sds = ", ".join(f"{v:.3f}" for v in transferred["accuracy_sd_by_rank"])
            text += (
                f"\nTraining-seed noise: the study's tasks cannot be fine-tuned again, so each accuracy's seed-to-seed "
                f"sd is the one measured with the same model and protocol on {transferred['tasks']} shipped BBH tasks "
                f"(study/seeds.py), per budget by rank: {sds}."
            )
        text += (
            f"\nTraining-seed noise on {len(measured)} of {len(tasks)} tasks (own or transferred replicates) "
            f"({rec['training_noise']['layout']}) and included in the draws above; share of the AUC's variance that is "
            f"training noise: {'; '.join(parts)}.\n"
        )
    (out / "noise.md").write_text(text)
    return rec


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="study/results/smollm2")
    ap.add_argument("--config", default="config/study.yaml")
    ap.add_argument("--bootstrap", type=int, default=2000)
    args = ap.parse_args(argv)
    config = load_config(REPO / args.config)
    root = REPO / args.results
    tasks = committed_tasks(root, config)
    out = root / "analysis"
    out.mkdir(parents=True, exist_ok=True)
    write_noise(root, config, tasks, out, args.bootstrap)
    print((out / "noise.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
