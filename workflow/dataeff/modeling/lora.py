"""The one place that turns LoRA settings into a peft ``LoraConfig`` (CoS-Low and LoRA training).

CoS-Low's gradients are taken with respect to LoRA parameters, and a LoRA fine-tune trains the same
kind of adapter: building both from one function keeps the rank, scaling, dropout and target
modules of the two identical, with defaults from the schema's ``lora`` definition only.
"""

from __future__ import annotations

from typing import Any

from dataeff.core.schema import coslow_settings


def lora_settings(config: dict[str, Any] | None) -> dict[str, Any]:
    """CoS-Low's LoRA settings (``coslow.lora``) with schema defaults, also without a config."""
    return dict(coslow_settings(config)["lora"])


def peft_config(lora_cfg: dict[str, Any] | None):
    """A peft ``LoraConfig`` for a causal LM from LoRA settings (missing keys: schema defaults)."""
    from peft import LoraConfig

    cfg = dict(lora_settings(None), **(lora_cfg or {}))
    return LoraConfig(
        r=int(cfg["r"]),
        lora_alpha=cfg["alpha"],
        lora_dropout=cfg["dropout"],
        target_modules=list(cfg["target_modules"]),
        bias="none",
        task_type="CAUSAL_LM",
    )
