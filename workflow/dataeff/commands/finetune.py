"""``dataeff finetune``: fine-tune one family on one task at one budget."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from dataeff.commands._common import add_config_arg, config_from, setup_logging
from dataeff.core.config import family
from dataeff.core.errors import DataeffError
from dataeff.core.io import read_jsonl, strip_private
from dataeff.core.provenance import file_hash, provenance
from dataeff.core.settings import data_settings, family_settings, train_settings
from dataeff.tasks.prepare import budget_subset, validation_subset
from dataeff.training.finetune import finetune, write_metrics


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("finetune", help="fine-tune a family on a task at one data budget")
    add_config_arg(p)
    p.add_argument("--family", required=True)
    p.add_argument("--task", required=True)
    p.add_argument("--budget", type=int, required=True)
    p.add_argument("--model", required=True, help="prepared model: results/models/FAMILY/model.json")
    p.add_argument("--task-dir", required=True, help="prepared task: data/tasks/TASK")
    p.add_argument("--out-dir", required=True, help="results/FAMILY/TASK/train/nBUDGET")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    setup_logging()
    config = config_from(args)
    entry = family(config, args.family, args.config or "config")
    fam, train = family_settings(entry), train_settings(config)
    if args.budget < 1:
        raise DataeffError(
            f"budget {args.budget} is not positive",
            field="budget",
            fix="budget 0 is zero-shot: evaluate the base model instead",
        )
    task_dir = Path(args.task_dir)
    train_path, val_path = task_dir / "train.jsonl", task_dir / "validation.jsonl"
    train_all = [strip_private(r) for r in read_jsonl(train_path)]
    val_all = [strip_private(r) for r in read_jsonl(val_path)]
    train_rows = budget_subset(train_all, args.budget)
    if len(train_rows) < args.budget:
        print(
            f"note: budget {args.budget} exceeds the training pool of {args.task}; using all {len(train_rows)} examples"
        )
    val_rows = validation_subset(val_all, args.budget, data_settings(config).validation_fraction)
    out = Path(args.out_dir)
    ckpt = out.with_name(out.name + ".ckpt")
    seed = int(config["seed"])
    metrics = finetune(
        model_ref=args.model,
        family=fam,
        train=train,
        train_rows=train_rows,
        val_rows=val_rows,
        out_dir=out,
        ckpt_dir=ckpt,
        seed=seed,
        source=str(train_path),
        progress=not args.no_progress,
    )
    metrics.update(
        family=args.family,
        task=args.task,
        budget=args.budget,
        budget_actual=len(train_rows),
        provenance=provenance(
            config={"train": config["train"], "family": entry, "data": config["data"]},
            seed=seed,
            model=fam.model,
            model_revision=metrics["model"].get("revision"),
            data_hash=file_hash(train_path, val_path),
        ),
    )
    write_metrics(out / "metrics.json", metrics)
    shutil.rmtree(ckpt, ignore_errors=True)
    print(
        f"fine-tuned {args.family}/{args.task} n={args.budget}: {metrics['steps_run']} steps, "
        f"best val loss {metrics['best_val_loss']}, {metrics['wall_seconds']} s"
    )
    return 0
