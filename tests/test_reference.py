"""A run's own tasks placed among a reference run's for the fit and figures (dataeff.efficiency.reference)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from dataeff.efficiency.reference import MARK, combine, reference_tasks
from dataeff.prediction.fit import fit_table, read_efficiency, read_predictors

COLUMNS = "task\tcoslow_mean\tcoslow_std\tn_seeds\n"


def _pred(rows: dict[str, float]) -> str:
    return COLUMNS + "".join(f"{t}\t{v!r}\t0.01\t3\n" for t, v in rows.items())


def _eff(rows: dict[str, float]) -> dict:
    return {t: {"auc": a, "zero_shot": 0.1, "max_acc": 0.9, "ceiling": 1.0} for t, a in rows.items()}


def test_own_tasks_are_marked_and_replace_the_reference_ones() -> None:
    ref_eff = _eff({"a": 0.2, "b": 0.4, "shared": 0.6})
    own_eff = _eff({"shared": 0.5, "new": 0.3})
    eff, text = combine(
        own_eff,
        _pred({"shared": 0.35, "new": 0.15}),
        ref_eff,
        _pred({"a": 0.1, "b": 0.2, "shared": 0.3}),
        "study/results/x",
    )
    assert sorted(eff) == ["a", "b", "new" + MARK, "shared" + MARK]
    assert eff["shared" + MARK]["auc"] == 0.5 and eff["shared" + MARK]["origin"] == "this run"
    assert eff["a"]["origin"] == "reference: study/results/x"
    table = pd.read_csv(__import__("io").StringIO(text), sep="\t")
    assert sorted(table["task"]) == sorted(eff)
    assert float(table.loc[table["task"] == "shared" + MARK, "coslow_mean"].iloc[0]) == 0.35
    assert float(table.loc[table["task"] == "a", "coslow_mean"].iloc[0]) == 0.1  # round-trips exactly


def test_reference_tasks_need_a_curve_and_a_predictors_row(tmp_path: Path) -> None:
    (tmp_path / "fam_predictors.tsv").write_text(_pred({"a": 0.1, "b": 0.2, "c": 0.3}))
    for t in ("a", "c", "d"):
        (tmp_path / f"fam_{t}_full_result_v2.json").write_text(json.dumps({"0": {"accuracy": 0.1}}))
    assert reference_tasks(tmp_path, "fam") == ["a", "c"]
    assert reference_tasks(tmp_path, "fam", exclude=["c"]) == ["a"]
    assert reference_tasks(tmp_path / "missing", "fam") == []


def test_combined_tables_feed_the_fit(tmp_path: Path) -> None:
    """The command's outputs are what `dataeff fit` reads: one table row per task, own ones marked."""
    own, ref = tmp_path / "own.json", tmp_path / "ref.json"
    own.write_text(json.dumps(_eff({"new": 0.3})))
    ref.write_text(json.dumps(_eff({"a": 0.2, "b": 0.4, "c": 0.5})))
    (tmp_path / "own.tsv").write_text(_pred({"new": 0.15}))
    (tmp_path / "ref.tsv").write_text(_pred({"a": 0.1, "b": 0.2, "c": 0.3}))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "dataeff",
            "combine-reference",
            "--efficiency",
            str(own),
            "--predictors",
            str(tmp_path / "own.tsv"),
            "--ref-efficiency",
            str(ref),
            "--ref-predictors",
            str(tmp_path / "ref.tsv"),
            "--reference",
            "ref",
            "--out-efficiency",
            str(tmp_path / "c.json"),
            "--out-predictors",
            str(tmp_path / "c.tsv"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    table = fit_table(read_efficiency(tmp_path / "c.json"), read_predictors(tmp_path / "c.tsv"))
    assert list(table["task"]) == ["a", "b", "c", "new" + MARK]
    assert table["auc"].tolist() == [0.2, 0.4, 0.5, 0.3]
