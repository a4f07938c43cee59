"""Options that ``dataeff budget`` and ``dataeff predict`` (and, for ``--model``, ``select`` and
``coslow``) share, defined once.

Both commands end in the same prediction (:func:`dataeff.prediction.budget.predict_budget`), so a target and
the accuracies measured so far are written the same way in both: a practitioner who moves from
``predict`` (prompts in) to ``budget`` (a CoS-Low value in) keeps their command line. This module
is not a command (it has no ``register``) and imports nothing heavy.
"""

from __future__ import annotations

import argparse

from dataeff.core.errors import DataeffError
from dataeff.core.settings import analysis_settings

MEASURED_EXAMPLE = "--measured 0=0.41 --measured 64=0.55 (or 0:0.41,64:0.55)"


def finite_float(text: str) -> float:
    """An argparse type: a number (``nan``/``inf`` are caught by the commands' range checks)."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


MODEL_HELP = (
    "base model: a family of the config (e.g. smollm2; prepared once into ~/.cache/dataeff/models, "
    "or $DATAEFF_CACHE/models, on first use), a model directory or model.json, or a Hub id"
)


def add_model_option(parser: argparse._ActionsContainer, *, required: bool = True, help: str = MODEL_HELP) -> None:
    """``--model``, written the same in ``select``, ``coslow``, ``predict`` and ``budget`` and
    resolved the same (:mod:`dataeff.modeling.resolve`), so a name one command accepts no other refuses."""
    parser.add_argument("--model", required=required, default=None, help=help)


def add_target_options(parser: argparse.ArgumentParser, task: str = "the task") -> None:
    """``--target`` / ``--target-accuracy`` and the accuracies that set the gap they are read in."""
    tgt = parser.add_argument_group("target (one of)")
    tgt.add_argument("--target", type=finite_float, help="fraction of the zero-shot-to-ceiling gap, in (0, 1)")
    tgt.add_argument(
        "--target-accuracy", type=finite_float, help="absolute accuracy to reach (needs --zero-shot and --ceiling)"
    )
    tgt.add_argument("--zero-shot", type=finite_float, help=f"the untuned model's accuracy on {task}")
    tgt.add_argument(
        "--majority",
        type=finite_float,
        default=None,
        metavar="SHARE",
        help=f"share of {task}'s most common answer: with coefficients fitted under a chance floor "
        "(majority or fair; smollm2) the gap starts at max(zero-shot, SHARE)",
    )
    tgt.add_argument(
        "--options",
        type=int,
        default=None,
        metavar="K",
        help=f"how many options each example of {task} lists (multiple choice): with coefficients "
        "fitted under the fair floor (smollm2) the gap starts at max(zero-shot, --majority, 1/K)",
    )
    tgt.add_argument("--ceiling", type=finite_float, help="best reachable accuracy (e.g. human level)")


def add_level_option(parser: argparse.ArgumentParser) -> None:
    """``--level`` of the budget interval, defaulting to the schema's ``analysis.level``."""

    default = analysis_settings(None).level
    parser.add_argument(
        "--level", type=finite_float, default=default, help=f"interval level (default {default}, analysis.level)"
    )


def add_curve_model_option(parser: argparse._ActionsContainer) -> None:
    """``--curve-model``: how a predicted AUC becomes a curve, and so a budget
    (:data:`dataeff.prediction.budget.CURVE_MODELS`; the default is the one measured nearer to real curves,
    docs/PREDICTIONS.md section 1)."""
    # the names are repeated here so that building the command line stays light (no numpy)
    parser.add_argument(
        "--curve-model",
        choices=("paper", "grid"),
        default=None,
        help="paper: the paper's formula N_max^(tau^(a/(1-a))) at the predicted AUC a (the default: nearer "
        "to real curves on the paper's 100 published ones); grid: the x**p whose trapezoid on the AUC's "
        "budget grid is a (docs/PREDICTIONS.md)",
    )


def add_measured_options(group: argparse._ActionsContainer) -> None:
    """``--measured`` (repeatable; ``N=ACC`` or ``N:ACC``, comma lists allowed) and ``--test-size``."""
    group.add_argument(
        "--measured",
        action="append",
        default=[],
        metavar="N=ACC",
        help="an accuracy measured after fine-tuning on N examples (0 = zero-shot; repeatable, or "
        "comma-separated: 0=0.41,64=0.55); the prediction is updated with them (needs --ceiling)",
    )
    group.add_argument(
        "--test-size",
        type=int,
        default=None,
        metavar="N",
        help="number of test examples behind each --measured accuracy: adds each point's "
        "binomial noise to the update (recommended; without it the points count as exact up to "
        "config analysis.update_sigma)",
    )


def parse_measured(items: list[str] | None) -> dict[int, float]:
    """``["0=0.41", "64:0.55,128=0.6"]`` -> {0: 0.41, 64: 0.55, 128: 0.6}.

    Budget 0 is the zero-shot accuracy. A malformed item, a negative budget or an accuracy
    outside [0, 1] is a one-line error naming the item; a budget given twice keeps the last.
    """
    out: dict[int, float] = {}
    for item in items or []:
        for part in item.replace(" ", "").split(","):
            if not part:
                continue
            sep = "=" if "=" in part else ":"
            n_text, found, acc_text = part.partition(sep)
            try:
                n, acc = int(n_text), float(acc_text)
            except ValueError:
                n, acc = -1, float("nan")
            if not found or n < 0 or not 0.0 <= acc <= 1.0:
                raise DataeffError(
                    f"'{part}' is not N=ACCURACY (a budget >= 0 and an accuracy in [0, 1])",
                    field="--measured",
                    fix=f"write each budget and the accuracy measured after fine-tuning on it, e.g. {MEASURED_EXAMPLE}",
                )
            out[n] = acc
    return out
