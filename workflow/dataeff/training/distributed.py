"""accelerate set-up for one process, DDP or FSDP2, and the final save of a fine-tuned model.

FSDP is configured by ``accelerate launch --config_file config/fsdp.yaml`` (version 2, full
sharding, activation checkpointing); this module only checks what the loop relies on and
saves the model: the full state dict is gathered once (a collective every rank enters), cast
to the evaluation dtype one tensor at a time and written by rank 0 as one safetensors directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dataeff.core.errors import DataeffError
from dataeff.core.io import atomic_path


def make_accelerator(process_group_timeout_minutes: float | None = None) -> Any:
    """An Accelerator for this process. ``mixed_precision="no"``: the precision policy
    (:mod:`dataeff.modeling.precision`) decides the weights' dtype and the autocast; accelerate's "bf16"
    would upcast bf16 weights to fp32 master weights (16 bytes per parameter with AdamW).
    ``step_scheduler_with_optimizer=False``: accelerate otherwise steps a prepared scheduler once
    per process, so N GPUs would run the learning-rate schedule N times too fast.

    ``process_group_timeout_minutes`` (``train.process_group_timeout_minutes``) becomes the
    timeout of the process group accelerate creates: the other ranks wait in a barrier while rank
    0 alone writes the model or deletes a checkpoint, longer than NCCL's 10-minute default for the
    largest models. None keeps torch's default (a single process creates no group)."""
    from datetime import timedelta

    import torch
    from accelerate import Accelerator
    from accelerate.utils import InitProcessGroupKwargs

    handlers = []
    if process_group_timeout_minutes is not None:
        handlers.append(InitProcessGroupKwargs(timeout=timedelta(minutes=process_group_timeout_minutes)))
    acc = Accelerator(
        cpu=not torch.cuda.is_available(),
        step_scheduler_with_optimizer=False,
        mixed_precision="no",
        kwargs_handlers=handlers,
    )
    if is_sharded(acc):
        plugin = acc.state.fsdp_plugin
        if plugin.fsdp_version != 2:
            raise DataeffError(
                f"FSDP version {plugin.fsdp_version} is not supported",
                file="config/fsdp.yaml",
                field="fsdp_config.fsdp_version",
                fix="set fsdp_version: 2",
            )
    return acc


def is_sharded(accelerator: Any) -> bool:
    """Whether parameters are sharded across ranks (FSDP)."""
    from accelerate.utils import DistributedType

    return accelerator.distributed_type == DistributedType.FSDP


def save_model(accelerator: Any, model: Any, out_dir: Path, tokenizer: Any, method: str, dtype: Any) -> None:
    """Gather the model (collective) and write it, cast to ``dtype``, as one directory that
    ``from_pretrained`` loads (LoRA: the adapter). Tied weights are written once and re-tied on load."""
    state = accelerator.get_state_dict(model)
    if accelerator.is_main_process:
        if method == "lora":
            state = {k: v for k, v in state.items() if "lora_" in k}
        for k in list(state):  # one tensor at a time: no second full copy in host memory
            v = state[k].detach()
            state[k] = v.to("cpu", dtype) if v.is_floating_point() else v.to("cpu")
        unwrapped = accelerator.unwrap_model(model)
        _drop_tied_copies(unwrapped, state)
        with atomic_path(out_dir) as tmp:
            unwrapped.save_pretrained(tmp, state_dict=state, safe_serialization=True)
            tokenizer.save_pretrained(tmp)
            if method != "lora":
                _write_dtype(tmp, dtype)
    accelerator.wait_for_everyone()


def _drop_tied_copies(model: Any, state: dict[str, Any]) -> None:
    """Remove the tied targets (``lm_head.weight`` of a tied-embedding model) from a gathered
    state dict. One process's state dict shares the tensor and ``save_pretrained`` drops the
    alias itself; a state dict gathered from FSDP shards holds two equal copies, which would be
    written twice and no longer be recognised as tied."""
    import torch

    for target, source in (getattr(model, "all_tied_weights_keys", None) or {}).items():
        if target in state and source in state and torch.equal(state[target], state[source]):
            del state[target]


def _write_dtype(directory: Path, dtype: Any) -> None:
    """Record the saved dtype in config.json, so ``dtype="auto"`` loads it as saved."""
    import json

    cfg_path = directory / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["dtype"] = str(dtype).removeprefix("torch.")
    cfg_path.write_text(json.dumps(cfg, indent=2) + "\n")
