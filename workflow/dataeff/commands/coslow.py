"""``dataeff coslow``: CoS-Low (median pairwise LoRA-gradient cosine) of labeled examples."""

from __future__ import annotations

import argparse
from typing import Any

from dataeff.commands.options import add_model_option
from dataeff.core.io import check_output_path
from dataeff.core.progress import Progress
from dataeff.coslow.stage import run_coslow
from dataeff.pipeline.config import load_optional_config


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("coslow", help="CoS-Low of the labeled low-confidence examples", description=__doc__)
    add_model_option(p)
    p.add_argument("--annotated", required=True, help="JSONL with 'prompt' and a non-empty 'answer' per line")
    p.add_argument("--seed", type=int, required=True, help="seed of the LoRA initialisation")
    p.add_argument("--out", required=True, help="result JSON")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--config", default=None, help="pipeline config (default: the packaged default configuration)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_optional_config(args.config)
    check_output_path(args.out, "--out")
    res = run_coslow(
        args.model,
        args.annotated,
        args.seed,
        args.out,
        config,
        threads=args.threads,
        on_progress=Progress("gradient pass", "units").update,
        on_message=Progress("coslow").message,
    )
    q = res["cosine_quartiles"]
    spread = res.get("spread")
    sd = (
        f", sd {spread['sd']:.3f}, {spread['level']:.0%} interval {spread['low']:.3f}–{spread['high']:.3f}"
        if spread
        else ""
    )
    print(
        f"CoS-Low = {res['value']:.4f} (k={res['k']}{sd}; pairwise quartiles {q['q1']:.4f} / {q['q3']:.4f})"
        f" -> {args.out}"
    )
    return 0
