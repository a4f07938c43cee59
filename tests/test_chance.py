"""The majority-answer floor (dataeff.efficiency.chance, ``analysis.floor: majority``): its score on known
gold answers, its path from evaluations through ``aggregate`` to ``auc``, and the AUC it gives a
curve that only learned the answer format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dataeff.cli import main
from dataeff.core.errors import DataeffError
from dataeff.efficiency.auc import compute_curve
from dataeff.efficiency.chance import chance_of_evals, majority_score

GRID = (16, 32, 64, 128, 256)


def test_majority_score_normalises_like_the_scorer():
    # "Plausible." and "plausible" are the same answer to dataeff.inference.evaluate.normalize.
    golds = ["Plausible.", "plausible", "implausible", "plausible", "implausible"]
    s = majority_score(golds)
    assert s["majority_answer"] == "plausible"
    assert s["majority_share"] == pytest.approx(3 / 5)
    assert s["score"] == pytest.approx(3 / 5)
    assert s["n_test"] == 5 and s["n_answers"] == 2


def test_majority_score_tie_is_deterministic_and_macro_f1_is_the_constant_predictors():
    s = majority_score(["b", "a", "a", "b"])
    assert s["majority_answer"] == "a" and s["majority_share"] == 0.5
    # Constant "a" on [a, a, a, b, c]: F1(a) = 2 * 0.6 / 1.6 = 0.75, F1(b) = F1(c) = 0.
    f1 = majority_score(["a", "a", "a", "b", "c"], metric="macro_f1")
    assert f1["score"] == pytest.approx(0.75 / 3)


def _eval_with_predictions(root: Path, budget: int, acc: float, golds: dict[str, str]) -> str:
    d = root / "fam" / "t" / "eval"
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"n{budget}.json"
    record = {"family": "fam", "task": "t", "budget": budget, "metric": "accuracy", "accuracy": acc}
    path.write_text(json.dumps({**record, "n_test": len(golds), "seed": 123, "provenance": {}}))
    lines = [json.dumps({"id": i, "prediction": "x", "gold": g, "correct": False}) for i, g in golds.items()]
    (d / f"n{budget}.predictions.jsonl").write_text("\n".join(lines) + "\n")
    return str(path)


def test_chance_of_evals_reads_the_gold_answers_and_refuses_different_test_sets(tmp_path):
    golds = {f"t:{i}": ("yes" if i < 7 else "no") for i in range(10)}
    evals = [_eval_with_predictions(tmp_path, b, 0.5, golds) for b in (0, 16)]
    chance = chance_of_evals(evals, "accuracy")
    assert chance is not None and chance["score"] == pytest.approx(0.7) and chance["majority_answer"] == "yes"
    other = dict(golds, **{"t:0": "no"})
    bad = _eval_with_predictions(tmp_path / "b", 32, 0.5, other)
    with pytest.raises(DataeffError, match="test rows differ"):
        chance_of_evals([*evals, bad], "accuracy")
    lone = tmp_path / "lone.json"
    lone.write_text("{}")
    assert chance_of_evals([str(lone)], "accuracy") is None


def test_floor_removes_the_credit_for_learning_only_the_answer_format():
    # Zero-shot 0 (answers in sentences), then the majority share of a balanced binary task.
    fmt_only = {0: 0.0, 16: 0.5, 32: 0.52, 64: 0.5, 128: 0.51, 256: 0.5}
    paper = compute_curve(fmt_only, 1.0, GRID)
    floored = compute_curve(fmt_only, 1.0, GRID, floor=0.5)
    assert paper.auc > 0.35  # the paper's rule credits the format jump (from 0 to 0.5)
    # Above the floor only 0.52 - 0.5 = 0.02 of the 0.5 gap remains: y = 0 up to budget 16
    # (x = 4/8), then 0.04 from budget 32 (x = 5/8) to 256 (x = 1), running maximum.
    expected = (5 / 8 - 4 / 8) * (0 + 0.04) / 2 + (1 - 5 / 8) * 0.04
    assert floored.auc == pytest.approx(expected, abs=1e-12)
    assert floored.min_acc == 0.5 and floored.floor == 0.5 and floored.zero_shot == 0.0
    # A zero-shot point above the floor keeps the paper's rule exactly.
    learns = {0: 0.6, 16: 0.7, 32: 0.8, 64: 0.9, 128: 1.0, 256: 1.0}
    assert compute_curve(learns, 1.0, GRID, floor=0.5).auc == compute_curve(learns, 1.0, GRID).auc
    # Points below the floor count as 0, never negative.
    below = compute_curve({0: 0.0, 16: 0.3, 32: 0.4, 64: 0.6, 128: 0.8, 256: 1.0}, 1.0, GRID, floor=0.5)
    assert min(below.y) == 0.0 and below.y[1] == 0.0 and below.y[3] == pytest.approx(0.2)


def _auc_args(tmp_path, results_dir) -> list[str]:
    """``dataeff auc`` on the aggregated curve of task ``t`` (ceiling 1.0) on the test grid."""
    ceilings = tmp_path / "c.json"
    ceilings.write_text(json.dumps({"t": {"score": 1.0}}))
    return ["auc", "--results", str(results_dir), "--family", "fam", "--ceilings", str(ceilings)] + [
        "--grid",
        "16,32,64,128,256",
    ]


def test_aggregate_records_chance_and_auc_applies_the_floor(tmp_path, capsys):
    golds = {f"t:{i}": ("plausible" if i % 2 else "implausible") for i in range(10)}
    accs = {0: 0.0, 16: 0.5, 32: 0.6, 64: 0.5, 128: 0.5, 256: 0.5}
    evals = [_eval_with_predictions(tmp_path, b, a, golds) for b, a in accs.items()]
    out_dir = tmp_path / "agg"
    assert main(["aggregate", "--family", "fam", "--evals", *evals, "--out-dir", str(out_dir)]) == 0
    result = json.loads((out_dir / "fam_t_full_result_v2.json").read_text())
    assert result["chance"]["score"] == pytest.approx(0.5) and result["chance"]["n_test"] == 10
    base = _auc_args(tmp_path, out_dir)
    for rule, floor in (("zero_shot", None), ("majority", 0.5)):
        out = tmp_path / f"{rule}.json"
        assert main([*base, "--floor", rule, "--out", str(out)]) == 0
        rec = json.loads(out.read_text())["t"]
        assert rec["auc"] == pytest.approx(compute_curve(accs, 1.0, GRID, floor=floor).auc, abs=1e-12)
        assert rec["floor"] == floor and rec["floor_rule"] == rule
    # A curve file without the majority score (the paper's published ones): one line, the fix.
    del result["chance"]
    (out_dir / "fam_t_full_result_v2.json").write_text(json.dumps(result))
    capsys.readouterr()
    rc = main([*base, "--floor", "majority", "--out", str(tmp_path / "x.json")])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "fam_t_full_result_v2.json" in err and "chance" in err and "analysis.floor: zero_shot" in err
    assert not (tmp_path / "x.json").exists()


# --------------------------------------------------------------------------- the fair floor


def test_options_are_counted_from_both_layouts_the_project_writes():
    """The BIG-bench JSON layout (``OPTIONS - a | b | c``, written with the task loader's own
    separator) and the lettered lines of registry tasks (written by ``format_options``)."""
    from types import SimpleNamespace

    from dataeff.inference.evaluate import options_in_prompt
    from dataeff.tasks.bigbench import OPTION_SEPARATOR
    from dataeff.tasks.prepare import format_options

    body = f"QUESTION - Alice swaps balls with Bob. [SEP] OPTIONS - {OPTION_SEPARATOR.join(['red', 'blue', 'pink'])}"
    assert options_in_prompt(f"Track the objects. Reply with one of the options.\n\n{body}") == 3
    assert options_in_prompt("OPTIONS - plausible | implausible") == 2
    lettered = format_options(SimpleNamespace(options_fields=("a", "b", "c", "d")), dict(a="w", b="x", c="y", d="z"))
    assert options_in_prompt(f"Which one?\n{lettered}") == 4
    # no options, or letters that do not run on from A: no guess is credited
    assert options_in_prompt("Give the past tense of 'weep'.") is None
    assert options_in_prompt("(B) late\n(C) later") is None
    assert options_in_prompt("(A) one\n(C) three") == 1


def test_options_guess_is_the_mean_of_one_over_k():
    from dataeff.efficiency.chance import options_guess_score

    assert options_guess_score([3, 3, 3]) == pytest.approx(1 / 3)
    assert options_guess_score([2, 4, None, None]) == pytest.approx((0.5 + 0.25) / 4)
    with pytest.raises(DataeffError):
        options_guess_score([3, 0])


def _eval_with_options(root: Path, budget: int, acc: float, golds: dict[str, str], k: int | None) -> str:
    path = _eval_with_predictions(root, budget, acc, golds)
    pred = Path(path).with_name(f"n{budget}.predictions.jsonl")
    rows = [json.loads(line) | {"n_options": k} for line in pred.read_text().splitlines()]
    pred.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_fair_floor_is_the_guess_where_every_answer_is_different(tmp_path):
    """tracking_shuffled_objects-like: every gold answer differs (M = 0.1) but each example lists
    three options, so a uniform guess scores 1/3; a binary task keeps its majority share."""
    golds = {f"t:{i}": f"object{i}" for i in range(10)}
    chance = chance_of_evals([_eval_with_options(tmp_path, b, 0.3, golds, 3) for b in (0, 16)], "accuracy")
    assert chance["score"] == pytest.approx(0.1)
    assert chance["options_guess"] == pytest.approx(1 / 3) and chance["fair_score"] == pytest.approx(1 / 3)
    assert "recorded by the evaluation" in chance["options_source"]
    binary = {f"t:{i}": ("yes" if i < 6 else "no") for i in range(10)}
    chance = chance_of_evals([_eval_with_options(tmp_path / "b", 0, 0.0, binary, 2)], "accuracy")
    assert chance["options_guess"] == 0.5 and chance["fair_score"] == pytest.approx(0.6)
    # evaluations without n_options: the guess is unknown, unless the counts come another way
    old = [_eval_with_predictions(tmp_path / "old", 0, 0.0, golds)]
    assert chance_of_evals(old, "accuracy")["fair_score"] is None
    given = chance_of_evals(old, "accuracy", {i: 4 for i in golds}, "the task's format")
    assert given["fair_score"] == pytest.approx(0.25) and given["options_source"] == "the task's format"


def test_auc_under_the_fair_floor_and_a_file_without_it(tmp_path, capsys):
    golds = {f"t:{i}": f"object{i}" for i in range(12)}
    accs = {0: 0.0, 16: 0.25, 32: 0.3333, 64: 0.5, 128: 0.5, 256: 0.75}
    evals = [_eval_with_options(tmp_path, b, a, golds, 3) for b, a in accs.items()]
    out_dir = tmp_path / "agg"
    assert main(["aggregate", "--family", "fam", "--evals", *evals, "--out-dir", str(out_dir)]) == 0
    base = _auc_args(tmp_path, out_dir)
    for rule, floor in (("majority", 1 / 12), ("fair", 1 / 3)):
        out = tmp_path / f"{rule}.json"
        assert main([*base, "--floor", rule, "--out", str(out)]) == 0
        rec = json.loads(out.read_text())["t"]
        assert rec["floor"] == pytest.approx(floor)
        assert rec["auc"] == pytest.approx(compute_curve(accs, 1.0, GRID, floor=floor).auc, abs=1e-12)
        # efficiency.json keeps the floor's parts beside the floor it used
        assert rec["chance"]["score"] == pytest.approx(1 / 12) and rec["chance"]["options_guess"] == pytest.approx(
            1 / 3
        )
    # below the guess, 0.25 at budget 16 is no progress under the fair floor
    assert json.loads((tmp_path / "fair.json").read_text())["t"]["curve"]["y"][1] == 0.0
    # a curve file whose evaluations did not record the options: one line saying so
    result_path = out_dir / "fam_t_full_result_v2.json"
    result = json.loads(result_path.read_text())
    result["chance"]["fair_score"] = None
    result_path.write_text(json.dumps(result))
    capsys.readouterr()
    assert main([*base, "--floor", "fair", "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "fair_score" in err and "analysis.floor: majority" in err
