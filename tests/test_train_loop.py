"""The training loop's batch arithmetic: every layout (shared prefix, packed rows, sparse
embedding lookup) gives the loss and gradients of plain padded batches."""

from __future__ import annotations

import pytest

from _coslow_helpers import labeled_rows


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    import torch

    from dataeff.modeling.loading import load_model

    torch.set_num_threads(2)
    return load_model(tiny_model_dir)


def _loss_and_grads(model, batch, layout):
    from dataeff.training.finetune import answer_loss_sum

    model.zero_grad(set_to_none=True)
    loss, n = answer_loss_sum(model, batch, "cpu", layout)
    loss.backward()
    grads = {k: p.grad.detach().clone() for k, p in model.named_parameters() if p.grad is not None}
    assert not any(g.is_sparse for g in grads.values())  # what AdamW (fused) takes
    return float(loss.detach()), n, grads


PLAIN = dict(share_prefix=False)
LAYOUTS = {
    "shared prefix": dict(share_prefix=True),
    "packed": dict(share_prefix=True, pair_cost=0.0),
    "packed, sparse lookup": dict(share_prefix=True, pair_cost=0.0, sparse_embedding=True),
    "padded, sparse lookup": dict(share_prefix=True, sparse_embedding=True),
}


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_every_layout_gives_the_loss_and_gradients_of_plain_padding(tiny, name):
    from dataeff.training.finetune import Layout, collate, tokenize_rows

    model, tok, _ = tiny
    model.train()
    examples = tokenize_rows(tok, labeled_rows(5), 256, "rows")
    layout, plain = Layout(**LAYOUTS[name]), Layout(**PLAIN)
    fast, full = collate(examples, tok.pad_token_id, layout), collate(examples, tok.pad_token_id, plain)
    assert fast.packed == (layout.pair_cost is not None) and not full.packed and full.prefix is None
    loss_s, n_s, g_s = _loss_and_grads(model, fast, layout)
    loss_f, n_f, g_f = _loss_and_grads(model, full, plain)
    assert n_s == n_f == sum(len(e.completion) for e in examples)
    assert loss_s == pytest.approx(loss_f, rel=1e-5)
    assert g_s.keys() == g_f.keys() and len(g_s) > 0
    for k in g_f:
        scale = float(g_f[k].abs().max()) + 1e-12
        assert float((g_s[k] - g_f[k]).abs().max()) / scale < 1e-4, k


def test_packing_is_chosen_only_when_it_costs_less(tiny):
    from dataeff.training.finetune import Example, Layout, collate

    _, tok, _ = tiny
    pre = list(range(100, 130))  # a 30-token shared prefix
    uneven = [Example(pre + [5] * n, [7, 8]) for n in (3, 40, 8, 60)]
    even = [Example(pre + [i] + [5] * 60, [7, 8]) for i in range(4)]
    layout = Layout(pair_cost=2e-3)
    assert collate(uneven, tok.pad_token_id, layout).packed  # much padding saved, short rows
    assert not collate(even, tok.pad_token_id, layout).packed  # nothing to save, bigger attention
    assert not collate(uneven, tok.pad_token_id, Layout()).packed  # no pair cost: never


def test_layout_for_a_tied_sdpa_model_packs_and_uses_the_sparse_lookup(tiny):
    from dataeff.training.finetune import layout_for

    model, _, _ = tiny
    layout = layout_for(model)
    assert layout.share_prefix and layout.pair_cost is not None and layout.pair_cost > 0
    assert layout.sparse_embedding == (model.get_output_embeddings().weight is model.get_input_embeddings().weight)
    assert layout_for(model, num_processes=2).share_prefix is False


def test_collate_targets_line_up_with_the_answer(tiny):
    from dataeff.training.finetune import IGNORE, Layout, collate, tokenize_rows

    _, tok, _ = tiny
    examples = tokenize_rows(tok, labeled_rows(3), 256, "rows")
    b = collate(examples, tok.pad_token_id)
    shared = b.prefix.shape[1]
    for i, e in enumerate(examples):
        row = b.ids[i][b.mask[i, shared:].bool()].tolist()
        assert b.prefix[0].tolist() + row == e.prompt + e.completion
        assert [t for t in b.targets[i].tolist() if t != IGNORE] == e.completion
        assert b.positions[i, -1] == e.length - 1
        assert b.ids[i, b.keep[-1] + 1] == e.completion[-1]  # the last kept logit predicts the last token
    p = collate(examples, tok.pad_token_id, Layout(pair_cost=0.0))
    assert p.targets[0].tolist() == [t for e in examples for t in e.completion]
    assert p.ids[0, p.keep + 1].tolist() == p.targets[0].tolist()  # each kept logit predicts its target
    assert p.mask.shape[-1] == p.ids.shape[1] == shared + sum(e.length - shared for e in examples)
