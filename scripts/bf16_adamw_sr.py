"""Does AdamW with bf16 weights and bf16 stochastic rounding (torchao) update like fp32 AdamW?

Measured on SmolLM2-135M-Instruct at the paper's learning rate (1e-5): every optimizer starts
from the same (bf16-representable) weights and receives the same gradients at every step (taken
from the fp32 reference run), so the only difference is how each stores weights and moments.
Reports, after each step, the fraction of weights that changed from the start and the relative
error of the accumulated update against fp32 AdamW. Usage (torchao optional):

    python scripts/bf16_adamw_sr.py MODEL_DIR [--steps 5] [--lr 1e-5]
"""

from __future__ import annotations

import argparse
import json


def main() -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    ref = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(args.model)
    with torch.no_grad():
        for p in ref.parameters():
            p.copy_(p.to(torch.bfloat16).float())  # a start every optimizer can represent exactly
    start = {n: p.detach().clone() for n, p in ref.named_parameters()}
    text = [
        "The capital of France is Paris, and the capital of Italy is Rome.",
        "Q: Is 7 an even number? A: no, it is odd.",
        "Sort these words: pear apple fig -> apple fig pear",
        "Translate to French: good morning -> bonjour",
    ]
    batch = tok(text, return_tensors="pt", padding=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)

    runs = {
        "fp32 AdamW": (torch.float32, lambda ps: torch.optim.AdamW(ps, lr=args.lr, weight_decay=0.0, fused=True)),
        "bf16 AdamW (torch, bf16 state)": (
            torch.bfloat16,
            lambda ps: torch.optim.AdamW(ps, lr=args.lr, weight_decay=0.0, fused=True),
        ),
    }
    try:
        from torchao.optim import _AdamW

        runs["bf16 AdamW + stochastic rounding (torchao)"] = (
            torch.bfloat16,
            lambda ps: _AdamW(ps, lr=args.lr, weight_decay=0.0, bf16_stochastic_round=True),
        )
    except ImportError:
        print(json.dumps({"torchao": "not installed"}))
    params = {name: [start[n].to(dt).clone().requires_grad_(True) for n in start] for name, (dt, _) in runs.items()}
    opts = {name: make(params[name]) for name, (_, make) in runs.items()}
    names = list(start)
    for step in range(1, args.steps + 1):
        ref.zero_grad(set_to_none=True)
        with torch.no_grad():
            for p, w in zip(ref.parameters(), params["fp32 AdamW"], strict=True):
                p.copy_(w)
        ref(**batch, labels=labels).loss.backward()
        grads = [p.grad.detach() for p in ref.parameters()]
        for name, ps in params.items():
            for p, g in zip(ps, grads, strict=True):
                p.grad = g.to(p.dtype)
            opts[name].step()
        delta_ref = torch.cat(
            [(w.detach().float() - start[n]).flatten() for n, w in zip(names, params["fp32 AdamW"], strict=True)]
        )
        for name, ps in params.items():
            delta = torch.cat([(w.detach().float() - start[n]).flatten() for n, w in zip(names, ps, strict=True)])
            err = float((delta - delta_ref).norm() / delta_ref.norm())
            print(
                json.dumps(
                    {
                        "step": step,
                        "optimizer": name,
                        "lr": args.lr,
                        "fraction_changed": round(float((delta != 0).float().mean()), 4),
                        "update_rel_error_vs_fp32": round(err, 4),
                        "update_norm_ratio": round(float(delta.norm() / delta_ref.norm()), 4),
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
