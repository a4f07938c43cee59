"""Batched greedy decoding equals one-at-a-time decoding (and transformers' own greedy generate)."""

from __future__ import annotations

import pytest

from _coslow_helpers import labeled_rows
from dataeff.chat import prompt_ids
from dataeff.generation import cut_at_newline, greedy_generate


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    import torch

    from dataeff.models import load_model

    torch.set_num_threads(2)
    return load_model(tiny_model_dir)


def test_batched_equals_one_at_a_time(tiny):
    model, tok, _ = tiny
    prompts = [prompt_ids(tok, r["prompt"]) for r in labeled_rows(7)]
    batched = greedy_generate(model, tok, prompts, max_new_tokens=8, batch_size=4, return_scores=True)
    for p, b in zip(prompts, batched, strict=True):
        one = greedy_generate(model, tok, [p], max_new_tokens=8, batch_size=1, return_scores=True)[0]
        assert b.token_ids == one.token_ids and b.text == one.text
        assert b.top_probs == pytest.approx(one.top_probs, abs=1e-5)
        assert all(0 < q <= 1 for q in b.top_probs)


def test_matches_transformers_greedy_generate(tiny):
    import torch

    model, tok, _ = tiny
    p = prompt_ids(tok, labeled_rows(1)[0]["prompt"])
    ours = greedy_generate(model, tok, [p], max_new_tokens=6, stop_ids=[])[0]
    ref = model.generate(torch.tensor([p]), max_new_tokens=6, do_sample=False, pad_token_id=tok.pad_token_id)
    assert ours.token_ids == ref[0, len(p) :].tolist() and ours.top_probs is None


def test_stop_ids_end_generation(tiny):
    model, tok, _ = tiny
    p = prompt_ids(tok, "hello")
    first = greedy_generate(model, tok, [p], max_new_tokens=5, stop_ids=[])[0].token_ids
    stopped = greedy_generate(model, tok, [p], max_new_tokens=5, stop_ids=[first[1]])[0]
    cut = first.index(first[1])
    assert stopped.token_ids == first[: cut + 1] and stopped.finish == "stop"


def test_cut_at_newline():
    assert cut_at_newline("\n  yes\nno") == "\n  yes"
    assert cut_at_newline("yes") == "yes"
