"""Per-GPU memory of a fine-tune (and of a CoS-Low gradient pass), planned before submission.

A fine-tune that does not fit fails after queueing, loading and sometimes hours of training;
the pipeline refuses it up front instead (:func:`check_memory`, called by the cluster preflight)
with one line naming the family, the estimate and the fixes.

The estimate, per GPU, for a decoder-only (Llama-like) model with N parameters, S shards
(FSDP ranks; 1 without FSDP), w bytes per weight (2 for bf16 weights, 4 for fp32 master weights),
a bytes per activation (2 with bf16 compute, 4 in fp32), micro-batch B, sequence length T:

* weights ``N w / S``, gradients ``N w / S``, AdamW moments ``2 N w / S`` (state in the weights'
  dtype, :mod:`dataeff.precision`); LoRA: gradients and moments of the adapter only;
* FSDP working set: two decoder layers gathered (the current one and the prefetched next) plus
  one layer's unsharded gradient, and the embedding/output head group, which stays gathered from
  the end of forward to the start of backward;
* activations saved for backward, per token per layer ``8h + 2 kv + 4i`` values (inputs of the
  two norms, the normed inputs of the projections, q, k, v, attention output, the MLP's gate, up,
  activation and product; flash/sdpa attention keeps no T x T matrix); with frozen weights
  (CoS-Low) ``4h + 2 kv + 3i``, as no projection keeps its input. With activation
  checkpointing only each layer's input ``h`` is kept, plus one layer's full set while it is
  recomputed in backward;
* logits at the answer positions only (``logits_to_keep``): ``B x answer x vocab`` in fp32, three
  copies (logits, their float copy, the softmax gradient);
* a fixed 1.5 GB for the CUDA context and kernels' workspace and 10% for allocator fragmentation.

``tests/test_memory.py`` checks the parts against measured tensors on CPU (weights, gradients and
optimizer state exactly; activations against the bytes autograd saves, within 15%).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataeff.errors import DataeffError
from dataeff.io import read_yaml
from dataeff.precision import resolve_precision

GB = 1e9
CUDA_OVERHEAD_BYTES = 1.5e9
FRAGMENTATION = 0.10
#: Answer tokens per example assumed for the logits term (the paper's answers are a few tokens).
ANSWER_TOKENS = 16


@dataclass(frozen=True)
class ModelShape:
    """The sizes of a Llama-like decoder that memory depends on."""

    vocab: int
    hidden: int
    layers: int
    intermediate: int
    heads: int
    kv_heads: int
    tied: bool = False
    qkv_bias: bool = False

    @classmethod
    def from_config(cls, cfg: Any) -> ModelShape:
        """From a transformers config object or its ``config.json`` dict."""
        get = (lambda k, d=None: cfg.get(k, d)) if isinstance(cfg, Mapping) else (lambda k, d=None: getattr(cfg, k, d))
        heads = int(get("num_attention_heads"))
        return cls(
            vocab=int(get("vocab_size")),
            hidden=int(get("hidden_size")),
            layers=int(get("num_hidden_layers")),
            intermediate=int(get("intermediate_size")),
            heads=heads,
            kv_heads=int(get("num_key_value_heads") or heads),
            tied=bool(get("tie_word_embeddings", False)),
            qkv_bias=bool(get("attention_bias", False)) or get("model_type") == "qwen2",
        )

    @property
    def kv_dim(self) -> int:
        return self.hidden // self.heads * self.kv_heads

    @property
    def layer_params(self) -> int:
        h, kv, i = self.hidden, self.kv_dim, self.intermediate
        attn = h * h * 2 + h * kv * 2 + ((h + 2 * kv) if self.qkv_bias else 0)
        return attn + 3 * h * i + 2 * h

    @property
    def embedding_params(self) -> int:
        return self.vocab * self.hidden * (1 if self.tied else 2)

    @property
    def params(self) -> int:
        return self.layers * self.layer_params + self.embedding_params + self.hidden

    def activation_values_per_token_layer(self, frozen: bool = False) -> int:
        """Values autograd keeps per token in one decoder layer. With frozen weights the
        projections keep no inputs (their input gradient needs only the weight)."""
        if frozen:
            return 4 * self.hidden + 2 * self.kv_dim + 3 * self.intermediate
        return 8 * self.hidden + 2 * self.kv_dim + 4 * self.intermediate


#: Shapes of the paper's families (their public config.json), so the planner can refuse a grid
#: before any model is downloaded; a prepared model's own config.json takes precedence.
KNOWN_SHAPES: dict[str, ModelShape] = {
    "meta-llama/Llama-3.1-8B-Instruct": ModelShape(128256, 4096, 32, 14336, 32, 8),
    "mistralai/Mistral-7B-Instruct-v0.3": ModelShape(32768, 4096, 32, 14336, 32, 8),
    "Qwen/Qwen2.5-14B-Instruct": ModelShape(152064, 5120, 48, 13824, 40, 8, qkv_bias=True),
}


@dataclass
class Plan:
    """Bytes per GPU by component, and what they were computed for."""

    what: str
    parts: dict[str, float] = field(default_factory=dict)
    overhead: bool = True

    @property
    def tensors(self) -> float:
        return sum(self.parts.values())

    @property
    def total(self) -> float:
        """Peak bytes per GPU, CUDA context and fragmentation included (``overhead``)."""
        return self.tensors * (1 + FRAGMENTATION) + CUDA_OVERHEAD_BYTES if self.overhead else self.tensors

    def summary(self) -> str:
        parts = ", ".join(f"{k} {v / GB:.1f}" for k, v in self.parts.items() if v >= 0.05 * GB)
        return f"{self.total / GB:.1f} GB per GPU ({parts} GB)"


def _bytes(dtype: str) -> int:
    return 2 if dtype in ("bf16", "bfloat16", "float16") else 4


#: fp32 copies of the hidden state that autograd keeps per token per layer, beyond the values in
#: the compute dtype: the RMSNorms upcast their input to fp32 (bf16 weights), and under autocast
#: the residual stream itself stays fp32 while the projections keep bf16 copies of their inputs.
#: Measured on CPU (tests/test_memory.py).
FP32_HIDDEN_COPIES = {"fp32": 0, "bf16": 2, "autocast_bf16": 7}


def activation_bytes(
    shape: ModelShape, tokens: int, precision: str, checkpointing: bool, frozen: bool = False
) -> float:
    """Bytes autograd keeps for backward over ``tokens`` (micro-batch x sequence) tokens, for the
    precision policy used (fp32, bf16 or autocast_bf16)."""
    a = 4 if precision == "fp32" else 2
    per_layer = shape.activation_values_per_token_layer(frozen) * a + FP32_HIDDEN_COPIES[precision] * shape.hidden * 4
    full_layer = tokens * per_layer
    final_norm = 2 * tokens * shape.hidden * 4
    if checkpointing:
        # each layer's input (in the residual stream's dtype), and one layer recomputed in backward
        residual = 4 if precision != "bf16" else 2
        return shape.layers * tokens * shape.hidden * residual + full_layer + final_norm
    return shape.layers * full_layer + final_norm


def plan_finetune(
    shape: ModelShape,
    *,
    precision: str,
    gpus: int,
    seq_len: int,
    micro_batch: int,
    activation_checkpointing: bool,
    method: str = "full",
    lora_params: int = 0,
    sharded: bool | None = None,
) -> Plan:
    """Per-GPU bytes of one fine-tuning step. ``precision``: the policy used (bf16, fp32,
    autocast_bf16); ``sharded`` defaults to FSDP when ``gpus > 1``."""
    shards = max(1, gpus) if (sharded if sharded is not None else gpus > 1) else 1
    w = 2 if precision == "bf16" else 4
    n = shape.params
    trained = n if method == "full" else lora_params
    plan = Plan(
        f"fine-tune ({precision}, {gpus} GPU{'s' if gpus != 1 else ''}, {micro_batch}x{seq_len} tokens, "
        f"activation checkpointing {'on' if activation_checkpointing else 'off'})"
    )
    plan.parts["weights"] = n * w / shards
    plan.parts["gradients"] = trained * w / shards
    plan.parts["optimizer"] = 2 * trained * w / shards
    if shards > 1:
        plan.parts["fsdp gathered"] = 3 * shape.layer_params * w + shape.embedding_params * w
    tokens = micro_batch * seq_len
    plan.parts["activations"] = activation_bytes(shape, tokens, precision, activation_checkpointing)
    plan.parts["logits"] = micro_batch * ANSWER_TOKENS * shape.vocab * 4 * 3
    return plan


def plan_coslow(shape: ModelShape, *, dtype: str, seq_len: int, k: int, checkpointing: bool = True) -> Plan:
    """Per-GPU bytes of CoS-Low's gradient pass: frozen weights in the evaluation dtype and the
    activations of the k labeled examples in one batch (decoder layers checkpointed on a GPU);
    the LoRA gradients are folded into a k x k matrix layer by layer (:mod:`dataeff.coslow`)."""
    b = _bytes(dtype)
    plan = Plan(f"CoS-Low gradients ({dtype}, k={k}, {seq_len} tokens)")
    plan.parts["weights"] = shape.params * b
    plan.parts["activations"] = activation_bytes(
        shape, k * seq_len, "bf16" if b == 2 else "fp32", checkpointing, frozen=True
    )
    plan.parts["logits"] = k * ANSWER_TOKENS * shape.vocab * 4 * 3
    return plan


def family_shape(family_cfg: Mapping[str, Any], name: str, results: str | Path = "results") -> ModelShape | None:
    """The family's model shape: its prepared config.json, else a known public shape, else None."""
    ref = Path(results) / "models" / name / "model.json"
    candidates = []
    if ref.is_file():
        try:
            path = Path(str(json.loads(ref.read_text()).get("path", "")))
            candidates.append(path if path.is_absolute() else ref.parent / path)
        except (OSError, ValueError):
            pass
    spec = str(family_cfg.get("model", ""))
    if not spec.startswith("gguf:") and spec.count("/") != 1 or Path(spec).is_dir():
        candidates.append(Path(spec).expanduser())
    for directory in candidates:
        cfg = directory / "config.json"
        if cfg.is_file():
            try:
                return ModelShape.from_config(json.loads(cfg.read_text()))
            except (OSError, ValueError, TypeError, KeyError):
                continue
    return KNOWN_SHAPES.get(spec)


def fsdp_settings(path: str | Path = "config/fsdp.yaml") -> dict[str, Any]:
    """The FSDP options that change memory (activation checkpointing, CPU offload)."""

    p = Path(path)
    cfg = (read_yaml(p) or {}).get("fsdp_config", {}) if p.is_file() else {}
    return {
        "activation_checkpointing": bool(cfg.get("fsdp_activation_checkpointing", False)),
        "offload": bool(cfg.get("fsdp_offload_params", False)),
    }


def check_memory(
    config: Mapping[str, Any], *, results: str | Path = "results", fsdp_config: str | Path = "config/fsdp.yaml"
) -> list[DataeffError]:
    """One error per GPU family whose fine-tune or CoS-Low pass cannot fit its GPUs
    (``config`` validated and filled by :mod:`dataeff.config`)."""
    from functools import partial

    problems: list[DataeffError] = []
    train = config["train"]
    fsdp = fsdp_settings(fsdp_config)
    for name, fam in config["families"].items():
        gpus = int(fam["gpus"])
        if gpus < 1 or fsdp["offload"]:
            continue
        shape = family_shape(fam, name, results)
        if shape is None:
            continue
        limit = float(fam["gpu_mem_gb"]) * GB
        used = resolve_precision(fam["precision"], "cuda", support=(True, "planned for a GPU")).used
        lora = train.get("lora") or {}
        r = int(lora.get("r", 0)) if train["method"] == "lora" else 0
        replan = partial(
            plan_finetune,
            shape,
            seq_len=int(train["max_seq_len"]),
            micro_batch=int(train["micro_batch_size"]),
            method=train["method"],
            lora_params=shape.layers * r * 2 * (4 * shape.hidden + 3 * shape.intermediate),
        )
        finetune = replan(
            precision=used, gpus=gpus, activation_checkpointing=fsdp["activation_checkpointing"] and gpus > 1
        )
        # CoS-Low's prompts are not known before the data is prepared, and its activations scale
        # with their length; what must fit whatever they are is the model with one example at the
        # longest length training allows (the k-example batch at that length is in docs/GPU.md).
        cos = plan_coslow(shape, dtype=_eval_dtype(fam), seq_len=int(train["max_seq_len"]), k=1)
        if finetune.total > limit:
            problems.append(
                DataeffError(
                    f"family {name}: {finetune.what} needs about {finetune.summary()}, more than its "
                    f"{limit / GB:.0f} GB GPUs",
                    field=f"families.{name}",
                    fix=_fixes(replan, gpus, used, limit),
                )
            )
        elif cos.total > limit:
            problems.append(
                DataeffError(
                    f"family {name}: {cos.what} needs about {cos.summary()}, more than its {limit / GB:.0f} GB GPUs",
                    field=f"families.{name}",
                    fix="a smaller coslow.k or train.max_seq_len, or GPUs with more memory",
                )
            )
    return problems


def _eval_dtype(fam: Mapping[str, Any]) -> str:
    return "bfloat16" if fam["dtype"] == "auto" else fam["dtype"]


def _fixes(replan: Any, gpus: int, precision: str, limit: float) -> str:
    """The changes that make the fine-tune fit, most direct first."""
    fixes = []
    more = next(
        (
            g
            for g in (2, 4, 8, 16)
            if g > gpus and replan(precision=precision, gpus=g, activation_checkpointing=True).total <= limit
        ),
        None,
    )
    if more:
        fixes.append(f"gpus: {more} (FSDP2 with activation checkpointing)")
    if (
        precision != "bf16"
        and replan(precision="bf16", gpus=max(gpus, 2) if gpus > 1 else gpus, activation_checkpointing=gpus > 1).total
        <= limit
    ):
        fixes.append("precision: bf16 (bf16 weights and AdamW state, the authors')")
    fixes.append("fsdp_offload_params: true in config/fsdp.yaml (CPU offload of parameters and optimizer state)")
    fixes.append("a smaller train.micro_batch_size or train.max_seq_len")
    return "; ".join(fixes)
