"""``dataeff coslow-task``: CoS-Low and its baselines for one family x task x seed (pipeline stage).

With ``--summarize``: mean and std over seeds per task, written as ``results/{family}/predictors.tsv``.
"""

from __future__ import annotations

import argparse
from typing import Any

from dataeff.core.errors import DataeffError
from dataeff.coslow.stage import run_coslow_task, score_task_pool, summarize_predictors
from dataeff.pipeline.config import load_config


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "coslow-task", help="CoS-Low + baselines on a prepared task (pipeline stage)", description=__doc__
    )
    p.add_argument("--config", help="resolved config (JSON or YAML)")
    p.add_argument("--family")
    p.add_argument("--task")
    p.add_argument("--seed", type=int)
    p.add_argument("--out", required=True, help="per-seed JSON, or predictors.tsv with --summarize")
    p.add_argument("--train", help="the task's prepared train.jsonl (the pool is drawn from it)")
    p.add_argument("--model", help="the family's model.json (or a model directory)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--summarize", action="store_true", help="aggregate per-seed JSONs into predictors.tsv")
    p.add_argument(
        "--score", action="store_true", help="draw the unlabeled pool and run the confidence pass once (writes --out)"
    )
    p.add_argument("--scores", default=None, help="the pool's confidence file (from --score), per seed")
    p.add_argument("--inputs", nargs="+", default=None, help="per-seed JSONs (with --summarize)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.summarize:
        if not args.inputs:
            raise DataeffError("--summarize needs --inputs", field="inputs", fix="list the per-seed JSON files")
        table = summarize_predictors(args.inputs, args.out, family=args.family)
        print(f"{len(table)} tasks -> {args.out}")
        return 0

    if args.score:
        missing = [f"--{n}" for n in ("config", "family", "task", "train", "model") if getattr(args, n) is None]
        if missing:
            raise DataeffError(
                f"missing {', '.join(missing)}", fix="give --config, --family, --task, --train and --model"
            )
        rec = score_task_pool(
            load_config(args.config),
            args.family,
            args.task,
            args.out,
            train=args.train,
            model=args.model,
            threads=args.threads,
        )
        print(f"{args.family}/{args.task}: scored a pool of {len(rec['scores'])} prompts -> {args.out}")
        return 0
    missing = [
        f"--{n}" for n in ("config", "family", "task", "seed", "scores", "train", "model") if getattr(args, n) is None
    ]
    if missing:
        raise DataeffError(
            f"missing {', '.join(missing)}",
            fix="give --config, --family, --task, --seed, --scores, --train and --model",
        )
    res = run_coslow_task(
        load_config(args.config),
        args.family,
        args.task,
        args.seed,
        args.out,
        scores=args.scores,
        train=args.train,
        model=args.model,
        threads=args.threads,
    )
    print(
        f"{args.family}/{args.task} seed {args.seed}: CoS-Low {res['coslow']:.4f},"
        f" cos_sim_k {res['cos_sim_k']:.4f}, grad_norm_k {res['grad_norm_k']:.4g},"
        f" conf_avg_k {res['conf_avg_k']:.4f} -> {args.out}"
    )
    return 0
