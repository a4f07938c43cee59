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

from dataeff.commands.budget import budget_words, describe, ordered_budgets, range_words, resolve_target
from dataeff.commands.options import (
    add_curve_model_option,
    add_level_option,
    add_measured_options,
    add_model_option,
    add_target_options,
    parse_measured,
)
from dataeff.core.errors import DataeffError
from dataeff.core.io import atomic_write_json, check_output_path, read_json, read_jsonl
from dataeff.core.progress import Progress
from dataeff.core.provenance import file_hash, provenance, stable_hash
from dataeff.core.settings import CoslowSettings, coslow_settings, to_dict
from dataeff.coslow.selection import (
    most_common_share,
    normalize_answer,
    read_prompts,
    row_id,
    run_select,
    sidecar_paths,
)
from dataeff.coslow.stage import run_coslow
from dataeff.modeling.resolve import coefficient_family
from dataeff.pipeline.config import load_optional_config

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
    add_model_option(p)
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
    add_curve_model_option(p)
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


def selection_inputs(args: argparse.Namespace, k: int, seed: int, settings: CoslowSettings) -> dict[str, Any]:
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
    recorded = to_dict(settings)
    return {
        "prompts_sha256": file_hash(prompts),
        "prompt_field": args.prompt_field,
        "k": k,
        "seed": seed,
        "model": str(model.resolve()) if model.exists() else args.model,
        "settings": {key: recorded[key] for key in ("low_fraction", "confidence", "max_new_tokens", "lora")},
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
    """``--family``, else ``--model`` when it is a config family (:func:`coefficient_family`,
    as in ``budget``); predict cannot go on without coefficients, so none is a one-line error."""
    family = coefficient_family(args.model, args.family, config)
    if family is None:
        raise DataeffError(
            "no --family given",
            field="--family",
            fix="name the family whose coefficients to use (e.g. the one fitted on your model)",
        )
    return family


def check_picks(rows: list[dict[str, Any]], annotate: Path, prompts: str, prompt_field: str) -> None:
    """Every labeled row must be one of the picked examples, its prompt (and system text) as it was
    picked: CoS-Low is the cosine of the gradients of exactly those prompts, so an edited or
    swapped prompt would silently give the CoS-Low of other examples. The record is the prompts
    file (``check_workdir`` has already matched its content to the hash taken when picking) and
    the ids the selection wrote beside ``annotate``."""
    selection = sidecar_paths(annotate)[1]
    record = read_json(selection) if selection.is_file() else None
    chosen = record.get("selected_ids") if isinstance(record, dict) else None
    chosen = {str(i) for i in chosen} if isinstance(chosen, list) else None
    picked: dict[str, list[tuple[str, str | None]]] = {}
    for i, row in enumerate(read_prompts(prompts, prompt_field)):
        rid = row_id(row, i)
        if chosen is None or rid in chosen:
            picked.setdefault(rid, []).append((row["prompt"], row.get("system") or None))
    for row in rows:
        where = f"line {row.get('_line')} (id {row.get('id')!r})"
        versions = picked.get(str(row.get("id")))
        if versions is None:
            raise DataeffError(
                f"{where} is not one of the examples picked from {prompts}",
                file=str(annotate),
                field="id",
                fix="restore the picked example there and fill in only its 'answer', or pass --redo to "
                "select again, which discards the labels",
            )
        if (row.get("prompt"), row.get("system") or None) not in versions:
            changed = "prompt" if row.get("prompt") not in {text for text, _ in versions} else "system"
            raise DataeffError(
                f"{where}: the {changed} text was edited since it was picked from {prompts}, and CoS-Low "
                "would be computed on the edited text",
                file=str(annotate),
                field=changed,
                fix=f"restore the {changed} as it was picked and fill in only 'answer', or pass --redo to "
                "select again, which discards the labels",
            )


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
    curve_model: str | None = None,
) -> dict[str, Any]:
    """:func:`dataeff.prediction.budget.predict_budget` with the CoS-Low spread and the budgets measured so far;
    the zero-shot accuracy counts as the measured point at budget 0."""
    from dataeff.prediction.budget import DEFAULT_CURVE_MODEL, predict_budget

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
        curve_model=curve_model or DEFAULT_CURVE_MODEL,
    )


def qualifiers(
    pred: dict[str, Any], coefs: dict[str, Any], model_warnings: list[str], unstable_factor: float | None = None
) -> list[str]:
    """What limits the headline number, stated in the headline itself. The number is called
    unstable when the CoS-Low interval alone moves the budget by more than ``unstable_factor``
    (config ``coslow.unstable_budget_factor``): either way round (a negative slope, SmolLM2's,
    gives more labels at the higher CoS-Low), and an end beyond N_max counts as more than N_max."""
    out = []
    if unstable_factor and "budget_at_coslow_high" in pred:
        ends = (pred["budget_at_coslow_high"], pred["budget_at_coslow_low"])
        n_max = int(pred["max_budget"])
        few = min((b for b in ends if b is not None), default=None)
        many = max(ends) if None not in ends else n_max + 1  # beyond N_max: at least N_max + 1
        if few and many > unstable_factor * few:
            sp = pred["coslow_spread"]
            out.append(
                f"unstable: another draw of the labeled examples moves CoS-Low over "
                f"{sp['low']:.2f}–{sp['high']:.2f} and the budget over {range_words(*ends, n_max)}"
            )
    if model_warnings and coefs.get("model"):
        out.append(f"coefficients fitted on {coefs['model']}, not on this model")
    if pred.get("out_of_sample_note"):
        out.append(pred["out_of_sample_note"])
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
    start = pred.get("gap_start") or "zero-shot"
    reach = f"{pred['target']:.0%} of the gap between {start} and ceiling"
    if pred.get("target_accuracy") is not None:
        reach += f" (accuracy {pred['target_accuracy']:.3f})"
    if status == "beyond_max":
        text = f"more than {pred['max_budget']} labels to reach {reach}"
    elif status == "unreachable":
        text = f"{reach} is not reachable with these coefficients"
    else:
        n_max = pred["max_budget"]
        span = range_words(pred["budget_low"], pred["budget_high"], n_max)
        text = f"label about {budget_words(pred['budget'], n_max)} examples (range {span}) to reach {reach}"
    if pred.get("reason") and status != "reachable":
        text += f": {pred['reason']}"
    return text + "".join(f" [{q}]" for q in quals)


def spread_budgets(
    spread: dict[str, Any],
    coefs: dict[str, Any],
    target: float,
    max_budget: int | None,
    level: float,
    curve_model: str | None = None,
) -> dict[str, int]:
    """Budgets at the two ends of the CoS-Low interval: how far the draw of examples alone
    moves the answer (higher CoS-Low, fewer labels)."""
    from dataeff.prediction.budget import DEFAULT_CURVE_MODEL, predict_budget

    model = curve_model or DEFAULT_CURVE_MODEL
    lo = predict_budget(spread["high"], coefs, target, max_budget, level, curve_model=model)["budget"]
    hi = predict_budget(spread["low"], coefs, target, max_budget, level, curve_model=model)["budget"]
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
    settings: CoslowSettings
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
    from dataeff.prediction.budget import curve_start
    from dataeff.prediction.coefficients import check_model, lookup_coefficients

    config = load_optional_config(args.config)
    settings = coslow_settings(config)
    measured = parse_measured(args.measured)
    if measured and (args.ceiling is None or (0 not in measured and args.zero_shot is None)):
        raise DataeffError(
            "measured budgets need the zero-shot accuracy and the ceiling",
            field="--measured",
            fix="add --zero-shot ACC (or --measured 0=ACC) and --ceiling H",
        )
    k = int(args.k if args.k is not None else settings.k)
    if k < 2:
        raise DataeffError(
            f"k = {k} is too small", field="--k", fix="CoS-Low needs at least 2 labeled examples (the paper uses 32)"
        )
    seed = int(args.seed if args.seed is not None else config["seed"])
    family = resolve_family(args, config)
    coefs = lookup_coefficients(family, args.coefficients, args.results_dir, config)
    model_warnings = check_model(coefs, args.model, config, force=args.force)
    zero_shot, floor, floor_warnings = curve_start(args.zero_shot, args.majority, coefs, args.options)
    if floor is not None and 0 in measured:
        measured[0] = max(measured[0], floor)
    target = resolve_target(args)
    inputs = selection_inputs(args, k, seed, settings)
    workdir = check_output_path(args.workdir, "--workdir", directory=True)
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
    record = run_select(
        args.model,
        args.prompts,
        req.k,
        req.seed,
        str(req.annotate),
        req.config,
        low_fraction=float(req.settings.low_fraction),
        measure=str(req.settings.confidence),
        threads=args.threads,
        prompt_field=args.prompt_field,
        on_progress=Progress("confidence pass", "prompts", log=req.log).update,
        on_message=note.message,
    )
    atomic_write_json(req.workdir / INPUTS, {"hash": stable_hash(req.inputs), "inputs": req.inputs})
    for w in output_warning(record, float(req.settings.same_output_share)):
        note.message(f"warning: {w}")
    n = len(read_jsonl(req.annotate))
    print(
        f"label the `answer` field of the {n} examples in {req.annotate}, then run the same command again "
        f"(selection details: {sidecar_paths(req.annotate)[1]})"
    )


def labeled_rows(args: argparse.Namespace, req: Request) -> list[dict[str, Any]]:
    """The annotated picks, every answer filled (at least two: CoS-Low is a median over pairs),
    each still the example that was picked (:func:`check_picks`)."""
    rows = check_answers(req.annotate)
    if len(rows) < 2:
        raise DataeffError(
            f"only {len(rows)} example(s)",
            file=str(req.annotate),
            fix="CoS-Low needs at least 2 labeled examples; pass --redo to select again",
        )
    check_picks(rows, req.annotate, args.prompts, args.prompt_field)
    return rows


def prediction(
    args: argparse.Namespace, req: Request, rows: list[dict[str, Any]], cos_rec: dict[str, Any]
) -> dict[str, Any]:
    """The budget and its interval from CoS-Low of the labeled picks, with every warning,
    qualifier and the provenance ``prediction.json`` records."""
    from dataeff.prediction.budget import gap_start

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
        curve_model=args.curve_model,
    )
    settings = req.settings
    warnings = req.model_warnings + req.floor_warnings
    warnings += label_warnings(rows, float(settings.dominant_answer_share))
    sel_path = sidecar_paths(req.annotate)[1]
    if sel_path.is_file():
        warnings += output_warning(read_json(sel_path), float(settings.same_output_share))
    if spread:
        pred["coslow_spread"] = spread
        pred.update(spread_budgets(spread, req.coefs, req.target, args.max_budget, args.level, args.curve_model))
    pred["warnings"] = warnings + pred["warnings"]
    pred["floor"] = req.floor  # the chance floor the gap starts from (None: the zero-shot accuracy)
    pred["gap_start"] = gap_start(req.coefs, args.majority, args.options) if req.floor is not None else "zero-shot"
    if req.zero_shot is not None and args.ceiling is not None:
        pred["zero_shot"], pred["ceiling"] = req.zero_shot, args.ceiling
        pred["target_accuracy"] = req.zero_shot + req.target * (args.ceiling - req.zero_shot)
    quals = qualifiers(pred, req.coefs, req.model_warnings, float(settings.unstable_budget_factor))
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


def draw_words(pred: dict[str, Any]) -> str:
    """How far the draw of the labeled examples alone moves the budget, in words: the budgets at
    the two ends of the CoS-Low interval, smaller first, an end beyond N_max as "more than N_max"."""
    ends = (pred.get("budget_at_coslow_high"), pred.get("budget_at_coslow_low"))
    n_max = int(pred["max_budget"])
    if ends == (None, None):
        return f"the budget is more than {n_max} at both ends of that interval"
    low, high = ordered_budgets(*ends)
    return f"the draw alone moves the budget between {low} and {budget_words(high, n_max)}"


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
            f"{spread['low']:.3f}–{spread['high']:.3f}; {draw_words(pred)}"
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
    rows = labeled_rows(args, req)
    cos_rec = run_coslow(
        args.model,
        str(req.annotate),
        req.seed,
        str(req.workdir / "coslow.json"),
        req.config,
        threads=args.threads,
        on_progress=Progress("gradient pass", "units", log=req.log).update,
        on_message=Progress("predict", log=req.log).message,
    )
    pred = prediction(args, req, rows, cos_rec)
    atomic_write_json(req.workdir / "prediction.json", pred)
    print_prediction(pred, req, args)
    return 0
