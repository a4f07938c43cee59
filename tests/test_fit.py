"""Per-family fit: OLS recovery, bootstrap correlations, leave-one-task-out, files and errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest

from dataeff.cli import main
from dataeff.core.config import schema
from dataeff.core.errors import DataeffError
from dataeff.prediction.fit import (
    CONFIG_KEYS,
    correlations,
    fit_family,
    leave_one_task_out,
    ols_fit,
    read_predictors,
    run_fit,
)

PAPER = Path(__file__).resolve().parents[2] / "shared" / "paper"
PRED_HEADER = (
    "task\tcoslow_mean\tcoslow_std\tcos_sim_k_mean\tcos_sim_k_std\tgrad_norm_k_mean\t"
    "grad_norm_k_std\tconf_avg_k_mean\tconf_avg_k_std"
)


def write_inputs(root: Path, aucs: dict[str, float], coslow: dict[str, float], seed: int = 0) -> tuple[Path, Path]:
    """efficiency.json and predictors.tsv in the formats of the AUC and CoS-Low stages."""
    rng = np.random.default_rng(seed)
    eff = {
        t: {
            "auc": a,
            "zero_shot": 0.4,
            "max_acc": 0.9,
            "ceiling": 0.95,
            "max_budget": 5000,
            "provenance": {"seed": None},
        }
        for t, a in aucs.items()
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "efficiency.json").write_text(json.dumps(eff))
    lines = [PRED_HEADER]
    for t in aucs:
        x = coslow[t]
        values = (x, 0.01, 0.5 * x + rng.normal(0, 0.1), 0.02, rng.normal(5, 1), 0.1, rng.uniform(0.5, 0.9), 0.01)
        lines.append("\t".join([t] + [f"{v:.8f}" for v in values]))
    (root / "predictors.tsv").write_text("\n".join(lines) + "\n")
    return root / "efficiency.json", root / "predictors.tsv"


def synthetic(n: int = 30, slope: float = 0.6, intercept: float = 0.3, noise: float = 0.02, seed: int = 1):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-0.2, 0.8, n)
    y = slope * x + intercept + rng.normal(0, noise, n)
    tasks = [f"task{i:02d}" for i in range(n)]
    return tasks, x, y


def test_ols_recovers_known_coefficients():
    tasks, x, y = synthetic(n=200, noise=0.01)
    fit = ols_fit(x, y)
    assert fit["slope"] == pytest.approx(0.6, abs=4 * fit["slope_se"])
    assert fit["intercept"] == pytest.approx(0.3, abs=4 * fit["intercept_se"])
    assert fit["resid_std"] == pytest.approx(0.01, rel=0.2)
    assert fit["slope_ci"][0] < fit["slope"] < fit["slope_ci"][1]
    assert fit["n_tasks"] == 200
    assert fit["mean_x"] == pytest.approx(x.mean())
    assert fit["sxx"] == pytest.approx(((x - x.mean()) ** 2).sum())
    exact = ols_fit([0, 1, 2, 3], [1, 3, 5, 7])
    assert (exact["slope"], exact["intercept"]) == pytest.approx((2.0, 1.0))
    assert exact["r2"] == pytest.approx(1.0)


def test_ols_standard_errors_match_textbook_formula():
    x = np.array([0.0, 1.0, 2.0, 4.0, 5.0])
    y = np.array([0.1, 0.35, 0.4, 0.8, 0.9])
    fit = ols_fit(x, y)
    b, a = np.polyfit(x, y, 1)
    resid = y - (b * x + a)
    s2 = (resid**2).sum() / (len(x) - 2)
    sxx = ((x - x.mean()) ** 2).sum()
    assert fit["slope"] == pytest.approx(b)
    assert fit["slope_se"] == pytest.approx(math.sqrt(s2 / sxx))
    assert fit["intercept_se"] == pytest.approx(math.sqrt(s2 * (1 / len(x) + x.mean() ** 2 / sxx)))
    assert fit["resid_std"] == pytest.approx(math.sqrt(s2))


def test_loto_matches_hand_computation():
    tasks = ["a", "b", "c", "d"]
    x = [0.0, 1.0, 2.0, 3.0]
    y = [0.0, 1.0, 1.0, 3.0]
    loto, summary = leave_one_task_out(tasks, x, y)
    # Hold out 'a': fit on (1,1), (2,1), (3,3): slope = 2/2 = 1, intercept = 5/3 - 2 = -1/3.
    row = loto.iloc[0]
    assert row["task"] == "a"
    assert row["slope"] == pytest.approx(1.0)
    assert row["intercept"] == pytest.approx(-1 / 3)
    assert row["predicted_auc"] == pytest.approx(-1 / 3)
    assert row["error"] == pytest.approx(-1 / 3)
    errors = []
    for i in range(4):
        keep = [j for j in range(4) if j != i]
        b, a = np.polyfit(np.array(x)[keep], np.array(y)[keep], 1)
        errors.append(b * x[i] + a - y[i])
    assert loto["error"].tolist() == pytest.approx(errors)
    assert summary["mae"] == pytest.approx(np.mean(np.abs(errors)))
    assert summary["rmse"] == pytest.approx(math.sqrt(np.mean(np.square(errors))))
    assert summary["slope_std"] == pytest.approx(loto["slope"].std(ddof=1))


def test_bootstrap_correlations_are_seeded_and_bracket_the_estimate():
    _, x, y = synthetic(n=30, noise=0.1)
    c1 = correlations(x, y, 500, seed=7)
    c2 = correlations(x, y, 500, seed=7)
    assert c1 == c2
    assert c1["pearson"]["r"] == pytest.approx(np.corrcoef(x, y)[0, 1])
    from scipy.stats import spearmanr

    assert c1["spearman"]["r"] == pytest.approx(spearmanr(x, y).statistic)
    for name in ("pearson", "spearman"):
        assert c1[name]["lo"] <= c1[name]["r"] <= c1[name]["hi"]
        assert c1[name]["sd"] > 0
    assert correlations(x, y, 0, seed=7)["pearson"]["lo"] is None


def test_fit_family_reports_every_predictor():
    tasks, x, y = synthetic(n=12)
    rng = np.random.default_rng(3)
    table = pd.DataFrame(
        {
            "task": tasks,
            "auc": y,
            "coslow_mean": x,
            "cos_sim_k_mean": rng.normal(size=12),
            "grad_norm_k_mean": rng.normal(size=12),
            "conf_avg_k_mean": rng.normal(size=12),
        }
    )
    rec, loto, corr = fit_family(table, family="toy", n_boot=200, seed=1, max_budget=128)
    assert corr["predictor"].tolist() == ["coslow", "cos_sim_k", "grad_norm_k", "conf_avg_k"]
    assert set(rec["baselines"]) == {"cos_sim_k", "grad_norm_k", "conf_avg_k"}
    assert len(loto) == 12 and rec["loto"]["n_folds"] == 12
    assert rec["config_entry"]["max_budget"] == 128
    assert rec["source"].startswith("fitted by dataeff on 12 tasks")


def test_run_fit_writes_schema_compatible_coefficients(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no config/config.yaml here: the command needs none
    tasks, x, y = synthetic(n=10)
    eff, pred = write_inputs(tmp_path / "in", dict(zip(tasks, y, strict=True)), dict(zip(tasks, x, strict=True)))
    out = tmp_path / "results" / "toy"
    rc = main(
        [
            "fit",
            "--family",
            "toy",
            "--efficiency",
            str(eff),
            "--predictors",
            str(pred),
            "--out-dir",
            str(out),
            "--bootstrap",
            "100",
            "--seed",
            "5",
        ]
    )
    assert rc == 0
    rec = json.loads((out / "coefficients.json").read_text())
    assert rec["max_budget"] == 5000  # taken from efficiency.json
    assert rec["bootstrap"] == {"n": 100, "seed": 5, "level": 0.95}
    assert "provenance" in rec and rec["provenance"]["seed"] == 5
    # The schema's keys, and the ready-to-paste entry validates against the config schema.
    root = schema()
    definition = dict(root["definitions"]["coefficients"])
    assert set(definition["properties"]) == set(CONFIG_KEYS)
    jsonschema.validate(rec["config_entry"], definition)
    for key in CONFIG_KEYS:
        assert rec[key] == rec["config_entry"][key]
    loto = pd.read_csv(out / "loto.tsv", sep="\t")
    assert list(loto.columns)[:4] == ["task", "coslow", "actual_auc", "predicted_auc"] and len(loto) == 10
    corr = pd.read_csv(out / "correlations.tsv", sep="\t")
    assert {"predictor", "pearson", "pearson_lo", "pearson_hi", "spearman", "spearman_lo", "spearman_hi"} <= set(
        corr.columns
    )


def test_fewer_than_three_tasks_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    eff, pred = write_inputs(tmp_path / "in", {"a": 0.3, "b": 0.5}, {"a": 0.1, "b": 0.4})
    out = tmp_path / "out"
    rc = main(
        [
            "fit",
            "--family",
            "toy",
            "--efficiency",
            str(eff),
            "--predictors",
            str(pred),
            "--out-dir",
            str(out),
            "--bootstrap",
            "10",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and "at least 3" in err and "Traceback" not in err
    assert not out.exists()


def test_non_finite_coslow_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    eff, pred = write_inputs(tmp_path / "in", {"a": 0.3, "b": 0.5, "c": 0.6}, {"a": 0.1, "b": 0.4, "c": 0.5})
    text = pred.read_text().splitlines()
    text[2] = "\t".join(["b", "nan"] + text[2].split("\t")[2:])
    pred.write_text("\n".join(text) + "\n")
    with pytest.raises(DataeffError, match="line 3.*coslow_mean"):
        read_predictors(pred)
    out = tmp_path / "out"
    rc = main(["fit", "--family", "toy", "--efficiency", str(eff), "--predictors", str(pred), "--out-dir", str(out)])
    assert rc == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not out.exists()


def test_constant_coslow_is_an_error():
    with pytest.raises(DataeffError, match="identical"):
        ols_fit([0.2, 0.2, 0.2], [0.1, 0.2, 0.3])


def paper_llama_aucs() -> dict[str, float]:
    from dataeff.efficiency.auc import family_curves
    from dataeff.efficiency.results import read_ceilings, read_family

    results, _ = read_family(PAPER / "finetune_results", "llama")
    ceilings = read_ceilings(PAPER / "human_ceilings.json")
    return {t: c.auc for t, c in family_curves(results, ceilings, unknown_ceiling_ok=True).items()}


@pytest.mark.skipif(not (PAPER / "finetune_results").is_dir(), reason="paper reference data absent")
def test_fit_on_paper_aucs_recovers_published_llama_coefficients(tmp_path):
    aucs = paper_llama_aucs()
    assert len(aucs) >= 30
    rng = np.random.default_rng(11)
    # Synthetic CoS-Low consistent with the published fit: AUC = 0.545 * CoS-Low + 0.310 + noise.
    coslow = {t: (a - 0.310) / 0.545 + rng.normal(0, 0.02) for t, a in aucs.items()}
    eff, pred = write_inputs(tmp_path / "in", aucs, coslow)
    rec = run_fit(family="llama", efficiency=eff, predictors=pred, out_dir=tmp_path / "out", n_boot=200, seed=1)
    assert rec["slope"] == pytest.approx(0.545, abs=0.03)
    assert rec["intercept"] == pytest.approx(0.310, abs=0.02)
    assert rec["pearson"]["r"] > 0.95
    assert rec["loto"]["mae"] < 0.03
