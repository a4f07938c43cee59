"""The training-seed replicates' analysis (study/seed_noise.py): its committed numbers come back
from the committed raw files, and the early-stop check compares what its name says."""

from __future__ import annotations

import importlib.util
import json
import shutil
import statistics

import pytest

from dataeff.core.config import REPO_ROOT

SEEDS = REPO_ROOT / "study" / "results" / "bbh_seeds"


def _seed_noise():
    spec = importlib.util.spec_from_file_location("study_seed_noise", REPO_ROOT / "study" / "seed_noise.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_first_validation_gap_compares_a_stopped_run_with_its_other_seeds():
    """Only the seeds whose best step is the first validation give a gap, each against the mean
    of the task's other seeds at the same budget."""
    seed_noise = _seed_noise()
    runs = {
        "seeds": {
            1: {10: {"accuracy": 0.40, "best_step": 5}},
            2: {10: {"accuracy": 0.70, "best_step": 15}},
            3: {10: {"accuracy": 0.50, "best_step": 25}},
        }
    }
    assert seed_noise.first_validation_gaps(runs, [1, 2, 3], 10, 5) == [pytest.approx(0.40 - 0.60)]
    assert seed_noise.first_validation_gaps(runs, [1, 2, 3], 10, 15) == [pytest.approx(0.70 - 0.45)]
    assert seed_noise.first_validation_gaps(runs, [2], 10, 15) == []


@pytest.mark.skipif(not (SEEDS / "raw").is_dir(), reason="no committed seed replicates")
def test_committed_seed_noise_is_recomputed_from_the_raw_files(tmp_path):
    """Running the analysis on a copy of the committed raw files gives the committed record
    exactly (same bootstrap seed), and its per-seed accuracies are the evaluations' own."""
    seed_noise = _seed_noise()
    shutil.copytree(SEEDS / "raw", tmp_path / "raw")
    assert seed_noise.main(["--results", str(tmp_path)]) == 0
    fresh = json.loads((tmp_path / "analysis" / "seed_noise.json").read_text())
    committed = json.loads((SEEDS / "analysis" / "seed_noise.json").read_text())
    assert fresh == committed
    assert (tmp_path / "analysis" / "seed_noise.md").read_text() == (SEEDS / "analysis" / "seed_noise.md").read_text()
    for task, rec in committed["tasks"].items():
        for budget, row in rec["budgets"].items():
            accs = [
                json.loads((SEEDS / "raw" / task / f"s{s}" / f"eval_n{budget}.json").read_text())["accuracy"]
                for s in rec["seeds"]
            ]
            assert row["accuracy"] == accs
            assert row["seed_sd"] == pytest.approx(statistics.stdev(accs))
    for rule in ("majority", "fair"):
        excess = [
            statistics.fmean(t[rule]["auc_per_seed"]) - t[rule]["auc_mean_curve"] for t in committed["tasks"].values()
        ]
        assert committed["pooled"][rule]["single_seed_excess_mean"] == pytest.approx(statistics.fmean(excess))
