"""Training-seed replicates: fine-tune every task of study/seeds.yaml at every budget per seed.

    python study/seeds.py [--config study/seeds.yaml] [--seeds 123,124,125] [--cores 2]
                          [--tasks a,b] [--reuse 123=.] [--harvest-only]

Why: each (task, budget) of the CPU study is one fine-tune, so a lucky or unlucky training run
moves a point, and the running maximum of the curve turns a lucky point into AUC. Running the
same protocol with other training seeds (the seed orders the training examples; the splits stay
fixed) measures how much of an AUC is training noise. The 20 study tasks cannot be run again
(their BIG-bench data went with the withdrawn sdist), so this runs on shipped BIG-Bench Hard tasks.

Each seed runs in its own Snakemake working directory (``results/seeds/s{seed}``: ignored by git,
resumable: a killed run goes on where it stopped, finished jobs are kept), targeting only the
evaluations (no CoS-Low). ``--reuse SEED=DIR`` takes that seed's files from another run's working
directory instead (the embedded default's run is seed 123 on its four tasks), after checking
that the two configurations agree on every setting a fine-tune or evaluation reads.

Each finished (task, seed) is harvested into ``study/results/bbh_seeds/raw/{task}/``:
``eval_n0.json`` (zero-shot: no training, so one per task), and per seed ``s{seed}/eval_n{b}.json``,
``eval_n{b}.predictions.jsonl``, ``train_n{b}.metrics.json`` and ``train_n{b}.log.jsonl``, plus
the task's ``task_meta.json``. study/seed_noise.py analyses them. Stop it at any time; run it
again to go on.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from dataeff.pipeline.config import load_config  # noqa: E402

OUT = REPO / "study" / "results" / "bbh_seeds"
#: Settings a fine-tune or an evaluation of a BBH task reads (what --reuse must find equal).
RUN_KEYS = ("families", "budgets", "max_budget", "data", "train", "eval")


def log(msg: str) -> None:
    print(f"[seeds {time.strftime('%Y-%m-%d %H:%M:%S')}] {msg}", flush=True)


def budgets(config: dict) -> list[int]:
    return [0, *sorted(config["budgets"])]


def targets(config: dict, family: str, task: str, with_zero_shot: bool) -> list[str]:
    """The evaluation files of one task in a seed's working directory."""
    return [f"results/{family}/{task}/eval/n{b}.json" for b in budgets(config) if b or with_zero_shot]


def harvested(task: str, seed: int, config: dict) -> bool:
    folder = OUT / "raw" / task / f"s{seed}"
    return all((folder / f"eval_n{b}.json").is_file() for b in config["budgets"])


def check_reusable(config: dict, other: Path) -> None:
    """Stop unless the run in ``other`` used the same settings for every shared task."""
    theirs = load_config(other / "config" / "config.yaml")
    for key in RUN_KEYS:
        if theirs[key] != config[key]:
            raise SystemExit(f"seeds: cannot reuse {other}: its '{key}' settings differ from {key} here")
    for task in theirs["tasks"]:
        if task in config["bbh_tasks"] and theirs["bbh_tasks"].get(task) != config["bbh_tasks"][task]:
            raise SystemExit(f"seeds: cannot reuse {other}: bbh_tasks.{task} differs")


def harvest(config: dict, family: str, task: str, seed: int, workdir: Path) -> None:
    """Copy one finished (task, seed) into the committed results (see the module docstring)."""
    base = workdir / "results" / family / task
    raw = OUT / "raw" / task
    dest = raw / f"s{seed}"
    dest.mkdir(parents=True, exist_ok=True)
    if not (raw / "eval_n0.json").is_file() and (base / "eval" / "n0.json").is_file():
        shutil.copy2(base / "eval" / "n0.json", raw / "eval_n0.json")
        shutil.copy2(base / "eval" / "n0.predictions.jsonl", raw / "eval_n0.predictions.jsonl")
    meta = workdir / "data" / "tasks" / task / "meta.json"
    if meta.is_file() and not (raw / "task_meta.json").is_file():
        shutil.copy2(meta, raw / "task_meta.json")
    for b in sorted(config["budgets"]):
        shutil.copy2(base / "train" / f"n{b}" / "metrics.json", dest / f"train_n{b}.metrics.json")
        shutil.copy2(base / "train" / f"n{b}" / "train_log.jsonl", dest / f"train_n{b}.log.jsonl")
        shutil.copy2(base / "eval" / f"n{b}.predictions.jsonl", dest / f"eval_n{b}.predictions.jsonl")
        shutil.copy2(base / "eval" / f"n{b}.json", dest / f"eval_n{b}.json")  # last: marks it done
    log(f"harvested {task} seed {seed}")


def run_seed(args: argparse.Namespace, config: dict, family: str, task: str, seed: int, workdir: Path) -> bool:
    """Snakemake for one task and seed in the seed's working directory; True when finished."""
    wanted = targets(config, family, task, with_zero_shot=True)
    if all((workdir / t).is_file() for t in wanted):
        return True
    workdir.mkdir(parents=True, exist_ok=True)
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    cmd = [
        snakemake,
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(REPO / args.config),
        "--config",
        f"seed={seed}",
        "--cores",
        str(args.cores),
        "--rerun-incomplete",
        "--keep-going",
        *wanted,
    ]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "workflow"), os.environ.get("PYTHONPATH", "")]))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, check=False)
    log(f"{task} seed {seed}: snakemake exited {proc.returncode} after {(time.perf_counter() - t0) / 60:.1f} min")
    return all((workdir / t).is_file() for t in wanted)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="study/seeds.yaml")
    ap.add_argument("--seeds", default="123,124,125")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--tasks", default=None, help="comma-separated subset (default: every task, in order)")
    ap.add_argument("--reuse", action="append", default=[], metavar="SEED=DIR", help="another run's working dir")
    ap.add_argument("--harvest-only", action="store_true", help="harvest what is finished, run nothing")
    args = ap.parse_args(argv)
    config = load_config(REPO / args.config)
    (family,) = list(config["families"])
    reuse = {int(k): Path(v).resolve() for k, v in (item.split("=", 1) for item in args.reuse)}
    for other in reuse.values():
        check_reusable(config, other)
    seeds = [int(s) for s in args.seeds.split(",")]
    tasks = args.tasks.split(",") if args.tasks else list(config["tasks"])
    # Seed by seed within each task, so a task's replicates finish together and can be committed.
    for task in tasks:
        for seed in seeds:
            if harvested(task, seed, config):
                continue
            workdir = reuse.get(seed) or REPO / "results" / "seeds" / f"s{seed}"
            reused = seed in reuse
            ready = all((workdir / t).is_file() for t in targets(config, family, task, with_zero_shot=True))
            if reused and not ready:
                workdir = REPO / "results" / "seeds" / f"s{seed}"  # the other run lacks it: run it here
                reused = False
            if not reused and not args.harvest_only:
                ready = run_seed(args, config, family, task, seed, workdir)
            if ready:
                harvest(config, family, task, seed, workdir)
            else:
                log(f"{task} seed {seed}: not finished; run again to go on")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
