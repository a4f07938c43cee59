"""Prediction figures and tables: files produced, savings definition, curve sources."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dataeff.cli import main
from dataeff.plots.analysis import FIGURES, measured_curves
from dataeff.prediction.savings import loop_cost, needed_budget

HEADER = (
    "task\tcoslow_mean\tcoslow_std\tcos_sim_k_mean\tcos_sim_k_std\tgrad_norm_k_mean\t"
    "grad_norm_k_std\tconf_avg_k_mean\tconf_avg_k_std"
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def synthetic_efficiency(n_tasks: int = 6, grid=(16, 32, 64, 128), seed: int = 0) -> dict:
    """efficiency.json records as `dataeff auc` writes them, from power-law-ish curves."""
    from dataeff.efficiency.auc import compute_curve

    rng = np.random.default_rng(seed)
    out = {}
    for i in range(n_tasks):
        zs, top = rng.uniform(0.2, 0.5), rng.uniform(0.7, 0.95)
        p = rng.uniform(0.4, 3.0)
        n_max = max(grid)
        pts = {0: zs, **{b: zs + (top - zs) * (math.log(b) / math.log(n_max)) ** p for b in grid}}
        c = compute_curve(pts, None, grid)
        out[f"task{i}"] = {**c.summary(), "grid": list(grid)}
    return out


def write_family(root: Path, eff: dict, seed: int = 1) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "efficiency.json").write_text(json.dumps(eff))
    lines = [HEADER]
    for t, rec in eff.items():
        x = (rec["auc"] - 0.31) / 0.545 + rng.normal(0, 0.05)
        vals = (x, 0.02, 0.5 * x + rng.normal(0, 0.1), 0.02, rng.normal(5, 1), 0.2, rng.uniform(0.5, 0.9), 0.01)
        lines.append("\t".join([t] + [f"{v:.6f}" for v in vals]))
    (root / "predictors.tsv").write_text("\n".join(lines) + "\n")
    return root / "efficiency.json", root / "predictors.tsv"


def fit_and_draw(tmp_path: Path, eff: dict, family: str, extra=()) -> Path:
    e, p = write_family(tmp_path / "results" / family, eff)
    out = tmp_path / "results" / family
    assert (
        main(
            [
                "fit",
                "--family",
                family,
                "--efficiency",
                str(e),
                "--predictors",
                str(p),
                "--out-dir",
                str(out),
                "--bootstrap",
                "50",
                "--seed",
                "1",
            ]
        )
        == 0
    )
    figs = out / "figures"
    assert (
        main(
            [
                "figures",
                "--family",
                family,
                "--efficiency",
                str(e),
                "--predictors",
                str(p),
                "--coefficients",
                str(out / "coefficients.json"),
                "--loto",
                str(out / "loto.tsv"),
                "--correlations",
                str(out / "correlations.tsv"),
                "--out-dir",
                str(figs),
                *extra,
            ]
        )
        == 0
    )
    return figs


def check_outputs(figs: Path) -> None:
    for stem in FIGURES:
        png, pdf = figs / f"{stem}.png", figs / f"{stem}.pdf"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000, stem
        assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 1000, stem
    assert not [p for p in figs.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_figures_from_synthetic_family(tmp_path):
    eff = synthetic_efficiency()
    figs = fit_and_draw(tmp_path, eff, "toy", ["--targets", "0.5,0.9"])
    check_outputs(figs)
    savings = pd.read_csv(figs / "savings.csv")
    assert len(savings) == 2 * len(eff) and set(savings["target"]) == {0.5, 0.9}
    reachable = savings[savings["status"] == "reachable"]
    assert (reachable["predicted_low"] <= reachable["predicted_budget"]).all()
    high = reachable["predicted_high"]  # empty: more than N_max
    assert (high.isna() | (reachable["predicted_budget"] <= high)).all()
    assert set(savings["loop_budget"].dropna()) <= {16, 32, 64, 128}
    for m in (0, 1, 2):
        assert savings[f"error_{m}"].notna().all()
    coefs = pd.read_csv(figs / "coefficients.csv")
    assert coefs["coefficients"].tolist() == ["toy (fitted)"] and "±" in coefs["slope_pm"].iloc[0]


def test_figures_from_paper_llama_subset(tmp_path):
    """From the shipped published curves; tasks that never reach a target are counted as such."""
    from dataeff.efficiency.published_curves import paper_curves

    tasks = ["anli", "boolq", "circa", "mnli", "rte", "sst2", "web_of_lies", "wic"]
    curves = paper_curves("llama")
    eff = {t: {**curves[t].summary(), "grid": [50, 100, 200, 500, 1000, 2500, 5000]} for t in tasks}
    figs = fit_and_draw(tmp_path, eff, "llama", ["--compare-published"])
    check_outputs(figs)
    coefs = pd.read_csv(figs / "coefficients.csv")
    assert coefs["coefficients"].tolist() == ["llama (fitted)", "llama (published)"]
    assert coefs["slope_pm"].iloc[1] == "0.5450 ± 0.0050"
    savings = pd.read_csv(figs / "savings.csv")
    assert set(savings["target"]) == {0.5, 0.7, 0.9}
    assert savings["loop_budget"].max() <= 5000
    # anli never gets to 70% of the gap (best 0.746 against a human ceiling of 0.92): no loop
    # budget, no labels saved, no needed budget; not "5000 labels spent".
    anli = savings[(savings["task"] == "anli") & (savings["target"] == 0.7)].iloc[0]
    assert not anli["loop_reached"] and pd.isna(anli["loop_budget"]) and pd.isna(anli["labels_saved"])
    assert pd.isna(anli["needed_budget"]) and not anli["prediction_sufficient"]
    never = savings[~savings["loop_reached"]]
    assert never["loop_budget"].isna().all() and never["labels_saved"].isna().all()


def test_loop_cost_and_needed_budget_by_hand():
    # grid 10, 100, 1000 (N_max 1000): x = 0, 1/3, 2/3, 1; cleaned fractions 0, 0.2, 0.6, 1.0.
    curve = {"budgets": [0, 10, 100, 1000], "x": [0, 1 / 3, 2 / 3, 1], "y": [0.0, 0.2, 0.6, 1.0]}
    assert loop_cost(curve, 0.5, 1000) == (100, 2, True)
    assert loop_cost(curve, 0.2, 1000) == (10, 1, True)
    assert loop_cost(curve, 0.99, 1000) == (1000, 3, True)
    assert loop_cost({**curve, "y": [0, 0.1, 0.2, 0.3]}, 0.5, 1000) == (1000, 3, False)
    # 0.5 lies 3/4 of the way from 0.2 (x=1/3) to 0.6 (x=2/3) -> x = 7/12.
    assert needed_budget(curve, 0.5, 1000) == pytest.approx(1000 ** (7 / 12))
    assert needed_budget({**curve, "y": [0, 0.1, 0.2, 0.3]}, 0.5, 1000) is None


def test_measured_curves_fall_back_to_finetune_results(tmp_path):
    ft = tmp_path / "ft"
    ft.mkdir()
    points = {
        "0": {"accuracy": 0.3},
        "16": {"accuracy": 0.5},
        "32": {"accuracy": 0.45},
        "64": {"accuracy": 0.8},
        "128": {"accuracy": 0.9},
    }
    (ft / "fam_t1_full_result_v2.json").write_text(json.dumps(points))
    eff = {"t1": {"auc": 0.5, "grid": [16, 32, 64, 128], "max_budget": 128, "human_ceiling": None}, "t2": {"auc": 0.4}}
    curves = measured_curves(eff, ft, "fam")
    assert set(curves) == {"t1"}
    assert curves["t1"]["budgets"] == [0, 16, 32, 64, 128]
    assert curves["t1"]["y"] == pytest.approx([0, 1 / 3, 1 / 3, 5 / 6, 1])


def test_figures_bad_input_writes_nothing(tmp_path, capsys):
    eff = synthetic_efficiency(n_tasks=2)
    e, p = write_family(tmp_path / "in", eff)
    coef = tmp_path / "c.json"
    coef.write_text(json.dumps({"slope": 0.5, "intercept": 0.3}))
    out = tmp_path / "figs"
    rc = main(
        [
            "figures",
            "--family",
            "toy",
            "--efficiency",
            str(e),
            "--predictors",
            str(p),
            "--coefficients",
            str(coef),
            "--loto",
            str(tmp_path / "loto.tsv"),
            "--correlations",
            str(tmp_path / "correlations.tsv"),
            "--out-dir",
            str(out),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "at least 3" in err
    assert not out.exists()


def test_figures_draw_the_fit_tables_and_never_refit(tmp_path, monkeypatch):
    """The correlation and leave-one-task-out figures carry the numbers of the loto.tsv and
    correlations.tsv they are given: here tables edited to distinctive values, which a refit
    of the efficiency and predictors tables could not produce."""
    import dataeff.plots.analysis as analysis
    import dataeff.prediction.fit

    eff = synthetic_efficiency()
    e, p = write_family(tmp_path / "results" / "toy", eff)
    out = tmp_path / "results" / "toy"
    fit_args = ["--efficiency", str(e), "--predictors", str(p), "--bootstrap", "50", "--seed", "1"]
    assert main(["fit", "--family", "toy", *fit_args, "--out-dir", str(out)]) == 0
    loto = pd.read_csv(out / "loto.tsv", sep="\t")
    loto["predicted_auc"] = loto["actual_auc"] + 0.0432  # every task off by exactly 0.0432
    loto["error"], loto["abs_error"] = 0.0432, 0.0432
    loto.to_csv(out / "loto.tsv", sep="\t", index=False)
    corr = pd.read_csv(out / "correlations.tsv", sep="\t")
    corr.loc[corr["predictor"] == "coslow", ["pearson", "pearson_sd", "spearman", "spearman_sd"]] = [
        0.1234,
        0.0567,
        -0.4321,
        0.0789,
    ]
    corr.to_csv(out / "correlations.tsv", sep="\t", index=False)

    def no_refit(*args, **kwargs):
        raise AssertionError("the figures refitted the family")

    monkeypatch.setattr(dataeff.prediction.fit, "fit_family", no_refit)
    titles: dict[str, list[str]] = {}
    save = analysis.save_figure

    def record(fig, stem):
        titles[Path(stem).name] = [ax.get_title() for ax in fig.axes]
        return save(fig, stem)

    monkeypatch.setattr(analysis, "save_figure", record)
    figs = out / "figures"
    tables = ["--loto", str(out / "loto.tsv"), "--correlations", str(out / "correlations.tsv")]
    args = ["figures", "--family", "toy", "--efficiency", str(e), "--predictors", str(p)]
    assert main([*args, "--coefficients", str(out / "coefficients.json"), *tables, "--out-dir", str(figs)]) == 0
    check_outputs(figs)
    assert titles["loto"] == ["toy: leave-one-task-out, MAE 0.043, RMSE 0.043"]
    assert titles["correlations"][0] == "CoS-Low: r = 0.12 ± 0.06, ρ = -0.43 ± 0.08"


def test_figures_refuse_a_loto_table_of_other_tasks(tmp_path, capsys):
    eff = synthetic_efficiency()
    e, p = write_family(tmp_path / "results" / "toy", eff)
    out = tmp_path / "results" / "toy"
    fit_args = ["--efficiency", str(e), "--predictors", str(p), "--bootstrap", "0"]
    assert main(["fit", "--family", "toy", *fit_args, "--out-dir", str(out)]) == 0
    loto = pd.read_csv(out / "loto.tsv", sep="\t")
    loto.iloc[1:].to_csv(out / "loto.tsv", sep="\t", index=False)  # task0 dropped: a stale table
    figs = out / "figures"
    tables = ["--loto", str(out / "loto.tsv"), "--correlations", str(out / "correlations.tsv")]
    args = ["figures", "--family", "toy", "--efficiency", str(e), "--predictors", str(p)]
    rc = main([*args, "--coefficients", str(out / "coefficients.json"), *tables, "--out-dir", str(figs)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "loto.tsv" in err and "task0" in err
    assert not figs.exists()
