"""``dataeff budget``: labels needed to reach a target, from a CoS-Low value and a family's fit."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any


def _finite_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "budget", help="predict the labels needed to reach a target from CoS-Low",
        description="Predict a task's data-efficiency AUC from its CoS-Low with a family's fitted "
                    "coefficients, and the number of labeled examples needed to close TARGET of the gap "
                    "between zero-shot and ceiling (METHOD.md section 3), with an interval.")
    p.add_argument("--coslow", type=_finite_float, required=True, help="the task's CoS-Low value")
    who = p.add_argument_group("coefficients (one of)")
    who.add_argument("--family", help="look up: --coefficients FILE, --results-dir DIR/FAMILY/coefficients.json, "
                                      "config families.FAMILY.coefficients, shipped fitted families, the paper "
                                      "(llama, mistral, qwen)")
    who.add_argument("--slope", type=_finite_float, help="slope c of AUC = c * CoS-Low + I")
    who.add_argument("--intercept", type=_finite_float, help="intercept I")
    who.add_argument("--slope-se", type=_finite_float, default=None, help="standard error of --slope")
    who.add_argument("--intercept-se", type=_finite_float, default=None, help="standard error of --intercept")
    who.add_argument("--coefficients", help="coefficients.json from `dataeff fit` (or a YAML/JSON entry)")
    p.add_argument("--results-dir", default=None,
                   help="a pipeline's results directory: use its DIR/FAMILY/coefficients.json")
    tgt = p.add_argument_group("target (one of)")
    tgt.add_argument("--target", type=_finite_float,
                     help="fraction of the zero-shot-to-ceiling gap, in (0, 1)")
    tgt.add_argument("--target-accuracy", type=_finite_float,
                     help="absolute accuracy to reach (needs --zero-shot and --ceiling)")
    tgt.add_argument("--zero-shot", type=_finite_float, help="the untuned model's accuracy")
    tgt.add_argument("--ceiling", type=_finite_float, help="best reachable accuracy (e.g. human level)")
    p.add_argument("--max-budget", type=int, default=None,
                   help="N_max of the AUC (default: the coefficients' own, else 5000)")
    p.add_argument("--level", type=_finite_float, default=0.95, help="interval level (default 0.95)")
    p.add_argument("--config", default=None, help="pipeline config (default: the packaged default configuration)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--curve", action="store_true", help="also print the whole predicted curve")
    p.add_argument("--plot", metavar="OUT.png", help="draw the predicted curve to this file")
    p.set_defaults(func=run)


def resolve_coefficients(args: argparse.Namespace) -> dict[str, Any]:
    """Coefficients from --slope/--intercept or a --family/--coefficients lookup."""
    from dataeff.coefficients import _coefficients_from_file, lookup_coefficients
    from dataeff.errors import DataeffError

    if (args.slope is None) != (args.intercept is None):
        raise DataeffError("--slope and --intercept go together", field="--slope" if args.slope is None
                           else "--intercept", fix="pass both, or --family NAME")
    if args.slope is not None:
        return {"slope": args.slope, "intercept": args.intercept, "slope_se": args.slope_se,
                "intercept_se": args.intercept_se, "source": "user-supplied --slope/--intercept"}
    if args.family:
        from dataeff.config import load_optional_config

        return lookup_coefficients(args.family, args.coefficients, args.results_dir,
                                   load_optional_config(args.config))
    if args.coefficients:
        return _coefficients_from_file(args.coefficients, None)
    raise DataeffError("no coefficients given", field="--family",
                       fix="pass --family NAME (llama, mistral, qwen or a fitted family) or --slope and "
                           "--intercept")


def resolve_target(args: argparse.Namespace) -> float:
    from dataeff.budget import check_target, target_from_accuracy
    from dataeff.errors import DataeffError

    if args.target_accuracy is not None:
        if args.target is not None:
            raise DataeffError("give --target or --target-accuracy, not both", field="--target",
                               fix="drop one of them")
        if args.zero_shot is None or args.ceiling is None:
            raise DataeffError("--target-accuracy needs --zero-shot and --ceiling", field="--target-accuracy",
                               fix="pass the untuned model's accuracy and the best reachable accuracy")
        return target_from_accuracy(args.target_accuracy, args.zero_shot, args.ceiling)
    if args.target is None:
        raise DataeffError("no target given", field="--target",
                           fix="pass --target 0.7 (fraction of the gap) or --target-accuracy with "
                               "--zero-shot and --ceiling")
    return check_target(args.target)


def describe(pred: dict[str, Any], zero_shot: float | None = None, ceiling: float | None = None) -> str:
    """Human-readable summary of a :func:`dataeff.budget.predict_budget` result."""
    lines = [
        f"predicted AUC {pred['predicted_auc']:.3f} ({pred['level']:.0%} interval "
        f"{pred['auc_low']:.3f}–{pred['auc_high']:.3f}) at CoS-Low {pred['coslow']:.4f}",
        f"labels to reach {pred['target']:.0%} of the gap between zero-shot and ceiling: about "
        f"{pred['budget']} (range {pred['budget_low']}–{pred['budget_high']}; N_max {pred['max_budget']})",
    ]
    if zero_shot is not None and ceiling is not None:
        acc = zero_shot + pred["target"] * (ceiling - zero_shot)
        lines.append(f"  = accuracy {acc:.3f} (zero-shot {zero_shot:.3f}, ceiling {ceiling:.3f})")
    lines.append(f"coefficients: slope {pred['slope']:.4g}, intercept {pred['intercept']:.4g} "
                 f"({pred['coefficients_source']})")
    lines.append(f"interval: {pred['interval_method']}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from dataeff.budget import (
        check_coslow,
        check_max_budget,
        plot_prediction,
        predict_budget,
        predicted_curve,
    )
    from dataeff.errors import DataeffError

    check_coslow(args.coslow)
    if not (math.isfinite(args.level) and 0.0 < args.level < 1.0):
        raise DataeffError(f"level {args.level} is outside (0, 1)", field="--level", fix="e.g. 0.95")
    if args.max_budget is not None:
        check_max_budget(args.max_budget)
    target = resolve_target(args)
    coefs = resolve_coefficients(args)
    pred = predict_budget(args.coslow, coefs, target, args.max_budget, args.level)
    if args.zero_shot is not None and args.ceiling is not None:
        pred["zero_shot"], pred["ceiling"] = args.zero_shot, args.ceiling
        pred["target_accuracy"] = args.zero_shot + target * (args.ceiling - args.zero_shot)
    if args.curve:
        pred["curve"] = predicted_curve(pred)
    if args.plot:
        plot_prediction(pred, args.plot)
    for w in pred["warnings"]:
        print(f"dataeff: warning: {w}", file=sys.stderr)
    if args.json:
        print(json.dumps(pred, indent=2, sort_keys=True))
        return 0
    print(describe(pred, args.zero_shot, args.ceiling))
    if args.curve:
        print("budget\tpredicted_fraction\tlow\thigh")
        for row in pred["curve"]:
            print(f"{row['budget']}\t{row['fraction']:.4f}\t{row['fraction_low']:.4f}\t{row['fraction_high']:.4f}")
    if args.plot:
        print(f"wrote {args.plot}")
    return 0
