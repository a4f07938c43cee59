"""Fine-tune one model on one task at one data budget.

The loop follows the paper's setup (METHOD.md section 4): loss on the assistant answer only,
AdamW with a cosine schedule and warmup, a fixed effective batch, validation loss every N
steps with early stopping and the best checkpoint kept. It is written on top of
``accelerate`` so the same code runs on a CPU, one GPU, or several GPUs with FSDP
(``accelerate launch --config_file config/fsdp.yaml``).

Why not ``transformers.Trainer``: the answer is a handful of tokens after a long prompt, so
this loop (1) left-pads so every answer ends at the same position and asks the model for
logits of the last few positions only (``logits_to_keep``), skipping the vocabulary
projection for the whole prompt, (2) groups micro-batches by length to cut padding, and
(3) saves a resumable checkpoint (weights, optimizer, schedule, RNG, early-stopping state)
that a job killed by a time limit picks up from.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataeff.errors import DataeffError, TrainingDivergedError
from dataeff.io import atomic_path, atomic_write_json, atomic_write_text
from dataeff.provenance import stable_hash

IGNORE = -100


@dataclass
class Example:
    """A tokenized training example: prompt ids followed by completion (answer + end of turn)."""

    prompt: list[int]
    completion: list[int]

    @property
    def length(self) -> int:
        return len(self.prompt) + len(self.completion)


def tokenize_rows(tokenizer: Any, rows: list[dict[str, Any]], max_seq_len: int, source: str) -> list[Example]:
    """Tokenize ``{"prompt", "answer", "system"?}`` rows; the prompt is cut from the left
    when an example is longer than ``max_seq_len`` (the answer is never cut)."""
    from dataeff.chat import completion_ids, prompt_ids

    out = []
    for i, row in enumerate(rows, start=1):
        answer = row.get("answer")
        if answer is None or str(answer) == "":
            raise DataeffError(f"row {i}: empty answer", file=source, field="answer",
                               fix="every training example needs a gold answer")
        p = prompt_ids(tokenizer, row["prompt"], row.get("system"))
        c = completion_ids(tokenizer, str(answer))
        if len(c) >= max_seq_len:
            raise DataeffError(f"row {i}: answer longer than max_seq_len={max_seq_len}", file=source,
                               field="train.max_seq_len", fix="raise train.max_seq_len")
        out.append(Example(p[-(max_seq_len - len(c)):], c))
    return out


@dataclass
class MicroBatch:
    """One forward pass's inputs.

    Padded layout: ``ids`` ``[B, W]`` left-padded so every completion ends at the last column,
    ``mask`` ``[B, P + W]`` (1 = real token), ``prefix`` the ``[1, P]`` shared prompt prefix
    run first (or None). Packed layout: the shared prefix and then the rows one after another
    in ``ids`` ``[1, T]``, ``mask`` ``[1, 1, T, T]`` (bool, True = may attend), ``prefix``
    None. In both, ``keep`` holds the positions whose logits predict answer tokens and
    ``targets`` (shaped like those logits' rows) the tokens they predict, -100 where a shorter
    completion leaves a gap.
    """

    ids: Any
    mask: Any
    positions: Any
    keep: Any
    targets: Any
    prefix: Any

    @property
    def packed(self) -> bool:
        return self.mask.dim() == 4


#: The shared prefix run as its own one-row forward costs about this many times a token in a
#: big batch (measured on a CPU: small matmuls run at a fraction of the rate, plus a fixed
#: per-forward overhead); packing runs it inside the one forward instead.
PREFIX_FORWARD = 3.0


def attention_pair_cost(model: Any) -> float:
    """Cost of one (query, key) pair in attention, in units of one token through the weights
    (``2 * parameters`` FLOPs): ``4 * hidden * layers`` FLOPs, times 3 because attention
    kernels run well below the matmul rate on a CPU. Decides when packing pays."""
    cfg = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    params = sum(p.numel() for p in model.parameters())
    return 3 * 4 * cfg.hidden_size * cfg.num_hidden_layers / (2 * params)


@dataclass(frozen=True)
class Layout:
    """How micro-batches are laid out and run (:func:`layout_for` picks it per model).

    * ``share_prefix``: the prompt tokens all rows start with run once (:mod:`dataeff.prefix`).
    * ``pair_cost``: when set, rows are packed into one sequence whenever that is cheaper than
      padding them (:func:`collate`); None never packs.
    * ``sparse_embedding``: look the input embeddings up with a sparse gradient. With tied
      input/output embeddings the dense gradient of the output projection is there anyway, so
      the lookup adds its few rows into it instead of allocating, zeroing and adding a second
      dense vocabulary-sized gradient per micro-batch (a tenth of a SmolLM2 step on a CPU).
    """

    share_prefix: bool = True
    pair_cost: float | None = None
    sparse_embedding: bool = False


DEFAULT_LAYOUT = Layout()


def layout_for(model: Any, num_processes: int = 1) -> Layout:
    """The fastest exact layout for ``model``. Sharing the prefix and packing add model calls
    or custom masks that FSDP/DDP wrappers and flash-attention do not take, so several
    processes use plain padded batches; packing needs sdpa or eager attention."""
    import torch

    if num_processes > 1:
        return Layout(share_prefix=False)
    packs = getattr(model.config, "_attn_implementation", None) in ("sdpa", "eager")
    emb, out = model.get_input_embeddings(), model.get_output_embeddings()
    tied = type(emb) is torch.nn.Embedding and out is not None and out.weight is emb.weight \
        and emb.weight.requires_grad
    return Layout(share_prefix=True, pair_cost=attention_pair_cost(model) if packs else None,
                  sparse_embedding=tied)


def collate(batch: list[Example], pad_id: int, layout: Layout = DEFAULT_LAYOUT) -> MicroBatch:
    """Lay out a micro-batch for :func:`answer_loss_sum`.

    With ``layout.share_prefix`` the tokens every prompt starts with are cut off the rows and run
    once (see :mod:`dataeff.prefix`). With ``layout.pair_cost`` (:func:`attention_pair_cost`)
    the rows are packed into one sequence when that costs less than padding them: packing
    computes no padding but makes attention quadratic in the packed length, so it wins for
    several short rows of different lengths (the CPU default: 20% less work at micro-batch 4)
    and loses for long ones.
    """
    import torch

    from dataeff.prefix import left_pad, shared_prefix_len

    shared = shared_prefix_len([e.prompt for e in batch]) if layout.share_prefix else 0
    own = [len(e.prompt) + len(e.completion) - shared for e in batch]
    if layout.pair_cost is not None and len(batch) > 1 and _packing_pays(shared, own, layout.pair_cost):
        return _packed(batch, shared, own)
    width, k = max(own), max(len(e.completion) for e in batch)
    ids, mask, positions, prefix = left_pad([e.prompt + e.completion for e in batch], pad_id, shared)
    targets = torch.full((len(batch), k), IGNORE, dtype=torch.long)
    for i, e in enumerate(batch):
        targets[i, k - len(e.completion):] = torch.tensor(e.completion)
    keep = torch.arange(width - k - 1, width - 1)
    return MicroBatch(ids, mask, positions, keep, targets, prefix)


def _packing_pays(shared: int, own: list[int], pair_cost: float) -> bool:
    """Packed (prefix + rows in one sequence) costs less than padded rows after a separate
    prefix forward, in token units: weights per token plus ``pair_cost`` per attention pair."""
    n, width = shared + sum(own), max(own)
    return n + n * n * pair_cost < len(own) * width * (1 + width * pair_cost) + shared * PREFIX_FORWARD


def _packed(batch: list[Example], shared: int, own: list[int]) -> MicroBatch:
    """The shared prefix, then every row's own tokens, in one sequence: the prefix attends
    causally to itself, each row to the prefix and causally to itself. One forward, no padding."""
    import torch

    prefix = batch[0].prompt[:shared]
    ids = torch.tensor([prefix + [t for e in batch for t in (e.prompt + e.completion)[shared:]]], dtype=torch.long)
    seg = torch.repeat_interleave(torch.arange(len(batch) + 1), torch.tensor([shared, *own]))
    n = ids.shape[1]
    mask = torch.ones(n, n, dtype=torch.bool).tril_() & ((seg[:, None] == seg[None, :]) | (seg[None, :] == 0))
    positions = torch.cat([torch.arange(shared)] + [torch.arange(shared, shared + m) for m in own])[None]
    keep, targets, start = [], [], shared
    for e, m in zip(batch, own, strict=True):
        c = len(e.completion)
        keep += range(start + m - c - 1, start + m - 1)
        targets += e.completion
        start += m
    return MicroBatch(ids, mask[None, None], positions, torch.tensor(keep), torch.tensor([targets]), None)


def answer_loss_sum(model: Any, batch: MicroBatch, device: Any, layout: Layout = DEFAULT_LAYOUT):
    """Summed cross-entropy over completion tokens, computing logits only at the positions
    that predict them (``logits_to_keep``)."""
    import torch
    import torch.nn.functional as F

    from dataeff.prefix import prefix_cache

    b = batch
    past = prefix_cache(model, b.prefix.to(device), b.ids.shape[0]) if b.prefix is not None else None
    mask = b.mask.to(device)
    if b.packed:  # an additive mask: eager attention adds it, sdpa accepts it
        dtype = next(model.parameters()).dtype
        mask = torch.zeros(mask.shape, dtype=dtype, device=device).masked_fill_(~mask, torch.finfo(dtype).min)
    ids = b.ids.to(device)
    if layout.sparse_embedding:  # the lookup's gradient touches only these rows (see Layout)
        emb = model.get_input_embeddings()
        inputs = {"inputs_embeds": F.embedding(ids, emb.weight, emb.padding_idx, sparse=True)}
    else:
        inputs = {"input_ids": ids}
    out = model(**inputs, attention_mask=mask, position_ids=b.positions.to(device),
                past_key_values=past, logits_to_keep=b.keep.to(device), use_cache=past is not None)
    logits = out.logits.float()
    tgt = b.targets.to(device)
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), tgt.reshape(-1), ignore_index=IGNORE,
                           reduction="sum")
    return loss, int((tgt != IGNORE).sum())


def micro_batches(examples: list[Example], size: int) -> list[list[Example]]:
    """Split an effective batch into micro-batches of similar length (less padding)."""
    ordered = sorted(examples, key=lambda e: e.length)
    return [ordered[i:i + size] for i in range(0, len(ordered), size)]


def rank_share(mbs: list[list[Example]], world: int, rank: int) -> list[tuple[list[Example], float]]:
    """This process's micro-batches of a step, with loss weights: every ``world``-th one, so
    several GPUs split an effective batch instead of each computing all of it. Every rank must
    run the same number of forward/backward passes (each is a collective under FSDP), so a
    rank left one short repeats a micro-batch with weight 0."""
    mine = [(mb, 1.0) for mb in mbs[rank::world]]
    need = math.ceil(len(mbs) / world)
    mine += [(mbs[0], 0.0)] * (need - len(mine))
    return mine


def batch_indices(n: int, batch_size: int, step: int, seed: int) -> list[int]:
    """Indices of the effective batch for ``step``: epochs are seeded permutations, so the
    data order depends only on (seed, step) and a resumed run sees the same batches."""
    import torch

    per_epoch = max(1, math.ceil(n / batch_size))
    epoch, pos = divmod(step, per_epoch)
    g = torch.Generator().manual_seed(seed * 100003 + epoch)
    perm = torch.randperm(n, generator=g).tolist()
    return perm[pos * batch_size:(pos + 1) * batch_size]


def build_optimizer(params: list[Any], train_cfg: dict[str, Any]):
    """AdamW over ``params``; fused: one kernel for the whole update, about 4x faster than
    the per-tensor loop on a CPU."""
    import torch

    return torch.optim.AdamW(params, lr=train_cfg["learning_rate"], weight_decay=train_cfg["weight_decay"],
                             fused=True)


def planned_steps(n: int, train_cfg: dict[str, Any]) -> int:
    """Optimizer steps: ``max_steps``, or fewer when ``max_epochs`` over ``n`` examples ends first."""
    steps = int(train_cfg["max_steps"])
    if train_cfg.get("max_epochs"):
        steps = min(steps, math.ceil(train_cfg["max_epochs"] * n / train_cfg["batch_size"]))
    return max(1, steps)


def data_coverage(n: int, batch_size: int, steps: int, seed: int) -> tuple[int, int]:
    """(examples drawn, distinct examples seen) by ``steps`` optimizer steps over ``n`` examples,
    from the same schedule as training (:func:`batch_indices`)."""
    seen: set[int] = set()
    drawn = 0
    for step in range(steps):
        idx = batch_indices(n, batch_size, step, seed)
        drawn += len(idx)
        if len(seen) < n:
            seen.update(idx)
    return drawn, len(seen)


def validation_steps(steps: int, train_cfg: dict[str, Any]) -> list[int]:
    """The steps after which validation loss is computed: every ``eval_every`` and the last."""
    every = int(train_cfg["eval_every"])
    return sorted(set(range(every, steps + 1, every)) | {steps})


def early_stopping_possible(steps: int, train_cfg: dict[str, Any]) -> bool:
    """Whether early stopping can end a run of ``steps`` steps before its end: it needs more than
    ``patience`` evaluations after the first (which always improves on infinity)."""
    return len(validation_steps(steps, train_cfg)) > int(train_cfg["patience"]) + 1


def evaluate_loss(model: Any, examples: list[Example], micro: int, pad_id: int, device: Any,
                  layout: Layout = DEFAULT_LAYOUT, precision: Any = None) -> float:
    """Mean answer-token cross-entropy over ``examples`` (under ``precision``'s autocast)."""
    import torch

    model.eval()
    total, count = 0.0, 0
    cast = precision.autocast if precision is not None else contextlib.nullcontext
    with torch.no_grad():
        for mb in micro_batches(examples, micro):
            with cast():
                loss, n = answer_loss_sum(model, collate(mb, pad_id, layout), device, layout)
            total += float(loss.detach())
            count += n
    model.train()
    return total / max(count, 1)


def _snapshot(accelerator: Any, model: Any, method: str) -> dict[str, Any] | None:
    """A CPU copy of the weights to keep as "best" (LoRA: the adapter only).

    ``get_state_dict`` is a collective under FSDP (it gathers the full state on the main
    process), so every process calls this; only the main process gets the copy.
    """
    state = accelerator.get_state_dict(model)
    if not accelerator.is_main_process:
        return None
    if method == "lora":
        state = {k: v for k, v in state.items() if "lora_" in k}
    return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}


def _save_best(accelerator: Any, model: Any, best_state: dict[str, Any] | None, out_dir: Path,
               method: str, tokenizer: Any) -> None:
    """Write the best weights (or adapter) in a form evaluation loads directly."""
    if best_state is None:
        best_state = _snapshot(accelerator, model, method)
    if accelerator.is_main_process:
        unwrapped = accelerator.unwrap_model(model)
        with atomic_path(out_dir) as tmp:
            unwrapped.save_pretrained(tmp, state_dict=best_state, safe_serialization=True)
            tokenizer.save_pretrained(tmp)
    accelerator.wait_for_everyone()


def finetune(*, model_ref: str, family_cfg: dict[str, Any], train_cfg: dict[str, Any],
             train_rows: list[dict[str, Any]], val_rows: list[dict[str, Any]],
             out_dir: str | os.PathLike[str], ckpt_dir: str | os.PathLike[str], seed: int,
             source: str = "train.jsonl", progress: bool = True) -> dict[str, Any]:
    """Fine-tune and save the best model under ``out_dir/model``; returns the metrics.

    ``ckpt_dir`` holds a resumable checkpoint; if it exists the run continues from it.
    """
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm
    from transformers import get_scheduler

    from dataeff.models import load_model
    from dataeff.precision import resolve_precision

    # step_scheduler_with_optimizer=False: accelerate otherwise steps a prepared scheduler once
    # per process (it assumes a sharded dataloader with fewer steps), so N GPUs would run the
    # learning-rate schedule N times too fast (tests/test_multiprocess.py caught this).
    # mixed_precision="no": the precision policy (dataeff.precision) decides the weights' dtype and
    # the autocast itself; accelerate's "bf16" would upcast bf16 weights to fp32 master weights.
    accelerator = Accelerator(cpu=not torch.cuda.is_available(), step_scheduler_with_optimizer=False,
                              mixed_precision="no")
    set_seed(seed)
    device = accelerator.device
    precision = resolve_precision(family_cfg.get("precision", "auto"), str(device))
    load_kwargs = _family_kwargs(family_cfg) | {"dtype": precision.weights_dtype}
    model, tokenizer, info = load_model(model_ref, device=str(device), threads=train_cfg.get("threads"),
                                        **load_kwargs)
    method = train_cfg["method"]
    if method == "lora":
        from peft import LoraConfig, get_peft_model

        lcfg = train_cfg.get("lora") or {}
        model = get_peft_model(model, LoraConfig(
            r=lcfg.get("r", 64), lora_alpha=lcfg.get("alpha", 32), lora_dropout=lcfg.get("dropout", 0.05),
            target_modules=lcfg.get("target_modules"), task_type="CAUSAL_LM"))
    model.train()
    model.config.use_cache = False

    train = tokenize_rows(tokenizer, train_rows, train_cfg["max_seq_len"], source)
    val = tokenize_rows(tokenizer, val_rows, train_cfg["max_seq_len"], source.replace("train", "validation"))
    steps = planned_steps(len(train), train_cfg)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = build_optimizer(params, train_cfg)
    scheduler = get_scheduler(train_cfg["lr_scheduler"], optimizer,
                              num_warmup_steps=int(round(train_cfg["warmup_ratio"] * steps)),
                              num_training_steps=steps)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    pad_id = tokenizer.pad_token_id

    ckpt = Path(ckpt_dir)
    # A checkpoint is only resumed by the run that wrote it: same settings, seed and data.
    # (A job killed, then re-run after a config change, must start over, not continue.
    # Threads, memory and time limits do not change the result, so raising them keeps it.)
    fingerprint = stable_hash({"train": {k: v for k, v in train_cfg.items() if k != "threads"},
                               "family": {k: v for k, v in family_cfg.items()
                                          if k not in ("coefficients", "mem_mb", "runtime")},
                               "seed": seed, "train_rows": train_rows, "val_rows": val_rows,
                               "precision": precision.used})
    state = {"step": 0, "best_loss": math.inf, "best_step": 0, "bad_evals": 0, "history": [],
             "tokens": 0, "answer_tokens": 0, "train_seconds": 0.0, "resumed_from": None,
             "evaluations": 0, "stop_reason": None,
             "fingerprint": fingerprint}
    best_state = None
    if (ckpt / "trainer_state.json").is_file() and \
            json.loads((ckpt / "trainer_state.json").read_text()).get("fingerprint") != fingerprint:
        accelerator.print(f"ignoring checkpoint {ckpt}: written with other settings or data")
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            shutil.rmtree(ckpt, ignore_errors=True)
        accelerator.wait_for_everyone()
    if (ckpt / "trainer_state.json").is_file():
        accelerator.load_state(str(ckpt / "accelerate"))
        state = json.loads((ckpt / "trainer_state.json").read_text())
        state["resumed_from"] = state["step"]
        if (ckpt / "best.pt").is_file():
            best_state = torch.load(ckpt / "best.pt", map_location="cpu")
        accelerator.print(f"resuming from checkpoint at step {state['step']}")

    def save_checkpoint() -> None:
        accelerator.wait_for_everyone()
        with atomic_path(ckpt) as tmp:
            accelerator.save_state(str(tmp / "accelerate"))
            if accelerator.is_main_process:
                if best_state is not None:
                    torch.save(best_state, tmp / "best.pt")
                (tmp / "trainer_state.json").write_text(json.dumps(state))
        accelerator.wait_for_everyone()

    micro = train_cfg["micro_batch_size"]
    eff = train_cfg["batch_size"]
    layout = layout_for(accelerator.unwrap_model(model), accelerator.num_processes)
    world, rank = accelerator.num_processes, accelerator.process_index
    bar = tqdm(total=steps, initial=state["step"], desc="fine-tune", disable=not (progress and
               accelerator.is_main_process), mininterval=2)
    start = time.perf_counter()
    while state["step"] < steps:
        step = state["step"]
        batch = [train[i] for i in batch_indices(len(train), eff, step, seed)]
        n_answer = sum(len(e.completion) for e in batch)
        total = 0.0
        mine = rank_share(micro_batches(batch, micro), world, rank)
        for j, (mb, weight) in enumerate(mine):
            collated = collate(mb, pad_id, layout)
            ctx = accelerator.no_sync(model) if j < len(mine) - 1 else contextlib.nullcontext()
            with ctx:
                with precision.autocast():
                    loss, _ = answer_loss_sum(model, collated, device, layout)
                # DDP/FSDP average the ranks' gradients; scaling by the world size makes the
                # result the whole effective batch's answer-token mean, as on one process.
                loss = loss * (weight * world / n_answer)
                accelerator.backward(loss)
            total += float(loss.detach()) / world
        if world > 1:
            total = float(accelerator.reduce(torch.tensor(total, device=device), "sum"))
        state["tokens"] += sum(e.length for e in batch)
        state["answer_tokens"] += n_answer
        if not math.isfinite(total):
            raise TrainingDivergedError(f"training loss became {total} at step {step + 1}", file=source,
                                        field="train.learning_rate", fix="lower the learning rate")
        accelerator.clip_grad_norm_(params, train_cfg["max_grad_norm"])
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        state["step"] = step + 1
        record: dict[str, Any] = {"step": state["step"], "loss": total, "lr": scheduler.get_last_lr()[0]}
        if state["step"] % train_cfg["eval_every"] == 0 or state["step"] == steps:
            vloss = evaluate_loss(model, val, micro, pad_id, device, layout, precision)
            record["val_loss"] = vloss
            state["evaluations"] = state.get("evaluations", 0) + 1
            if vloss < state["best_loss"]:
                state.update(best_loss=vloss, best_step=state["step"], bad_evals=0)
                best_state = _snapshot(accelerator, model, method)
            else:
                state["bad_evals"] += 1
        state["history"].append(record)
        bar.update(1)
        bar.set_postfix(loss=f"{total:.3f}", val=f"{state['best_loss']:.3f}")
        if state["bad_evals"] >= train_cfg["patience"]:
            state["stop_reason"] = "early_stopping"
            break
        if state["step"] % train_cfg["checkpoint_every"] == 0 and state["step"] < steps:
            state["train_seconds"] += time.perf_counter() - start
            start = time.perf_counter()
            save_checkpoint()
    bar.close()
    state["train_seconds"] += time.perf_counter() - start
    if state.get("stop_reason") is None:
        state["stop_reason"] = "max_steps" if steps == int(train_cfg["max_steps"]) else "max_epochs"
    drawn, distinct = data_coverage(len(train), eff, state["step"], seed)

    out = Path(out_dir)
    _save_best(accelerator, model, best_state, out / "model", method, tokenizer)
    metrics = {
        "steps_planned": steps,
        "steps_run": state["step"],
        "optimizer_updates": state["step"],
        "stopped_early": state["stop_reason"] == "early_stopping",
        "stop_reason": state["stop_reason"],
        "early_stop_reason": (f"validation loss did not improve for {train_cfg['patience']} evaluations "
                              f"after step {state['best_step']}" if state["stop_reason"] == "early_stopping"
                              else None),
        "early_stopping_possible": early_stopping_possible(steps, train_cfg),
        "validation_evaluations": state.get("evaluations", 0),
        "validation_evaluations_planned": len(validation_steps(steps, train_cfg)),
        "best_val_loss": state["best_loss"] if math.isfinite(state["best_loss"]) else None,
        "best_step": state["best_step"],
        # distinct training examples the run actually trained on (<= the pool when it stopped
        # before one pass); examples_drawn counts repeats across epochs.
        "examples_used": distinct,
        "distinct_examples_seen": distinct,
        "examples_drawn": drawn,
        "train_pool": len(train),
        "validation_examples": len(val),
        "train_tokens": state["tokens"],
        "answer_tokens": state["answer_tokens"],
        "wall_seconds": round(state["train_seconds"], 3),
        "tokens_per_second": round(state["tokens"] / max(state["train_seconds"], 1e-9), 2),
        "resumed_from_step": state["resumed_from"],
        "method": method,
        "precision": precision.record(),
        "model": info,
    }
    if accelerator.is_main_process:
        atomic_write_text(out / "train_log.jsonl", "".join(json.dumps(r) + "\n" for r in state["history"]))
    return metrics


def _family_kwargs(family_cfg: dict[str, Any]) -> dict[str, Any]:
    from dataeff.models import family_load_kwargs

    return family_load_kwargs(family_cfg)


def write_metrics(path: str | os.PathLike[str], metrics: dict[str, Any]) -> None:
    """Write the metrics file last: its existence marks a finished fine-tune."""
    atomic_write_json(path, metrics)
