"""Fine-tune and evaluate round trip on a tiny random model, answer parsing, chat formatting,
one real SmolLM2 evaluation, and the DAG's job counts on the paper's grid."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dataeff.core.config import REPO_ROOT, validate_schema
from dataeff.core.settings import FamilySettings, LoraSettings, family_settings, train_settings
from dataeff.inference.evaluate import normalize, score
from dataeff.modeling.chat import answer_ids, completion_ids, prompt_ids, prompt_text
from dataeff.pipeline.config import load_config


def _family(**entry) -> FamilySettings:
    """A ``families`` entry, validated and filled with the schema's defaults, typed."""
    return family_settings(validate_schema({"families": {"f": entry}}, partial=True)["families"]["f"])


def _rows(n: int, offset: int = 0) -> list[dict]:
    out = []
    for i in range(offset, offset + n):
        a, b = i % 2 == 0, i % 3 == 0
        out.append({"id": str(i), "prompt": f"Is {a} and {b} true? Answer True or False.", "answer": str(a and b)})
    return out


def test_normalize_follows_the_paper() -> None:
    assert normalize("True.\nBecause ...") == "true"
    assert normalize("  (B) ") == "(b)"
    assert normalize("New York") == "newyork"
    assert score(["True", "false.", "maybe"], ["true", "False", "no"]) == pytest.approx(2 / 3)
    assert score(["a", "a", "b"], ["a", "b", "b"], "macro_f1") == pytest.approx(2 / 3)


def test_prompt_and_answer_tokens_line_up(tiny_model_dir: Path) -> None:
    from dataeff.modeling.loading import load_tokenizer

    tok = load_tokenizer(tiny_model_dir)
    text = prompt_text(tok, "hello")
    assert text.endswith("<|im_start|>assistant\n")
    full = tok.apply_chat_template(
        [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "True"}], tokenize=False
    )
    ids = prompt_ids(tok, "hello") + completion_ids(tok, "True")
    assert tok.decode(ids) == full.rstrip("\n")
    assert completion_ids(tok, "True")[:-1] == answer_ids(tok, "True")


def test_finetune_then_evaluate_round_trip(tiny_model_dir: Path, tmp_path: Path) -> None:
    from dataeff.inference.evaluate import evaluate_rows, load_for_eval
    from dataeff.training.finetune import finetune

    cfg = load_config(REPO_ROOT / "config" / "config.yaml")
    train = dataclasses.replace(
        train_settings(cfg),
        max_steps=6,
        max_epochs=None,
        batch_size=4,
        micro_batch_size=2,
        eval_every=2,
        checkpoint_every=100,
        learning_rate=1e-3,
    )
    fam = _family(model=str(tiny_model_dir), dtype="float32", attn_implementation="sdpa")
    metrics = finetune(
        model_ref=str(tiny_model_dir),
        family=fam,
        train=train,
        train_rows=_rows(16),
        val_rows=_rows(4, 100),
        out_dir=tmp_path / "ft",
        ckpt_dir=tmp_path / "ckpt",
        seed=1,
        progress=False,
    )
    assert metrics["steps_run"] == 6 and metrics["examples_used"] == 16
    history = [json.loads(line) for line in (tmp_path / "ft" / "train_log.jsonl").read_text().splitlines()]
    assert history[-1]["loss"] < history[0]["loss"]  # it learns
    assert metrics["best_val_loss"] == min(h["val_loss"] for h in history if "val_loss" in h)
    model, tok, info = load_for_eval(tmp_path / "ft" / "model", tiny_model_dir, fam)
    summary, preds = evaluate_rows(
        model, tok, _rows(8, 200), metric="accuracy", batch_size=4, max_new_tokens=4, progress=False
    )
    assert summary["n_test"] == 8 and len(preds) == 8 and 0.0 <= summary["accuracy"] <= 1.0
    assert {"prediction", "parsed", "gold", "correct"} <= set(preds[0])


def test_lora_finetune_saves_an_adapter_evaluation_loads(tiny_model_dir: Path, tmp_path: Path) -> None:
    from dataeff.inference.evaluate import load_for_eval
    from dataeff.training.finetune import finetune

    cfg = load_config(REPO_ROOT / "config" / "config.yaml")
    train = dataclasses.replace(
        train_settings(cfg),
        method="lora",
        lora=LoraSettings(r=4, alpha=8, dropout=0.0, target_modules=("q_proj", "v_proj")),
        max_steps=2,
        max_epochs=None,
        batch_size=4,
        micro_batch_size=4,
        eval_every=1,
        learning_rate=1e-3,
    )
    fam = _family(model=str(tiny_model_dir))
    finetune(
        model_ref=str(tiny_model_dir),
        family=fam,
        train=train,
        train_rows=_rows(8),
        val_rows=_rows(2, 50),
        out_dir=tmp_path / "ft",
        ckpt_dir=tmp_path / "ckpt",
        seed=1,
        progress=False,
    )
    assert (tmp_path / "ft" / "model" / "adapter_config.json").is_file()
    model, _, info = load_for_eval(tmp_path / "ft" / "model", tiny_model_dir, fam)
    assert info["adapter"].endswith("model")


@pytest.mark.slow
def test_real_smollm2_evaluation(smollm2_dir: Path) -> None:
    """The real model answers sensibly; the paper's strict exact match then scores its sentences."""
    from dataeff.inference.evaluate import evaluate_rows
    from dataeff.modeling.loading import load_model

    model, tok, info = load_model(smollm2_dir)
    assert info["dtype"] == "float32" and sum(p.numel() for p in model.parameters()) > 130e6
    rows = [
        {"prompt": "What is the capital of France? Answer with one word.", "answer": "Paris"},
        {
            "prompt": "Is the sentence 'I love this wonderful movie' positive or negative? Answer with one word.",
            "answer": "Positive",
        },
    ]
    summary, preds = evaluate_rows(model, tok, rows, metric="accuracy", batch_size=2, max_new_tokens=8, progress=False)
    assert "paris" in preds[0]["prediction"].lower(), preds
    assert summary["accuracy"] == sum(p["correct"] for p in preds) / 2
    assert preds[0]["parsed"] == normalize(preds[0]["prediction"])


def _dry_run_counts(args: list[str]) -> dict[str, int]:
    out = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    counts = {}
    for line in out.stdout.splitlines():
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if m:
            counts[m.group(1)] = int(m.group(2))
    return counts


def test_paper_grid_dry_run_job_counts() -> None:
    """Three families x 30 tasks x seven budgets, except that budgets above a task's training
    pool collapse into one fine-tune at the pool size (METHOD.md section 4)."""
    from dataeff.tasks.registry import get_task, pool_size

    counts = _dry_run_counts(["--configfile", "config/paper.yaml"])
    cfg = load_config(REPO_ROOT / "config" / "paper.yaml")
    per_family = 0
    for task in cfg["tasks"]:
        pool = pool_size(get_task(task, cfg), cfg)
        per_family += len({b if pool is None else min(b, pool) for b in cfg["budgets"]})
    assert per_family < 30 * 7  # rte and overruling lose a duplicate each
    assert counts["finetune"] == 3 * per_family
    assert counts["evaluate"] == 3 * (per_family + 30)


def test_default_dry_run_covers_every_stage() -> None:
    counts = _dry_run_counts(["--forceall"])
    cfg = load_config(REPO_ROOT / "config" / "config.yaml")
    n_tasks, n_budgets = len(cfg["tasks"]), len(cfg["budgets"])
    assert counts["finetune"] == n_tasks * n_budgets
    assert counts["evaluate"] == n_tasks * (n_budgets + 1)
    for rule in ("prepare_model", "prepare_task", "aggregate", "efficiency", "coslow", "fit"):
        assert counts.get(rule, 0) >= 1, rule


def test_published_results_schedule_no_model_work() -> None:
    """With analysis.published_results covering the family (curves and predictors), the default
    target regenerates the AUCs, fit and figures and schedules no model, fine-tune, evaluation or
    CoS-Low job (the configuration CI builds its --report from)."""
    counts = _dry_run_counts(["--configfile", "tests/configs/report.yaml"])
    for rule in ("prepare_model", "prepare_task", "finetune", "evaluate", "confidence", "coslow", "aggregate"):
        assert counts.get(rule, 0) == 0, rule
    for rule in ("efficiency", "curves", "fit", "prediction_figures"):
        assert counts.get(rule) == 1, rule
