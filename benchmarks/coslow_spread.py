"""How CoS-Low's spread shrinks with k: one Gram matrix of the whole low-confidence segment.

Input: a ``dataeff predict`` (or ``select``) work directory's ``*.confidences.jsonl`` (which
prompts are in the low-confidence segment) plus the prompts file and gold answers for them.
The per-example LoRA gradients of every low-segment example are folded into one Gram matrix
(one batched backward pass); every draw of k examples from the segment is then a sub-matrix,
so the spread between real draws costs no further backward pass. For each k it reports:

* ``draw_sd``: sd of CoS-Low over ``--draws`` random draws of k from the segment (what another
  seed of the selection would give; a finite segment makes it shrink to 0 as k reaches its size),
* ``boot_sd``: the median bootstrap sd that ``predict`` reports from a single draw of k,
* ``label_share``: the mean share of the most common answer in a draw.

Usage::

    python benchmarks/coslow_spread.py --model smollm2 --prompts navigate.csv --prompt-field question \
        --confidences nav/to_annotate.confidences.jsonl --gold gold.json --out spread_by_k.json
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter

import numpy as np


def _by_majority_share(gram, answers, k, n_draws, rng) -> list[dict]:
    """Mean and sd of CoS-Low over draws of ``k``, grouped by the share of the most common answer."""
    from dataeff.coslow.gradients import median_cosine_resamples

    n = len(answers)
    draws = np.stack([rng.choice(n, k, replace=False) for _ in range(n_draws)])
    meds = median_cosine_resamples(gram, draws)
    shares = np.array([Counter(answers[j] for j in d).most_common(1)[0][1] / k for d in draws])
    rows = []
    for s in sorted(set(shares.round(4))):
        sel = np.isclose(shares, s)
        if sel.sum() >= 5:
            rows.append(
                {
                    "k": k,
                    "majority_share": float(s),
                    "draws": int(sel.sum()),
                    "coslow_mean": float(meds[sel].mean()),
                    "coslow_sd": float(meds[sel].std(ddof=1)),
                }
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompts", required=True)
    ap.add_argument("--prompt-field", default="prompt")
    ap.add_argument("--confidences", required=True)
    ap.add_argument("--gold", required=True, help="JSON id -> answer")
    ap.add_argument("--ks", default="4,8,16,24,32")
    ap.add_argument("--draws", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=123)
    ap.add_argument("--out", required=True)
    ap.add_argument("--save-gram", default=None, help="also save the Gram matrix (.npy) for further analysis")
    args = ap.parse_args()

    from dataeff.core.io import read_jsonl
    from dataeff.coslow.gradients import (
        coslow_spread,
        encode_examples,
        lora_gram,
        lora_projections,
        median_cosine_resamples,
    )
    from dataeff.coslow.selection import read_prompts, row_id
    from dataeff.modeling.lora import lora_settings
    from dataeff.modeling.resolve import load_model_ref
    from dataeff.pipeline.config import load_optional_config

    config = load_optional_config(None)
    with open(args.gold, encoding="utf-8") as fh:
        gold = json.load(fh)
    rows = read_prompts(args.prompts, args.prompt_field)
    by_id = {row_id(r, i): r for i, r in enumerate(rows)}
    low = [c["id"] for c in read_jsonl(args.confidences) if c["in_low"]]
    examples = [dict(by_id[i], answer=gold[i]) for i in low]
    model, tok, _ = load_model_ref(args.model, config)
    t0 = time.monotonic()
    enc = encode_examples(tok, examples)
    proj = lora_projections(model, args.seed, lora_settings(config))
    gram = lora_gram(model, enc, proj).numpy()
    grad_s = time.monotonic() - t0
    if args.save_gram:
        np.save(args.save_gram, gram)
    n = len(examples)
    answers = [e["answer"] for e in examples]
    rng = np.random.default_rng(args.seed)
    full = float(median_cosine_resamples(gram, np.arange(n)[None, :])[0])
    out = {
        "n_low": n,
        "segment_coslow": full,
        "gradient_pass_s": grad_s,
        "answers": dict(Counter(answers)),
        "draws": args.draws,
        "seed": args.seed,
        "by_k": [],
    }
    # CoS-Low by how the draw's answers are split (answer gradients cluster by label).
    out["by_majority_share"] = _by_majority_share(gram, answers, 16, args.draws, rng)
    for k in [int(x) for x in args.ks.split(",") if int(x) <= n]:
        draws = np.stack([rng.choice(n, k, replace=False) for _ in range(args.draws)])
        meds = median_cosine_resamples(gram, draws)
        share = np.mean([Counter(answers[j] for j in d).most_common(1)[0][1] / k for d in draws])
        boots = [coslow_spread(gram[np.ix_(d, d)], resamples=500, seed=s)["sd"] for s, d in enumerate(draws[:40])]
        row = {
            "k": k,
            "coslow_mean": float(np.mean(meds)),
            "draw_sd": float(np.std(meds, ddof=1)),
            "draw_p05": float(np.quantile(meds, 0.05)),
            "draw_p95": float(np.quantile(meds, 0.95)),
            "boot_sd": float(np.median(boots)),
            "label_share": float(share),
        }
        out["by_k"].append(row)
        print(json.dumps(row))
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(out, fh, indent=2)


if __name__ == "__main__":
    main()
