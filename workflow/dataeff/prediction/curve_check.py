"""Which x**p curve model puts the budget nearer to where real curves reach a target?

    python -m dataeff.prediction.curve_check [--targets 0.5,0.7,0.9] [--markdown]

docs/METHOD.md section 3 turns a predicted AUC ``a`` into a budget with the paper's formula
n* = N_max ** (tau ** (a / (1 - a))): the x**p curve whose *continuous* area is ``a``
(``--curve-model paper``). :mod:`dataeff.prediction.curve_model` picks instead the exponent whose
*trapezoid on the budget grid* is ``a`` (``--curve-model grid``), since that is how the AUCs are
measured. Which one is right is an empirical question, answered here on the paper's 100
published curves (shipped with the package, :mod:`dataeff.efficiency.published_curves`) with each curve's *true*
AUC as input, so that only the curve model is judged, not CoS-Low or the fit: for each target
tau, the budget each model gives at that AUC against the budget where the real cleaned curve
first reaches tau (:func:`dataeff.prediction.shape.crossing_x`, linear between measured budgets on the log
axis), as |ln(predicted / true)|, summarised by its median over the curves that reach tau (a
curve that never does has no true budget and is counted apart). The docs table
(docs/PREDICTIONS.md section 1) is this module's output; ``tests/test_budget.py`` checks the two
agree.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dataeff.efficiency.auc import PAPER_GRID, PAPER_MAX_BUDGET, Curve
from dataeff.efficiency.published_curves import PAPER_FAMILIES, paper_curves
from dataeff.prediction.curve_model import CurveModel
from dataeff.prediction.shape import crossing_x

#: The curve models ``dataeff budget/predict --curve-model`` offers.
CURVE_MODELS = ("paper", "grid")
TARGETS = (0.5, 0.7, 0.9)


def model_for(name: str, max_budget: int, grid: Sequence[int] | None) -> CurveModel:
    """``paper``: the continuous x**p of METHOD.md section 3; ``grid``: the grid-consistent one."""
    if name not in CURVE_MODELS:
        raise ValueError(f"unknown curve model {name!r} (one of {', '.join(CURVE_MODELS)})")
    return CurveModel(int(max_budget), None if name == "paper" else tuple(int(b) for b in grid or ()) or None)


def log_errors(curves: Mapping[str, Curve], target: float, model: CurveModel) -> tuple[dict[str, float], list[str]]:
    """Per curve that reaches ``target``: ln(model budget at its true AUC / its true budget);
    and the curves that never reach it (or are flat: no gap to close)."""
    log_n = math.log(model.max_budget)
    errors: dict[str, float] = {}
    never: list[str] = []
    for task, c in sorted(curves.items()):
        x_true = crossing_x(c.x, c.y, target) if not c.flat else math.inf
        if not math.isfinite(x_true):
            never.append(task)
            continue
        x_model = float(model.x_for_target(model.exponent(c.auc), target))
        errors[task] = (x_model - x_true) * log_n
    return errors, never


def compare(
    curves: Mapping[str, Curve],
    targets: Sequence[float] = TARGETS,
    max_budget: int = PAPER_MAX_BUDGET,
    grid: Sequence[int] = PAPER_GRID,
) -> dict[str, Any]:
    """Per target and curve model: the median |ln(predicted / true budget)| over the curves that
    reach the target, the median signed error (above 0: the model asks for too many labels),
    the curves counted and those that never reach it; and the mean of the medians over targets
    per model with the model it favours (the lower)."""
    out: dict[str, Any] = {"targets": {}, "curves": len(curves)}
    for target in targets:
        row: dict[str, Any] = {}
        for name in CURVE_MODELS:
            errors, never = log_errors(curves, target, model_for(name, max_budget, grid))
            values = np.array(list(errors.values()))
            row[name] = {
                "median_abs_log_ratio": float(np.median(np.abs(values))),
                "median_log_ratio": float(np.median(values)),
                "reached": len(values),
                "never": len(never),
            }
        out["targets"][f"{target:g}"] = row
    means = {
        name: float(np.mean([out["targets"][t][name]["median_abs_log_ratio"] for t in out["targets"]]))
        for name in CURVE_MODELS
    }
    out["mean_over_targets"] = means
    out["better"] = min(means, key=lambda n: (means[n], n))
    return out


def paper_comparison(targets: Sequence[float] = TARGETS) -> dict[str, Any]:
    """:func:`compare` on the paper's 100 published curves (llama 40, mistral 30, qwen 30)."""
    curves = {f"{fam}/{task}": c for fam in PAPER_FAMILIES for task, c in paper_curves(fam).items()}
    return compare(curves, targets)


def markdown(result: Mapping[str, Any]) -> str:
    """The comparison as the table in docs/PREDICTIONS.md section 1."""
    lines = [
        "| τ | curves reaching τ | paper formula: median \\|ln(pred/true)\\| | grid-consistent | "
        "paper: median ln(pred/true) | grid: median ln(pred/true) |",
        "|---|---|---|---|---|---|",
    ]
    for target, row in result["targets"].items():
        p, g = row["paper"], row["grid"]
        lines.append(
            f"| {target} | {p['reached']} of {p['reached'] + p['never']} | {p['median_abs_log_ratio']:.2f} "
            f"| {g['median_abs_log_ratio']:.2f} | {p['median_log_ratio']:+.2f} | {g['median_log_ratio']:+.2f} |"
        )
    means = result["mean_over_targets"]
    lines.append(
        f"| mean over τ | | **{means['paper']:.2f}** | **{means['grid']:.2f}** | | |"
        if means
        else "| mean over τ | | | | | |"
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", default=",".join(f"{t:g}" for t in TARGETS), help="comma-separated targets")
    args = ap.parse_args(argv)
    result = paper_comparison([float(t) for t in args.targets.split(",") if t])
    print(markdown(result), end="")
    print(f"\nbetter overall (lower mean over τ of the median |ln(pred/true)|): {result['better']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
