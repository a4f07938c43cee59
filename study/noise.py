"""Is the study's correlation an artefact of measurement noise? A bootstrap that adds it.

The bootstrap intervals of ``finding.md`` resample tasks only; every AUC and CoS-Low is taken as
exact. Both are measured: each accuracy on 100 test rows (binomial noise, standard error up to
0.05), the majority floor on the same rows, and CoS-Low as the mean of 3 seeds. Here every
replicate resamples the tasks *and* redraws each task's measurements from their noise (each
accuracy and the majority share as Binomial(n_test, p) / n_test, CoS-Low as the seeds' mean plus
Normal noise with the seeds' standard error; each redrawn independently, an approximation since
the accuracies and the share are counted on the same test rows), recomputes each AUC with the pipeline's own
:func:`dataeff.efficiency.compute_curve` under the study's floor rule, and takes Pearson r. A
second run keeps the tasks fixed and redraws only the noise: how far r moves from test noise
alone. The seed comes from the study config and is recorded in the output.

    python study/noise.py [--results study/results/smollm2] [--config config/study.yaml]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from dataeff.config import load_config  # noqa: E402
from dataeff.efficiency import compute_curve  # noqa: E402
from dataeff.results import result_filename  # noqa: E402

sys.path.insert(0, str(REPO / "study"))
from committed import committed_tasks  # noqa: E402


def task_measurements(root: Path, family: str, task: str) -> dict:
    """Accuracies with their test sizes, the majority share, the ceiling and the CoS-Low seeds
    of one committed task."""
    result = json.loads((root / result_filename(family, task)).read_text())
    points = {int(b): (float(v["accuracy"]), int(v["n_test"])) for b, v in result.items() if b.isdigit()}
    chance = result.get("chance") or {}
    ceiling = json.loads((root / "ceilings.json").read_text())[task]["score"]
    seeds = [
        float(json.loads(p.read_text())["coslow"]) for p in sorted((root / "raw" / task).glob("coslow_seed*.json"))
    ]
    return {
        "task": task,
        "points": points,
        "floor": (float(chance["score"]), int(chance["n_test"])) if chance else None,
        "ceiling": float(ceiling) if ceiling is not None else None,
        "coslow": seeds,
    }


def _auc(m: dict, grid: list[int], max_budget: int, floor_rule: str, rng) -> float:
    """One draw of the task's AUC: accuracies and floor redrawn from their binomial noise
    (``rng`` None: as measured)."""

    def draw(p: float, n: int) -> float:
        return p if rng is None else float(rng.binomial(n, p)) / n

    points = {b: draw(p, n) for b, (p, n) in m["points"].items()}
    floor = draw(*m["floor"]) if floor_rule == "majority" and m["floor"] else None
    return compute_curve(points, m["ceiling"], grid, max_budget, floor=floor).auc


def _coslow(m: dict, rng) -> float:
    """One draw of the task's 3-seed mean CoS-Low (the seeds' standard error as Normal noise)."""
    mean = statistics.fmean(m["coslow"])
    if rng is None or len(m["coslow"]) < 2:
        return mean
    return mean + rng.normal(0.0, statistics.stdev(m["coslow"]) / len(m["coslow"]) ** 0.5)


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


def write_noise(root: Path, config: dict, tasks: list[str], out: Path, n_boot: int = 2000) -> dict:
    """``out/noise.json`` and a sentence in ``out/noise.md``; returns the record."""
    (family,) = list(config["families"])
    measurements = [task_measurements(root, family, t) for t in tasks]
    grid = sorted(int(b) for b in config["budgets"])
    rec = noise_bootstrap(
        measurements, grid, int(config["max_budget"]), config["analysis"]["floor"], n_boot, int(config["seed"])
    )
    (out / "noise.json").write_text(json.dumps(rec, indent=2) + "\n")
    both, alone = rec["tasks_and_noise"], rec["noise_only"]
    (out / "noise.md").write_text(
        f"With the measurement noise added (every accuracy and majority share redrawn from Binomial(n_test, p), "
        f"CoS-Low from its 3 seeds' standard error; {rec['n_boot']} replicates, seed {rec['seed']}), "
        f"r(CoS-Low, AUC) = {rec['r']:.2f} over {rec['tasks']} tasks has the 95% interval "
        f"[{both['low']:.2f}, {both['high']:.2f}] with tasks resampled too ({both['share_negative']:.1%} of "
        f"replicates negative), and [{alone['low']:.2f}, {alone['high']:.2f}] from the noise alone.\n"
    )
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
