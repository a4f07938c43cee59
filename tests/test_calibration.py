"""Leave-one-task-out calibration of the budget intervals, and the shipped paper data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dataeff.cli import main
from dataeff.core.errors import DataeffError
from dataeff.core.settings import analysis_settings
from dataeff.plots.calibration import write_calibration
from dataeff.prediction.calibration import (
    FLOAT_SETTINGS,
    TASK_COLUMNS,
    calibrate_published,
    evaluate_task,
    neighbour_prior,
    recorded_settings,
    summarise,
)
from dataeff.prediction.curve_model import CurveModel
from dataeff.prediction.shape import ShapeCurve, ShapeSet, crossing_x

PAPER = Path(__file__).resolve().parents[2] / "shared" / "paper"
GRID = (16, 32, 64, 128)


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_crossing_x_by_hand():
    x, y = [0, 1 / 3, 2 / 3, 1], [0.0, 0.2, 0.6, 1.0]
    assert crossing_x(x, y, 0.5) == pytest.approx(7 / 12)  # 3/4 of the way from 0.2 to 0.6
    assert crossing_x(x, y, 0.2) == pytest.approx(1 / 3)
    assert crossing_x(x, [0, 0.1, 0.2, 0.3], 0.5) == math.inf


def test_neighbour_prior_by_hand():
    aucs = {"a": 0.1, "b": 0.2, "c": 0.3, "d": 0.5}
    rng = np.random.default_rng(0)
    mean, sd = neighbour_prior(aucs, "b", 1, rng)
    assert mean in (0.1, 0.3)  # the nearest other task (tie: the first in sorted order, 0.1)
    # stand-in error over the others, each with its nearest among the remaining two:
    # a (0.1): from {c, d} nearest 0.3 -> 0.2; c (0.3): from {a, d} nearest 0.1 or 0.5 -> 0.2 (tie: 0.1);
    # d (0.5): from {a, c} nearest 0.3 -> 0.2.
    assert sd == pytest.approx(0.2)
    with pytest.raises(DataeffError, match="at least 2 other"):
        neighbour_prior({"a": 0.1, "b": 0.2}, "a", 1, rng)


def _xp_family(model: CurveModel, exponents) -> ShapeSet:
    x = np.linspace(0.0, 1.0, 1001)
    curves = tuple(ShapeCurve(f"t{i}", tuple(x), tuple(x**p), float(model.area(p))) for i, p in enumerate(exponents))
    return ShapeSet(curves, model, "synthetic")


def _on_grid(model: CurveModel, p: float) -> ShapeCurve:
    """A held-out task measured at zero-shot and the grid budgets, following x^p exactly."""
    x = [0.0] + [math.log(b) / math.log(model.max_budget) for b in GRID]
    return ShapeCurve("held", tuple(x), tuple(v**p for v in x), float(model.area(p)))


def test_a_perfect_prior_on_x_p_curves_covers_and_hits():
    """Curves that are exactly x^p and a prior at the true AUC: every interval covers, no error.

    (Not the ``library`` method: it predicts with the library's own curves, and none of these
    three has the held-out task's exponent; see test_library_recovers_a_known_shape_...)."""
    model = CurveModel(128, GRID)
    shapes = _xp_family(model, (0.4, 1.5, 2.5))
    held = _on_grid(model, 0.8)
    rows = evaluate_task(
        held,
        source="syn",
        prior_mean=held.auc,
        prior_sd=0.01,
        prior_df=None,
        shapes=shapes,
        model=model,
        targets=(0.5, 0.9),
        level=0.8,
        measured=(0, 1, 2),
        sigma=0.05,
        methods=("bayes", "bayes_xp", "measured_only"),
    )
    df = pd.DataFrame(rows, columns=list(TASK_COLUMNS))
    assert set(df["method"]) == {"bayes", "bayes_xp", "measured_only"} and len(df) == 2 * (3 + 2 + 2)
    assert df["covered"].all() and df["reached"].all()
    # below the first grid budget the measured curve is a straight line from zero-shot, the model a
    # power: they differ by about one label there
    assert (df["abs_error"] <= np.maximum(0.03 * df["needed_budget"], 1.5)).all(), df[["method", "abs_error"]]


def test_a_wrong_prior_misses_and_measured_budgets_correct_it():
    model = CurveModel(128, GRID)
    shapes = _xp_family(model, (0.4, 0.8, 1.5, 3.5))
    held = _on_grid(model, 2.5)  # a late curve: AUC 0.32, the prior says 0.6 +- 0.08
    rows = evaluate_task(
        held,
        source="syn",
        prior_mean=0.6,
        prior_sd=0.08,
        prior_df=None,
        shapes=shapes,
        model=model,
        targets=(0.7,),
        level=0.8,
        measured=(0, 2),
        sigma=0.05,
        methods=("bayes",),
    )
    by_m = {r["measured"]: r for r in rows}
    assert not by_m[0]["covered"]  # confident and wrong: the interval misses
    assert by_m[2]["abs_error"] < by_m[0]["abs_error"] / 2


def test_summary_counts_coverage_and_error():
    tasks = pd.DataFrame(
        [
            {
                "source": "s",
                "task": t,
                "method": "bayes",
                "measured": m,
                "target": 0.5,
                "covered": c,
                "abs_error": e,
                "reached": r,
                "pred_high": 100.0,
                "pred_low": 10.0,
            }
            for t, m, c, e, r in [
                ("a", 0, True, 10.0, True),
                ("b", 0, False, 30.0, True),
                ("c", 0, True, 50.0, False),
                ("a", 2, True, 1.0, True),
                ("b", 2, True, 3.0, True),
                ("c", 2, False, 5.0, False),
            ]
        ]
    )
    s = summarise(tasks, 0.8).set_index("measured")
    assert s.loc[0, "coverage"] == pytest.approx(2 / 3) and s.loc[0, "median_abs_error"] == 30.0
    assert s.loc[0, "median_abs_error_reached"] == 20.0 and s.loc[0, "n_never_reached"] == 1
    assert s.loc[2, "error_ratio_vs_none"] == pytest.approx(0.1) and s.loc[2, "median_interval_ratio"] == 10.0


def test_published_calibration_writes_every_output(tmp_path):
    tasks = calibrate_published(
        ["qwen"],
        targets=(0.5, 0.9),
        level=0.8,
        measured=(0, 1),
        neighbours=14,
        seed=123,
        sigma=0.05,
        methods=("bayes",),
    )
    assert set(tasks["source"]) == {"paper/qwen"} and tasks["task"].nunique() == 30
    assert len(tasks) == 30 * 2 * 2
    # a task never reaching the target is covered exactly when the interval runs beyond N_max
    never = tasks[~tasks["reached"]]
    assert len(never) and (never["covered"] == never["pred_high"].isna()).all()
    out = tmp_path / "cal"
    written = write_calibration(tasks, out, title="qwen", level=0.8, provenance={"seed": 123})
    assert {p.name for p in written} == {
        "tasks.tsv",
        "calibration.tsv",
        "calibration.md",
        "calibration.json",
        "calibration.png",
        "calibration.pdf",
    }
    summary = pd.read_csv(out / "calibration.tsv", sep="\t")
    row = summary[(summary["target"] == 0.9) & (summary["measured"] == 0)].iloc[0]
    sub = tasks[(tasks["target"] == 0.9) & (tasks["measured"] == 0)]
    assert row["coverage"] == pytest.approx(sub["covered"].mean())
    assert row["median_abs_error"] == pytest.approx(sub["abs_error"].median())
    assert "| paper/qwen | bayes | 0.9 | 0 | 30 |" in (out / "calibration.md").read_text()
    assert json.loads((out / "calibration.json").read_text())["provenance"]["seed"] == 123


def _study(root: Path, n_tasks: int = 6) -> tuple[Path, Path]:
    """A family's efficiency.json and predictors.tsv: x^p-like curves, CoS-Low tied to the AUC."""
    from dataeff.efficiency.auc import compute_curve

    rng = np.random.default_rng(5)
    eff, lines = {}, ["task\tcoslow_mean\tcoslow_std"]
    for i in range(n_tasks):
        p = 0.4 + 0.5 * i
        zs, top = 0.3, 0.9
        pts = {0: zs, **{b: zs + (top - zs) * (math.log(b) / math.log(128)) ** p for b in GRID}}
        c = compute_curve(pts, 0.9, GRID)
        eff[f"task{i}"] = {**c.summary(), "grid": list(GRID)}
        lines.append(f"task{i}\t{(c.auc - 0.3) / 0.5 + rng.normal(0, 0.02):.5f}\t0.03")
    root.mkdir(parents=True)
    (root / "efficiency.json").write_text(json.dumps(eff))
    (root / "predictors.tsv").write_text("\n".join(lines) + "\n")
    return root / "efficiency.json", root / "predictors.tsv"


def test_calibrate_command_on_a_family(tmp_path, capsys):
    e, p = _study(tmp_path / "results" / "toy")
    out = tmp_path / "results" / "toy" / "calibration"
    assert (
        main(["calibrate", "--family", "toy", "--efficiency", str(e), "--predictors", str(p), "--out-dir", str(out)])
        == 0
    )
    tasks = pd.read_csv(out / "tasks.tsv", sep="\t")
    assert tasks["task"].nunique() == 6 and set(tasks["measured"]) == {0, 1, 2}
    assert set(tasks["target"]) == {0.5, 0.7, 0.9}
    assert (out / "calibration.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_calibrate_command_too_few_tasks_writes_nothing(tmp_path, capsys):
    e, p = _study(tmp_path / "in", n_tasks=3)
    out = tmp_path / "out"
    rc = main(["calibrate", "--family", "toy", "--efficiency", str(e), "--predictors", str(p), "--out-dir", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "at least 4" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_recorded_settings_are_the_validated_analysis_values():
    """calibration.json records the settings it ran with as plain JSON: the schema's targets,
    spreads and calibration section, in lists, exactly as the validated section holds them."""
    from dataeff.core.schema import section

    plain = section(None, "analysis")
    expected = {"targets": plain["targets"], **{k: plain[k] for k in FLOAT_SETTINGS}, **plain["calibration"]}
    recorded = recorded_settings(analysis_settings(None))
    assert json.dumps(recorded) == json.dumps(expected)
    assert isinstance(recorded["measured"], list) and isinstance(recorded["families"], list)


def test_shipped_paper_results_resolve_and_match_the_reference():
    from dataeff.efficiency.published_curves import BUNDLED, PAPER_RESULTS_DIR, paper_curves, resolve_results_dir

    assert resolve_results_dir(BUNDLED) == str(PAPER_RESULTS_DIR)
    assert resolve_results_dir("elsewhere") == "elsewhere" and resolve_results_dir(None) is None
    files = sorted(PAPER_RESULTS_DIR.glob("*_full_result_v2.json"))
    assert len(files) == 100 and (PAPER_RESULTS_DIR.parent / "README.md").is_file()
    assert len(paper_curves("llama")) == 40 and len(paper_curves("qwen")) == 30
    if (PAPER / "finetune_results").is_dir():
        for f in files:
            assert f.read_bytes() == (PAPER / "finetune_results" / f.name).read_bytes(), f.name


def test_paper_calibration_covers_70_to_90_percent_for_the_default_and_library_methods():
    """The issue's target on the shipped 100 curves: stated 80% intervals cover 70-90% of held-out
    tasks, pooled, for every target and 0, 1, 2 measured budgets (docs/PREDICTIONS.md)."""
    analysis = analysis_settings(None)
    cal = analysis.calibration
    tasks = calibrate_published(
        cal.families,
        targets=analysis.targets,
        level=cal.level,
        measured=(0, 1, 2),
        neighbours=cal.neighbours,
        seed=cal.seed,
        sigma=analysis.update_sigma,
        bandwidth=analysis.shape_bandwidth,
        methods=("bayes", "library"),
        library_sigma=analysis.library_sigma,
        library_jitter=analysis.library_jitter,
    )
    assert tasks["task"].count() == 100 * 3 * 3 * 2
    # test sizes are inferred for the count metrics (not for the 4 F1 tasks of llama)
    assert tasks["test_size"].isna().groupby(tasks["task"] + tasks["source"]).all().sum() == 4
    summary = summarise(tasks, cal.level, "all")
    pooled = summary[summary["source"] == "all"]
    assert len(pooled) == 2 * 3 * 3
    assert pooled["coverage"].between(0.7, 0.9).all(), pooled[["method", "target", "measured", "coverage"]]
    # two measured budgets help the default at every target (the halving target is not met:
    # docs/PREDICTIONS.md gives the ratios)
    bayes = pooled[pooled["method"] == "bayes"].set_index(["target", "measured"])["median_abs_error"]
    for tau in analysis.targets:
        assert bayes[(tau, 2)] < bayes[(tau, 0)]


def test_calibration_rule_on_committed_results_runs_only_the_analysis(tmp_path):
    """The `calibration` rule on a study family's committed results (curves in the paper's layout
    plus `{family}_predictors.tsv`, as study/results/smollm2 ships them): six of the paper's llama
    curves under study task names, CoS-Low stand-ins tied to their AUCs. Snakemake runs the AUC
    and the calibration, and no CoS-Low or fine-tuning job."""
    import os
    import re
    import subprocess
    import sys

    import yaml

    from dataeff.core.config import REPO_ROOT
    from dataeff.efficiency.published_curves import PAPER_RESULTS_DIR, paper_curves

    names = {
        "hyperbaton": "hyperbaton",
        "sports_understanding": "sports_understanding",
        "object_counting": "object_counting",
        "temporal_sequences": "temporal_sequences",
        "reasoning_about_colored_objects": "reasoning_about_colored_objects",
        "formal_fallacies": "formal_fallacies_syllogisms_negation",
    }
    results = tmp_path / "committed" / "smollm2"
    results.mkdir(parents=True)
    curves = paper_curves("llama")
    lines = ["task\tcoslow_mean\tcoslow_std\tn_seeds"]
    for i, (task, src) in enumerate(names.items()):
        (results / f"smollm2_{task}_full_result_v2.json").write_bytes(
            (PAPER_RESULTS_DIR / f"llama_{src}_full_result_v2.json").read_bytes()
        )
        coslow = (curves[src].auc - 0.31) / 0.545 + (-1) ** i * 0.03  # llama's published fit, off a little
        lines.append(f"{task}\t{coslow:.5f}\t0.05\t3")
    (results / "smollm2_predictors.tsv").write_text("\n".join(lines) + "\n")
    config = yaml.safe_load((REPO_ROOT / "config" / "study.yaml").read_text())
    config.update(tasks=list(names), budgets=[50, 100, 200, 500, 1000, 2500, 5000], max_budget=5000)
    config["analysis"]["published_results"] = "committed/smollm2"
    config["analysis"]["floor"] = "zero_shot"  # the paper's curves record no majority-answer score
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(config))
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(REPO_ROOT / "workflow"),
    }
    target = "results/smollm2/calibration/calibration.tsv"
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO_ROOT / "Snakefile"), "--directory", str(tmp_path)]
    cmd += ["--configfile", str(tmp_path / "study.yaml"), "--cores", "1", target]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    stats = dict(re.findall(r"^(\w+)\s+(\d+)$", out.stderr + out.stdout, flags=re.M))
    # no preparation, training or evaluation: the analysis alone (and the settings files it reads)
    assert {k for k in stats if k not in ("total", "job_settings")} == {"efficiency", "calibration"}, stats
    tasks = pd.read_csv(tmp_path / "results" / "smollm2" / "calibration" / "tasks.tsv", sep="\t")
    assert sorted(tasks["task"].unique()) == sorted(names)
    assert set(tasks["method"]) == {"bayes", "bayes_xp", "measured_only", "library"}
    assert set(tasks["measured"]) == {0, 1, 2} and set(tasks["target"]) == {0.5, 0.7, 0.9}
    # the test size is read off the accuracies (hyperbaton: 5000 test examples, 4 decimals)
    assert set(tasks.loc[tasks["task"] == "hyperbaton", "test_size"]) == {5000}
    summary = pd.read_csv(tmp_path / "results" / "smollm2" / "calibration" / "calibration.tsv", sep="\t")
    assert (summary["n_tasks"] == 6).all()


def test_the_paper_curve_model_reads_the_budget_as_the_budget_command_does():
    """With nothing measured, ``--curve-model paper`` puts the central budget at the paper's
    N_max ** (tau ** (a / (1 - a))) for the prior mean a, inside its interval; the grid model
    reads another budget from the same prior."""
    common = dict(targets=[0.5, 0.9], level=0.8, measured=[0], neighbours=14, seed=123, sigma=0.1, methods=("bayes",))
    paper = calibrate_published(["qwen"], curve_model="paper", **common)
    grid = calibrate_published(["qwen"], curve_model="grid", **common)
    assert len(paper) == len(grid) > 0
    reachable = paper[paper["pred_x"] <= 1.0]
    assert len(reachable) > len(paper) / 2
    a = reachable["prior_auc"].clip(0.01, 0.99)
    expected = reachable["target"] ** (a / (1 - a))
    assert np.allclose(reachable["pred_x"], expected, rtol=0, atol=1e-12)
    assert (reachable["pred_low_x"] <= reachable["pred_x"] + 1e-12).all()
    assert (reachable["pred_high_x"] >= reachable["pred_x"] - 1e-12).all()
    assert not np.allclose(paper["pred_x"], grid["pred_x"])
    with pytest.raises(DataeffError, match="curve model"):
        calibrate_published(["qwen"], curve_model="spline", **common)
