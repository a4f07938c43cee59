"""``dataeff predict``: the practitioner's whole path from unlabeled prompts to a label budget.

First run: score every prompt's confidence with the base model, pick k of the least confident
(CoS-Low's low-confidence segment) and write them to ``DIR/to_annotate.jsonl`` with an empty
``answer`` field, then stop and say what to label. Second run (same command), once every
``answer`` is filled: compute CoS-Low from those k labeled examples and its spread (a
bootstrap of the k examples from their Gram matrix), then the budget with its interval from
the family's coefficients, and say how many examples to label and how far to trust that.

Settings come from the packaged default configuration or ``--config``, never from the working
directory. ``DIR/inputs.json`` records a hash of what the selection depended on (prompts, k,
seed, model, settings); a later run with other inputs stops with one line (``--redo`` starts
over). Progress with the time left goes to stderr and ``DIR/predict.log``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataeff.commands.budget import _n, describe, resolve_target
from dataeff.commands.options import (
    add_level_option,
    add_measured_options,
    add_target_options,
    parse_measured,
)
from dataeff.config import load_optional_config
from dataeff.coslow_stage import run_coslow
from dataeff.errors import DataeffError
from dataeff.io import atomic_write_json, read_json, read_jsonl
from dataeff.model_ref import family_model_json, model_cache_dir
from dataeff.models import prepare_model
from dataeff.progress import Progress
from dataeff.provenance import file_hash, provenance, stable_hash
from dataeff.selection import most_common_share, normalize_answer, run_select, sidecar_paths
from dataeff.settings import coslow_settings

TO_ANNOTATE = "to_annotate.jsonl"
INPUTS = "inputs.json"
LOG = "predict.log"
#: Files ``predict`` writes in its work directory (``--redo`` removes exactly these).
WORK_FILES = (
    TO_ANNOTATE,
    "to_annotate.confidences.jsonl",
    "to_annotate.selection.json",
    "coslow.json",
    "prediction.json",
    INPUTS,
    LOG,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "predict",
        help="unlabeled prompts -> k examples to label -> CoS-Low -> label budget",
        description="From unlabeled prompts to a label budget. Run it twice: once to get the examples to "
        "label, and again after labeling them (same command).",
    )
    p.add_argument(
        "--model",
        required=True,
        help="base model: a family of the config (e.g. smollm2), a model directory, or a Hub id",
    )
    p.add_argument("--prompts", required=True, help="unlabeled prompts, JSONL or CSV")
    p.add_argument("--prompt-field", default="prompt", help="key (JSONL) or column (CSV) of the prompt text")
    p.add_argument("--workdir", required=True, help="directory for to_annotate.jsonl and the results")
    p.add_argument(
        "--family",
        default=None,
        help="family whose coefficients to use (default: --model when it is a config family); "
        "shipped: llama, mistral, qwen (the paper's) and fitted families shipped with dataeff",
    )
    p.add_argument("--coefficients", default=None, help="coefficients JSON to use instead of the lookup")
    p.add_argument(
        "--results-dir", default=None, help="a pipeline's results directory: use its DIR/FAMILY/coefficients.json"
    )
    p.add_argument("--force", action="store_true", help="use coefficients fitted on another model (the result says so)")
    add_target_options(p, task="your task")
    add_measured_options(p)
    p.add_argument("--k", type=int, default=None, help="examples to label (default: config coslow.k)")
    p.add_argument("--seed", type=int, default=None, help="selection, LoRA and resampling seed (default: config seed)")
    p.add_argument("--max-budget", type=int, default=None, help="N_max (default: the coefficients' own)")
    add_level_option(p)
    p.add_argument("--threads", type=int, default=None, help="torch threads")
    p.add_argument("--config", default=None, help="pipeline config (default: the packaged default configuration)")
    p.add_argument(
        "--redo", action="store_true", help="start over in --workdir (removes its earlier selection and labels)"
    )
    p.add_argument("--json", action="store_true", help="print the final prediction as JSON")
    p.set_defaults(func=run)


# --------------------------------------------------------------------------- inputs


def check_answers(path: Path) -> list[dict[str, Any]]:
    """Rows of the annotation file; a missing or empty ``answer`` is a one-line error."""

    rows = read_jsonl(path)
    for row in rows:
        answer = row.get("answer")
        if answer is None or (isinstance(answer, str) and not answer.strip()):
            raise DataeffError(
                f"line {row.get('_line')}: the answer is empty",
                file=str(path),
                field="answer",
                fix="write the gold label of every example in its 'answer' field, then run the same command again",
            )
        if not isinstance(answer, str | int | float) or isinstance(answer, bool):
            raise DataeffError(
                f"line {row.get('_line')}: the answer must be text",
                file=str(path),
                field="answer",
                fix='write the label as a string, e.g. "positive"',
            )
        row["answer"] = str(answer)
    return rows


def selection_inputs(args: argparse.Namespace, k: int, seed: int, settings: dict[str, Any]) -> dict[str, Any]:
    """What the selection and CoS-Low depend on, in a form that compares across runs and
    directories (file contents, not paths)."""

    prompts = Path(args.prompts)
    if not prompts.is_file():
        raise DataeffError(
            "no such file",
            file=args.prompts,
            field="--prompts",
            fix="give the JSONL or CSV file of your unlabeled prompts",
        )
    model = Path(args.model)
    return {
        "prompts_sha256": file_hash(prompts),
        "prompt_field": args.prompt_field,
        "k": k,
        "seed": seed,
        "model": str(model.resolve()) if model.exists() else args.model,
        "settings": {key: settings[key] for key in ("low_fraction", "confidence", "max_new_tokens", "lora")},
    }


def check_workdir(workdir: Path, inputs: dict[str, Any], redo: bool) -> None:
    """Refuse (one line) a work directory made for other inputs; ``redo`` clears it instead."""

    if redo:
        for name in WORK_FILES:
            (workdir / name).unlink(missing_ok=True)
        return
    if not (workdir / TO_ANNOTATE).is_file():
        return
    recorded = read_json(workdir / INPUTS) if (workdir / INPUTS).is_file() else None
    if isinstance(recorded, dict) and recorded.get("hash") == stable_hash(inputs):
        return
    if isinstance(recorded, dict) and isinstance(recorded.get("inputs"), dict):
        old = recorded["inputs"]
        changed = [
            f"{key} {old.get(key)!r} -> {inputs[key]!r}" if key in ("k", "seed", "prompt_field", "model") else key
            for key in inputs
            if old.get(key) != inputs[key]
        ]
        why = f"was made for other inputs (changed: {'; '.join(changed)})"
    else:
        why = f"has a {TO_ANNOTATE} without a record of its inputs"
    raise DataeffError(
        why,
        file=str(workdir),
        field="--workdir",
        fix=f"use another --workdir, or pass --redo to start over there (this discards {TO_ANNOTATE} "
        "and any labels in it)",
    )


def resolve_family(args: argparse.Namespace, config: dict[str, Any]) -> str:
    if args.family:
        return args.family
    if args.model in (config.get("families") or {}):
        return args.model
    raise DataeffError(
        "no --family given",
        field="--family",
        fix="name the family whose coefficients to use (e.g. the one fitted on your model)",
    )


def ensure_family_model(model: str, config: dict[str, Any], progress: Any) -> None:
    """A config family's model is prepared once (into the user's model cache) when neither the
    pipeline's ``results/models`` nor the cache has it, so ``--model smollm2`` works anywhere."""
    import time

    families = config.get("families") or {}
    if model not in families or family_model_json(model) is not None:
        return
    out = model_cache_dir() / model
    progress.message(f"preparing model '{model}' ({families[model]['model']}) once into {out}")
    start = time.monotonic()
    prepare_model(families[model], out)
    progress.message(f"model prepared in {time.monotonic() - start:.0f} s")


# --------------------------------------------------------------------------- the budget


def call_predict_budget(
    value: float,
    coefs: dict[str, Any],
    target: float,
    max_budget: int | None,
    level: float,
    *,
    coslow_sd: float | None,
    measured: dict[int, float],
    zero_shot: float | None,
    ceiling: float | None,
    test_size: int | None = None,
) -> dict[str, Any]:
    """:func:`dataeff.budget.predict_budget` with the CoS-Low spread and the budgets measured so far;
    the zero-shot accuracy counts as the measured point at budget 0."""
    from dataeff.budget import predict_budget

    points = dict(measured)
    if points and zero_shot is not None:
        points.setdefault(0, zero_shot)
    return predict_budget(
        value,
        coefs,
        target,
        max_budget,
        level,
        coslow_sd=coslow_sd,
        measured=points or None,
        ceiling=ceiling,
        test_size=test_size if points else None,
    )


def qualifiers(
    pred: dict[str, Any], coefs: dict[str, Any], model_warnings: list[str], unstable_factor: float | None = None
) -> list[str]:
    """What limits the headline number, stated in the headline itself. The number is called
    unstable when the CoS-Low interval alone moves the budget by more than ``unstable_factor``
    (config ``coslow.unstable_budget_factor``)."""
    out = []
    lo, hi = pred.get("budget_at_coslow_high"), pred.get("budget_at_coslow_low")
    if unstable_factor and lo and hi and hi > unstable_factor * lo:
        sp = pred["coslow_spread"]
        out.append(
            f"unstable: another draw of the labeled examples moves CoS-Low over "
            f"{sp['low']:.2f}–{sp['high']:.2f} and the budget over {lo}–{hi}"
        )
    if model_warnings and coefs.get("model"):
        out.append(f"coefficients fitted on {coefs['model']}, not on this model")
    x = pred["coslow"]
    x_min, x_max = coefs.get("x_min"), coefs.get("x_max")
    if x_min is not None and x_max is not None and not float(x_min) <= x <= float(x_max):
        out.append(f"extrapolated: CoS-Low {x:.3f} is outside the fitted range {float(x_min):.3f}–{float(x_max):.3f}")
    raw = pred.get("predicted_auc_raw")
    # The central AUC is a median under the interval's noise, so it differs from the fit's line even
    # inside the grid's attainable range: only a raw value outside that range is clipped.
    lo_auc, hi_auc = pred.get("attainable_auc") or (pred["predicted_auc"], pred["predicted_auc"])
    if raw is not None and not lo_auc - 1e-12 <= raw <= hi_auc + 1e-12:
        out.append(f"predicted AUC {raw:.3f} clipped to {min(max(raw, lo_auc), hi_auc):.2f}")
    return out


def headline(pred: dict[str, Any], quals: list[str]) -> str:
    status = pred.get("status", "reachable")
    start = "zero-shot" if pred.get("floor") is None else "max(zero-shot, majority share)"
    reach = f"{pred['target']:.0%} of the gap between {start} and ceiling"
    if pred.get("target_accuracy") is not None:
        reach += f" (accuracy {pred['target_accuracy']:.3f})"
    if status == "beyond_max":
        text = f"more than {pred['max_budget']} labels to reach {reach}"
    elif status == "unreachable":
        text = f"{reach} is not reachable with these coefficients"
    else:
        span = f"{_n(pred['budget_low'], pred['max_budget'])}–{_n(pred['budget_high'], pred['max_budget'])}"
        text = f"label about {pred['budget']} examples (range {span}) to reach {reach}"
    if pred.get("reason") and status != "reachable":
        text += f": {pred['reason']}"
    return text + "".join(f" [{q}]" for q in quals)


def spread_budgets(
    spread: dict[str, Any], coefs: dict[str, Any], target: float, max_budget: int | None, level: float
) -> dict[str, int]:
    """Budgets at the two ends of the CoS-Low interval: how far the draw of examples alone
    moves the answer (higher CoS-Low, fewer labels)."""
    from dataeff.budget import predict_budget

    lo = predict_budget(spread["high"], coefs, target, max_budget, level)["budget"]
    hi = predict_budget(spread["low"], coefs, target, max_budget, level)["budget"]
    return {"budget_at_coslow_high": lo, "budget_at_coslow_low": hi}


def same_answer_pairs(rows: list[dict[str, Any]]) -> float:
    """Fraction of the k(k-1)/2 pairs whose two answers are the same (normalised)."""
    from collections import Counter

    k = len(rows)
    counts = Counter(normalize_answer(r["answer"]) for r in rows)
    return sum(c * (c - 1) for c in counts.values()) / (k * (k - 1)) if k > 1 else 0.0


def label_warnings(rows: list[dict[str, Any]], share: float) -> list[str]:
    """Warn when one answer dominates, or when pairs with the same answer are half of all pairs
    or more: answer gradients cluster by label, so the median cosine is then a same-answer
    cosine and CoS-Low jumps (measured on SmolLM2 and a binary BIG-bench task, k = 16: 0.42
    for an 8/8 split, 0.67 for 10/6, 0.91 for 11/5)."""

    top = most_common_share([r["answer"] for r in rows])
    pairs = same_answer_pairs(rows)
    if top["n"] and (top["share"] >= share or pairs >= 0.5):
        return [
            f"{top['count']} of {top['n']} labeled examples ({top['share']:.0%}) have the answer "
            f"'{top['answer']}' and {pairs:.0%} of the pairs share an answer: answer gradients cluster by "
            "label, so CoS-Low is then a same-answer cosine and inflated; check the spread, and label a "
            "larger or more balanced draw (--k, or another --seed with --redo)"
        ]
    return []


def output_warning(record: dict[str, Any], share: float) -> list[str]:
    top = record.get("base_model_top_answer") or {}
    if top.get("n") and top["share"] >= share:
        return [
            f"the base model gives the same answer ('{top['answer']}') to {top['count']} of {top['n']} prompts "
            f"({top['share']:.0%}): its confidence hardly separates the prompts, so the low-confidence "
            "segment is close to a random draw"
        ]
    return []


# --------------------------------------------------------------------------- run


@dataclass
class Request:
    """A ``predict`` command, checked: everything that can be wrong with it is found before a
    model loads, on the first run and the second alike."""

    config: dict[str, Any]
    settings: dict[str, Any]
    measured: dict[int, float]
    k: int
    seed: int
    family: str
    coefs: dict[str, Any]
    model_warnings: list[str]
    zero_shot: float | None
    floor: float | None
    floor_warnings: list[str]
    target: float
    inputs: dict[str, Any]
    workdir: Path

    @property
    def annotate(self) -> Path:
        return self.workdir / TO_ANNOTATE

    @property
    def log(self) -> Path:
        return self.workdir / LOG


def check_request(args: argparse.Namespace) -> Request:
    """The command's settings, coefficients, target and work directory, each validated."""
    from dataeff.budget import curve_start
    from dataeff.coefficients import check_model, lookup_coefficients

    config = load_optional_config(args.config)
    settings = coslow_settings(config)
    measured = parse_measured(args.measured)
    if measured and (args.ceiling is None or (0 not in measured and args.zero_shot is None)):
        raise DataeffError(
            "measured budgets need the zero-shot accuracy and the ceiling",
            field="--measured",
            fix="add --zero-shot ACC (or --measured 0=ACC) and --ceiling H",
        )
    k = int(args.k if args.k is not None else settings["k"])
    if k < 2:
        raise DataeffError(
            f"k = {k} is too small", field="--k", fix="CoS-Low needs at least 2 labeled examples (the paper uses 32)"
        )
    seed = int(args.seed if args.seed is not None else config["seed"])
    family = resolve_family(args, config)
    coefs = lookup_coefficients(family, args.coefficients, args.results_dir, config)
    model_warnings = check_model(coefs, args.model, config, force=args.force)
    zero_shot, floor, floor_warnings = curve_start(args.zero_shot, args.majority, coefs)
    if floor is not None and 0 in measured:
        measured[0] = max(measured[0], floor)
    target = resolve_target(args)
    inputs = selection_inputs(args, k, seed, settings)
    workdir = Path(args.workdir)
    check_workdir(workdir, inputs, args.redo)
    return Request(
        config=config,
        settings=settings,
        measured=measured,
        k=k,
        seed=seed,
        family=family,
        coefs=coefs,
        model_warnings=list(model_warnings),
        zero_shot=zero_shot,
        floor=floor,
        floor_warnings=list(floor_warnings),
        target=target,
        inputs=inputs,
        workdir=workdir,
    )


def select_examples(args: argparse.Namespace, req: Request) -> None:
    """First run: the confidence pass over the prompts and the k low-confidence picks to label."""
    note = Progress("predict", log=req.log)
    ensure_family_model(args.model, req.config, note)
    record = run_select(
        args.model,
        args.prompts,
        req.k,
        req.seed,
        str(req.annotate),
        req.config,
        low_fraction=float(req.settings["low_fraction"]),
        measure=str(req.settings["confidence"]),
        threads=args.threads,
        prompt_field=args.prompt_field,
        on_progress=Progress("confidence pass", "prompts", log=req.log).update,
    )
    atomic_write_json(req.workdir / INPUTS, {"hash": stable_hash(req.inputs), "inputs": req.inputs})
    for w in output_warning(record, float(req.settings["same_output_share"])):
        note.message(f"warning: {w}")
    n = len(read_jsonl(req.annotate))
    print(
        f"label the `answer` field of the {n} examples in {req.annotate}, then run the same command again "
        f"(selection details: {sidecar_paths(req.annotate)[1]})"
    )


def labeled_rows(req: Request) -> list[dict[str, Any]]:
    """The annotated picks, every answer filled (at least two: CoS-Low is a median over pairs)."""
    rows = check_answers(req.annotate)
    if len(rows) < 2:
        raise DataeffError(
            f"only {len(rows)} example(s)",
            file=str(req.annotate),
            fix="CoS-Low needs at least 2 labeled examples; pass --redo to select again",
        )
    return rows


def prediction(
    args: argparse.Namespace, req: Request, rows: list[dict[str, Any]], cos_rec: dict[str, Any]
) -> dict[str, Any]:
    """The budget and its interval from CoS-Low of the labeled picks, with every warning,
    qualifier and the provenance ``prediction.json`` records."""
    spread = cos_rec.get("spread")
    pred = call_predict_budget(
        cos_rec["value"],
        req.coefs,
        req.target,
        args.max_budget,
        args.level,
        coslow_sd=spread["sd"] if spread else None,
        measured=req.measured,
        zero_shot=req.zero_shot,
        ceiling=args.ceiling,
        test_size=args.test_size,
    )
    settings = req.settings
    warnings = req.model_warnings + req.floor_warnings
    warnings += label_warnings(rows, float(settings["dominant_answer_share"]))
    sel_path = sidecar_paths(req.annotate)[1]
    if sel_path.is_file():
        warnings += output_warning(read_json(sel_path), float(settings["same_output_share"]))
    if spread:
        pred["coslow_spread"] = spread
        pred.update(spread_budgets(spread, req.coefs, req.target, args.max_budget, args.level))
    pred["warnings"] = warnings + pred["warnings"]
    pred["floor"] = req.floor  # the majority share the gap starts from (None: the zero-shot accuracy)
    if req.zero_shot is not None and args.ceiling is not None:
        pred["zero_shot"], pred["ceiling"] = req.zero_shot, args.ceiling
        pred["target_accuracy"] = req.zero_shot + req.target * (args.ceiling - req.zero_shot)
    quals = qualifiers(pred, req.coefs, req.model_warnings, float(settings["unstable_budget_factor"]))
    pred.update(
        {
            "headline": headline(pred, quals),
            "qualifiers": quals,
            "family": req.family,
            "model": args.model,
            "coefficients_model": req.coefs.get("model"),
            "k": len(rows),
            "seed": req.seed,
            "annotated": str(req.annotate),
            "measured": {str(n): acc for n, acc in sorted(req.measured.items())},
            "inputs": req.inputs,
            "cosine_quartiles": cos_rec["cosine_quartiles"],
            "same_answer_pair_fraction": same_answer_pairs(rows),
        }
    )
    pred["provenance"] = provenance(
        config=req.config,
        seed=req.seed,
        model=args.model,
        model_revision=cos_rec.get("model_revision"),
        data_hash=file_hash(req.annotate),
    )
    return pred


def print_prediction(pred: dict[str, Any], req: Request, args: argparse.Namespace) -> None:
    """The headline, CoS-Low with its spread, the budget and what to do next (or the JSON)."""
    for w in pred["warnings"]:
        print(f"dataeff: warning: {w}", file=sys.stderr)
    if args.json:
        print(json.dumps(pred, indent=2, sort_keys=True))
        return
    print(pred["headline"])
    spread, k = pred.get("coslow_spread"), pred["k"]
    sd = (
        (
            f", sd {spread['sd']:.3f} over resamples of the {k} examples, {spread['level']:.0%} interval "
            f"{spread['low']:.3f}–{spread['high']:.3f}; the draw alone moves the budget between "
            f"{pred['budget_at_coslow_high']} and {pred['budget_at_coslow_low']}"
        )
        if spread
        else ""
    )
    print(f"CoS-Low of the {k} labeled examples: {pred['coslow']:.4f}{sd}")
    print(describe(pred, req.zero_shot, args.ceiling))
    print(
        f"next: label that many examples (a random sample of your prompts), then fine-tune on them. "
        f"Details: {req.workdir / 'prediction.json'}"
    )


def run(args: argparse.Namespace) -> int:
    req = check_request(args)
    if not req.annotate.is_file():
        select_examples(args, req)
        return 0
    rows = labeled_rows(req)
    ensure_family_model(args.model, req.config, Progress("predict", log=req.log))
    cos_rec = run_coslow(
        args.model,
        str(req.annotate),
        req.seed,
        str(req.workdir / "coslow.json"),
        req.config,
        threads=args.threads,
        on_progress=Progress("gradient pass", "units", log=req.log).update,
    )
    pred = prediction(args, req, rows, cos_rec)
    atomic_write_json(req.workdir / "prediction.json", pred)
    print_prediction(pred, req, args)
    return 0
