"""The training loop's batch arithmetic: shared-prefix batches give the same loss and gradients."""

from __future__ import annotations

import pytest

from _coslow_helpers import labeled_rows


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    import torch

    from dataeff.models import load_model

    torch.set_num_threads(2)
    return load_model(tiny_model_dir)


def _loss_and_grads(model, batch):
    from dataeff.train import answer_loss_sum

    model.zero_grad(set_to_none=True)
    loss, n = answer_loss_sum(model, batch, "cpu")
    loss.backward()
    grads = {k: p.grad.detach().clone() for k, p in model.named_parameters() if p.grad is not None}
    return float(loss.detach()), n, grads


def test_shared_prefix_gives_the_same_loss_and_gradients(tiny):
    from dataeff.train import collate, tokenize_rows

    model, tok, _ = tiny
    model.train()
    examples = tokenize_rows(tok, labeled_rows(5), 256, "rows")
    shared = collate(examples, tok.pad_token_id)
    full = collate(examples, tok.pad_token_id, share_prefix=False)
    assert shared[5] is not None and full[5] is None  # the chat template's system turn is shared
    assert int(shared[1].sum()) == int(full[1].sum()) == sum(e.length for e in examples)
    loss_s, n_s, g_s = _loss_and_grads(model, shared)
    loss_f, n_f, g_f = _loss_and_grads(model, full)
    assert n_s == n_f == sum(len(e.completion) for e in examples)
    assert loss_s == pytest.approx(loss_f, rel=1e-5)
    assert g_s.keys() == g_f.keys() and len(g_s) > 0
    for k in g_f:
        scale = float(g_f[k].abs().max()) + 1e-12
        assert float((g_s[k] - g_f[k]).abs().max()) / scale < 1e-4, k


def test_collate_targets_line_up_with_the_answer(tiny):
    from dataeff.train import IGNORE, collate, tokenize_rows

    _, tok, _ = tiny
    examples = tokenize_rows(tok, labeled_rows(3), 256, "rows")
    ids, mask, positions, targets, k, prefix = collate(examples, tok.pad_token_id)
    shared = prefix.shape[1]
    for i, e in enumerate(examples):
        row = ids[i][mask[i, shared:].bool()].tolist()
        assert prefix[0].tolist() + row == e.prompt + e.completion
        assert [t for t in targets[i].tolist() if t != IGNORE] == e.completion
        assert positions[i, -1] == e.length - 1
