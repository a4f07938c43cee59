"""Per-unit costs of the study protocol on this CPU, with the real SmolLM2 and one thread.

    python benchmarks/protocol_timing.py [--model results/models/smollm2] [--threads 1]
        [--lengths 96,160] [--batch 8] [--micro 4,8] [--steps 3] [--out results/protocol_timing.json]

The study (config/study.yaml) runs two one-thread jobs at a time (``snakemake --cores 2``), so
its wall time is the sum of these unit costs over every job divided by two. Measured here:

* one optimizer step of the pipeline's own step (``dataeff.training.step.train_step``: collate,
  answer-only loss, clipping, fused AdamW) at batch ``--batch`` for each micro-batch size and
  prompt length, fp32 and under the ``autocast_bf16`` precision policy (bf16 matmuls, fp32
  weights), first (warm-up) step excluded;
* one validation-loss pass (``dataeff.training.validation.validation_loss``), per example;
* one test evaluation (``dataeff.inference.evaluate.evaluate_rows``, greedy, the pipeline's batch) per
  example at several ``max_new_tokens``;
* the confidence pass of CoS-Low (``dataeff.inference.confidence.confidence_pass``) per prompt.

Prompts are real chat-formatted text cut to the requested token length (the words of a
BIG-bench-like instruction), answers a few tokens, as in the study's tasks.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from common import DEFAULT_MODEL, machine, train_project  # noqa: E402

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

    from dataeff.modeling.chat import prompt_ids

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


def time_steps(
    model: Any, tok: Any, examples: list, batch: int, micro: int, steps: int, bf16: bool
) -> tuple[float, str]:
    """Median seconds of one optimizer step of the pipeline's own step (warm-up step excluded),
    fp32 or under the ``autocast_bf16`` precision policy, on consecutive batches of
    ``examples``; and the policy used (fp32 where this CPU has no bf16)."""
    import dataclasses

    from dataeff.core.settings import train_settings
    from dataeff.modeling.precision import resolve_precision

    train = dataclasses.replace(
        train_settings(None),
        learning_rate=1e-5,
        weight_decay=0.0,
        lr_scheduler="constant",
        warmup_ratio=0.0,
        micro_batch_size=micro,
        max_grad_norm=1.0,
    )
    plan = [[(s * batch + i) % len(examples) for i in range(batch)] for s in range(steps + 1)]
    precision = resolve_precision("autocast_bf16" if bf16 else "fp32", "cpu")
    ends = train_project(model, tok, examples, plan, train, "cpu", precision)["ends"]
    return statistics.median(b - a for a, b in zip(ends, ends[1:], strict=False)), precision.used


def _parser() -> argparse.ArgumentParser:
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
    return ap


def _time_training(args: argparse.Namespace, examples: list, length: int, mean_len: float) -> list[dict[str, Any]]:
    """One optimizer step per micro-batch size, fp32 and bf16 autocast, each on a fresh model."""
    import torch

    from dataeff.modeling.loading import load_model

    recs = []
    for micro in (int(x) for x in args.micro.split(",")):
        for bf16 in (False, True):
            torch.manual_seed(0)
            model, tok, _ = load_model(args.model, threads=args.threads)
            s, used = time_steps(model, tok, examples, args.batch, micro, args.steps, bf16)
            recs.append(
                {
                    "length": length,
                    "mean_tokens": mean_len,
                    "micro": micro,
                    "precision": used,
                    "step_seconds": round(s, 3),
                    "tokens_per_s": round(args.batch * mean_len / s, 1),
                }
            )
            log(json.dumps(recs[-1]))
    return recs


def _time_validation(args: argparse.Namespace, model: Any, tok: Any, examples: list, length: int) -> dict[str, Any]:
    """The validation-loss pass per example (one untimed warm-up call)."""
    from dataeff.training.finetune import layout_for
    from dataeff.training.validation import validation_loss

    layout = layout_for(model)
    val = examples[: args.val]
    validation_loss(None, model, val[:4], 8, tok.pad_token_id, layout)
    t = time.perf_counter()
    validation_loss(None, model, val, 8, tok.pad_token_id, layout)
    return {"length": length, "n": len(val), "seconds_per_example": round((time.perf_counter() - t) / len(val), 4)}


def _time_evaluation(args: argparse.Namespace, model: Any, tok: Any, rows: list, length: int) -> list[dict[str, Any]]:
    """Greedy test evaluation per example at each ``--new-tokens``, the pipeline's batch."""
    from dataeff.inference.evaluate import evaluate_rows

    recs = []
    for mnt in (int(x) for x in args.new_tokens.split(",")):
        t = time.perf_counter()
        test = rows[: args.test]
        evaluate_rows(model, tok, test, metric="accuracy", batch_size=len(test), max_new_tokens=mnt, progress=False)
        secs = (time.perf_counter() - t) / len(test)
        recs.append({"length": length, "n": len(test), "max_new_tokens": mnt, "seconds_per_example": round(secs, 4)})
        log(json.dumps(recs[-1]))
    return recs


def _time_confidence(args: argparse.Namespace, model: Any, tok: Any, rows: list, length: int) -> dict[str, Any]:
    """CoS-Low's confidence pass per prompt of the pool."""
    from dataeff.inference.confidence import confidence_pass

    t = time.perf_counter()
    confidence_pass(model, tok, rows[: args.pool], max_new_tokens=30, batch_size=64)
    secs = (time.perf_counter() - t) / args.pool
    return {"length": length, "n": args.pool, "max_new_tokens": 30, "seconds_per_example": round(secs, 4)}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    import torch

    from dataeff.core.io import atomic_write_json
    from dataeff.modeling.loading import load_model
    from dataeff.training.finetune import tokenize_rows

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
            out["train"] += _time_training(args, examples, length, mean_len)
        model, tok, _ = load_model(args.model, threads=args.threads)
        if "val" not in skip:
            out["val"].append(_time_validation(args, model, tok, examples, length))
            log(json.dumps(out["val"][-1]))
        if "eval" not in skip:
            out["eval"] += _time_evaluation(args, model, tok, rows, length)
        if "confidence" not in skip:
            out["confidence"].append(_time_confidence(args, model, tok, rows, length))
            log(json.dumps(out["confidence"][-1]))
    atomic_write_json(Path(args.out), out)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
