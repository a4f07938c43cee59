"""The benchmark script runs end to end in its quick mode and writes a table with every row.

Only the shape of the output is checked: ratios measured with a tiny random model on a shared
test machine mean nothing (the real numbers come from ``python benchmarks/run.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: One prefix per row of the table (section number, then the measurement's name).
ROWS = (
    "| 1 | fine-tune training tokens/s (cpu",
    "| 1 | fine-tune answer tokens/s (cpu",
    "| 1 | training compute utilisation (cpu",
    "| 2 | evaluation examples/s (cpu",
    "| 3 | CoS-Low time",
    "| 3 | CoS-Low extra peak memory",
    "| 3 | CoS-Low value",
    "| 3 | selection confidence pass",
    "| 4 | `snakemake -n` (",
    "| 4 | `snakemake -n` with 10x the tasks",
    "| 5 | embedded default end to end",
)


@pytest.mark.slow
def test_quick_benchmark_writes_every_row(tmp_path, smollm2_dir):
    out = tmp_path / "benchmark.md"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "run.py"),
            "--quick",
            "--model",
            str(smollm2_dir),
            "--out",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = out.read_text()
    assert table.startswith("# dataeff performance benchmark")
    for prefix in ROWS:
        assert any(line.startswith(prefix) for line in table.splitlines()), f"missing row {prefix!r}"
    # the bf16-autocast vs fp32 row, or the reason this CPU has none
    bf16_rows = ("| 1 | training tokens/s under bf16 autocast (cpu", "| 1 | bf16 autocast training (cpu")
    assert any(line.startswith(bf16_rows) for line in table.splitlines())
    assert "Machine:" in table and "torch threads 2" in table
    # the table is what the script prints last
    assert proc.stdout.rstrip().endswith(table.rstrip().splitlines()[-1])
    raw = json.loads(out.with_suffix(".json").read_text())
    assert raw["repeats"] == 1 and raw["train"]["cpu"]["trainer"]["seconds"] > 0
    # The benchmarked step is the pipeline's own (dataeff.training.step.train_step): on the same
    # first batch it computes the Trainer's answer-token mean loss (fp32; summation order differs).
    first = raw["train"]["cpu"]["first_step_loss"]
    assert first["project"] == pytest.approx(first["trainer"], rel=1e-5)
    assert raw["precision"]["cpu"]["first_step_loss"]["fp32"] == pytest.approx(first["project"], rel=1e-6)


def test_protocol_timing_records_every_unit_cost(tmp_path, tiny_model_dir):
    """``benchmarks/protocol_timing.py`` (the unit costs behind docs/STUDY.md's wall-time
    estimate) runs the pipeline's own step and passes, and writes one record per unit."""
    out = tmp_path / "timing.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "protocol_timing.py"),
            *("--model", str(tiny_model_dir), "--lengths", "24", "--batch", "4", "--micro", "2,4"),
            *("--steps", "2", "--val", "4", "--test", "4", "--pool", "4", "--new-tokens", "2"),
            *("--out", str(out)),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rec = json.loads(out.read_text())
    assert [r["micro"] for r in rec["train"]] == [2, 2, 4, 4]
    assert [r["precision"] for r in rec["train"][::2]] == ["fp32", "fp32"]
    assert {r["precision"] for r in rec["train"][1::2]} <= {"autocast_bf16", "fp32"}  # fp32: no CPU bf16
    assert all(r["step_seconds"] > 0 for r in rec["train"])
    assert len(rec["val"]) == 1 and len(rec["eval"]) == 1 and len(rec["confidence"]) == 1
