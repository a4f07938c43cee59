"""Selection of the low-confidence examples: the pure function, then the command on a tiny model."""

from __future__ import annotations

import json
import math

import pytest

from _coslow_helpers import labeled_rows, write_config
from dataeff.cli import main
from dataeff.core.errors import DataeffError
from dataeff.coslow.selection import (
    low_confidence_indices,
    required_pool_size,
    select_low_confidence,
    sidecar_paths,
)


def test_bottom_decile_holds_the_least_confident():
    import random

    rng = random.Random(1)
    scores = [rng.random() for _ in range(200)]
    low = low_confidence_indices(scores, 0.1)
    assert len(low) == 20
    cutoff = max(scores[i] for i in low)
    assert all(scores[i] > cutoff for i in range(200) if i not in low)
    assert [scores[i] for i in low] == sorted(scores)[:20]


def test_nan_scores_are_never_low_and_ties_keep_order():
    scores = [float("nan"), 0.5, 0.1, 0.1, 0.9] * 2
    low = low_confidence_indices(scores, 0.5)
    assert low == [2, 3, 7, 8, 1]
    assert not any(math.isnan(scores[i]) for i in low)


def test_sample_is_seeded_without_replacement_from_the_low_segment():
    scores = list(range(400, 0, -1))  # index 399 is least confident
    a, low = select_low_confidence(scores, 32, seed=5)
    b, _ = select_low_confidence(scores, 32, seed=5)
    c, _ = select_low_confidence(scores, 32, seed=6)
    assert a == b and a != c
    assert len(set(a)) == 32 and set(a) <= set(low) and len(low) == 40


def test_pool_too_small_names_the_needed_size():
    assert required_pool_size(32, 0.1) == 320
    with pytest.raises(DataeffError, match="give at least 320 prompts"):
        select_low_confidence([0.5] * 319, 32, seed=0)
    select_low_confidence([0.5] * 320, 32, seed=0)


def test_select_command_on_tiny_model(tiny_model_dir, tmp_path, monkeypatch):
    cfg = write_config(tmp_path / "c.yaml", str(tiny_model_dir))
    prompts = tmp_path / "p.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": r["prompt"]}) + "\n" for r in labeled_rows(40)))
    out = tmp_path / "to_annotate.jsonl"
    rc = main(
        [
            "select",
            "--model",
            str(tiny_model_dir),
            "--prompts",
            str(prompts),
            "--k",
            "3",
            "--seed",
            "1",
            "--out",
            str(out),
            "--max-new-tokens",
            "5",
            "--config",
            str(cfg),
        ]
    )
    assert rc == 0
    chosen = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(chosen) == 3 and all(r["answer"] == "" and r["id"] for r in chosen)
    conf_path, record_path = sidecar_paths(out)
    confs = [json.loads(line) for line in conf_path.read_text().splitlines()]
    record = json.loads(record_path.read_text())
    assert len(confs) == 40 and sum(c["in_low"] for c in confs) == 4
    assert record["k"] == 3 and record["seed"] == 1 and record["selected_ids"] == [r["id"] for r in chosen]
    low = [c["confidence"] for c in confs if c["in_low"]]
    assert max(low) <= min(c["confidence"] for c in confs if not c["in_low"])
    assert all(0 < c["confidence"] <= 1 for c in confs)


def test_select_pool_too_small_is_one_line_and_writes_nothing(tiny_model_dir, tmp_path, monkeypatch, capsys):
    cfg = write_config(tmp_path / "c.yaml", str(tiny_model_dir))
    prompts = tmp_path / "p.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": r["prompt"]}) + "\n" for r in labeled_rows(20)))
    out = tmp_path / "sel.jsonl"
    rc = main(
        [
            "select",
            "--model",
            str(tiny_model_dir),
            "--prompts",
            str(prompts),
            "--k",
            "32",
            "--seed",
            "0",
            "--out",
            str(out),
            "--config",
            str(cfg),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "320" in err and len(err.strip().splitlines()) == 1
    assert not any(p.name.startswith("sel") for p in tmp_path.iterdir())


# --------------------------------------------------------------------------- prompts files and progress


def test_read_prompts_jsonl_and_csv_with_a_named_field(tmp_path):
    import csv

    from dataeff.coslow.selection import read_prompts

    j = tmp_path / "p.jsonl"
    j.write_text(json.dumps({"text": "a?", "id": 7}) + "\n" + json.dumps({"text": "b?", "system": "Be brief."}) + "\n")
    rows = read_prompts(str(j), "text")
    assert [r["prompt"] for r in rows] == ["a?", "b?"] and rows[1]["system"] == "Be brief." and "text" not in rows[0]
    c = tmp_path / "p.csv"
    with open(c, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["question", "system"])
        w.writerows([['Is it, "quoted"?\nSecond line.', ""], ["Plain?", "Sys"]])
    rows = read_prompts(str(c), "question")
    assert rows[0]["prompt"] == 'Is it, "quoted"?\nSecond line.' and rows[0]["system"] is None
    assert rows[1]["system"] == "Sys" and rows[1]["_line"] == 4  # the header is line 1, a quoted newline spans 2-3
    with pytest.raises(DataeffError) as err:
        read_prompts(str(c), "prompt")
    msg = str(err.value)
    assert msg.startswith(str(c)) and "line 2" in msg and "'prompt' is missing" in msg and "--prompt-field" in msg
    assert "fields: question, system" in msg and "\n" not in msg


def test_most_common_share_normalizes_like_evaluation():
    from dataeff.coslow.selection import most_common_share

    top = most_common_share(["True.", "true", " TRUE \nbecause", "False", ""])
    assert top == {"answer": "true", "count": 3, "share": 0.6, "n": 5, "distinct": 3}


def test_confidence_pass_with_progress_gives_the_same_scores(tiny_model_dir):
    from dataeff.inference.confidence import confidence_pass
    from dataeff.modeling.loading import load_model

    model, tok, _ = load_model(tiny_model_dir)
    rows = [{"prompt": r["prompt"]} for r in labeled_rows(11)]
    plain = confidence_pass(model, tok, rows, max_new_tokens=4, batch_size=4)
    seen = []
    stepped = confidence_pass(
        model, tok, rows, max_new_tokens=4, batch_size=4, on_progress=lambda done, total: seen.append((done, total))
    )
    assert stepped == plain
    assert seen == [(0, 11), (4, 11), (8, 11), (11, 11)]
