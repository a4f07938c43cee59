"""``dataeff evaluate``: score a model (budget 0: the untuned one) on a task's test split."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dataeff.commands._common import add_config_arg, config_from, setup_logging
from dataeff.core.config import family
from dataeff.core.errors import DataeffError
from dataeff.core.io import atomic_write_json, atomic_write_jsonl, read_jsonl, strip_private
from dataeff.core.provenance import file_hash, provenance
from dataeff.core.settings import eval_settings, family_settings
from dataeff.inference.evaluate import evaluate_rows, load_for_eval
from dataeff.modeling.loading import resolve_model_path
from dataeff.tasks.registry import task_max_new_tokens

#: Fields of the evaluation summary that depend on the machine, written to the sidecar
#: ``n{budget}.timing.json`` instead of the result.
TIMING_KEYS = ("eval_seconds", "examples_per_second")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="evaluate a model on a task's test split")
    add_config_arg(p)
    p.add_argument("--family", required=True)
    p.add_argument("--task", required=True)
    p.add_argument("--budget", type=int, required=True, help="0 = zero-shot")
    p.add_argument("--base-model", required=True, help="results/models/FAMILY/model.json")
    p.add_argument("--model", default=None, help="fine-tuned model directory (omit for zero-shot)")
    p.add_argument("--task-dir", required=True)
    p.add_argument("--out", required=True, help="results/FAMILY/TASK/eval/nBUDGET.json")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def base_revision(base_model: str, info: dict) -> str | None:
    """Revision of the family's base model: a fine-tuned directory has none of its own, so the
    result records the revision of the weights it was fine-tuned from."""

    try:
        return resolve_model_path(base_model)[1].get("revision") or info.get("revision")
    except Exception:  # an unreadable model.json was already reported by the load
        return info.get("revision")


def run(args: argparse.Namespace) -> int:
    setup_logging()
    config = config_from(args)
    fam = family(config, args.family, args.config or "config")
    fam_settings = family_settings(fam)
    task_dir = Path(args.task_dir)
    test_path = task_dir / "test.jsonl"
    rows = [strip_private(r) for r in read_jsonl(test_path)]
    meta = json.loads((task_dir / "meta.json").read_text()) if (task_dir / "meta.json").is_file() else {}
    ev = eval_settings(config)
    n_train = None
    if args.model:
        metrics_path = Path(args.model).parent / "metrics.json"
        if metrics_path.is_file():
            n_train = json.loads(metrics_path.read_text()).get("budget_actual")
    if n_train is not None and int(n_train) < args.budget:
        # The workflow caps budgets at the training pool (docs/METHOD.md section 4); a smaller
        # pool here means its recorded size is stale, and the point would sit at the wrong n.
        raise DataeffError(
            f"the model was trained on {n_train} examples, fewer than budget {args.budget}",
            file=str(Path(args.model).parent / "metrics.json"),
            field="budget_actual",
            fix=f"record the task's training pool ({n_train}) in the task registry "
            "(split_sizes) so the workflow runs this budget at n = the pool size",
        )
    max_new_tokens = task_max_new_tokens(ev, args.task, int(ev.max_new_tokens))
    model, tokenizer, info = load_for_eval(
        args.model or args.base_model, args.base_model, fam_settings, threads=ev.threads
    )
    summary, preds = evaluate_rows(
        model,
        tokenizer,
        rows,
        metric=meta.get("metric", "accuracy"),
        batch_size=ev.batch_size,
        max_new_tokens=max_new_tokens,
        progress=not args.no_progress,
    )
    out = Path(args.out)
    # Timings vary from run to run; keeping them out of the result keeps it byte-reproducible.
    timing = {key: summary.pop(key) for key in TIMING_KEYS if key in summary}
    result = dict(
        summary,
        family=args.family,
        task=args.task,
        budget=args.budget,
        max_new_tokens=max_new_tokens,
        n_train=0 if args.budget == 0 else n_train,
        seed=int(config["seed"]),
        model=info,
        provenance=provenance(
            config={"eval": config["eval"], "family": fam},  # the configuration hash: the dicts as validated
            seed=int(config["seed"]),
            model=fam_settings.model,
            model_revision=base_revision(args.base_model, info),
            data_hash=file_hash(test_path),
        ),
    )
    atomic_write_jsonl(out.with_suffix(".predictions.jsonl"), preds)
    atomic_write_json(out.with_suffix(".timing.json"), timing)
    atomic_write_json(out, result)
    print(
        f"{args.family}/{args.task} n={args.budget}: {summary['metric']} = {summary['accuracy']:.4f} "
        f"on {summary['n_test']} examples ({timing.get('eval_seconds')} s)"
    )
    return 0
