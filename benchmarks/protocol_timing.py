"""Per-unit costs of the study protocol on this CPU, with the real SmolLM2 and one thread.

    python benchmarks/protocol_timing.py [--model results/models/smollm2] [--threads 1]
        [--lengths 96,160] [--batch 8] [--micro 4,8] [--steps 3] [--out results/protocol_timing.json]

The study (config/study.yaml) runs two one-thread jobs at a time (``snakemake --cores 2``), so
its wall time is the sum of these unit costs over every job divided by two. Measured here:

* one optimizer step of the project's loop (``dataeff.train`` pieces: collate, answer-only loss,
  fused AdamW) at batch ``--batch`` for each micro-batch size and prompt length, fp32 and under
  ``torch.autocast("cpu", dtype=torch.bfloat16)``, first (warm-up) step excluded;
* one validation-loss pass (``dataeff.train.evaluate_loss``), per example;
* one test evaluation (``dataeff.evaluate.evaluate_rows``, greedy, the pipeline's batch) per
  example at several ``max_new_tokens``;
* the confidence pass of CoS-Low (``dataeff.confidence.confidence_pass``) per prompt.

Prompts are real chat-formatted text cut to the requested token length (the words of a
BIG-bench-like instruction), answers a few tokens, as in the study's tasks.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from common import DEFAULT_MODEL, machine  # noqa: E402

_TEXT = (
    "Determine whether the following argument is deductively valid given the explicitly stated "
    "premises. Every footballer is a friend of Gene. Being a friend of Gene is sufficient for "
    "being a classmate of Lisa. Whoever is a classmate of Lisa is not a cousin of Tom. It follows "
    "that no footballer is a cousin of Tom. Is the argument, given the explicitly stated premises, "
    "deductively valid or invalid? Options: valid, invalid. "
)


def log(msg: str) -> None:
    print(f"[timing {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def make_rows(tok: Any, n: int, length: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` rows whose chat-formatted prompt is about ``length`` tokens (varying by +-20%)."""
    import random

    from dataeff.chat import prompt_ids

    rng = random.Random(seed)
    words = (_TEXT * 20).split()
    base = len(prompt_ids(tok, "x"))
    rows = []
    for i in range(n):
        target = max(4, int(length * rng.uniform(0.8, 1.2)) - base)
        start = rng.randrange(0, 40)
        text = " ".join(words[start : start + target])
        ids = tok(text, add_special_tokens=False)["input_ids"][:target]
        rows.append({"id": str(i), "prompt": tok.decode(ids), "answer": rng.choice(["valid", "invalid"])})
    return rows


def time_steps(model: Any, tok: Any, examples: list, batch: int, micro: int, steps: int, bf16: bool) -> float:
    """Median seconds of one optimizer step (warm-up step excluded)."""
    import torch

    from dataeff.train import answer_loss_sum, build_optimizer, collate, layout_for, micro_batches

    model.train()
    model.config.use_cache = False
    params = [p for p in model.parameters() if p.requires_grad]
    opt = build_optimizer(params, {"learning_rate": 1e-5, "weight_decay": 0.0})
    layout = layout_for(model)
    times = []
    for s in range(steps + 1):
        batch_ex = examples[(s * batch) % len(examples) :][:batch]
        n_answer = sum(len(e.completion) for e in batch_ex)
        t0 = time.perf_counter()
        for mb in micro_batches(batch_ex, micro):
            ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
            with ctx:
                loss, _ = answer_loss_sum(model, collate(mb, tok.pad_token_id, layout), "cpu", layout)
            (loss / n_answer).backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if s:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(DEFAULT_MODEL))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--lengths", default="96,160")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--micro", default="4,8")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--val", type=int, default=24)
    ap.add_argument("--test", type=int, default=100)
    ap.add_argument("--new-tokens", default="8,16")
    ap.add_argument("--pool", type=int, default=64)
    ap.add_argument("--skip", default="", help="comma list of parts to skip: train,val,eval,confidence")
    ap.add_argument("--out", default="results/protocol_timing.json")
    args = ap.parse_args(argv)

    import torch

    from dataeff.confidence import confidence_pass
    from dataeff.evaluate import evaluate_rows
    from dataeff.models import load_model
    from dataeff.train import evaluate_loss, layout_for, tokenize_rows

    torch.set_num_threads(args.threads)
    skip = set(filter(None, args.skip.split(",")))
    out: dict[str, Any] = {
        "machine": machine(args.threads),
        "batch": args.batch,
        "train": [],
        "val": [],
        "eval": [],
        "confidence": [],
    }
    t0 = time.perf_counter()
    model, tok, info = load_model(args.model, threads=args.threads)
    out["load_seconds"] = round(time.perf_counter() - t0, 2)
    out["model"] = info
    for length in (int(x) for x in args.lengths.split(",")):
        rows = make_rows(tok, max(args.batch * (args.steps + 1), args.test, args.pool), length)
        examples = tokenize_rows(tok, rows, 2048, "timing")
        mean_len = statistics.mean(e.length for e in examples)
        if "train" not in skip:
            for micro in (int(x) for x in args.micro.split(",")):
                for bf16 in (False, True):
                    torch.manual_seed(0)
                    model, tok, _ = load_model(args.model, threads=args.threads)
                    s = time_steps(model, tok, examples, args.batch, micro, args.steps, bf16)
                    rec = {
                        "length": length,
                        "mean_tokens": mean_len,
                        "micro": micro,
                        "precision": "bf16-autocast" if bf16 else "fp32",
                        "step_seconds": round(s, 3),
                        "tokens_per_s": round(args.batch * mean_len / s, 1),
                    }
                    out["train"].append(rec)
                    log(json.dumps(rec))
        model, tok, _ = load_model(args.model, threads=args.threads)
        if "val" not in skip:
            layout = layout_for(model)
            val = examples[: args.val]
            evaluate_loss(model, val[:4], 8, tok.pad_token_id, "cpu", layout)
            t = time.perf_counter()
            evaluate_loss(model, val, 8, tok.pad_token_id, "cpu", layout)
            per = (time.perf_counter() - t) / len(val)
            rec = {"length": length, "n": len(val), "seconds_per_example": round(per, 4)}
            out["val"].append(rec)
            log(json.dumps(rec))
        if "eval" not in skip:
            for mnt in (int(x) for x in args.new_tokens.split(",")):
                t = time.perf_counter()
                evaluate_rows(
                    model,
                    tok,
                    rows[: args.test],
                    metric="accuracy",
                    batch_size=args.test,
                    max_new_tokens=mnt,
                    progress=False,
                )
                rec = {
                    "length": length,
                    "n": args.test,
                    "max_new_tokens": mnt,
                    "seconds_per_example": round((time.perf_counter() - t) / args.test, 4),
                }
                out["eval"].append(rec)
                log(json.dumps(rec))
        if "confidence" not in skip:
            t = time.perf_counter()
            confidence_pass(model, tok, rows[: args.pool], max_new_tokens=30, batch_size=64)
            rec = {
                "length": length,
                "n": args.pool,
                "max_new_tokens": 30,
                "seconds_per_example": round((time.perf_counter() - t) / args.pool, 4),
            }
            out["confidence"].append(rec)
            log(json.dumps(rec))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
