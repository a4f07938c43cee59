"""``dataeff predict``: the practitioner's whole path from unlabeled prompts to a label budget.

First run: score every prompt's confidence with the base model, pick the k least-confident
(CoS-Low's low-confidence segment) and write them to ``DIR/to_annotate.jsonl`` with an empty
``answer`` field, then stop and say what to label. Second run (same command), once every
``answer`` is filled: compute CoS-Low from those k labeled examples, then the budget with its
interval from the family's coefficients, and say how many examples to label.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

TO_ANNOTATE = "to_annotate.jsonl"


def register(subparsers: argparse._SubParsersAction) -> None:
    from dataeff.commands.budget import _finite_float

    p = subparsers.add_parser(
        "predict", help="unlabeled prompts -> 32 examples to label -> CoS-Low -> label budget",
        description=__doc__.splitlines()[0] + ". Run it twice: once to get the examples to label, and "
                    "again after labeling them.")
    p.add_argument("--model", required=True, help="base model (Hub id, local dir, or results/models/F)")
    p.add_argument("--prompts", required=True, help="unlabeled prompts, JSONL with a 'prompt' field")
    p.add_argument("--family", required=True,
                   help="family whose coefficients to use (fitted, config, or published: llama, "
                        "mistral, qwen)")
    p.add_argument("--target", type=_finite_float, required=True,
                   help="fraction of the zero-shot-to-ceiling gap to close, in (0, 1)")
    p.add_argument("--workdir", required=True, help="directory for to_annotate.jsonl and the results")
    p.add_argument("--k", type=int, default=None, help="examples to label (default config coslow.k, else 32)")
    p.add_argument("--seed", type=int, default=None, help="selection and LoRA seed (default config seed)")
    p.add_argument("--coefficients", default=None, help="coefficients.json to use instead of the lookup")
    p.add_argument("--results-dir", default="results", help="where results/{family}/coefficients.json lives")
    p.add_argument("--max-budget", type=int, default=None, help="N_max (default: the coefficients' own)")
    p.add_argument("--config", default=None, help="pipeline config (default config/config.yaml if present)")
    p.add_argument("--json", action="store_true", help="print the final prediction as JSON")
    p.set_defaults(func=run)


def check_answers(path: Path) -> list[dict[str, Any]]:
    """Rows of the annotation file; a missing or empty ``answer`` is a one-line error."""
    from dataeff.errors import DataeffError
    from dataeff.io import read_jsonl

    rows = read_jsonl(path)
    for row in rows:
        answer = row.get("answer")
        if answer is None or (isinstance(answer, str) and not answer.strip()):
            raise DataeffError(f"line {row.get('_line')}: the answer is empty", file=str(path),
                               field="answer",
                               fix="write the gold label of every example in its 'answer' field, then run "
                                   "the same command again")
        if not isinstance(answer, str | int | float) or isinstance(answer, bool):
            raise DataeffError(f"line {row.get('_line')}: the answer must be text", file=str(path),
                               field="answer", fix='write the label as a string, e.g. "positive"')
    return rows


def run(args: argparse.Namespace) -> int:
    from dataeff.budget import check_target, predict_budget
    from dataeff.coefficients import lookup_coefficients
    from dataeff.commands.budget import describe
    from dataeff.commands.fit import load_optional_config
    from dataeff.errors import DataeffError
    from dataeff.io import atomic_write_json

    target = check_target(args.target)
    config = load_optional_config(args.config)
    cos = (config or {}).get("coslow") or {}
    k = int(args.k if args.k is not None else cos.get("k", 32))
    if k < 2:
        raise DataeffError(f"k = {k} is too small", field="--k", fix="CoS-Low needs at least 2 labeled "
                           "examples (the paper uses 32)")
    seed = int(args.seed if args.seed is not None else (config or {}).get("seed", 123))
    # Resolve the coefficients first: a family without any should fail before minutes of scoring.
    coefs = lookup_coefficients(args.family, args.coefficients, args.results_dir, config)
    workdir = Path(args.workdir)
    annotate = workdir / TO_ANNOTATE

    if not annotate.is_file():
        from dataeff.selection import run_select

        run_select(args.model, args.prompts, k, seed, str(annotate), config,
                   low_fraction=float(cos.get("low_fraction", 0.1)),
                   measure=str(cos.get("confidence", "mean_prob")))
        from dataeff.io import read_jsonl

        n = len(read_jsonl(annotate))
        print(f"label the `answer` field of the {n} examples in {annotate}, then run the same command again")
        return 0

    rows = check_answers(annotate)
    if len(rows) < 2:
        raise DataeffError(f"only {len(rows)} example(s)", file=str(annotate),
                           fix="CoS-Low needs at least 2 labeled examples; delete the file to select again")
    from dataeff.coslow import run_coslow

    cos_out = workdir / "coslow.json"
    cos_rec = run_coslow(args.model, str(annotate), seed, str(cos_out), config)
    value = cos_rec["value"]
    pred = predict_budget(value, coefs, target, args.max_budget)
    pred.update({"family": args.family, "model": args.model, "k": len(rows), "seed": seed,
                 "annotated": str(annotate)})
    from dataeff.provenance import file_hash, provenance

    pred["provenance"] = provenance(config=config, seed=seed, model=args.model, data_hash=file_hash(annotate))
    atomic_write_json(workdir / "prediction.json", pred)
    for w in pred["warnings"]:
        print(f"dataeff: warning: {w}", file=sys.stderr)
    if args.json:
        print(json.dumps(pred, indent=2, sort_keys=True))
        return 0
    print(f"CoS-Low of the {len(rows)} labeled examples: {value:.4f}")
    print(describe(pred))
    print(f"next: label about {pred['budget']} examples (range {pred['budget_low']}–{pred['budget_high']}) "
          f"to reach {target:.0%} of the gap between zero-shot and ceiling (a random sample of your "
          f"prompts), then fine-tune on them. Details: {workdir / 'prediction.json'}")
    return 0
