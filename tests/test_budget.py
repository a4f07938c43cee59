"""Budget formula, prediction intervals, coefficient lookup, and the budget/predict commands."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from dataeff.budget import (
    budget_for_target,
    curve_exponent,
    curve_fraction,
    predict_auc,
    predict_budget,
    target_from_accuracy,
)
from dataeff.cli import main
from dataeff.coefficients import lookup_coefficients
from dataeff.errors import DataeffError
from dataeff.published import PUBLISHED_COEFFICIENTS


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Run every test in an empty directory: no results/ or config/ to pick coefficients from."""
    monkeypatch.chdir(tmp_path)


def test_worked_examples():
    # a = 0.5 -> p = 1 (a straight line), tau = 0.5 -> x* = 0.5 -> n* = sqrt(N_max).
    assert curve_exponent(0.5) == pytest.approx(1.0)
    assert budget_for_target(0.5, 0.5, 5000) == pytest.approx(math.sqrt(5000))
    # a = 0.75 -> p = 1/3, x* = tau^3.
    assert curve_exponent(0.75) == pytest.approx(1 / 3)
    assert budget_for_target(0.75, 0.5, 5000) == pytest.approx(5000 ** 0.125)
    # a = 0.25 -> p = 3, x* = tau^(1/3).
    assert budget_for_target(0.25, 0.7, 128) == pytest.approx(128 ** (0.7 ** (1 / 3)))


@pytest.mark.parametrize("auc", [0.2, 0.45, 0.7])
def test_curve_model_has_area_auc_and_reaches_target_at_budget(auc):
    x = np.linspace(0, 1, 200001)
    y = x ** curve_exponent(auc)
    area = float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(x)))
    assert area == pytest.approx(auc, abs=1e-4)
    n_star = budget_for_target(auc, 0.7, 5000)
    assert float(curve_fraction(n_star, auc, 5000)) == pytest.approx(0.7)


def test_prediction_interval_matches_ols_formula():
    coefs = {"slope": 0.5, "intercept": 0.3, "resid_std": 0.05, "n_tasks": 10, "mean_x": 0.2, "sxx": 0.8}
    p = predict_auc(0.4, coefs)
    se = 0.05 * math.sqrt(1 + 1 / 10 + (0.4 - 0.2) ** 2 / 0.8)
    q = stats.t.ppf(0.975, 8)
    assert p["predicted_auc"] == pytest.approx(0.5)
    assert p["auc_low"] == pytest.approx(0.5 - q * se)
    assert p["auc_high"] == pytest.approx(0.5 + q * se)
    assert "prediction interval" in p["interval_method"] and not p["warnings"]


def test_published_coefficients_carry_the_papers_task_scatter():
    """Only the coefficients' +- is published; the interval adds the paper's LOTO error (MAE 0.086)
    as a normal residual, so it is honest about how far a new task can fall from the line."""
    p = predict_auc(0.3, PUBLISHED_COEFFICIENTS["llama"])
    resid = 0.086 / math.sqrt(2 / math.pi)
    se = math.sqrt((0.3 * 0.005) ** 2 + 0.002 ** 2 + resid ** 2)
    assert p["auc_high"] - p["auc_low"] == pytest.approx(2 * stats.norm.ppf(0.975) * se)
    assert "leave-one-task-out error" in p["interval_method"]


def test_published_coefficients_give_sensible_budgets():
    budgets = []
    for coslow in (0.0, 0.2, 0.4, 0.6):
        b = predict_budget(coslow, PUBLISHED_COEFFICIENTS["llama"], 0.7)
        assert 1 <= b["budget_low"] <= b["budget"] <= b["budget_high"] <= 5000
        assert b["max_budget"] == 5000
        budgets.append(b["budget"])
    assert budgets == sorted(budgets, reverse=True)  # higher CoS-Low, more data-efficient, fewer labels
    # Higher targets need more labels.
    t = [predict_budget(0.3, PUBLISHED_COEFFICIENTS["mistral"], tau)["budget"] for tau in (0.5, 0.7, 0.9)]
    assert t == sorted(t)
    # CoS-Low 0.3 with Llama: AUC = 0.4735, n* for 70% of the gap is a few hundred.
    b = predict_budget(0.3, PUBLISHED_COEFFICIENTS["llama"], 0.7)
    assert b["predicted_auc"] == pytest.approx(0.4735)
    assert b["budget_exact"] == pytest.approx(5000 ** (0.7 ** (0.4735 / 0.5265)))
    assert 100 < b["budget"] < 1000


def test_out_of_range_auc_is_clipped_with_a_warning():
    b = predict_budget(2.0, {"slope": 0.5, "intercept": 0.3}, 0.5)
    assert b["predicted_auc"] == pytest.approx(0.99)
    assert any("clipped" in w for w in b["warnings"])
    assert b["budget"] >= 1


def test_target_from_accuracy():
    assert target_from_accuracy(0.8, 0.5, 0.9) == pytest.approx(0.75)
    with pytest.raises(DataeffError):
        target_from_accuracy(0.95, 0.5, 0.9)
    with pytest.raises(DataeffError):
        target_from_accuracy(0.8, 0.9, 0.5)


def test_lookup_order(tmp_path):
    cfg = {"families": {"mine": {"model": "m", "coefficients": {"slope": 0.1, "intercept": 0.2}},
                        "llama": {"model": "m", "coefficients": {"slope": 0.9, "intercept": 0.0}}}}
    assert lookup_coefficients("mine", config=cfg)["slope"] == 0.1
    assert lookup_coefficients("llama", config=cfg)["slope"] == 0.9  # config before the paper
    assert lookup_coefficients("llama")["slope"] == 0.545
    fitted = tmp_path / "results" / "llama"
    fitted.mkdir(parents=True)
    (fitted / "coefficients.json").write_text(json.dumps({"slope": 0.4, "intercept": 0.25, "source": "fit"}))
    assert lookup_coefficients("llama", config=cfg, results_dir=tmp_path / "results")["slope"] == 0.4
    explicit = tmp_path / "c.json"
    explicit.write_text(json.dumps({"slope": 0.7, "intercept": 0.1}))
    assert lookup_coefficients("llama", str(explicit), tmp_path / "results", cfg)["slope"] == 0.7
    with pytest.raises(DataeffError, match="--slope"):
        lookup_coefficients("unknownfam")


def run_cli(args, capsys):
    rc = main(args)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_budget_command_json(capsys):
    rc, out, _ = run_cli(["budget", "--coslow", "0.3", "--family", "llama", "--target", "0.7", "--json"],
                         capsys)
    assert rc == 0
    data = json.loads(out)
    for key in ("predicted_auc", "budget", "budget_low", "budget_high", "auc_low", "auc_high", "target",
                "coefficients_source"):
        assert key in data
    assert data["target"] == 0.7 and "Je & Raffel" in data["coefficients_source"]


def test_budget_command_text_curve_and_plot(tmp_path, capsys):
    plot = tmp_path / "curve.png"
    rc, out, _ = run_cli(["budget", "--coslow", "0.2", "--slope", "0.5", "--intercept", "0.3",
                          "--target-accuracy", "0.8", "--zero-shot", "0.5", "--ceiling", "0.9",
                          "--max-budget", "1000", "--curve", "--plot", str(plot)], capsys)
    assert rc == 0
    assert "labels to reach 75%" in out and "budget\tpredicted_fraction" in out
    assert plot.stat().st_size > 1000


@pytest.mark.parametrize("args, needle", [
    (["--coslow", "0.3", "--family", "llama", "--target", "1.5"], "outside (0, 1)"),
    (["--coslow", "0.3", "--family", "llama", "--target", "0"], "outside (0, 1)"),
    (["--coslow", "nan", "--family", "llama", "--target", "0.5"], "not a finite number"),
    (["--coslow", "inf", "--family", "llama", "--target", "0.5"], "not a finite number"),
    (["--coslow", "0.3", "--family", "nosuchfamily", "--target", "0.5"], "--slope"),
    (["--coslow", "0.3", "--slope", "0.5", "--target", "0.5"], "--intercept"),
    (["--coslow", "0.3", "--family", "llama"], "no target"),
])
def test_budget_command_errors_are_one_line(tmp_path, capsys, args, needle):
    plot = tmp_path / "never.png"
    rc, out, err = run_cli(["budget", *args, "--plot", str(plot)], capsys)
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and needle in err and "Traceback" not in err
    assert not plot.exists() and out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- predict


def test_predict_two_step_flow(tmp_path, capsys, tiny_model_dir):
    """Both runs of ``predict`` through the real selection and CoS-Low stages (tiny model)."""
    from dataeff.coslow import run_coslow

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"Is {i} even? Answer yes or no."}) + "\n" for i in range(50)))
    work = tmp_path / "work"
    args = ["predict", "--model", str(tiny_model_dir), "--prompts", str(prompts), "--family", "llama",
            "--target", "0.7", "--workdir", str(work), "--k", "4", "--seed", "3", "--force"]
    rc, out, _ = run_cli(args, capsys)
    annotate = work / "to_annotate.jsonl"
    assert rc == 0 and f"label the `answer` field of the 4 examples in {annotate}" in out
    assert not (work / "prediction.json").exists()

    # Second run with answers still empty: one-line error naming file, line and field.
    rc, out, err = run_cli(args, capsys)
    assert rc == 2 and str(annotate) in err and "line 1" in err and "'answer'" in err
    assert len(err.strip().splitlines()) == 1 and not (work / "coslow.json").exists()

    rows = [json.loads(line) for line in annotate.read_text().splitlines()]
    for r in rows[:-1]:
        r["answer"] = "yes"
    annotate.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rc, out, err = run_cli(args, capsys)
    assert rc == 2 and "line 4" in err

    rows[-1]["answer"] = "no"
    annotate.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rc, out, _ = run_cli(args, capsys)
    assert rc == 0
    cos = json.loads((work / "coslow.json").read_text())
    assert cos["k"] == 4 and -1 <= cos["value"] <= 1
    # The same CoS-Low computed directly from the labeled file, and the budget it implies.
    direct = run_coslow(str(tiny_model_dir), str(annotate), 3, str(tmp_path / "direct.json"))
    assert direct["value"] == pytest.approx(cos["value"], abs=1e-6)
    expected = predict_budget(cos["value"], PUBLISHED_COEFFICIENTS["llama"], 0.7)
    assert f"label about {expected['budget']} examples" in out
    pred = json.loads((work / "prediction.json").read_text())
    assert pred["budget"] == expected["budget"] and pred["k"] == 4 and "provenance" in pred


def test_predict_unknown_family_fails_before_selection(tmp_path, capsys):
    rc, _, err = run_cli(["predict", "--model", "m", "--prompts", "p.jsonl", "--family", "nosuch",
                          "--target", "0.7", "--workdir", str(tmp_path / "w")], capsys)
    assert rc == 2 and "--slope" in err
    assert not (tmp_path / "w").exists()
