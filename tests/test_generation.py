"""Batched greedy decoding equals one-at-a-time decoding (and transformers' own greedy generate)."""

from __future__ import annotations

import pytest

from _coslow_helpers import labeled_rows
from dataeff.inference.generation import cut_at_newline, greedy_generate
from dataeff.modeling.chat import prompt_ids


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    import torch

    from dataeff.modeling.loading import load_model

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


def test_shared_prefix_changes_nothing(tiny):
    """Running the prompts' common prefix once (the default) gives what full prompts give."""
    from dataeff.inference.prefix import MIN_SHARED, shared_prefix_len

    model, tok, _ = tiny
    prompts = [prompt_ids(tok, r["prompt"]) for r in labeled_rows(6)]
    assert shared_prefix_len(prompts) >= MIN_SHARED  # the chat template's system turn at least
    shared = greedy_generate(model, tok, prompts, max_new_tokens=8, batch_size=6, return_scores=True)
    full = greedy_generate(model, tok, prompts, max_new_tokens=8, batch_size=6, return_scores=True, share_prefix=False)
    for a, b in zip(shared, full, strict=True):
        assert a.token_ids == b.token_ids and a.text == b.text
        assert a.top_probs == pytest.approx(b.top_probs, abs=1e-5)


def test_shared_prefix_len_rules():
    from dataeff.inference.prefix import shared_prefix_len

    common = list(range(100, 112))
    assert shared_prefix_len([common + [1, 2], common + [3]]) == 12
    assert shared_prefix_len([common + [1, 2]]) == 0  # one row: nothing to share
    assert shared_prefix_len([common, common]) == 11  # every row keeps at least one token
    assert shared_prefix_len([common[:5] + [1], common[:5] + [2]]) == 0  # too short to pay off


def test_prefill_chunks_cover_the_rows_at_least_cost():
    from dataeff.inference.generation import prefill_chunks

    def cost(chunks, widths, floor=384, fixed=32):
        return sum(max((b - a) * widths[a], floor) + fixed for a, b in chunks)

    for widths in ([300, 10, 10, 10], [60] * 20, list(range(120, 20, -5)), [5]):
        chunks = prefill_chunks(widths)
        assert chunks[0][0] == 0 and chunks[-1][1] == len(widths)
        assert all(a < b for a, b in chunks) and all(x[1] == y[0] for x, y in zip(chunks, chunks[1:], strict=False))
        assert cost(chunks, widths) <= cost([(0, len(widths))], widths)  # no worse than one chunk
        assert cost(chunks, widths) <= cost([(i, i + 1) for i in range(len(widths))], widths)
    assert prefill_chunks([300, 10, 10, 10]) == [(0, 1), (1, 4)]  # the long row is not padded onto short ones


def test_chunked_prefill_and_dropped_finished_rows_change_nothing(tiny, monkeypatch):
    """Prompts run in several prefill chunks whose caches are merged, and half the rows stop
    early (so they are dropped from the batch): every row still gets what it gets alone."""
    import dataeff.inference.generation as gen

    model, tok, _ = tiny
    prompts = [prompt_ids(tok, r["prompt"] + " and more" * (3 * i)) for i, r in enumerate(labeled_rows(8))]
    free = greedy_generate(model, tok, prompts, max_new_tokens=8, batch_size=8, stop_ids=[])
    stops = sorted({free[i].token_ids[1] for i in range(0, 8, 2)})
    monkeypatch.setattr(gen, "PREFILL_MIN_TOKENS", 1)
    assert len(gen.prefill_chunks(sorted((len(p) for p in prompts), reverse=True), 1)) > 2
    batched = greedy_generate(model, tok, prompts, max_new_tokens=8, batch_size=8, stop_ids=stops, return_scores=True)
    assert sum(b.finish == "stop" for b in batched) >= 4
    for p, b in zip(prompts, batched, strict=True):
        one = greedy_generate(model, tok, [p], max_new_tokens=8, batch_size=1, stop_ids=stops, return_scores=True)[0]
        assert b.token_ids == one.token_ids and b.finish == one.finish
        assert b.top_probs == pytest.approx(one.top_probs, abs=1e-5)
