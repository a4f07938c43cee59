"""Budget formula, prediction intervals, coefficient lookup, and the budget/predict commands."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from dataeff.cli import main
from dataeff.core.errors import DataeffError
from dataeff.efficiency.auc import PAPER_GRID, max_possible_auc
from dataeff.prediction.budget import (
    DEFAULT_CURVE_MODEL,
    budget_for_target,
    curve_exponent,
    curve_fraction,
    predict_auc,
    predict_budget,
    target_from_accuracy,
)
from dataeff.prediction.coefficients import lookup_coefficients
from dataeff.prediction.curve_model import CurveModel
from dataeff.prediction.published import PUBLISHED_COEFFICIENTS
from dataeff.prediction.shape import ShapeCurve, ShapeSet


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
    assert budget_for_target(0.75, 0.5, 5000) == pytest.approx(5000**0.125)
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
    se = math.sqrt((0.3 * 0.005) ** 2 + 0.002**2 + resid**2)
    assert p["auc_high"] - p["auc_low"] == pytest.approx(2 * stats.norm.ppf(0.975) * se)
    assert "leave-one-task-out error" in p["interval_method"]


def test_published_coefficients_give_sensible_budgets():
    budgets = []
    for coslow in (0.0, 0.2, 0.4, 0.6):
        b = predict_budget(coslow, PUBLISHED_COEFFICIENTS["llama"], 0.7, curve_model="grid")
        assert b["status"] == "reachable" and 1 <= b["budget_low"] <= b["budget"]
        assert b["budget_high"] is None or b["budget"] <= b["budget_high"] <= 5000  # None: more than N_max
        assert b["max_budget"] == 5000
        budgets.append(b["budget"])
    assert budgets == sorted(budgets, reverse=True)  # higher CoS-Low, more data-efficient, fewer labels
    # Higher targets need more labels.
    t = [
        predict_budget(0.3, PUBLISHED_COEFFICIENTS["mistral"], tau, curve_model="grid")["budget"]
        for tau in (0.5, 0.7, 0.9)
    ]
    assert t == sorted(t)
    # CoS-Low 0.3 with Llama: AUC = 0.4735 (the median of a discretised prior: within a cell width).
    b = predict_budget(0.3, PUBLISHED_COEFFICIENTS["llama"], 0.7, curve_model="grid")
    assert b["predicted_auc"] == pytest.approx(0.4735, abs=2e-3)
    # The curve's own budget is the grid-consistent x^p curve's, not the continuous formula's.
    model = CurveModel(5000, PAPER_GRID)
    assert b["budget_model"] == math.ceil(model.budget(b["predicted_auc"], 0.7))
    assert 100 < b["budget"] < 1500


def test_out_of_range_auc_is_clipped_to_the_attainable_range_with_a_warning():
    b = predict_budget(2.0, {"slope": 0.5, "intercept": 0.3}, 0.5, curve_model="grid")
    assert b["predicted_auc"] == pytest.approx(max_possible_auc(), abs=2e-3)
    assert b["auc_high"] <= max_possible_auc() + 1e-12
    assert any("attainable" in w for w in b["warnings"])
    assert b["budget"] >= 1


def test_target_from_accuracy():
    assert target_from_accuracy(0.8, 0.5, 0.9) == pytest.approx(0.75)
    with pytest.raises(DataeffError):
        target_from_accuracy(0.95, 0.5, 0.9)
    with pytest.raises(DataeffError):
        target_from_accuracy(0.8, 0.9, 0.5)


def test_lookup_order(tmp_path):
    cfg = {
        "families": {
            "mine": {"model": "m", "coefficients": {"slope": 0.1, "intercept": 0.2}},
            "llama": {"model": "m", "coefficients": {"slope": 0.9, "intercept": 0.0}},
        }
    }
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
    rc, out, _ = run_cli(["budget", "--coslow", "0.3", "--family", "llama", "--target", "0.7", "--json"], capsys)
    assert rc == 0
    data = json.loads(out)
    for key in (
        "predicted_auc",
        "budget",
        "budget_low",
        "budget_high",
        "auc_low",
        "auc_high",
        "target",
        "coefficients_source",
    ):
        assert key in data
    assert data["target"] == 0.7 and "Je & Raffel" in data["coefficients_source"]


def test_budget_command_text_curve_and_plot(tmp_path, capsys):
    plot = tmp_path / "curve.png"
    rc, out, _ = run_cli(
        [
            "budget",
            "--coslow",
            "0.2",
            "--slope",
            "0.5",
            "--intercept",
            "0.3",
            "--target-accuracy",
            "0.8",
            "--zero-shot",
            "0.5",
            "--ceiling",
            "0.9",
            "--max-budget",
            "1000",
            "--curve",
            "--plot",
            str(plot),
        ],
        capsys,
    )
    assert rc == 0
    assert "labels to reach 75%" in out and "budget\tpredicted_fraction" in out
    assert plot.stat().st_size > 1000


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--coslow", "0.3", "--family", "llama", "--target", "1.5"], "outside (0, 1)"),
        (["--coslow", "0.3", "--family", "llama", "--target", "0"], "outside (0, 1)"),
        (["--coslow", "nan", "--family", "llama", "--target", "0.5"], "not a finite number"),
        (["--coslow", "inf", "--family", "llama", "--target", "0.5"], "not a finite number"),
        (["--coslow", "0.3", "--family", "nosuchfamily", "--target", "0.5"], "--slope"),
        (["--coslow", "0.3", "--slope", "0.5", "--target", "0.5"], "--intercept"),
        (["--coslow", "0.3", "--family", "llama"], "no target"),
    ],
)
def test_budget_command_errors_are_one_line(tmp_path, capsys, args, needle):
    plot = tmp_path / "never.png"
    rc, out, err = run_cli(["budget", *args, "--plot", str(plot)], capsys)
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and needle in err and "Traceback" not in err
    assert not plot.exists() and out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- grid-consistent curve


def test_grid_consistent_curve_reproduces_the_issues_numbers():
    """a = 0.7, tau = 0.9: the continuous formula gives 781 labels, the curve whose trapezoid on the
    paper grid is 0.7 gives 167; the grid's AUC range is (0.0407, 0.7703)."""
    model = CurveModel(5000, PAPER_GRID)
    assert budget_for_target(0.7, 0.9, 5000) == pytest.approx(781.2, abs=0.1)
    assert model.budget(0.7, 0.9) == pytest.approx(166.9, abs=0.1)
    lo, hi = model.auc_range()
    assert hi == pytest.approx(max_possible_auc())
    x_2500 = math.log(2500) / math.log(5000)
    assert lo == pytest.approx((1 - x_2500) / 2)


@pytest.mark.parametrize("auc", [0.08, 0.2, 0.45, 0.7, 0.77])
def test_grid_exponent_has_the_trapezoid_area(auc):
    model = CurveModel(5000, PAPER_GRID)
    p = float(model.exponent(auc))
    xs = np.array([0.0] + [math.log(b) / math.log(5000) for b in PAPER_GRID])
    ys = np.where(xs > 0, xs**p, 0.0)
    assert float(np.sum((ys[1:] + ys[:-1]) / 2 * np.diff(xs))) == pytest.approx(auc, abs=1e-6)
    if auc <= 0.7:  # near the top the target is reached below one label (x* underflows to 0)
        assert float(model.fraction(model.budget(auc, 0.6), p)) == pytest.approx(0.6)


def _xp_shapes(model: CurveModel, exponents=(0.3, 0.6, 1.0, 1.7, 3.0), plateau: float | None = None) -> ShapeSet:
    """Real-curve stand-ins that follow x^p exactly (densely sampled): no shape error, unless
    ``plateau`` caps them (curves that never get above it)."""
    x = np.linspace(0.0, 1.0, 2001)
    curves = []
    for i, p in enumerate(exponents):
        y = x**p if plateau is None else np.minimum(x**p, plateau)
        curves.append(ShapeCurve(f"t{i}", tuple(x), tuple(y), float(model.area(p))))
    return ShapeSet(tuple(curves), model, "synthetic x^p curves")


def test_issue_example_is_limited_and_wider_than_before(capsys):
    argv = ["budget", "--coslow", "0.65", "--family", "llama", "--target", "0.9", "--json", "--curve-model", "grid"]
    rc, out, _ = run_cli(argv, capsys)
    assert rc == 0
    new = json.loads(out)
    assert new["auc_high"] <= max_possible_auc() + 1e-12 < 0.876
    old = predict_auc(0.65, PUBLISHED_COEFFICIENTS["llama"])  # the AUC interval the old range came from
    old_low = budget_for_target(old["auc_high"], 0.9, 5000)
    old_high = budget_for_target(old["auc_low"], 0.9, 5000)
    assert new["budget_low"] <= old_low
    assert new["budget_high"] is None or new["budget_high"] > old_high  # None: more than N_max
    assert new["status"] in {"reachable", "beyond_max"} and new["attainable_auc"][1] == pytest.approx(0.7703, abs=1e-4)


def test_single_draw_noise_widens_the_interval():
    coefs = {
        "slope": 0.5,
        "intercept": 0.3,
        "resid_std": 0.03,
        "n_tasks": 30,
        "mean_x": 0.3,
        "sxx": 1.0,
        "max_budget": 5000,
    }
    shapes = _xp_shapes(CurveModel(5000, PAPER_GRID))
    narrow = predict_budget(0.3, coefs, 0.7, level=0.8, coslow_sd=0.0, shapes=shapes)
    wide = predict_budget(0.3, coefs, 0.7, level=0.8, coslow_sd=0.2, shapes=shapes)
    assert wide["auc_sd_total"] > narrow["auc_sd_total"] == pytest.approx(0.03 * math.sqrt(1 + 1 / 30), rel=1e-9)
    assert wide["budget_low"] < narrow["budget_low"] and wide["budget_high"] > narrow["budget_high"]
    # Without shape error or noise beyond the fit, the interval is the curve's at the AUC interval.
    model = CurveModel(5000, PAPER_GRID)
    assert narrow["budget_high"] == pytest.approx(model.budget(narrow["auc_low"], 0.7), rel=0.02)


def test_update_recovers_a_known_exponent_as_points_are_added():
    """Synthetic task: y = x^p exactly, p known; the CoS-Low prior is off. Each added measured
    budget moves the posterior exponent towards p, and the budget towards the true one."""
    model = CurveModel(5000, PAPER_GRID)
    shapes = _xp_shapes(model)
    true_auc = 0.55
    p_true = float(model.exponent(true_auc))
    zero, ceiling = 0.3, 0.9
    acc = {n: zero + (ceiling - zero) * (math.log(n) / math.log(5000)) ** p_true for n in (50, 100, 200, 500)}
    # a confident, wrong prior: AUC 0.3 +- 0.05 (OLS prediction interval of a 30-task fit)
    coefs = {
        "slope": 0.0,
        "intercept": 0.3,
        "resid_std": 0.05,
        "n_tasks": 30,
        "mean_x": 0.0,
        "sxx": 1.0,
        "max_budget": 5000,
    }
    true_budget = model.budget(true_auc, 0.9)
    for method in ("bayes", "bayes_xp"):
        errors, budget_errors = [], []
        for k in range(0, 5):
            measured = {0: zero, **{n: acc[n] for n in list(acc)[:k]}} if k else None
            b = predict_budget(
                0.0,
                coefs,
                0.9,
                level=0.8,
                coslow_sd=0.0,
                shapes=shapes,
                measured=measured,
                ceiling=ceiling if k else None,
                method=method,
                curve_model="grid",  # the synthetic curves are grid-consistent x^p
            )
            errors.append(abs(math.log(b["exponent"] / p_true)))
            budget_errors.append(abs(math.log(b["budget"] / true_budget)))
        assert errors[0] > 0.5  # the prior is far off
        assert errors[-1] < 0.1 and budget_errors[-1] < 0.1, (method, errors, budget_errors)
        assert all(a >= b - 1e-9 for a, b in zip(errors, errors[1:], strict=False)), (method, errors)


def test_measured_budgets_that_reach_the_target_decide_the_budget():
    b = predict_budget(
        0.1, PUBLISHED_COEFFICIENTS["llama"], 0.5, level=0.8, measured={0: 0.4, 50: 0.5, 100: 0.8}, ceiling=0.9
    )
    assert b["measured_reached"] and b["status"] == "reachable"
    # 0.5 of the gap = accuracy 0.65, between 50 (0.5) and 100 (0.8), linear on the log axis
    x = (math.log(50) + 0.5 * (math.log(100) - math.log(50))) / math.log(5000)
    assert b["budget"] == math.ceil(5000**x) and (b["budget_low"], b["budget_high"]) == (50, 100)


def test_beyond_max_and_unreachable_statuses():
    model = CurveModel(5000, PAPER_GRID)
    plateaus = _xp_shapes(model, plateau=0.6)  # real curves that never get above 60% of the gap
    b = predict_budget(0.3, PUBLISHED_COEFFICIENTS["llama"], 0.9, shapes=plateaus)
    assert b["status"] == "beyond_max" and b["budget"] is None and b["budget_high"] is None
    assert "more than N_max" in b["reason"] and b["prob_beyond_max"] == pytest.approx(1.0)
    u = predict_budget(0.2, {"slope": 0.5, "intercept": -0.5}, 0.5)
    assert u["status"] == "unreachable" and u["budget"] is None and "no gain" in u["reason"]


def test_describe_says_more_than_n_max_and_not_reachable():
    from dataeff.commands.budget import describe

    model = CurveModel(5000, PAPER_GRID)
    beyond = predict_budget(0.3, PUBLISHED_COEFFICIENTS["llama"], 0.9, shapes=_xp_shapes(model, plateau=0.6))
    text = describe(beyond)
    assert "more than N_max = 5000 (the whole interval lies beyond)" in text and "None" not in text
    unreachable = describe(predict_budget(0.2, {"slope": 0.5, "intercept": -0.5}, 0.5))
    assert "not reachable with these coefficients" in unreachable and "None" not in unreachable


def test_budget_command_with_measured_accuracies(tmp_path, capsys):
    plot = tmp_path / "updated.png"
    rc, out, _ = run_cli(
        [
            "budget",
            "--coslow",
            "0.3",
            "--family",
            "llama",
            "--target",
            "0.7",
            "--json",
            "--measured",
            "0:0.4,50:0.45,100:0.55",
            "--ceiling",
            "0.9",
            "--coslow-sd",
            "0.1",
            "--plot",
            str(plot),
        ],
        capsys,
    )
    assert rc == 0
    data = json.loads(out)
    assert data["update_method"] == "bayes" and len(data["measured_points"]) == 2
    assert data["coslow_sd"] == 0.1 and data["status"] in {"reachable", "beyond_max"}
    assert data["measured_points"][1]["fraction"] == pytest.approx(0.3)
    assert plot.stat().st_size > 1000
    rc, out, err = run_cli(
        ["budget", "--coslow", "0.3", "--family", "llama", "--target", "0.7", "--measured", "0:0.4,50:0.45"], capsys
    )
    assert rc == 2 and "--ceiling" in err and len(err.strip().splitlines()) == 1
    # the library update with the test set's noise: a wider AUC interval than exact points give
    common = ["budget", "--coslow", "0.3", "--family", "llama", "--target", "0.7", "--json"]
    common += ["--measured", "0:0.4,50:0.45,100:0.55", "--ceiling", "0.9", "--update-method", "library"]
    rc, out, _ = run_cli([*common, "--test-size", "50"], capsys)
    noisy = json.loads(out)
    rc2, out2, _ = run_cli(common, capsys)
    exact = json.loads(out2)
    assert rc == rc2 == 0 and noisy["update_method"] == "library" and noisy["test_size"] == 50
    assert noisy["auc_high"] - noisy["auc_low"] > exact["auc_high"] - exact["auc_low"]
    rc, _, err = run_cli([*common, "--test-size", "0"], capsys)
    assert rc == 2 and "--test-size" in err and len(err.strip().splitlines()) == 1


def test_budget_and_predict_read_measured_accuracies_the_same_way(capsys):
    """`--measured` is one option of both commands: N=ACC or N:ACC, repeatable or comma-separated,
    0 = zero-shot; the two spellings give the same prediction, and a bad item is one line."""
    from dataeff.commands.options import parse_measured

    assert parse_measured(["0=0.4", "50:0.45,100=0.55"]) == {0: 0.4, 50: 0.45, 100: 0.55}
    base = ["budget", "--coslow", "0.3", "--family", "llama", "--target", "0.7", "--ceiling", "0.9", "--json"]
    rc1, colon, _ = run_cli([*base, "--measured", "0:0.4,50:0.45,100:0.55"], capsys)
    rc2, equals, _ = run_cli([*base, "--measured", "0=0.4", "--measured", "50=0.45", "--measured", "100=0.55"], capsys)
    assert rc1 == rc2 == 0 and json.loads(colon) == json.loads(equals)
    for bad in ("50", "50=1.2", "50=-0.1", "x:0.3"):
        rc, out, err = run_cli([*base, "--measured", bad], capsys)
        assert rc == 2 and out == "" and "is not N=ACCURACY" in err and len(err.strip().splitlines()) == 1
    # --zero-shot counts as the measured point at budget 0 (as in predict), with or without a floor
    for floor in ([], ["--majority", "0.5"]):
        rc3, split, _ = run_cli([*base, *floor, "--zero-shot", "0.4", "--measured", "50=0.45,100=0.55"], capsys)
        rc4, joined, _ = run_cli([*base, *floor, "--zero-shot", "0.4", "--measured", "0=0.4,50=0.45,100=0.55"], capsys)
        assert rc3 == rc4 == 0 and json.loads(split) == json.loads(joined)


# --------------------------------------------------------------------------- predict


def test_predict_two_step_flow(tmp_path, capsys, tiny_model_dir):
    """Both runs of ``predict`` through the real selection and CoS-Low stages (tiny model)."""
    from dataeff.coslow.stage import run_coslow

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"Is {i} even? Answer yes or no."}) + "\n" for i in range(50)))
    work = tmp_path / "work"
    args = [
        "predict",
        "--model",
        str(tiny_model_dir),
        "--prompts",
        str(prompts),
        "--family",
        "llama",
        "--target",
        "0.7",
        "--workdir",
        str(work),
        "--k",
        "4",
        "--seed",
        "3",
        "--force",
    ]
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
    rc, _, err = run_cli(
        [
            "predict",
            "--model",
            "m",
            "--prompts",
            "p.jsonl",
            "--family",
            "nosuch",
            "--target",
            "0.7",
            "--workdir",
            str(tmp_path / "w"),
        ],
        capsys,
    )
    assert rc == 2 and "--slope" in err
    assert not (tmp_path / "w").exists()


def test_budget_command_uses_the_familys_own_curves(tmp_path, capsys):
    """With results/FAMILY/efficiency.json on the coefficients' N_max, the shape error comes from
    the family's own curves, not the paper's."""
    from dataeff.efficiency.auc import compute_curve

    fam = tmp_path / "results" / "mine"
    fam.mkdir(parents=True)
    grid = [16, 32, 64, 128]
    eff = {}
    for i, p in enumerate((0.5, 1.0, 2.0)):
        pts = {0: 0.2, **{b: 0.2 + 0.7 * (math.log(b) / math.log(128)) ** p for b in grid}}
        eff[f"t{i}"] = {**compute_curve(pts, 0.9, grid).summary(), "grid": grid}
    (fam / "efficiency.json").write_text(json.dumps(eff))
    (fam / "coefficients.json").write_text(
        json.dumps({"slope": 0.5, "intercept": 0.2, "max_budget": 128, "grid": grid})
    )
    rc, out, _ = run_cli(
        [
            "budget",
            "--coslow",
            "0.4",
            "--family",
            "mine",
            "--target",
            "0.7",
            "--json",
            "--results-dir",
            str(tmp_path / "results"),
            "--curve-model",
            "grid",
        ],
        capsys,
    )
    assert rc == 0
    data = json.loads(out)
    assert str(fam / "efficiency.json") in data["shape_source"] and data["shape_tasks"] == 3
    assert data["grid"] == grid and data["max_budget"] == 128


def _library_shapes(model: CurveModel) -> tuple[ShapeSet, dict[str, object]]:
    """Real-looking shapes a power law cannot take (late jumps) next to x^p curves."""
    x = np.linspace(0.0, 1.0, 2001)
    fns = {f"xp{p:g}": (lambda v, p=p: v**p) for p in (0.3, 0.6, 1.0, 1.5, 2.5, 4.0)}
    fns.update({f"jump{s:g}": (lambda v, s=s: np.clip((v - s) / 0.15, 0.0, 1.0)) for s in (0.5, 0.65, 0.8)})
    curves = tuple(ShapeCurve(name, tuple(x), tuple(fn(x)), float(np.trapezoid(fn(x), x))) for name, fn in fns.items())
    return ShapeSet(curves, model, "synthetic library"), fns


def test_library_update_recovers_a_known_shape_as_points_are_added():
    """The held-out task follows a late jump (no x^p curve does); the library holds a task of the
    same shape among power laws. With a confident, wrong prior (AUC 0.6 +- 0.05, the jump's is
    0.28), each measured budget moves weight to the right shape, and the budget to the true one."""
    from dataeff.prediction.curve_update import build_predictive
    from dataeff.prediction.interval import auc_grid, prior_weights

    model = CurveModel(5000, PAPER_GRID)
    shapes, fns = _library_shapes(model)
    truth = fns["jump0.65"]
    names = [c.task for c in shapes.curves]
    true_x = 0.65 + 0.9 * 0.15  # where the jump reaches 90% of the gap
    grid = auc_grid(model)
    prior = prior_weights(grid, 0.6, 0.05)
    xs = [math.log(n) / math.log(5000) for n in (50, 100, 200, 500)]
    weights, errors, covered = [], [], []
    for k in range(5):
        pts = [(x, float(truth(x))) for x in xs[:k]]
        pred = build_predictive("library", model, grid, prior, shapes, pts, point_sd=None, sigma=0.05, bandwidth=0.05)
        weights.append(float(pred.library_weights()[names.index("jump0.65")]))
        s = pred.summary(0.9, 0.8)
        errors.append(abs(5000 ** s["x_median"] / 5000**true_x - 1.0))
        covered.append(s["x_low"] <= true_x <= s["x_high"])
    assert weights[0] < 1e-6 and errors[0] > 0.5  # the prior is far off
    assert all(a <= b + 1e-12 for a, b in zip(weights, weights[1:], strict=False)), weights
    assert weights[-1] > 0.99 and errors[-1] < 0.1 and covered[-1], (weights, errors)


def test_test_set_noise_by_hand_and_it_weakens_the_update():
    from dataeff.prediction.curve_update import build_predictive, infer_test_size, measurement_sd
    from dataeff.prediction.interval import auc_grid, prior_weights

    model = CurveModel(5000, PAPER_GRID)
    # sqrt(0.7 * 0.3 / 100 + 0.5 * 0.5 / 100) / (0.9 - 0.5)
    assert measurement_sd({0: 0.5, 100: 0.7}, 0.9, 100, model) == pytest.approx([math.sqrt(0.0046) / 0.4])
    assert measurement_sd({0: 0.5, 100: 0.7}, 0.9, None, model) == [0.0]
    assert infer_test_size([65 / 249, 128 / 249, 0.0]) == 249
    assert infer_test_size([0.123456789]) is None and infer_test_size([None]) is None
    with pytest.raises(DataeffError, match="test size"):
        measurement_sd({0: 0.5, 100: 0.7}, 0.9, 0, model)
    # a prior at AUC 0.3, two points of a much faster curve: exact points pull the AUC up far more
    # than points measured on 30 examples across a gap of 5 accuracy points
    shapes = _xp_shapes(model)
    grid = auc_grid(model)
    prior = prior_weights(grid, 0.3, 0.05)
    pts = [(math.log(n) / math.log(5000), 0.8) for n in (50, 100)]
    auc = {}
    for label, sd in (("exact", None), ("noisy", measurement_sd({0: 0.9, 50: 0.94, 100: 0.94}, 0.95, 30, model))):
        pred = build_predictive("bayes", model, grid, prior, shapes, pts, point_sd=sd, sigma=0.05, bandwidth=0.05)
        auc[label] = pred.auc_quantiles(0.8)[0]
    assert sd[0] > 1.0  # the noise of one point exceeds the whole gap
    assert auc["exact"] > 0.45 and abs(auc["noisy"] - 0.3) < 0.05, auc


def test_majority_floor_coefficients_read_the_gap_from_the_majority_share(tmp_path, capsys):
    """Coefficients fitted under ``analysis.floor: majority`` (SmolLM2's) start the gap at
    max(zero-shot, majority share): the target accuracy and the measured zero-shot point move
    there; coefficients fitted with the paper's rule ignore --majority, with a warning."""
    from dataeff.prediction.budget import curve_start

    fitted = {"slope": 0.5, "intercept": 0.1, "floor_rule": "majority"}
    assert curve_start(0.0, 0.5, fitted) == (0.5, 0.5, [])
    assert curve_start(0.6, 0.5, fitted) == (0.6, 0.5, [])
    start, floor, warn = curve_start(0.0, None, fitted)
    assert (start, floor) == (0.0, None) and "--majority" in warn[0]
    assert curve_start(0.0, 0.5, {"slope": 0.5, "intercept": 0.1})[:2] == (0.0, None)

    coefs = tmp_path / "c.json"
    coefs.write_text(json.dumps({**fitted, "max_budget": 256, "model": "m"}))
    base = ["budget", "--coslow", "0.5", "--coefficients", str(coefs), "--target", "0.5", "--json"]
    base += ["--zero-shot", "0.0", "--ceiling", "1.0", "--measured", "0:0.0,16:0.5"]
    rc, out, _ = run_cli([*base, "--majority", "0.5"], capsys)
    floored = json.loads(out)
    assert rc == 0 and floored["target_accuracy"] == pytest.approx(0.75)
    # the measured 0.5 at 16 sits at the floor: no progress along the gap
    assert floored["measured_points"][0]["fraction"] == pytest.approx(0.0)
    rc, out, err = run_cli(base, capsys)
    plain = json.loads(out)
    assert rc == 0 and plain["target_accuracy"] == pytest.approx(0.5) and "--majority" in err
    assert plain["measured_points"][0]["fraction"] == pytest.approx(0.5)


# --------------------------------------------------------------------------- the paper's curve model


def test_paper_curve_model_reproduces_the_papers_readme_example(capsys):
    """The paper's README example: CoS-Low 0.65, slope 0.54, intercept 0.31, tau 0.9. Its formula
    N_max ** (tau ** (a / (1 - a))) with a = 0.661 and N_max = 5000 gives 1028 labels; the
    grid-consistent model reads the same AUC elsewhere (fewer labels)."""
    base = ["budget", "--coslow", "0.65", "--slope", "0.54", "--intercept", "0.31", "--target", "0.9", "--json"]
    rc, out, _ = run_cli([*base, "--curve-model", "paper"], capsys)
    paper = json.loads(out)
    a = 0.54 * 0.65 + 0.31
    assert rc == 0 and paper["budget"] == 1028 == round(5000 ** (0.9 ** (a / (1 - a))))
    assert paper["budget_formula"] == pytest.approx(budget_for_target(a, 0.9, 5000), rel=1e-12)
    assert paper["curve_model"] == "paper" and paper["grid"] is None
    assert paper["budget_low"] <= 1028 and (paper["budget_high"] is None or paper["budget_high"] >= 1028)
    rc, out, _ = run_cli([*base, "--curve-model", "grid"], capsys)
    grid = json.loads(out)
    assert rc == 0 and grid["curve_model"] == "grid" and grid["budget"] < 1028
    rc, out, _ = run_cli(base, capsys)
    assert json.loads(out)["budget"] == (1028 if DEFAULT_CURVE_MODEL == "paper" else grid["budget"])
    # the words say which model gave the number
    assert run_cli(base[:-1] + ["--curve-model", "paper"], capsys)[1].splitlines()[1].count("about 1028") == 1


def test_curve_models_compared_on_a_curve_with_a_known_crossing():
    """One real-looking curve by hand: the budget each model gives at its true AUC against the
    budget where it reaches the target, on the log axis."""
    from dataeff.efficiency.auc import compute_curve
    from dataeff.prediction.curve_check import log_errors, model_for

    grid = (16, 32, 64, 128, 256)
    # y = 0, 0.5, 0.75, 1, 1, 1 at x = 0, 4/8, 5/8, 6/8, 7/8, 1: reaches 0.75 exactly at 32 labels
    curve = compute_curve({0: 0.0, 16: 0.5, 32: 0.75, 64: 1.0, 128: 1.0, 256: 1.0}, 1.0, grid)
    for name in ("paper", "grid"):
        model = model_for(name, 256, grid)
        errors, never = log_errors({"t": curve}, 0.75, model)
        predicted = model.budget(curve.auc, 0.75)
        assert never == [] and errors["t"] == pytest.approx(math.log(predicted / 32), abs=1e-9)
    paper = model_for("paper", 256, grid)
    assert paper.budget(curve.auc, 0.75) == pytest.approx(budget_for_target(curve.auc, 0.75, 256))
    # a curve that never gets there is counted apart, not as an error
    flat = compute_curve({0: 0.0, 16: 0.2, 32: 0.2, 64: 0.2, 128: 0.2, 256: 0.2}, 1.0, grid)
    assert log_errors({"f": flat}, 0.5, paper) == ({}, ["f"])


def test_curve_model_table_in_the_docs_is_the_measurement_and_sets_the_default():
    """docs/PREDICTIONS.md shows dataeff.prediction.curve_check's table on the paper's 100 published curves,
    and the default curve model is the one it measures better overall."""
    from dataeff.core.config import REPO_ROOT
    from dataeff.prediction.curve_check import markdown, paper_comparison

    result = paper_comparison()
    assert result["curves"] == 100
    assert markdown(result) in (REPO_ROOT / "docs" / "PREDICTIONS.md").read_text()
    assert result["better"] == DEFAULT_CURVE_MODEL


def test_fair_floor_coefficients_read_the_gap_from_the_majority_share_or_a_guess(capsys):
    """Coefficients fitted under ``analysis.floor: fair`` (SmolLM2's) start the gap at
    max(zero-shot, majority share, 1/K) for K options per example; under the majority floor
    --options is not used, and under the paper's rule neither is."""
    from dataeff.prediction.budget import curve_start, gap_start

    fair = {"slope": 0.5, "intercept": 0.1, "floor_rule": "fair"}
    assert curve_start(0.0, 0.05, fair, 3) == (pytest.approx(1 / 3), pytest.approx(1 / 3), [])
    assert curve_start(0.0, 0.6, fair, 3)[:2] == (0.6, 0.6)
    assert curve_start(0.5, 0.05, fair, 4)[:2] == (0.5, 0.25)
    start, floor, warn = curve_start(0.0, None, fair, 4)
    assert (start, floor) == (0.25, 0.25) and "--majority" in warn[0]
    assert gap_start(fair, 0.05, 3) == "max(zero-shot, majority share 0.05, 1/3 options)"
    majority = {**fair, "floor_rule": "majority"}
    start, floor, warn = curve_start(0.0, 0.05, majority, 3)
    assert (start, floor) == (0.05, 0.05) and "--options is not used" in warn[0]
    start, floor, warn = curve_start(0.0, 0.05, {"slope": 0.5, "intercept": 0.1}, 3)
    assert (start, floor) == (0.0, None) and "--majority and --options are not used" in warn[0]
    with pytest.raises(DataeffError, match="options"):
        curve_start(0.0, 0.5, fair, 1)
    rc, out, err = run_cli(
        ["budget", "--coslow", "0.5", "--slope", "0.5", "--intercept", "0.1", "--target", "0.5", "--options", "3"],
        capsys,
    )
    # coefficients given on the command line follow the paper's rule: no chance floor
    assert rc == 0 and "--options is not used" in err and "zero-shot accuracy" in err


def test_headline_says_when_the_coefficients_do_not_beat_the_mean():
    """Coefficients whose held-out error is no better than the fitted tasks' mean carry a note
    (``out_of_sample``) that the budget's first line repeats; coefficients that beat it do not."""
    from dataeff.commands.budget import describe

    coefs = {"slope": -0.4, "intercept": 0.4, "max_budget": 256, "grid": [16, 32, 64, 128, 256]}
    note = "CoS-Low predicts this model's AUC no better than the mean"
    worse = predict_budget(0.5, {**coefs, "out_of_sample": {"beats_mean": False, "note": note}}, 0.5)
    assert worse["out_of_sample_note"] == note and describe(worse).splitlines()[0].endswith(f"[{note}]")
    better = predict_budget(0.5, {**coefs, "out_of_sample": {"beats_mean": True}}, 0.5)
    assert "out_of_sample_note" not in better and "[" not in describe(better).splitlines()[0]
