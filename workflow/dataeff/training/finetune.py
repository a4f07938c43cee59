"""Fine-tune one model on one task at one data budget.

The loop follows the paper's setup (docs/METHOD.md section 4): loss on the assistant answer only,
AdamW with a cosine schedule and warmup, a fixed effective batch, validation loss every N
steps with early stopping and the best checkpoint kept. It is written on top of
``accelerate`` so the same code runs on a CPU, one GPU, or several GPUs with FSDP2
(``accelerate launch --config_file config/fsdp.yaml``).

Why not ``transformers.Trainer``: the answer is a handful of tokens after a long prompt (see
:mod:`dataeff.training.batches` for the layouts that exploit that), and a job killed by a time
limit must resume bit-exactly from a checkpoint that every rank wrote
(:mod:`dataeff.training.checkpoint`). The pieces live in :mod:`dataeff.training`; this module
puts them together and keeps the names callers import.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from dataeff.core.io import atomic_write_json, atomic_write_text
from dataeff.core.settings import FamilySettings, TrainSettings
from dataeff.modeling.loading import family_load_kwargs, load_model, pick_dtype
from dataeff.modeling.lora import peft_config
from dataeff.modeling.precision import resolve_precision
from dataeff.training.batches import (
    DEFAULT_LAYOUT,
    IGNORE,
    PREFIX_FORWARD,
    Example,
    Layout,
    MicroBatch,
    answer_loss_sum,
    attention_pair_cost,
    collate,
    layout_for,
    micro_batches,
    rank_share,
    tokenize_rows,
)
from dataeff.training.checkpoint import Checkpointer
from dataeff.training.distributed import is_sharded, make_accelerator, save_model
from dataeff.training.schedule import (
    batch_indices,
    data_coverage,
    early_stopping_possible,
    planned_steps,
    validation_steps,
)
from dataeff.training.state import TrainState, fingerprint
from dataeff.training.step import StepContext, train_step
from dataeff.training.validation import BestWeights, validation_loss

__all__ = [
    "DEFAULT_LAYOUT",
    "IGNORE",
    "PREFIX_FORWARD",
    "Example",
    "Layout",
    "MicroBatch",
    "answer_loss_sum",
    "attention_pair_cost",
    "batch_indices",
    "build_optimizer",
    "collate",
    "data_coverage",
    "early_stopping_possible",
    "finetune",
    "layout_for",
    "micro_batches",
    "planned_steps",
    "rank_share",
    "tokenize_rows",
    "validation_steps",
    "write_metrics",
]


def build_optimizer(params: list[Any], train: TrainSettings):
    """AdamW over ``params``; fused: one kernel for the whole update, about 4x faster than
    the per-tensor loop on a CPU. Its state takes the parameters' dtype (bf16 under the bf16
    precision policy)."""
    import torch

    return torch.optim.AdamW(params, lr=train.learning_rate, weight_decay=train.weight_decay, fused=True)


def build_scheduler(optimizer: Any, train: TrainSettings, steps: int):
    """The learning-rate schedule over ``steps`` optimizer steps, warm-up as a share of them
    (so a small budget that runs fewer steps warms up for proportionally fewer)."""
    from transformers import get_scheduler

    return get_scheduler(
        train.lr_scheduler,
        optimizer,
        num_warmup_steps=int(round(train.warmup_ratio * steps)),
        num_training_steps=steps,
    )


def prepare_training(accelerator: Any, model: Any, train: TrainSettings, steps: int) -> tuple[Any, Any, Any]:
    """The model, its AdamW over the trainable parameters and the schedule over ``steps``,
    prepared by ``accelerator`` (wrapped for DDP or sharded for FSDP2, moved to its device)."""
    optimizer = build_optimizer([p for p in model.parameters() if p.requires_grad], train)
    scheduler = build_scheduler(optimizer, train, steps)
    return accelerator.prepare(model, optimizer, scheduler)


def finetune(
    *,
    model_ref: str,
    family: FamilySettings,
    train: TrainSettings,
    train_rows: list[dict[str, Any]],
    val_rows: list[dict[str, Any]],
    out_dir: str | os.PathLike[str],
    ckpt_dir: str | os.PathLike[str],
    seed: int,
    source: str = "train.jsonl",
    progress: bool = True,
) -> dict[str, Any]:
    """Fine-tune and save the best model under ``out_dir/model``; returns the metrics.

    ``ckpt_dir`` holds a resumable checkpoint; if it exists the run continues from it, and it
    is removed once the model is saved. Every rank runs this function; every decision is taken
    from values reduced across ranks, so all ranks take it together.
    """
    from accelerate.utils import set_seed

    accelerator = make_accelerator(train.process_group_timeout_minutes)
    set_seed(seed)
    device = accelerator.device
    sharded = is_sharded(accelerator)
    precision = resolve_precision(family.precision, str(device))
    method = train.method
    model, tokenizer, info = trainable_model(
        model_ref, family, train, precision, str(device), load_placement(accelerator)
    )

    examples = tokenize_rows(tokenizer, train_rows, train.max_seq_len, source)
    val = tokenize_rows(tokenizer, val_rows, train.max_seq_len, source.replace("train", "validation"))
    steps = planned_steps(len(examples), train)
    model, optimizer, scheduler = prepare_training(accelerator, model, train, steps)
    setup_peak = peak_gpu_bytes(accelerator)

    fp = fingerprint(
        train=train,
        family=family,
        seed=seed,
        train_rows=train_rows,
        val_rows=val_rows,
        precision=precision.used,
    )
    checkpointer = Checkpointer(accelerator, ckpt_dir, fp)
    state, best = TrainState(fingerprint=fp), BestWeights()
    resumed = checkpointer.resume()
    if resumed is not None:
        state, best = resumed[0], BestWeights(resumed[1])

    ctx = StepContext(
        accelerator=accelerator,
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        layout=layout_for(accelerator.unwrap_model(model), accelerator.num_processes, sharded=sharded),
        precision=precision,
        pad_id=tokenizer.pad_token_id,
        micro_batch_size=train.micro_batch_size,
        max_grad_norm=train.max_grad_norm,
        sharded=sharded,
        source=source,
    )
    _train_loop(
        ctx, state, best, checkpointer, examples, val, steps, train, seed, progress and accelerator.is_main_process
    )
    if state.stop_reason is None:
        state.stop_reason = "max_steps" if steps == int(train.max_steps) else "max_epochs"

    out = Path(out_dir)
    best.restore(model)
    save_dtype = pick_dtype(family.dtype, str(device))
    save_model(accelerator, model, out / "model", tokenizer, method, save_dtype)
    if accelerator.is_main_process:
        atomic_write_text(out / "train_log.jsonl", "".join(json.dumps(r) + "\n" for r in state.history))
    checkpointer.remove()
    peak = peak_gpu_bytes(accelerator)
    metrics = _metrics(
        state,
        train,
        steps,
        len(examples),
        len(val),
        seed,
        method,
        precision,
        info,
        str(save_dtype).removeprefix("torch."),
        accelerator,
    )
    # the largest rank's peak: to set against dataeff.modeling.memory's plan (set-up included)
    metrics["gpu_memory"] = None if peak is None else {"setup_peak_bytes": setup_peak, "peak_bytes": peak}
    return metrics


def peak_gpu_bytes(accelerator: Any) -> int | None:
    """The most GPU memory any rank's tensors have held so far (``max_memory_allocated``, the
    maximum over ranks: a collective every rank enters); None without CUDA."""
    import torch

    if accelerator.device.type != "cuda":
        return None
    peak = torch.tensor([torch.cuda.max_memory_allocated(accelerator.device)], device=accelerator.device)
    return int(accelerator.reduce(peak, reduction="max").item())


def load_placement(accelerator: Any) -> str:
    """Where this rank loads the pretrained weights (:data:`dataeff.modeling.loading.PLACEMENTS`).

    One process: onto its device. FSDP2: never onto the GPU whole, since ``accelerator.prepare``
    shards it there. With ``fsdp_cpu_ram_efficient_loading`` (config/fsdp.yaml) accelerate moves
    the model to the meta device, applies ``fully_shard`` and broadcasts the full state dict from
    the main process one tensor at a time, each rank keeping its shard: the main process loads
    into host memory and every other rank builds an unwritten model without reading a weight
    file. Without it every rank loads into host memory and ``fully_shard`` moves one wrapped
    module at a time to the GPU and shards it.
    """
    if not is_sharded(accelerator):
        return "device"
    if accelerator.state.fsdp_plugin.cpu_ram_efficient_loading and not accelerator.is_main_process:
        return "empty"
    return "cpu"


def trainable_model(
    model_ref: str,
    family: FamilySettings,
    train: TrainSettings,
    precision: Any,
    device: str,
    placement: str = "device",
) -> tuple[Any, Any, dict[str, Any]]:
    """The model in the precision policy's weight dtype, wrapped in LoRA adapters when the
    method is ``lora``, in training mode without a KV cache; its tokenizer and load record.
    ``placement``: :func:`load_placement`."""
    load_kwargs = family_load_kwargs(family) | {"dtype": precision.weights_dtype}
    model, tokenizer, info = load_model(
        model_ref, device=device, threads=train.threads, placement=placement, **load_kwargs
    )
    if train.method == "lora":
        from peft import get_peft_model

        model = get_peft_model(model, peft_config(train.lora))
    model.train()
    model.config.use_cache = False
    return model, tokenizer, info


def _train_loop(
    ctx: StepContext,
    state: TrainState,
    best: BestWeights,
    checkpointer: Checkpointer,
    examples: list[Example],
    val: list[Example],
    steps: int,
    train: TrainSettings,
    seed: int,
    show_progress: bool,
) -> None:
    """Steps from ``state.step`` up to ``steps``: validation on the schedule's steps (the best
    weights kept), early stopping after ``patience`` evaluations without improvement, and a
    checkpoint every ``checkpoint_every`` steps. Updates ``state`` and ``best`` in place; every
    decision is taken from values reduced across ranks, so all ranks leave the loop together."""
    from tqdm.auto import tqdm

    acc, model = ctx.accelerator, ctx.model
    evals = set(validation_steps(steps, train))
    bar = tqdm(total=steps, initial=state.step, desc="fine-tune", disable=not show_progress, mininterval=2)
    start = time.perf_counter()
    while state.step < steps:
        batch = [examples[i] for i in batch_indices(len(examples), train.batch_size, state.step, seed)]
        loss = train_step(ctx, batch, state.step)
        state.step += 1
        state.tokens += sum(e.length for e in batch)
        state.answer_tokens += sum(len(e.completion) for e in batch)
        record: dict[str, Any] = {"step": state.step, "loss": loss, "lr": ctx.scheduler.get_last_lr()[0]}
        if state.step in evals:
            record["val_loss"] = validation_loss(
                acc, model, val, ctx.micro_batch_size, ctx.pad_id, ctx.layout, ctx.precision
            )
            if state.observe_validation(record["val_loss"]):
                best.capture(model)
        state.history.append(record)
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3f}", val=f"{state.best_loss:.3f}")
        if state.should_stop(int(train.patience)):
            break
        if state.step % train.checkpoint_every == 0 and state.step < steps:
            state.train_seconds += time.perf_counter() - start
            start = time.perf_counter()
            checkpointer.save(state, best.state)
    bar.close()
    state.train_seconds += time.perf_counter() - start


def _metrics(
    state: Any,
    train: TrainSettings,
    steps: int,
    n_train: int,
    n_val: int,
    seed: int,
    method: str,
    precision: Any,
    info: dict[str, Any],
    saved_dtype: str,
    accelerator: Any,
) -> dict[str, Any]:
    """What the run really did (every count measured from the run's own schedule and state)."""
    import math

    drawn, distinct = data_coverage(n_train, train.batch_size, state.step, seed)
    early = state.stop_reason == "early_stopping"
    return {
        "steps_planned": steps,
        "steps_run": state.step,
        "optimizer_updates": state.step,
        "stopped_early": early,
        "stop_reason": state.stop_reason,
        "early_stop_reason": (
            f"validation loss did not improve for {train.patience} evaluations after step {state.best_step}"
            if early
            else None
        ),
        "early_stopping_possible": early_stopping_possible(steps, train),
        "validation_evaluations": state.evaluations,
        "validation_evaluations_planned": len(validation_steps(steps, train)),
        "best_val_loss": state.best_loss if math.isfinite(state.best_loss) else None,
        "best_step": state.best_step,
        # distinct training examples the run trained on (fewer than the pool when it stopped
        # before one pass); examples_drawn counts repeats across epochs.
        "examples_used": distinct,
        "distinct_examples_seen": distinct,
        "examples_drawn": drawn,
        "train_pool": n_train,
        "validation_examples": n_val,
        "train_tokens": state.tokens,
        "answer_tokens": state.answer_tokens,
        "wall_seconds": round(state.train_seconds, 3),
        "tokens_per_second": round(state.tokens / max(state.train_seconds, 1e-9), 2),
        "resumed_from_step": state.resumed_from,
        "method": method,
        "precision": precision.record(),
        "saved_dtype": saved_dtype,
        "processes": accelerator.num_processes,
        "distributed": str(accelerator.distributed_type).rsplit(".", 1)[-1],
        "fsdp": _fsdp_record(accelerator),
        "model": info,
    }


def _fsdp_record(accelerator: Any) -> dict[str, Any] | None:
    """The FSDP settings the run used (None without FSDP)."""

    if not is_sharded(accelerator):
        return None
    plugin = accelerator.state.fsdp_plugin
    return {
        "version": plugin.fsdp_version,
        "reshard_after_forward": plugin.reshard_after_forward,
        "activation_checkpointing": bool(plugin.activation_checkpointing),
        "state_dict_type": str(plugin.state_dict_type).rsplit(".", 1)[-1],
    }


def write_metrics(path: str | os.PathLike[str], metrics: dict[str, Any]) -> None:
    """Write the metrics file last: its existence marks a finished fine-tune."""
    atomic_write_json(path, metrics)
