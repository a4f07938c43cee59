"""``dataeff budget``: labels needed to reach a target, from a CoS-Low value and a family's fit."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import TYPE_CHECKING, Any

from dataeff.commands.options import (
    add_curve_model_option,
    add_level_option,
    add_measured_options,
    add_model_option,
    add_target_options,
    finite_float,
    parse_measured,
)
from dataeff.core.config import max_budget
from dataeff.core.errors import DataeffError
from dataeff.efficiency.auc import PAPER_MAX_BUDGET
from dataeff.modeling.resolve import coefficient_family
from dataeff.pipeline.config import load_optional_config

if TYPE_CHECKING:
    from dataeff.prediction.shape import ShapeSet


def _grid(text: str) -> list[int]:
    try:
        grid = [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated budgets, got {text!r}") from None
    if not grid or any(b <= 0 for b in grid):
        raise argparse.ArgumentTypeError(f"budgets must be positive, got {text!r}")
    return grid


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "budget",
        help="predict the labels needed to reach a target from CoS-Low",
        description="Predict a task's data-efficiency AUC from its CoS-Low with a family's fitted "
        "coefficients, and the number of labeled examples needed to close TARGET of the gap "
        "between zero-shot and ceiling (docs/METHOD.md section 3), with an interval.",
    )
    p.add_argument("--coslow", type=finite_float, required=True, help="the task's CoS-Low value")
    who = p.add_argument_group("coefficients (one of)")
    who.add_argument(
        "--family",
        help="look up: --coefficients FILE, --results-dir DIR/FAMILY/coefficients.json, "
        "config families.FAMILY.coefficients, shipped fitted families, the paper "
        "(llama, mistral, qwen); default: --model when it is a config family",
    )
    add_model_option(
        who,
        required=False,
        help="the model CoS-Low was measured with, named as in select, coslow and predict (a config family "
        "such as smollm2, a model directory or a Hub id; nothing is loaded): --family defaults to it when it "
        "is a config family, and coefficients fitted on another model are refused unless --force",
    )
    who.add_argument("--force", action="store_true", help="use coefficients fitted on another --model")
    who.add_argument("--slope", type=finite_float, help="slope c of AUC = c * CoS-Low + I")
    who.add_argument("--intercept", type=finite_float, help="intercept I")
    who.add_argument("--slope-se", type=finite_float, default=None, help="standard error of --slope")
    who.add_argument("--intercept-se", type=finite_float, default=None, help="standard error of --intercept")
    who.add_argument("--coefficients", help="coefficients.json from `dataeff fit` (or a YAML/JSON entry)")
    p.add_argument(
        "--results-dir", default=None, help="a pipeline's results directory: use its DIR/FAMILY/coefficients.json"
    )
    add_target_options(p)
    p.add_argument(
        "--max-budget", type=int, default=None, help="N_max of the AUC (default: the coefficients' own, else 5000)"
    )
    p.add_argument(
        "--grid",
        type=_grid,
        default=None,
        help="positive budgets of the grid the coefficients' AUCs were measured on (default: the "
        "coefficients' recorded grid, the config's budgets for its N_max, or the paper's for "
        "N_max 5000)",
    )
    add_level_option(p)
    add_curve_model_option(p)
    unc = p.add_argument_group("uncertainty and measured budgets")
    unc.add_argument(
        "--coslow-sd",
        type=finite_float,
        default=None,
        help="spread (sd) of this CoS-Low value over resamples of the 32 examples (default: "
        "config analysis.coslow_sd, the measured seed spread)",
    )
    add_measured_options(unc)
    unc.add_argument(
        "--update-method",
        default=None,
        choices=("bayes", "bayes_xp", "measured_only", "library"),
        help="how measured accuracies update the prediction (default bayes, the best on "
        "held-out tasks; docs/PREDICTIONS.md)",
    )
    p.add_argument("--config", default=None, help="pipeline config (default: the packaged default configuration)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--curve", action="store_true", help="also print the whole predicted curve")
    p.add_argument("--plot", metavar="OUT.png", help="draw the predicted curve to this file")
    p.set_defaults(func=run)


def resolve_coefficients(args: argparse.Namespace) -> dict[str, Any]:
    """Coefficients from --slope/--intercept or a --family/--coefficients lookup; ``--family``
    defaults to ``--model`` as in ``predict`` (:func:`dataeff.modeling.resolve.coefficient_family`), and
    ``args.family`` is set to the family used."""
    from dataeff.prediction.coefficients import coefficients_from_file, lookup_coefficients

    if (args.slope is None) != (args.intercept is None):
        raise DataeffError(
            "--slope and --intercept go together",
            field="--slope" if args.slope is None else "--intercept",
            fix="pass both, or --family NAME",
        )
    if args.slope is not None:
        return {
            "slope": args.slope,
            "intercept": args.intercept,
            "slope_se": args.slope_se,
            "intercept_se": args.intercept_se,
            "source": "user-supplied --slope/--intercept",
        }
    config = load_optional_config(args.config)
    args.family = coefficient_family(args.model, args.family, config)
    if args.family:
        return lookup_coefficients(args.family, args.coefficients, args.results_dir, config)
    if args.coefficients:
        return coefficients_from_file(args.coefficients, None)
    raise DataeffError(
        "no coefficients given",
        field="--family",
        fix="pass --family NAME (llama, mistral, qwen or a fitted family) or --slope and --intercept",
    )


def resolve_target(args: argparse.Namespace) -> float:
    from dataeff.prediction.budget import check_target, target_from_accuracy

    if args.target_accuracy is not None:
        if args.target is not None:
            raise DataeffError("give --target or --target-accuracy, not both", field="--target", fix="drop one of them")
        if args.zero_shot is None or args.ceiling is None:
            raise DataeffError(
                "--target-accuracy needs --zero-shot and --ceiling",
                field="--target-accuracy",
                fix="pass the untuned model's accuracy and the best reachable accuracy",
            )
        return target_from_accuracy(args.target_accuracy, args.zero_shot, args.ceiling)
    if args.target is None:
        raise DataeffError(
            "no target given",
            field="--target",
            fix="pass --target 0.7 (fraction of the gap) or --target-accuracy with --zero-shot and --ceiling",
        )
    return check_target(args.target)


def budget_words(v: int | None, n_max: int) -> str:
    """A budget as a person reads it: the number, or "more than N_max" for an end that lies beyond
    N_max (None in the JSON), so no printed line ever says "None"."""
    return f"more than {n_max}" if v is None else str(v)


def ordered_budgets(a: int | None, b: int | None) -> tuple[int | None, int | None]:
    """Two budgets, the smaller first; an end beyond N_max (None) counts as the larger."""
    low, high = sorted((a, b), key=lambda v: (v is None, v or 0))
    return low, high


def range_words(a: int | None, b: int | None, n_max: int) -> str:
    """Two budgets as a range, the smaller first: "40–more than 256"; when both lie beyond
    N_max, "more than 256" once."""
    if a is None and b is None:
        return budget_words(None, n_max)
    low, high = ordered_budgets(a, b)
    return f"{low}–{budget_words(high, n_max)}"


def describe(pred: dict[str, Any], zero_shot: float | None = None, ceiling: float | None = None) -> str:
    """Human-readable summary of a :func:`dataeff.prediction.budget.predict_budget` result."""
    n_max = pred["max_budget"]
    span = range_words(pred["budget_low"], pred["budget_high"], n_max)
    head = (
        f"predicted AUC {pred['predicted_auc']:.3f} ({pred['level']:.0%} interval "
        f"{pred['auc_low']:.3f}–{pred['auc_high']:.3f}) at CoS-Low {pred['coslow']:.4f}"
    )
    if pred.get("measured_points"):
        head += f", updated with {len(pred['measured_points'])} measured budget(s)"
    if pred.get("out_of_sample_note"):
        head += f" [{pred['out_of_sample_note']}]"
    # with coefficients fitted under a chance floor the gap starts at max(zero-shot, that floor)
    start = pred.get("gap_start") or "zero-shot"
    goal = f"labels to reach {pred['target']:.0%} of the gap between {start} and ceiling"
    if pred["status"] == "reachable":
        model = f", curve model {pred['curve_model']}" if pred.get("curve_model") else ""
        lines = [head, f"{goal}: about {pred['budget']} (range {span}; N_max {n_max}{model})"]
    elif pred["status"] == "beyond_max":
        where = f"range {span}" if pred["budget_low"] is not None else "the whole interval lies beyond"
        lines = [head, f"{goal}: more than N_max = {n_max} ({where})"]
    else:
        lines = [head, f"{goal}: not reachable with these coefficients"]
    if pred.get("reason"):
        lines.append(f"  {pred['reason']}")
    if zero_shot is not None and ceiling is not None:
        acc = zero_shot + pred["target"] * (ceiling - zero_shot)
        lines.append(f"  = accuracy {acc:.3f} ({start} {zero_shot:.3f}, ceiling {ceiling:.3f})")
    lines.append(
        f"coefficients: slope {pred['slope']:.4g}, intercept {pred['intercept']:.4g} ({pred['coefficients_source']})"
    )
    lines.append(f"interval: {pred['interval_method']}")
    return "\n".join(lines)


def _own_shapes(args: argparse.Namespace, coefs: dict[str, Any]) -> ShapeSet | None:
    """The family's own measured curves (``--results-dir``/FAMILY/efficiency.json) for the shape
    error, when given and on the coefficients' N_max; else None (the paper's published curves).
    Nothing is looked up in the working directory."""
    from dataeff.prediction.shape import family_shapes

    if args.results_dir is None:
        return None
    n_max = args.max_budget or coefs.get("max_budget")
    return family_shapes(args.family, args.results_dir, int(n_max) if n_max else None)


def _grid_for(args: argparse.Namespace, coefs: dict[str, Any]) -> list[int] | None:
    """--grid, else the config's budgets when the config's N_max is the coefficients' N_max."""
    if args.grid:
        return args.grid
    if coefs.get("grid"):
        return None  # predict_budget reads it from the coefficients

    config = load_optional_config(args.config)
    n_max = args.max_budget or coefs.get("max_budget")
    if config and config.get("budgets") and n_max and max_budget(config) == int(n_max) != PAPER_MAX_BUDGET:
        return sorted(int(b) for b in config["budgets"])
    return None


def check_inputs(args: argparse.Namespace) -> tuple[dict[str, Any], float | None, list[str], float]:
    """Every option checked before anything is computed; returns the coefficients, the chance
    floor (None: the curve starts at the zero-shot accuracy), the warnings (the floor's, and with
    ``--model`` the model check's, as in ``predict``) and the target. ``args.measured`` and
    ``args.zero_shot`` are replaced by their parsed, floored values."""
    from dataeff.prediction.budget import check_coslow, check_max_budget, curve_start
    from dataeff.prediction.coefficients import check_model

    check_coslow(args.coslow)
    if not (math.isfinite(args.level) and 0.0 < args.level < 1.0):
        raise DataeffError(f"level {args.level} is outside (0, 1)", field="--level", fix="e.g. 0.95")
    if args.max_budget is not None:
        check_max_budget(args.max_budget)
    coefs = resolve_coefficients(args)
    model_warnings = (
        check_model(coefs, args.model, load_optional_config(args.config), force=args.force) if args.model else []
    )
    args.measured = parse_measured(args.measured) or None
    args.zero_shot, floor, floor_warnings = curve_start(args.zero_shot, args.majority, coefs, args.options)
    if floor is not None and args.measured is not None and 0 in args.measured:
        args.measured[0] = max(args.measured[0], floor)
    if args.measured is not None and 0 not in args.measured and args.zero_shot is not None:
        args.measured[0] = args.zero_shot  # --zero-shot is the measured point at budget 0, as in predict
    target = resolve_target(args)
    if args.measured is not None and args.ceiling is None:
        raise DataeffError(
            "--measured needs --ceiling",
            field="--ceiling",
            fix="pass the task's ceiling (human-level accuracy, or 1.0 if unknown)",
        )
    return coefs, floor, list(model_warnings) + list(floor_warnings), target


def print_budget(pred: dict[str, Any], args: argparse.Namespace) -> None:
    """Warnings to stderr; the JSON, or the budget in words with the curve table if asked."""
    for w in pred["warnings"]:
        print(f"dataeff: warning: {w}", file=sys.stderr)
    if args.json:
        print(json.dumps(pred, indent=2, sort_keys=True))
        return
    print(describe(pred, args.zero_shot, args.ceiling))
    if args.curve:
        print("budget\tpredicted_fraction\tlow\thigh")
        for row in pred["curve"]:  # the band of the interval at each budget (fit, CoS-Low draw, shape)
            print(f"{row['budget']}\t{row['fraction']:.4f}\t{row['fraction_low']:.4f}\t{row['fraction_high']:.4f}")
    if args.plot:
        print(f"wrote {args.plot}")


def run(args: argparse.Namespace) -> int:
    from dataeff.plots.curves import plot_predicted_budget
    from dataeff.prediction.budget import (
        DEFAULT_CURVE_MODEL,
        DEFAULT_UPDATE,
        gap_start,
        predict_budget,
        predicted_curve,
    )

    coefs, floor, floor_warnings, target = check_inputs(args)
    pred = predict_budget(
        args.coslow,
        coefs,
        target,
        args.max_budget,
        args.level,
        coslow_sd=args.coslow_sd,
        measured=args.measured,
        ceiling=args.ceiling,
        grid=_grid_for(args, coefs),
        method=args.update_method or DEFAULT_UPDATE,
        test_size=args.test_size,
        band=bool(args.curve or args.plot),
        shapes=_own_shapes(args, coefs),
        curve_model=args.curve_model or DEFAULT_CURVE_MODEL,
    )
    if args.zero_shot is not None and args.ceiling is not None:
        pred["zero_shot"], pred["ceiling"] = args.zero_shot, args.ceiling
        pred["target_accuracy"] = args.zero_shot + target * (args.ceiling - args.zero_shot)
    if args.curve:
        pred["curve"] = predicted_curve(pred)
    if args.plot:
        plot_predicted_budget(pred, args.plot)
    pred["warnings"] = floor_warnings + pred["warnings"]
    pred["floor"] = floor  # the chance floor the gap starts from (None: the zero-shot accuracy)
    pred["gap_start"] = gap_start(coefs, args.majority, args.options) if floor is not None else "zero-shot"
    # which model and family the number is for, recorded as predict records them
    pred.update(family=args.family, model=args.model, coefficients_model=coefs.get("model"))
    print_budget(pred, args)
    return 0
