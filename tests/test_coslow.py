"""CoS-Low: properties of the value, the fast path against the plain reference, the commands."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import pytest

from _coslow_helpers import labeled_rows, write_config
from dataeff.cli import main
from dataeff.coslow.gradients import coslow_from_rows, pairwise_cosines
from dataeff.coslow.stage import summarize_predictors

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from coslow_reference import reference_coslow  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    import torch

    from dataeff.modeling.loading import load_model

    torch.set_num_threads(2)
    return load_model(tiny_model_dir)


def test_identical_examples_give_one(tiny):
    model, tok, _ = tiny
    row = labeled_rows(1)[0]
    res = coslow_from_rows(model, tok, [row] * 4, seed=0)
    assert res["value"] == pytest.approx(1.0, abs=1e-6)


def test_value_symmetric_bounded_and_seeded(tiny):
    import torch

    model, tok, _ = tiny
    rows = labeled_rows(6)
    a = coslow_from_rows(model, tok, rows, seed=1)
    b = coslow_from_rows(model, tok, rows, seed=1)
    c = coslow_from_rows(model, tok, rows, seed=2)
    rev = coslow_from_rows(model, tok, rows[::-1], seed=1)
    assert a["value"] == b["value"] and a["value"] != c["value"]
    # Reversing the rows reorders float32 sums in the Gram accumulation: the value may move by a
    # few float32 ulps (eps 1.2e-7; 2e-8 measured on an AMD EPYC), never by the 1e-3 a wrong pairing gives.
    assert rev["value"] == pytest.approx(a["value"], abs=1e-6)
    assert -1 <= a["cosine_quartiles"]["min"] <= a["value"] <= a["cosine_quartiles"]["max"] <= 1
    assert a["n_pairs"] == 15 and a["k"] == 6
    # every pair's cosine is recorded (5 decimals) and CoS-Low is their median
    assert len(a["pair_cosines"]) == 15 and statistics.median(a["pair_cosines"]) == pytest.approx(a["value"], abs=1e-5)
    g = torch.randn(5, 7, dtype=torch.float64)
    cos = pairwise_cosines(g @ g.T)
    assert all(-1 <= x <= 1 for x in cos) and len(cos) == 10


@pytest.mark.parametrize("kwargs", [{}, {"batch_size": 3}, {"checkpointing": True}])
def test_fast_path_equals_reference(tiny, kwargs):
    model, tok, _ = tiny
    rows = labeled_rows(7)
    fast = coslow_from_rows(model, tok, rows, seed=3, **kwargs)
    ref = reference_coslow(model, tok, rows, seed=3)
    assert fast["value"] == pytest.approx(ref["value"], abs=1e-4)
    assert fast["grad_norms"] == pytest.approx(ref["grad_norms"], rel=1e-4)
    assert not any("lora" in n for n, _ in model.named_parameters())  # model left unwrapped


@pytest.mark.parametrize("batch_size", [1, 3, 4])
def test_micro_batches_give_the_one_batch_gram_matrix(tiny, batch_size):
    """The gradient pass in micro-batches (the pipeline's coslow.grad_batch_size) against all k
    examples in one batch: the same per-example gradients (Gram matrix, whose diagonal is their
    squared norms and off-diagonal their inner products) and the same CoS-Low, to float32
    tolerance. Measured on this tiny model (9 examples, batches 1/2/4/8): Gram entries within
    2.3e-6 of the largest squared norm, squared norms within 5.8e-6 relative, pair cosines within
    1.4e-6, CoS-Low within 5.2e-7 (different padding widths reorder float32 sums)."""
    import torch

    from dataeff.coslow.gradients import encode_examples, lora_gram, lora_projections
    from dataeff.modeling.lora import lora_settings

    model, tok, _ = tiny
    examples = encode_examples(tok, labeled_rows(9))
    projections = lora_projections(model, 3, lora_settings(None))
    one = lora_gram(model, examples, projections)
    micro = lora_gram(model, examples, projections, batch_size=batch_size)
    assert micro.dtype == torch.float64 and micro.shape == one.shape == (9, 9)
    assert float((micro - one).abs().max() / one.diagonal().max()) < 1e-5
    assert torch.allclose(micro.diagonal(), one.diagonal(), rtol=2e-5, atol=0)
    cos_one, cos_micro = pairwise_cosines(one), pairwise_cosines(micro)
    assert max(abs(a - b) for a, b in zip(cos_one, cos_micro, strict=True)) < 1e-5
    assert statistics.median(cos_micro) == pytest.approx(statistics.median(cos_one), abs=1e-5)


def test_prompts_are_cut_to_the_cap_from_the_left(tiny):
    """coslow.max_seq_len bounds every example (what the preflight plans for): a longer prompt
    keeps its last tokens, as a training prompt is cut, the answer is kept whole, and the result
    records the pass it ran."""
    from dataeff.core.errors import DataeffError
    from dataeff.coslow.gradients import encode_capped, gradient_stats

    model, tok, _ = tiny
    rows = labeled_rows(4)
    full, cut = encode_capped(tok, rows)
    assert cut == 0
    cap = min(len(t) for t, _ in full) - 2
    capped, cut = encode_capped(tok, rows, max_seq_len=cap)
    assert cut == 4
    for (toks, n_prompt), (orig, orig_prompt) in zip(capped, full, strict=True):
        assert len(toks) == cap and toks[n_prompt:] == orig[orig_prompt:]  # the answer is whole
        assert toks[:n_prompt] == orig[:orig_prompt][-n_prompt:]  # the prompt's last tokens
    with pytest.raises(DataeffError, match="coslow.max_seq_len"):
        encode_capped(tok, [{"prompt": "p", "answer": "a long answer " * 4}], max_seq_len=3)
    res = gradient_stats(model, tok, rows, seed=0, batch_size=3, max_seq_len=cap)
    assert res["gradient_pass"] == {"micro_batch": 3, "max_seq_len": cap, "prompts_cut": 4, "longest_tokens": cap}
    default = gradient_stats(model, tok, rows, seed=0)["gradient_pass"]
    assert (default["micro_batch"], default["max_seq_len"]) == (4, 2048)  # schema: min(8, k), 2048


def _write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_coslow_command(tiny_model_dir, tmp_path, monkeypatch):
    cfg = write_config(tmp_path / "c.yaml", str(tiny_model_dir))
    ann = _write_rows(tmp_path / "a.jsonl", labeled_rows(5))
    out = tmp_path / "coslow.json"
    rc = main(
        [
            "coslow",
            "--model",
            str(tiny_model_dir),
            "--annotated",
            str(ann),
            "--seed",
            "4",
            "--out",
            str(out),
            "--config",
            str(cfg),
        ]
    )
    assert rc == 0
    res = json.loads(out.read_text())
    assert res["k"] == 5 and res["seed"] == 4 and res["lora"]["r"] == 64 and res["lora"]["alpha"] == 32
    assert set(res["cosine_quartiles"]) == {"min", "q1", "median", "q3", "max"} and "provenance" in res


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"prompt": "a", "answer": "b"}, {"prompt": "c"}], "line 2: answer is missing"),
        ([{"prompt": "a", "answer": "b"}, {"prompt": "c", "answer": "  "}], "line 2: answer is empty"),
        ([{"prompt": "a", "answer": "b"}], "at least 2"),
        (
            [{"prompt": "a", "answer": "b"}, {"prompt": "word " * 600, "answer": "x"}],
            "longer than the model's context",
        ),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tiny_model_dir, tmp_path, monkeypatch, capsys, rows, message):
    cfg = write_config(tmp_path / "c.yaml", str(tiny_model_dir))
    ann = _write_rows(tmp_path / "a.jsonl", rows)
    out = tmp_path / "res" / "coslow.json"
    rc = main(
        [
            "coslow",
            "--model",
            str(tiny_model_dir),
            "--annotated",
            str(ann),
            "--seed",
            "0",
            "--out",
            str(out),
            "--config",
            str(cfg),
        ]
    )
    err = capsys.readouterr().err.strip()
    lines = [ln for ln in err.splitlines() if ln.startswith("dataeff:")]  # drop weight-loading progress bars
    assert rc == 2 and message in lines[0] and len(lines) == 1 and "Traceback" not in err
    assert not (tmp_path / "res").exists()


def test_unknown_model_is_one_line(tmp_path, monkeypatch, capsys, tiny_model_dir):
    cfg = write_config(tmp_path / "c.yaml", str(tiny_model_dir))
    ann = _write_rows(tmp_path / "a.jsonl", labeled_rows(3))
    rc = main(
        [
            "coslow",
            "--model",
            "no_such_model",
            "--annotated",
            str(ann),
            "--seed",
            "0",
            "--out",
            str(tmp_path / "o.json"),
            "--config",
            str(cfg),
        ]
    )
    err = capsys.readouterr().err.strip()
    lines = [ln for ln in err.splitlines() if ln.startswith("dataeff:")]
    assert rc == 2 and "unknown model" in lines[0] and len(lines) == 1 and "Traceback" not in err
    assert not (tmp_path / "o.json").exists()


def test_coslow_task_and_summary(tiny_model_dir, tmp_path, monkeypatch):
    from dataeff.core.settings import family_settings
    from dataeff.modeling.loading import prepare_model

    monkeypatch.chdir(tmp_path)
    prepare_model(family_settings({"model": str(tiny_model_dir)}), tmp_path / "results" / "models" / "tiny")
    cfg = write_config(tmp_path / "c.yaml", str(tiny_model_dir))
    _write_rows(
        Path(tmp_path / "data" / "tasks" / "toy").mkdir(parents=True)
        or tmp_path / "data" / "tasks" / "toy" / "train.jsonl",
        labeled_rows(30),
    )
    scores = tmp_path / "results/tiny/toy/coslow/confidence.json"
    model_json = tmp_path / "results" / "models" / "tiny" / "model.json"
    train = tmp_path / "data" / "tasks" / "toy" / "train.jsonl"
    monkeypatch.chdir(tmp_path.parent)  # the declared inputs are passed: nothing is searched for
    base = [
        "coslow-task",
        "--config",
        str(cfg),
        "--family",
        "tiny",
        "--task",
        "toy",
        "--train",
        str(train),
        "--model",
        str(model_json),
    ]
    assert main([*base, "--score", "--out", str(scores)]) == 0
    scored = json.loads(scores.read_text())
    assert len(scored["scores"]) == 20 and scored["pool_seed"] == 123
    outs, chosen = [], []
    for seed in (0, 1):
        out = tmp_path / f"results/tiny/toy/coslow/seed{seed}.json"
        assert main([*base, "--seed", str(seed), "--scores", str(scores), "--out", str(out)]) == 0
        res = json.loads(out.read_text())
        assert {"coslow", "cos_sim_k", "grad_norm_k", "conf_avg_k"} <= set(res) and res["pool_size"] == 20
        assert res["seed"] == seed and -1 <= res["coslow"] <= 1
        assert sum(res["answer_counts"].values()) == res["k"] and 0 < res["majority_label_share"] <= 1
        pairs = res["coslow_details"]["pair_cosines"]
        assert len(pairs) == res["k"] * (res["k"] - 1) // 2
        assert statistics.median(pairs) == pytest.approx(res["coslow"], abs=1e-5)
        outs.append(str(out))
        chosen.append(res["random_ids"])
    assert chosen[0] != chosen[1]  # seeds draw different random baseline examples
    table_path = tmp_path / "results/tiny/predictors.tsv"
    assert main(["coslow-task", "--summarize", "--family", "tiny", "--inputs", *outs, "--out", str(table_path)]) == 0
    header, row = table_path.read_text().splitlines()
    assert header.split("\t") == [
        "task",
        "coslow_mean",
        "coslow_std",
        "cos_sim_k_mean",
        "cos_sim_k_std",
        "grad_norm_k_mean",
        "grad_norm_k_std",
        "conf_avg_k_mean",
        "conf_avg_k_std",
        "n_seeds",
    ]
    assert row.split("\t")[0] == "toy" and row.split("\t")[-1] == "2"
    assert summarize_predictors(outs, str(tmp_path / "t2.tsv"))[0]["n_seeds"] == 2


@pytest.mark.slow
def test_smollm2_end_to_end(smollm2_dir):
    import torch

    from dataeff.modeling.loading import load_model

    torch.set_num_threads(2)
    model, tok, _ = load_model(smollm2_dir)
    rows = labeled_rows(4)
    fast = coslow_from_rows(model, tok, rows, seed=0)
    ref = reference_coslow(model, tok, rows, seed=0)
    assert -1 <= fast["value"] <= 1 and fast["mean_grad_norm"] > 0
    assert fast["value"] == pytest.approx(ref["value"], abs=1e-4)


def test_label_balance_counts_normalised_answers():
    from dataeff.coslow.stage import label_balance

    rows = [{"answer": "Yes."}, {"answer": "yes"}, {"answer": "No"}, {"answer": " yes "}]
    bal = label_balance(rows)
    assert bal["answer_counts"] == {"no": 1, "yes": 3}
    assert bal["majority_label_share"] == 0.75
