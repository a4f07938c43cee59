"""Run the CPU data-efficiency study task by task, committing-ready results after each task.

    python study/run_study.py [--config config/study.yaml] [--cores 2] [--tasks a,b] [--harvest-only]

For each task of the config, in order, that has no curve in the results directory yet
(``analysis.published_results``, study/results/smollm2/): run Snakemake for that task only (its
zero-shot and fine-tuned evaluations at every budget and its CoS-Low seeds; a killed run resumes,
finished jobs are not redone), then harvest it into the results directory:

* ``{family}_{task}_full_result_v2.json``: the per-budget accuracies in the paper's layout
  (``dataeff aggregate``);
* ``ceilings.json``: each harvested task's ceiling (what its AUC was normalised with);
* ``{family}_predictors.tsv``: CoS-Low and the three baselines of every harvested task, mean and
  std over the seeds (``dataeff coslow-task --summarize``);
* ``raw/{task}/``: each budget's eval result, predictions and training metrics (distinct
  examples, updates, validations, stop reason, precision), the CoS-Low records and ``picks.json``
  (the gold answers of each seed's low-confidence and random picks), so the study can be checked
  without rerunning it.

When every task is harvested it runs the default target once more, which (the curves and
predictors now being published) regenerates efficiency, fits and figures without training, and
copies them to ``{results}/analysis/``.
Stop it at any time; run it again to go on.
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

from dataeff.core.io import atomic_write_json, read_json, read_jsonl  # noqa: E402
from dataeff.core.settings import analysis_settings, coslow_settings  # noqa: E402
from dataeff.efficiency.results import result_filename, write_ceilings  # noqa: E402
from dataeff.pipeline.config import load_config  # noqa: E402
from dataeff.tasks.registry import ceilings as task_ceilings  # noqa: E402


def log(msg: str) -> None:
    print(f"[study {time.strftime('%Y-%m-%d %H:%M:%S')}] {msg}", flush=True)


def task_targets(config: dict, family: str, task: str) -> list[str]:
    """The files one task of the study ends in: every budget's evaluation and every CoS-Low seed."""
    evals = [f"results/{family}/{task}/eval/n{b}.json" for b in [0, *sorted(config["budgets"])]]
    seeds = [f"results/{family}/{task}/coslow/seed{s}.json" for s in coslow_settings(config).seeds]
    return evals + seeds


def copy_benchmarks(family: str, task: str, raw: Path) -> int:
    """Snakemake's per-job ``benchmark`` files of the task (wall and CPU seconds, memory) into
    ``raw/benchmarks/``, so the study's cost is read from committed files (study/timing.py);
    returns how many were copied (none where the jobs ran without them)."""
    src = REPO / "results" / "benchmarks" / family / task
    files = sorted(src.glob("*.tsv")) if src.is_dir() else []
    if files:
        (raw / "benchmarks").mkdir(exist_ok=True)
        for f in files:
            shutil.copy2(f, raw / "benchmarks" / f.name)
    return len(files)


def harvest(config: dict, family: str, task: str, out: Path) -> None:
    """Copy one finished task into the results directory (see module docstring)."""
    py = [sys.executable, "-m", "dataeff"]
    coslow_seeds = coslow_settings(config).seeds
    evals = [t for t in task_targets(config, family, task) if "/eval/" in t]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "workflow"), os.environ.get("PYTHONPATH", "")]))
    subprocess.run(
        [*py, "aggregate", "--family", family, "--evals", *evals, "--out-dir", str(out)], cwd=REPO, check=True, env=env
    )
    raw = out / "raw" / task
    raw.mkdir(parents=True, exist_ok=True)
    for b in [0, *sorted(config["budgets"])]:
        base = REPO / f"results/{family}/{task}"
        shutil.copy2(base / f"eval/n{b}.json", raw / f"eval_n{b}.json")
        shutil.copy2(base / f"eval/n{b}.predictions.jsonl", raw / f"eval_n{b}.predictions.jsonl")
        if b:
            shutil.copy2(base / f"train/n{b}/metrics.json", raw / f"train_n{b}.metrics.json")
            shutil.copy2(base / f"train/n{b}/train_log.jsonl", raw / f"train_n{b}.log.jsonl")
    for s in coslow_seeds:
        shutil.copy2(REPO / f"results/{family}/{task}/coslow/seed{s}.json", raw / f"coslow_seed{s}.json")
    shutil.copy2(REPO / f"results/{family}/{task}/coslow/confidence.json", raw / "confidence.json")
    shutil.copy2(REPO / f"data/tasks/{task}/meta.json", raw / "task_meta.json")
    copy_benchmarks(family, task, raw)
    answers = {r["id"]: r["answer"] for r in read_jsonl(REPO / f"data/tasks/{task}/train.jsonl")}
    picks: dict[str, dict[str, list[str]]] = {"selected": {}, "random": {}}
    for s in coslow_seeds:
        rec = read_json(raw / f"coslow_seed{s}.json")
        picks["selected"][str(s)] = [answers[i] for i in rec["selected_ids"]]
        picks["random"][str(s)] = [answers[i] for i in rec["random_ids"]]
    atomic_write_json(raw / "picks.json", picks)
    done = [t for t in config["tasks"] if (out / result_filename(family, t)).is_file()]
    write_ceilings(out / "ceilings.json", {t: c for t, c in task_ceilings(config).items() if t in done})
    seeds = [str(out / "raw" / t / f"coslow_seed{s}.json") for t in done for s in coslow_seeds]
    subprocess.run(
        [
            *py,
            "coslow-task",
            "--summarize",
            "--family",
            family,
            "--inputs",
            *seeds,
            "--out",
            str(out / f"{family}_predictors.tsv"),
        ],
        cwd=REPO,
        check=True,
        env=env,
    )
    log(f"harvested {task}: {len(done)}/{len(config['tasks'])} tasks in {out}")


def copy_analysis(family: str, dest: Path) -> None:
    """The pipeline's efficiency, fit and figures of the family, next to the committed results."""
    src = REPO / "results" / family
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("efficiency.json", "efficiency.tsv", "coefficients.json", "loto.tsv", "correlations.tsv"):
        shutil.copy2(src / name, dest / name)
    shutil.copytree(src / "figures", dest / "figures", dirs_exist_ok=True)
    log(f"analysis copied to {dest}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="config/study.yaml")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--tasks", default=None, help="comma-separated subset (default: every task, in order)")
    ap.add_argument("--harvest-only", action="store_true", help="(re-)harvest every finished task, run nothing")
    args = ap.parse_args(argv)
    config = load_config(REPO / args.config)
    (family,) = list(config["families"])
    out = REPO / analysis_settings(config).published_results
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    tasks = args.tasks.split(",") if args.tasks else list(config["tasks"])
    for task in tasks:
        if (out / result_filename(family, task)).is_file() and not args.harvest_only:
            log(f"{task}: already harvested")
            continue
        targets = task_targets(config, family, task)
        if not args.harvest_only:
            log(f"{task}: running ({len(targets)} targets)")
            t0 = time.perf_counter()
            proc = subprocess.run(
                [
                    snakemake,
                    "--configfile",
                    args.config,
                    "--cores",
                    str(args.cores),
                    "--rerun-incomplete",
                    "--keep-going",
                    *targets,
                ],
                cwd=REPO,
            )
            log(f"{task}: snakemake exited {proc.returncode} after {(time.perf_counter() - t0) / 60:.1f} min")
        if all((REPO / t).is_file() for t in targets):
            harvest(config, family, task, out)
        else:
            log(f"{task}: not finished; run again to go on")
    if all((out / result_filename(family, t)).is_file() for t in config["tasks"]) and not args.harvest_only:
        log("every task harvested: regenerating the analysis from the published results")
        proc = subprocess.run([snakemake, "--configfile", args.config, "--cores", str(args.cores)], cwd=REPO)
        if proc.returncode == 0:
            copy_analysis(family, out / "analysis")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
