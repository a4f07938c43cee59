"""``dataeff coslow``: CoS-Low (median pairwise LoRA-gradient cosine) of labeled examples."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "coslow", help="CoS-Low of the labeled low-confidence examples", description=__doc__
    )
    p.add_argument("--model", required=True, help="family name, model directory or model.json, or Hub id")
    p.add_argument("--annotated", required=True, help="JSONL with 'prompt' and a non-empty 'answer' per line")
    p.add_argument("--seed", type=int, required=True, help="seed of the LoRA initialisation")
    p.add_argument("--out", required=True, help="result JSON")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--config", default=None, help="pipeline config (default config/config.yaml)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataeff.commands.select import config_arg
    from dataeff.coslow_stage import run_coslow

    res = run_coslow(
        args.model, args.annotated, args.seed, args.out, config_arg(args.config), threads=args.threads
    )
    q = res["cosine_quartiles"]
    print(
        f"CoS-Low = {res['value']:.4f} (k={res['k']}, quartiles {q['q1']:.4f} / {q['q3']:.4f}) -> {args.out}"
    )
    return 0
