"""scripts/gpu_check.sh: its shell part parses, and its Python part runs its checks on tiny shapes
on the CPU (the same code a GPU runs on 1B/8B-shaped models), writing the JSON-lines report.
Its FSDP2 check runs here on 2 CPU ranks (gloo) with the paper's bf16 policy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_shell_script_parses():
    assert subprocess.run(["bash", "-n", str(ROOT / "scripts" / "gpu_check.sh")]).returncode == 0


@pytest.mark.slow
def test_cpu_dry_run_reports_every_check(tmp_path):
    report = tmp_path / "gpu_check.jsonl"
    env = dict(os.environ, PYTHON=sys.executable, GPU_CHECK_TIMEOUT="400", OMP_NUM_THREADS="2")
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_check.sh"), str(report), "--cpu", "--tiny"],
        env=env,
        capture_output=True,
        text=True,
        timeout=450,
    )
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert proc.returncode == 0, (proc.stdout[-2000:], lines)
    by = {r["check"]: r for r in lines}
    assert by["environment"]["mode"] == "cpu"
    step = by["train_step_precision"]
    # fp32 master weights move every weight at lr 1e-5; pure bf16 rounds most updates away
    assert step["fp32"]["fraction_changed"] > 0.99 and step["autocast_bf16"]["fraction_changed"] > 0.99
    assert step["bf16"]["fraction_changed"] < 0.5 < step["bf16"]["update_rel_error_vs_fp32"]
    assert step["autocast_bf16"]["update_rel_error_vs_fp32"] < 0.2
    assert by["generation_batched"]["identical"] == by["generation_batched"]["prompts"] == 12
    fsdp = by["fsdp2_one_rank"]  # the paper's bf16 policy on accelerate's FSDP2 path (2 CPU ranks here)
    assert fsdp["ok"] and fsdp["distributed"] == "FSDP" and fsdp["precision"] == "bf16"
    assert fsdp["resumed_from_step"] == 2 and fsdp["identical_after_resume"]
    assert fsdp["saved_dtypes"] == ["torch.bfloat16"]
    assert fsdp["buffer_dtypes"]["model.rotary_emb.inv_freq"] == "torch.float32"
    assert by["coslow_8b"]["ok"]
    assert "skipped" in by["planner_vs_measured"]
