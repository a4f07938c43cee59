"""``dataeff select``: choose the k low-confidence prompts a person should label."""

from __future__ import annotations

import argparse
from typing import Any

from dataeff.commands.options import add_model_option
from dataeff.core.io import check_output_path
from dataeff.core.progress import Progress
from dataeff.core.settings import coslow_settings
from dataeff.coslow.selection import run_select
from dataeff.pipeline.config import load_optional_config


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "select", help="pick the low-confidence prompts to label (CoS-Low step 1-2)", description=__doc__
    )
    add_model_option(p)
    p.add_argument("--prompts", required=True, help="unlabeled prompts: JSONL or CSV (optional 'system', 'id')")
    p.add_argument("--prompt-field", default="prompt", help="key (JSONL) or column (CSV) of the prompt text")
    p.add_argument("--k", type=int, default=None, help="examples to label (default: config coslow.k)")
    p.add_argument("--seed", type=int, required=True, help="seed of the random draw from the low segment")
    p.add_argument("--out", required=True, help="JSONL of the prompts to label (empty 'answer')")
    p.add_argument("--measure", choices=["mean_prob", "perplexity"], default=None)
    p.add_argument("--low-fraction", type=float, default=None, help="size of the low segment (default 0.1)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--max-new-tokens", type=int, default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--config", default=None, help="pipeline config (default: the packaged default configuration)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_optional_config(args.config)
    settings = coslow_settings(config)
    check_output_path(args.out, "--out")
    record = run_select(
        args.model,
        args.prompts,
        args.k or settings.k,
        args.seed,
        args.out,
        config,
        low_fraction=args.low_fraction or settings.low_fraction,
        measure=args.measure or settings.confidence,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        threads=args.threads,
        prompt_field=args.prompt_field,
        on_progress=Progress("confidence pass", "prompts").update,
        on_message=Progress("select").message,
    )
    print(
        f"selected {record['k']} of {record['n_prompts']} prompts (bottom {record['low_fraction']:g} by "
        f"{record['measure']}, seed {record['seed']}) -> {args.out}"
    )
    return 0
