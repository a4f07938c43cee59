"""Each part of the fine-tuning loop on its own (one process): the training-state record and its
early-stopping decision, the checkpointer (atomic, fingerprinted, bit-exact resume), the step
function, validation loss and the best-weights keeper. tests/test_fsdp.py runs them under FSDP2."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from _coslow_helpers import labeled_rows
from dataeff.core.config import validate_schema
from dataeff.core.settings import FamilySettings, family_settings, train_settings


def test_state_record_decides_best_and_early_stop_and_round_trips():
    from dataeff.training.state import TrainState

    s = TrainState(fingerprint="f")
    s.step = 2
    assert s.observe_validation(1.0) and s.best_step == 2
    s.step = 4
    assert not s.observe_validation(1.0)  # equal is not better
    assert not s.should_stop(2) and s.stop_reason is None
    s.step = 6
    assert not s.observe_validation(1.5) and s.should_stop(2) and s.stop_reason == "early_stopping"
    assert (s.evaluations, s.best_loss, s.bad_evals) == (3, 1.0, 2)
    again = TrainState.from_json(s.to_json())
    assert again == s
    assert math.isinf(TrainState.from_json(TrainState(fingerprint="g").to_json()).best_loss)


def _family(**entry) -> FamilySettings:
    """A ``families`` entry, validated and filled with the schema's defaults, typed."""
    return family_settings(validate_schema({"families": {"f": entry}}, partial=True)["families"]["f"])


def test_fingerprint_ignores_threads_and_cluster_keys_but_not_precision():
    from dataeff.training.state import fingerprint

    train = dataclasses.replace(train_settings(None), learning_rate=1e-5, threads=1)
    base = dict(
        train=train,
        family=_family(model="m", mem_mb=256),
        seed=1,
        train_rows=[{"a": 1}],
        val_rows=[],
        precision="fp32",
    )
    same = dict(base, train=dataclasses.replace(train, threads=8), family=_family(model="m", mem_mb=9000))
    assert fingerprint(**base) == fingerprint(**same)
    assert fingerprint(**base) != fingerprint(**dict(base, precision="autocast_bf16"))
    assert fingerprint(**base) != fingerprint(**dict(base, seed=2))


@pytest.fixture()
def parts(tiny_model_dir):
    """A prepared one-process model/optimizer/scheduler and its step context."""
    import torch
    from transformers import get_scheduler

    from dataeff.modeling.loading import load_model
    from dataeff.modeling.precision import resolve_precision
    from dataeff.training.distributed import make_accelerator
    from dataeff.training.finetune import build_optimizer, layout_for, tokenize_rows
    from dataeff.training.step import StepContext

    torch.manual_seed(0)
    acc = make_accelerator()
    model, tok, _ = load_model(tiny_model_dir, threads=1)
    model.train()
    opt = build_optimizer(
        list(model.parameters()), dataclasses.replace(train_settings(None), learning_rate=1e-2, weight_decay=0.0)
    )
    sched = get_scheduler("constant", opt)
    model, opt, sched = acc.prepare(model, opt, sched)
    ctx = StepContext(
        accelerator=acc,
        model=model,
        optimizer=opt,
        scheduler=sched,
        layout=layout_for(model),
        precision=resolve_precision("fp32", "cpu"),
        pad_id=tok.pad_token_id,
        micro_batch_size=2,
        max_grad_norm=1.0,
        sharded=False,
    )
    return ctx, tokenize_rows(tok, labeled_rows(8), 128, "rows")


def _params(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def test_step_moves_every_weight_and_returns_the_batch_loss(parts):
    from dataeff.training.step import train_step
    from dataeff.training.validation import validation_loss

    ctx, ex = parts
    before = _params(ctx.model)
    ref = validation_loss(None, ctx.model, ex[:4], 4, ctx.pad_id, ctx.layout)
    loss = train_step(ctx, ex[:4], 0)
    assert loss == pytest.approx(ref, rel=1e-5)  # the mean answer-token loss before the update
    after = _params(ctx.model)
    assert all(not after[n].equal(before[n]) for n in before if "norm" not in n)
    assert not any(p.grad is not None for p in ctx.model.parameters())  # zeroed for the next step


def test_step_refuses_a_non_finite_loss(parts):
    import torch

    from dataeff.core.errors import TrainingDivergedError
    from dataeff.training.step import train_step

    ctx, ex = parts
    with torch.no_grad():
        ctx.model.get_input_embeddings().weight.fill_(float("nan"))
    with pytest.raises(TrainingDivergedError, match="step 4"):
        train_step(ctx, ex[:4], 3)


def test_validation_loss_and_best_weights_round_trip(parts):
    from dataeff.training.step import train_step
    from dataeff.training.validation import BestWeights, validation_loss

    ctx, ex = parts
    v = validation_loss(ctx.accelerator, ctx.model, ex[4:], 2, ctx.pad_id, ctx.layout, ctx.precision)
    # micro-batches of 2 and one batch of all give the same mean (weighted by answer tokens)
    assert v == pytest.approx(validation_loss(None, ctx.model, ex[4:], 8, ctx.pad_id, ctx.layout), rel=1e-5)
    best = BestWeights()
    best.capture(ctx.model)
    kept = _params(ctx.model)
    train_step(ctx, ex[:4], 0)
    assert any(not p.equal(kept[n]) for n, p in _params(ctx.model).items())
    best.restore(ctx.model)
    assert all(p.equal(kept[n]) for n, p in _params(ctx.model).items())
    v2 = validation_loss(ctx.accelerator, ctx.model, ex[4:], 2, ctx.pad_id, ctx.layout, ctx.precision)
    assert v2 == v


def test_checkpointer_keeps_one_complete_checkpoint_and_drops_other_runs(parts, tmp_path):
    import torch

    from dataeff.training.checkpoint import Checkpointer
    from dataeff.training.state import TrainState
    from dataeff.training.step import train_step

    ctx, ex = parts
    root = tmp_path / "n8.ckpt"
    ck = Checkpointer(ctx.accelerator, root, "run-a")
    assert ck.resume() is None
    train_step(ctx, ex[:4], 0)
    path = ck.save(TrainState(fingerprint="run-a", step=1, best_loss=2.5, best_step=1), {"w": torch.ones(2)})
    assert json.loads((root / "latest.json").read_text())["dir"] == path.name == "step-000001"
    assert (path / "best_rank0.pt").is_file() and (path / "accelerate" / "random_states_0.pkl").is_file()
    train_step(ctx, ex[4:], 1)
    saved = _params(ctx.model)
    ck.save(TrainState(fingerprint="run-a", step=2), None)  # a newer checkpoint replaces the older
    assert sorted(p.name for p in root.iterdir()) == ["latest.json", "step-000002"]

    train_step(ctx, ex[:4], 5)  # disturb weights, optimizer state and RNG
    state, best = Checkpointer(ctx.accelerator, root, "run-a").resume()
    assert state.step == 2 and state.resumed_from == 2 and best is None
    assert all(p.equal(saved[n]) for n, p in _params(ctx.model).items())

    assert Checkpointer(ctx.accelerator, root, "run-b").resume() is None and not root.exists()


def test_bit_exact_continuation_after_resume(parts, tmp_path):
    """Train 2 steps, checkpoint, train 2 more; then reload the checkpoint and redo them: identical."""
    import torch

    from dataeff.training.checkpoint import Checkpointer
    from dataeff.training.state import TrainState
    from dataeff.training.step import train_step

    ctx, ex = parts
    ck = Checkpointer(ctx.accelerator, tmp_path / "c", "r")
    for s in range(2):
        train_step(ctx, ex[2 * s : 2 * s + 4], s)
    ck.save(TrainState(fingerprint="r", step=2), None)
    torch.manual_seed(5)
    for s in range(2, 4):
        train_step(ctx, ex[s : s + 4], s)
    straight = _params(ctx.model)
    ck.resume()
    for s in range(2, 4):
        train_step(ctx, ex[s : s + 4], s)
    assert all(p.equal(straight[n]) for n, p in _params(ctx.model).items())


def test_flash_attention_only_when_it_really_imports(tmp_path, monkeypatch):
    """A flash_attn that is found but fails to import (a CUDA-mismatched build) is not picked."""
    import sys

    from dataeff.modeling.loading import flash_attention_usable, pick_attention

    pkg = tmp_path / "flash_attn"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise ImportError('undefined symbol: _ZN3c10')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "flash_attn", raising=False)
    assert not flash_attention_usable()
    assert pick_attention("auto", "cuda") == "sdpa"
    assert pick_attention("eager", "cuda") == "eager"


def test_rotary_buffers_stay_fp32_in_bf16_weights(tiny_model_dir):
    import torch

    from dataeff.modeling.loading import load_model

    model, _, info = load_model(tiny_model_dir, dtype="bfloat16")
    assert info["dtype"] == "bfloat16"
    buffers = {n: b.dtype for n, b in model.named_buffers() if n.endswith("inv_freq")}
    assert buffers and set(buffers.values()) == {torch.float32}


def test_paper_schedule_gives_more_distinct_examples_to_larger_budgets_and_can_stop_early():
    """Under config/paper.yaml every budget gets the same step cap, larger budgets see more
    distinct examples, and validation runs often enough for early stopping to end a run."""
    from dataeff.pipeline.config import load_config
    from dataeff.training.finetune import data_coverage, early_stopping_possible, planned_steps

    cfg = load_config("config/paper.yaml")
    train = train_settings(cfg)
    distinct = []
    for n in sorted(cfg["budgets"]):
        steps = planned_steps(n, train)
        assert steps == train.max_steps and early_stopping_possible(steps, train)
        drawn, seen = data_coverage(n, train.batch_size, steps, cfg["seed"])
        assert seen == min(n, drawn) and drawn <= steps * train.batch_size
        distinct.append(seen)
    assert distinct == sorted(distinct) and len(set(distinct)) == len(distinct)
