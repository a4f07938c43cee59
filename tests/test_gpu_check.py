"""scripts/gpu_check.sh: its shell part parses, its plan is the pipeline's own commands, and its
Python part runs every check on tiny shapes on the CPU (the same code a GPU runs on 1B/8B-shaped
models), writing the JSON-lines report. On the CPU the fine-tune is launched by the finetune rule's
`accelerate launch` line on 2 processes (gloo), with the paper's bf16 policy."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_shell_script_parses():
    assert subprocess.run(["bash", "-n", str(ROOT / "scripts" / "gpu_check.sh")]).returncode == 0


def _plan(tmp_path: Path, *extra: str) -> dict[str, dict]:
    env = dict(os.environ, PYTHON=sys.executable)
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_check.sh"), str(tmp_path / "r.jsonl"), "--plan", *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return {r["check"]: r for r in map(json.loads, proc.stdout.splitlines())}


def test_plan_launches_the_rules_own_commands(tmp_path):
    """The fine-tune goes through the finetune rule's launcher (workflow/rules/common.smk) with as
    many processes as GPUs, the evaluation through the evaluate rule's command; the model has
    untied embeddings, validation comes before the last step, weights and generation are bf16."""
    rules = (ROOT / "workflow" / "rules" / "common.smk").read_text()
    literals = re.search(r"def launcher\(.*?return \((.*?)\)\n", rules, re.S).group(1)
    rule_line = "".join(re.findall(r'f?"([^"]*)"', literals))
    assert rule_line == (
        "accelerate launch --config_file config/fsdp.yaml --num_processes {resources.gpu} "
        "--main_process_port 0 -m dataeff.cli"
    )
    evaluate = (ROOT / "workflow" / "rules" / "evaluate.smk").read_text()
    for gpus in ("1", "2"):
        plan = _plan(tmp_path, "--gpus", gpus)
        launch = plan["finetune_launch"]
        assert launch["command"].startswith(rule_line.replace("{resources.gpu}", gpus) + " finetune ")
        assert plan["environment"]["gpus"] == int(gpus) and launch["family"]["gpus"] == int(gpus)
    assert not launch["shape"]["tie_word_embeddings"]
    assert launch["family"] == {
        "model": "(the fitted model's directory)",
        "dtype": "bfloat16",
        "precision": "bf16",
        "attn_implementation": "auto",  # flash-attention 2 where it imports, else sdpa
        "gpus": 2,
    }
    train = launch["train"]
    assert train["eval_every"] < train["max_steps"] and train["max_seq_len"] == 2048
    assert launch["data"]["filler"] * 13 > 1000  # prompts of about 1500 tokens, not 128
    assert plan["evaluate_saved"]["command"].split(" --")[0] in evaluate
    assert plan["generation_bf16"]["dtype"] == "bfloat16"


@pytest.mark.slow
def test_cpu_dry_run_reports_every_check(tmp_path):
    report = tmp_path / "gpu_check.jsonl"
    env = dict(os.environ, PYTHON=sys.executable, GPU_CHECK_TIMEOUT="600", OMP_NUM_THREADS="2")
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_check.sh"), str(report), "--cpu", "--tiny"],
        env=env,
        capture_output=True,
        text=True,
        timeout=660,
    )
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert proc.returncode == 0, (proc.stdout[-2000:], lines)
    by = {r["check"]: r for r in lines}
    env_line = by["environment"]
    assert env_line["mode"] == "cpu" and env_line["processes"] == 2 and env_line["attention"] == "sdpa"
    assert env_line["attention_reason"]
    step = by["train_step_precision"]
    # fp32 master weights move every weight at lr 1e-5; pure bf16 rounds most updates away
    assert step["fp32"]["fraction_changed"] > 0.99 and step["autocast_bf16"]["fraction_changed"] > 0.99
    assert step["bf16"]["fraction_changed"] < 0.5 < step["bf16"]["update_rel_error_vs_fp32"]
    assert step["autocast_bf16"]["update_rel_error_vs_fp32"] < 0.2
    launch = by["finetune_launch"]  # the rule's accelerate launch line, FSDP2 on 2 CPU ranks
    assert launch["ok"] and launch["distributed"] == "FSDP" and launch["processes"] == 2
    assert launch["command"].startswith("accelerate launch --config_file config/fsdp.yaml --num_processes 2 ")
    assert launch["precision"] == "bf16" and launch["saved_tensor_dtypes"] == ["torch.bfloat16"]
    assert launch["untied_embeddings_saved"] and launch["best_step"] < launch["steps_run"]
    saved = by["evaluate_saved"]  # the saved weights are the best step's, evaluated in bf16
    assert saved["ok"] and saved["eval_dtype"] == "bfloat16"
    assert saved["saved_model_val_loss"] == pytest.approx(saved["best_val_loss"], rel=0.02)
    gen = by["generation_bf16"]
    assert gen["ok"] and gen["dtype"] == "bfloat16" and gen["identical"] >= 11
    assert by["coslow_8b"]["ok"] and by["coslow_8b"]["one_batch_coslow_diff"] < 5e-3
    assert "skipped" in by["planner_vs_measured"]
