"""The one place that turns LoRA settings into a peft ``LoraConfig`` (CoS-Low and LoRA training).

CoS-Low's gradients are taken with respect to LoRA parameters, and a LoRA fine-tune trains the same
kind of adapter: building both from one function keeps the rank, scaling, dropout and target
modules of the two identical, with defaults from the schema's ``lora`` definition only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dataeff.core.settings import LoraSettings, coslow_settings


def lora_settings(config: Mapping[str, Any] | None) -> LoraSettings:
    """CoS-Low's LoRA settings (``coslow.lora``) with schema defaults, also without a config."""
    return coslow_settings(config).lora


def peft_config(lora: LoraSettings):
    """A peft ``LoraConfig`` for a causal LM from typed LoRA settings."""
    from peft import LoraConfig

    return LoraConfig(
        r=int(lora.r),
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )
