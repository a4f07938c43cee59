"""Data-efficiency curve and AUC (METHOD.md section 1): hand-computed cases, properties,
seed averaging, metric choice, aggregation of eval JSONs and one-line errors."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from dataeff.cli import main
from dataeff.core.errors import DataeffError
from dataeff.efficiency.auc import (
    PAPER_GRID,
    Curve,
    compute_curve,
    efficiency_tsv,
    max_possible_auc,
    pick_metric,
)
from dataeff.efficiency.results import aggregate_evals, read_ceilings, read_result_file, write_ceilings

# Small grid: x(10) = 1/3, x(100) = 2/3, x(1000) = 1 with N_max = 1000.
GRID3 = (10, 100, 1000)
# Two budgets: x(10) = 1/2, x(100) = 1.
GRID2 = (10, 100)


def approx(v: float) -> pytest.approx:
    return pytest.approx(v, abs=1e-12)


# --- hand-computed cases -------------------------------------------------------------------------


def test_basic_curve_by_hand():
    c = compute_curve({0: 0.2, 10: 0.6, 100: 1.0}, ceiling=1.0, grid=GRID2)
    assert c.budgets == (0, 10, 100)
    assert c.x == (0.0, approx(0.5), approx(1.0))
    assert c.y == (0.0, approx(0.5), approx(1.0))
    # trapezoids: 0.5 * (0 + 0.5) / 2 + 0.5 * (0.5 + 1) / 2
    assert c.auc == approx(0.5)
    assert c.zero_shot == 0.2 and c.max_acc == 1.0 and c.ceiling == 1.0
    assert c.filled == () and c.clamped == () and c.n_points == 3


def test_missing_zero_shot_starts_at_first_budget():
    c = compute_curve({10: 0.6, 100: 1.0}, ceiling=1.0, grid=GRID2)
    assert c.budgets == (10, 100)  # n = 0 is not inserted
    assert c.zero_shot is None and c.min_acc == 0.6
    assert c.y == (0.0, approx(1.0))
    assert c.auc == approx(0.5 * 1.0 / 2)


def test_missing_middle_budget_carries_forward():
    c = compute_curve({0: 0.2, 10: 0.6, 1000: 1.0}, ceiling=1.0, grid=GRID3)
    assert c.budgets == (0, 10, 100, 1000)
    assert c.raw == (0.2, 0.6, None, 1.0)
    assert c.cleaned == (0.2, 0.6, 0.6, 1.0)
    assert c.filled == (100,)
    # y = 0, .5, .5, 1 at x = 0, 1/3, 2/3, 1
    assert c.auc == approx((0.25 + 0.5 + 0.75) / 3)


def test_missing_last_budget_is_filled_not_dropped():
    c = compute_curve({0: 0.2, 10: 0.6, 100: 0.8}, ceiling=1.0, grid=GRID3)
    assert c.filled == (1000,)
    assert c.cleaned[-1] == 0.8
    # y = 0, .5, .75, .75
    assert c.auc == approx((0.25 + 0.625 + 0.75) / 3)


def test_non_monotone_drop_is_clamped():
    c = compute_curve({0: 0.2, 10: 0.6, 100: 0.4, 1000: 1.0}, ceiling=1.0, grid=GRID3)
    assert c.raw == (0.2, 0.6, 0.4, 1.0)
    assert c.cleaned == (0.2, 0.6, 0.6, 1.0)
    assert c.clamped == (100,) and c.filled == ()
    assert c.auc == approx(0.5)


def test_drop_below_zero_shot_is_clamped():
    c = compute_curve({0: 0.5, 10: 0.3, 100: 1.0}, ceiling=1.0, grid=GRID2)
    assert c.cleaned == (0.5, 0.5, 1.0) and c.clamped == (10,)
    assert c.auc == approx(0.5 * 0.5)


def test_unknown_ceiling_uses_best_accuracy():
    c = compute_curve({0: 0.2, 10: 0.6, 100: 0.7}, ceiling=None, grid=GRID2)
    assert c.ceiling == 0.7 and c.human_ceiling is None
    assert c.y == (0.0, approx(0.8), approx(1.0))
    assert c.auc == approx(0.5 * 0.8 / 2 + 0.5 * 1.8 / 2)


def test_ceiling_is_max_of_human_and_best():
    below = compute_curve({0: 0.2, 10: 0.6, 100: 0.7}, ceiling=0.5, grid=GRID2)
    assert below.ceiling == 0.7 and below.auc == approx(0.65)
    above = compute_curve({0: 0.2, 10: 0.6, 100: 0.7}, ceiling=1.0, grid=GRID2)
    assert above.ceiling == 1.0
    assert above.y == (0.0, approx(0.5), approx(0.625))
    assert above.auc == approx(0.125 + 0.5 * 1.125 / 2)


def test_off_grid_budget_inside_range_is_kept():
    c = compute_curve({0: 0.2, 10: 0.6, 50: 0.8, 100: 1.0}, ceiling=1.0, grid=GRID2)
    x50 = math.log2(50) / math.log2(100)
    assert c.budgets == (0, 10, 50, 100) and c.x[2] == approx(x50)
    expected = 0.5 * 0.5 / 2 + (x50 - 0.5) * (0.5 + 0.75) / 2 + (1 - x50) * (0.75 + 1) / 2
    assert c.auc == approx(expected)


def test_off_grid_2200_on_paper_grid():
    pts = {0: 0.3, 50: 0.5, 100: 0.6, 200: 0.65, 500: 0.7, 1000: 0.8, 2200: 0.9}
    c = compute_curve(pts, ceiling=0.95)
    assert c.budgets == (0, 50, 100, 200, 500, 1000, 2200, 2500, 5000)
    assert c.filled == (2500, 5000)
    assert c.cleaned[-3:] == (0.9, 0.9, 0.9)
    assert c.x[6] == approx(math.log2(2200) / math.log2(5000))
    manual = sum((c.x[i + 1] - c.x[i]) * (c.y[i + 1] + c.y[i]) / 2 for i in range(len(c.x) - 1))
    assert c.auc == approx(manual)


def test_points_outside_range_are_ignored():
    base = {0: 0.2, 10: 0.6, 100: 1.0}
    noisy = {**base, 4: 0.99, 8: 0.0, 1000: 0.1, 10000: 0.3}
    a = compute_curve(base, 1.0, GRID2)
    b = compute_curve(noisy, 1.0, GRID2)
    assert a.auc == b.auc and b.budgets == (0, 10, 100) and b.n_points == 3


def test_max_budget_below_grid_drops_larger_budgets():
    c = compute_curve({0: 0.2, 10: 0.6, 100: 0.8, 1000: 1.0}, ceiling=1.0, grid=GRID3, max_budget=100)
    assert c.budgets == (0, 10, 100) and c.max_budget == 100
    assert c.auc == compute_curve({0: 0.2, 10: 0.6, 100: 0.8}, 1.0, GRID2).auc


def test_flat_curve_has_zero_auc():
    c = compute_curve({0: 0.7, 10: 0.7, 100: 0.7}, ceiling=None, grid=GRID2)
    assert c.flat and c.auc == 0.0 and c.y == (0.0, 0.0, 0.0)


def test_no_point_in_range_is_an_error():
    with pytest.raises(DataeffError, match="no result at zero-shot or between budgets 10 and 100"):
        compute_curve({4: 0.5, 5000: 0.9}, ceiling=1.0, grid=GRID2)


# --- properties ----------------------------------------------------------------------------------


def test_max_possible_auc_on_paper_grid():
    assert max_possible_auc() == pytest.approx(0.7703, abs=1e-4)
    jump = compute_curve({0: 0.1, **{n: 0.9 for n in PAPER_GRID}}, ceiling=0.9)
    assert jump.auc == pytest.approx(max_possible_auc(), abs=1e-15)
    assert max_possible_auc() == pytest.approx(1 - (math.log2(50) / math.log2(5000)) / 2, abs=1e-15)


def test_auc_bounds_and_order_invariance_on_random_curves():
    rng = random.Random(123)
    top = max_possible_auc()
    for _ in range(300):
        budgets = [0, *PAPER_GRID, 2200, 16, 10000]
        pts = {n: rng.random() for n in budgets if rng.random() > 0.2}
        if not any(n == 0 or 50 <= n <= 5000 for n in pts):
            continue
        ceiling = rng.choice([None, rng.random()])
        c = compute_curve(pts, ceiling)
        assert 0.0 <= c.auc <= top + 1e-12
        items = list(pts.items())
        rng.shuffle(items)
        assert compute_curve(dict(items), ceiling).auc == c.auc
        assert all(b >= a for a, b in zip(c.cleaned, c.cleaned[1:], strict=False))
        assert all(0.0 <= y <= 1.0 for y in c.y)


def test_seed_lists_are_averaged_first():
    seeds = compute_curve({0: [0.1, 0.3], 10: [0.5, 0.7, 0.6], 100: [1.0]}, 1.0, GRID2)
    mean = compute_curve({0: 0.2, 10: 0.6, 100: 1.0}, 1.0, GRID2)
    assert seeds.auc == approx(mean.auc) and seeds.raw[1] == approx(0.6)
    assert seeds.seeds == {0: 2, 10: 3, 100: 1}


def test_summary_round_trip_and_tsv():
    c = compute_curve({0: 0.2, 10: 0.6, 1000: 1.0}, ceiling=None, grid=GRID3)
    back = Curve.from_summary(json.loads(json.dumps(c.summary())))
    assert back.auc == c.auc and back.budgets == c.budgets and back.raw == c.raw
    tsv = efficiency_tsv({"t": c}).splitlines()
    assert tsv[0].split("\t")[:3] == ["task", "auc", "zero_shot"]
    row = dict(zip(tsv[0].split("\t"), tsv[1].split("\t"), strict=True))
    assert row["filled"] == "100" and row["human_ceiling"] == "NA" and float(row["auc"]) == c.auc


# --- metric choice (rule 2) ----------------------------------------------------------------------


def test_pick_metric_rules():
    assert pick_metric({"accuracy": 0.5, "exact_string_match_accuracy": 0.4}, "mnli") == 0.5
    assert pick_metric({"accuracy": None, "exact_string_match_accuracy": 0.4}, "mnli") == 0.4
    assert pick_metric({"exact_string_match_accuracy": 0.4}, "mnli") == 0.4
    assert pick_metric({"f1": 0.3, "exact_string_match_accuracy": 0.9}, "coqa") == 0.3
    assert pick_metric({"metric": "macro_f1", "accuracy": 0.7}, "user_task") == 0.7


def test_pick_metric_missing_names_file_and_budget():
    with pytest.raises(DataeffError) as err:
        pick_metric({"bleu": 0.3}, "squad_v2", source="r.json", budget="50")
    assert str(err.value).startswith("r.json: field '50': budget '50': no metric 'f1'")


# --- files and the command line ------------------------------------------------------------------


def _write(path, obj):
    path.write_text(json.dumps(obj) if not isinstance(obj, str) else obj, encoding="utf-8")
    return path


@pytest.fixture
def paper_dir(tmp_path):
    d = tmp_path / "res"
    d.mkdir()
    _write(
        d / "fam_alpha_full_result_v2.json",
        {"0": {"accuracy": 0.2}, "10": {"exact_string_match_accuracy": 0.6}, "100": {"accuracy": 1.0}},
    )
    _write(d / "fam_beta_full_result_v2.json", {"10": {"accuracy": 0.6}, "100": {"accuracy": 0.7}})
    _write(d / "other_alpha_full_result_v2.json", {"0": {"accuracy": 0.0}})
    ceil = _write(tmp_path / "ceil.json", {"alpha": {"score": 1.0}, "beta": {"score": None}})
    return d, ceil


def test_auc_command_writes_json_and_tsv(paper_dir, tmp_path):
    d, ceil = paper_dir
    out, tsv = tmp_path / "o" / "eff.json", tmp_path / "o" / "eff.tsv"
    rc = main(
        [
            "auc",
            "--results",
            str(d),
            "--family",
            "fam",
            "--ceilings",
            str(ceil),
            "--grid",
            "10,100",
            "--out",
            str(out),
            "--tsv",
            str(tsv),
        ]
    )
    assert rc == 0
    data = json.loads(out.read_text())
    assert sorted(data) == ["alpha", "beta"]
    assert data["alpha"]["auc"] == approx(0.5)
    assert data["beta"]["auc"] == approx(0.25) and data["beta"]["zero_shot"] is None
    assert data["beta"]["ceiling"] == 0.7 and data["alpha"]["ceiling"] == 1.0
    for key in ("auc", "zero_shot", "max_acc", "ceiling", "n_points", "filled", "clamped", "provenance"):
        assert key in data["alpha"]
    assert tsv.read_text().splitlines()[0].startswith("task\tauc\tzero_shot")
    assert len(tsv.read_text().splitlines()) == 3


def _fails(argv, capsys, *fragments):
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("dataeff: error: "), err
    for frag in fragments:
        assert frag in err, err
    return err


def test_auc_bad_json(paper_dir, tmp_path, capsys):
    d, ceil = paper_dir
    _write(d / "fam_alpha_full_result_v2.json", '{"0": {"accuracy": 0.2},')
    out = tmp_path / "eff.json"
    _fails(
        ["auc", "--results", str(d), "--family", "fam", "--ceilings", str(ceil), "--out", str(out)],
        capsys,
        "fam_alpha_full_result_v2.json",
        "not valid JSON",
    )
    assert not out.exists()


def test_auc_budget_key_not_integer(paper_dir, tmp_path, capsys):
    d, ceil = paper_dir
    _write(d / "fam_beta_full_result_v2.json", {"fifty": {"accuracy": 0.6}})
    out = tmp_path / "eff.json"
    _fails(
        ["auc", "--results", str(d), "--family", "fam", "--ceilings", str(ceil), "--out", str(out)],
        capsys,
        "fam_beta_full_result_v2.json",
        "budget key 'fifty' is not an integer",
    )
    assert not out.exists()


def test_auc_metric_missing(paper_dir, tmp_path, capsys):
    d, ceil = paper_dir
    _write(d / "fam_beta_full_result_v2.json", {"10": {"bleu": 0.6}})
    out = tmp_path / "eff.json"
    _fails(
        ["auc", "--results", str(d), "--family", "fam", "--ceilings", str(ceil), "--out", str(out)],
        capsys,
        "fam_beta_full_result_v2.json",
        "field '10'",
        "no metric 'accuracy' or 'exact_string_match_accuracy'",
    )
    assert not out.exists()


def test_auc_ceiling_file_without_task(paper_dir, tmp_path, capsys):
    d, _ = paper_dir
    ceil = _write(tmp_path / "c2.json", {"alpha": {"score": 1.0}})
    out, tsv = tmp_path / "eff.json", tmp_path / "eff.tsv"
    argv = [
        "auc",
        "--results",
        str(d),
        "--family",
        "fam",
        "--ceilings",
        str(ceil),
        "--grid",
        "10,100",
        "--out",
        str(out),
        "--tsv",
        str(tsv),
    ]
    _fails(argv, capsys, "c2.json", "no ceiling for task 'beta'")
    assert not out.exists() and not tsv.exists()
    assert main([*argv, "--unknown-ceiling-ok"]) == 0
    assert json.loads(out.read_text())["beta"]["ceiling"] == 0.7


def test_auc_bad_ceiling_score(paper_dir, tmp_path, capsys):
    d, _ = paper_dir
    ceil = _write(tmp_path / "c3.json", {"alpha": {"score": "sequence_f1"}, "beta": {"score": None}})
    out = tmp_path / "eff.json"
    _fails(
        ["auc", "--results", str(d), "--family", "fam", "--ceilings", str(ceil), "--out", str(out)],
        capsys,
        "c3.json",
        "alpha.score",
    )
    assert not out.exists()


def test_auc_family_without_results(paper_dir, tmp_path, capsys):
    d, ceil = paper_dir
    out = tmp_path / "eff.json"
    _fails(
        ["auc", "--results", str(d), "--family", "nobody", "--ceilings", str(ceil), "--out", str(out)],
        capsys,
        "no results for family 'nobody'",
    )
    assert not out.exists()
    _fails(
        [
            "auc",
            "--results",
            str(d),
            "--family",
            "fam",
            "--tasks",
            "alpha,gamma",
            "--ceilings",
            str(ceil),
            "--out",
            str(out),
        ],
        capsys,
        "fam_gamma_full_result_v2.json",
    )
    assert not out.exists()


def test_read_ceilings_formats(tmp_path):
    p = tmp_path / "c.json"
    write_ceilings(p, {"a": 0.9, "b": None})
    assert read_ceilings(p) == {"a": 0.9, "b": None}
    _write(p, {"a": 0.5, "b": {"score": 1}})
    assert read_ceilings(p) == {"a": 0.5, "b": 1.0}


# --- aggregation of the pipeline's eval JSONs ----------------------------------------------------


def _eval(root, family, task, budget, acc, seed=123, name=None):
    d = root / "results" / family / task / "eval"
    d.mkdir(parents=True, exist_ok=True)
    p = d / (name or f"n{budget}.json")
    _write(
        p,
        {
            "family": family,
            "task": task,
            "budget": budget,
            "metric": "accuracy",
            "accuracy": acc,
            "n_test": 100,
            "n_train": budget,
            "seed": seed,
            "provenance": {},
        },
    )
    return str(p)


def test_aggregate_then_auc(tmp_path):
    evals = [_eval(tmp_path, "fam", "alpha", b, a) for b, a in [(0, 0.2), (10, 0.6), (100, 1.0)]]
    evals += [
        _eval(tmp_path, "fam", "beta", 0, 0.1),
        _eval(tmp_path, "fam", "beta", 10, 0.5, seed=1),
        _eval(tmp_path, "fam", "beta", 10, 0.7, seed=2, name="n10.s2.json"),
        _eval(tmp_path, "fam", "beta", 100, 0.9),
    ]
    out_dir = tmp_path / "agg"
    assert main(["aggregate", "--family", "fam", "--evals", *evals, "--out-dir", str(out_dir)]) == 0
    beta = json.loads((out_dir / "fam_beta_full_result_v2.json").read_text())
    assert beta["10"]["accuracy"] == approx(0.6) and beta["10"]["accuracy_seeds"] == [0.5, 0.7]
    assert "accuracy_seeds" not in beta["0"] and "provenance" in beta
    points = read_result_file(out_dir / "fam_beta_full_result_v2.json", "beta")
    assert points == {0: 0.1, 10: [0.5, 0.7], 100: 0.9}
    ceil = _write(tmp_path / "c.json", {"alpha": {"score": 1.0}, "beta": {"score": 1.0}})
    out = tmp_path / "eff.json"
    assert (
        main(
            [
                "auc",
                "--results",
                str(out_dir),
                "--family",
                "fam",
                "--ceilings",
                str(ceil),
                "--grid",
                "10,100",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    data = json.loads(out.read_text())
    assert data["alpha"]["auc"] == approx(0.5)
    assert data["beta"]["auc"] == approx(compute_curve({0: 0.1, 10: 0.6, 100: 0.9}, 1.0, GRID2).auc)


def test_aggregate_errors(tmp_path, capsys):
    a = _eval(tmp_path, "fam", "alpha", 0, 0.2)
    dup = _eval(tmp_path, "fam", "alpha", 0, 0.3, name="copy.json")
    out_dir = tmp_path / "agg"
    _fails(
        ["aggregate", "--family", "fam", "--evals", a, dup, "--out-dir", str(out_dir)],
        capsys,
        "copy.json",
        "duplicate evaluation of task 'alpha' budget 0 seed 123",
    )
    other = _eval(tmp_path, "zzz", "alpha", 10, 0.3)
    _fails(
        ["aggregate", "--family", "fam", "--evals", a, other, "--out-dir", str(out_dir)],
        capsys,
        "family 'zzz', not 'fam'",
    )
    bad = _write(tmp_path / "bad.json", {"family": "fam", "task": "alpha", "budget": 10})
    _fails(
        ["aggregate", "--family", "fam", "--evals", a, str(bad), "--out-dir", str(out_dir)],
        capsys,
        "bad.json",
        "missing key 'accuracy'",
    )
    assert not out_dir.exists()


def test_aggregate_evals_keeps_metric_name(tmp_path):
    p = _eval(tmp_path, "fam", "user", 0, 0.4)
    data = json.loads(Path(p).read_text())
    data["metric"] = "macro_f1"
    _write(tmp_path / "m.json", data)
    table = aggregate_evals([str(tmp_path / "m.json")], "fam")
    assert table["user"]["0"]["metric"] == "macro_f1"
    assert pick_metric(table["user"]["0"], "user") == 0.4
