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


def test_leave_task_out_sd_pools_the_other_tasks_only():
    seed_noise = _seed_noise()
    tasks = {
        "a": {"budgets": {"10": {"seed_sd": 0.3}}},
        "b": {"budgets": {"10": {"seed_sd": 0.0}}},
        "c": {"budgets": {"10": {"seed_sd": 0.4}}},
    }
    assert seed_noise.leave_task_out_sd(tasks, "b", [10]) == {10: pytest.approx(0.125**0.5)}
    assert seed_noise.leave_task_out_sd(tasks, "a", [10]) == {10: pytest.approx(0.08**0.5)}


def test_modelled_training_sd_vanishes_without_seed_noise_and_grows_with_it():
    """study/noise.py's model, as the seed analysis applies it: no per-budget sd, no spread in
    the AUC; a larger sd, a larger spread, under every floor rule."""
    from dataeff.pipeline.config import load_config

    seed_noise = _seed_noise()
    config = load_config(REPO_ROOT / "study" / "seeds.yaml")
    grid = sorted(config["budgets"])
    curve = dict(zip(grid, (0.3, 0.45, 0.5, 0.6, 0.7), strict=True))
    runs = {
        "zero_shot": 0.1,
        "n_test": 50,
        "seeds": {s: {b: {"accuracy": a + d} for b, a in curve.items()} for s, d in ((1, 0.0), (2, 0.04))},
    }
    chance = {"majority": 0.3, "uniform_options": 0.25}
    none = seed_noise.modelled_training_sd(runs, chance, 1.0, config, {b: 0.0 for b in grid})
    small = seed_noise.modelled_training_sd(runs, chance, 1.0, config, {b: 0.03 for b in grid})
    large = seed_noise.modelled_training_sd(runs, chance, 1.0, config, {b: 0.08 for b in grid})
    for rule in seed_noise.FLOORS:
        assert none[rule] == pytest.approx(0.0, abs=1e-12)
        assert 0.0 < small[rule] < large[rule]


def test_readme_quotes_the_committed_noise_interval_and_seed_bias():
    """The README's study paragraph states r's interval with training noise added and a single
    seed's excess over the seed-mean curve; both must be the committed analysis's numbers."""
    noise = json.loads((REPO_ROOT / "study" / "results" / "smollm2" / "analysis" / "noise.json").read_text())
    pooled = json.loads((SEEDS / "analysis" / "seed_noise.json").read_text())["pooled"]
    readme = (REPO_ROOT / "README.md").read_text().replace("\n", " ")

    def num(x: float, digits: int) -> str:
        return f"{x:.{digits}f}".replace("-", "\u2212")

    both = noise["tasks_and_noise"]
    assert f"[{num(both['low'], 2)}, {num(both['high'], 2)}]" in readme
    assert f"{num(pooled['fair']['single_seed_excess_mean'], 3)} above its seed-mean curve" in readme
