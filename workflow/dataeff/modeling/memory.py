"""Per-GPU memory of a fine-tune (and of a CoS-Low gradient pass), planned before submission.

A fine-tune that does not fit fails after queueing, loading and sometimes hours of training;
the pipeline refuses it up front instead (:func:`check_memory`, called by the cluster preflight)
with one line naming the family, the estimate and the fixes.

The estimate, per GPU, for a decoder-only (Llama-like) model with N parameters, S shards
(FSDP ranks; 1 without FSDP), w bytes per weight (2 for bf16 weights, 4 for fp32 master weights),
a bytes per activation (2 with bf16 compute, 4 in fp32), micro-batch B, sequence length T:

* weights ``N w / S``, gradients ``N w / S``, AdamW moments ``2 N w / S`` (state in the weights'
  dtype, :mod:`dataeff.modeling.precision`); LoRA: gradients and moments of the adapter only;
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
* a fixed 1.5 GB for the CUDA context and kernels' workspace and 10% for allocator fragmentation;
* the set-up peak (:func:`setup_bytes`): under FSDP2 with ``fsdp_cpu_ram_efficient_loading``
  (:func:`dataeff.training.finetune.load_placement`) each GPU holds its shard plus the one full tensor being
  broadcast and its scattered pieces, never the whole model; one GPU without FSDP holds the
  model once. A plan's figure is the larger of that and the step's parts.

CoS-Low's gradient pass (:func:`plan_coslow`) is planned as :mod:`dataeff.coslow.gradients` runs it: frozen
weights, one micro-batch of ``coslow.grad_batch_size`` examples at ``coslow.max_seq_len`` tokens,
plus what its hooks keep (each LoRA target's ``A x`` for every token, one layer's output gradient
in fp32) and the seeded A matrices; the per-example gradients of earlier micro-batches are kept in
host memory, reported beside the plan, not in the GPU's figure.

``tests/test_memory.py`` checks the parts against measured tensors on CPU (weights, gradients and
optimizer state exactly; activations against the bytes autograd saves, within 15%).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataeff.core.errors import DataeffError
from dataeff.core.io import read_yaml
from dataeff.core.settings import CoslowSettings, FamilySettings, coslow_settings, family_settings, train_settings
from dataeff.modeling.precision import resolve_precision

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

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """``(in_features, out_features)`` of each projection of a decoder layer, by the module
        names LoRA targets."""
        h, kv, i = self.hidden, self.kv_dim, self.intermediate
        return {
            "q_proj": (h, h),
            "k_proj": (h, kv),
            "v_proj": (h, kv),
            "o_proj": (h, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }

    @property
    def largest_tensor(self) -> int:
        """Elements of the largest single weight (the embedding, or an MLP projection)."""
        return max(self.vocab * self.hidden, self.intermediate * self.hidden)

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
    """Bytes per GPU by component, and what they were computed for.

    ``parts`` are held at once during the step (forward/backward); ``setup`` at once while the
    model is loaded and sharded, before any of the step's memory exists; ``host`` is host memory
    the pass keeps (not on the GPU, not in the totals)."""

    what: str
    parts: dict[str, float] = field(default_factory=dict)
    overhead: bool = True
    setup: dict[str, float] = field(default_factory=dict)
    host: dict[str, float] = field(default_factory=dict)

    @property
    def step(self) -> float:
        return sum(self.parts.values())

    @property
    def setup_peak(self) -> float:
        return sum(self.setup.values())

    @property
    def tensors(self) -> float:
        """Peak tensor bytes per GPU: the larger of the set-up and the step."""
        return max(self.step, self.setup_peak)

    @property
    def total(self) -> float:
        """Peak bytes per GPU, CUDA context and fragmentation included (``overhead``)."""
        return self.tensors * (1 + FRAGMENTATION) + CUDA_OVERHEAD_BYTES if self.overhead else self.tensors

    def summary(self) -> str:
        parts = ", ".join(f"{k} {v / GB:.1f}" for k, v in self.parts.items() if v >= 0.05 * GB)
        extra = f"; set-up peak {self.setup_peak / GB:.1f}" if self.setup else ""
        return f"{self.total / GB:.1f} GB per GPU ({parts}{extra} GB)"


def setup_bytes(shape: ModelShape, *, weight_bytes: int, shards: int, ram_efficient: bool = True) -> dict[str, float]:
    """Bytes per GPU while the model is loaded and sharded, by part.

    One GPU (``shards`` 1): the model, loaded into host memory and moved over once. FSDP2:
    the shard, plus with ``ram_efficient`` (accelerate broadcasts the full state dict from the
    main process one tensor at a time, ``fsdp2_load_full_state_dict``) the tensor in flight and
    its scattered pieces, at most the largest weight; without it ``fully_shard`` moves one
    wrapped module at a time to the GPU before sharding it, at most the larger of a decoder
    layer and the embedding.
    """
    w = weight_bytes
    if shards <= 1:
        return {"weights": shape.params * w}
    in_flight = shape.largest_tensor if ram_efficient else max(shape.layer_params, shape.largest_tensor)
    return {"weight shard": shape.params * w / shards, "tensor in flight": in_flight * w * (1 + 1 / shards)}


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
    ram_efficient_loading: bool = True,
) -> Plan:
    """Per-GPU bytes of one fine-tuning step and of the set-up before it (:func:`setup_bytes`).
    ``precision``: the policy used (bf16, fp32, autocast_bf16); ``sharded`` defaults to FSDP
    when ``gpus > 1``; ``ram_efficient_loading``: config/fsdp.yaml's
    ``fsdp_cpu_ram_efficient_loading``."""
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
    plan.setup = setup_bytes(shape, weight_bytes=w, shards=shards, ram_efficient=ram_efficient_loading)
    return plan


def plan_coslow(
    shape: ModelShape,
    *,
    dtype: str,
    seq_len: int,
    k: int,
    micro_batch: int | None = None,
    checkpointing: bool = True,
    lora_r: int | None = None,
    lora_targets: tuple[str, ...] | list[str] | None = None,
) -> Plan:
    """Per-GPU bytes of CoS-Low's gradient pass as :func:`dataeff.coslow.gradients.lora_gram` runs it.

    Frozen weights in the evaluation dtype; the activations of one micro-batch of
    ``micro_batch`` examples (None: all k at once) at ``seq_len`` tokens, decoder layers
    checkpointed; what the hooks keep until each layer's backward: ``A x`` (r values per token
    per target, in the compute dtype) for every layer, and for the layer in backward its output
    gradient as an fp32 copy beside the gradient itself; the seeded A matrices (fp32). With
    micro-batches the earlier ones' per-example B gradients (fp32) wait in host memory
    (``plan.host``). Logits only at the answer positions. ``lora_r`` and ``lora_targets``
    default to the schema's ``coslow.lora``.
    """
    lora = coslow_settings(None).lora
    lora_r = int(lora.r if lora_r is None else lora_r)
    lora_targets = lora.target_modules if lora_targets is None else lora_targets
    b = _bytes(dtype)
    mb = min(k, micro_batch or k)
    tokens = mb * seq_len
    linears = shape.linear_shapes()
    targets = [linears[t] for t in lora_targets if t in linears]
    widest = max((out for _, out in targets), default=0)
    plan = Plan(f"CoS-Low gradients ({dtype}, k={k} in micro-batches of {mb}, {seq_len} tokens)")
    plan.parts["weights"] = shape.params * b
    plan.parts["lora A"] = shape.layers * lora_r * sum(i for i, _ in targets) * 4
    plan.parts["activations"] = activation_bytes(
        shape, tokens, "bf16" if b == 2 else "fp32", checkpointing, frozen=True
    )
    plan.parts["A x"] = tokens * shape.layers * len(targets) * lora_r * b
    plan.parts["gradient hook"] = tokens * (widest * (4 + b) + lora_r * 4) + 2 * mb * widest * lora_r * 4
    plan.parts["logits"] = mb * ANSWER_TOKENS * shape.vocab * 4 * 3
    plan.setup = setup_bytes(shape, weight_bytes=b, shards=1)
    if mb < k:
        plan.host["per-example gradients"] = k * shape.layers * lora_r * sum(o for _, o in targets) * 4
    return plan


def family_shape(family: FamilySettings, name: str, results: str | Path = "results") -> ModelShape | None:
    """The family's model shape: its prepared config.json, else a known public shape, else None."""
    ref = Path(results) / "models" / name / "model.json"
    candidates = []
    if ref.is_file():
        try:
            path = Path(str(json.loads(ref.read_text()).get("path", "")))
            candidates.append(path if path.is_absolute() else ref.parent / path)
        except (OSError, ValueError):
            pass
    spec = family.model
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
    """The FSDP options that change memory (activation checkpointing, CPU offload, how the
    weights are loaded)."""

    p = Path(path)
    cfg = (read_yaml(p) or {}).get("fsdp_config", {}) if p.is_file() else {}
    return {
        "activation_checkpointing": bool(cfg.get("fsdp_activation_checkpointing", False)),
        "offload": bool(cfg.get("fsdp_offload_params", False)),
        "ram_efficient_loading": bool(cfg.get("fsdp_cpu_ram_efficient_loading", False)),
    }


def check_memory(
    config: Mapping[str, Any], *, results: str | Path = "results", fsdp_config: str | Path = "config/fsdp.yaml"
) -> list[DataeffError]:
    """One error per GPU family whose fine-tune or CoS-Low pass cannot fit its GPUs
    (``config`` validated and filled by :mod:`dataeff.core.config`)."""
    from functools import partial

    problems: list[DataeffError] = []
    train = train_settings(config)
    coslow = coslow_settings(config)
    fsdp = fsdp_settings(fsdp_config)
    for name, entry in config["families"].items():
        fam = family_settings(entry)
        gpus = int(fam.gpus)
        if gpus < 1 or fsdp["offload"]:
            continue
        shape = family_shape(fam, name, results)
        if shape is None:
            continue
        limit = float(fam.gpu_mem_gb) * GB
        used = resolve_precision(fam.precision, "cuda", support=(True, "planned for a GPU")).used
        r = int(train.lora.r) if train.method == "lora" else 0
        replan = partial(
            plan_finetune,
            shape,
            seq_len=int(train.max_seq_len),
            micro_batch=int(train.micro_batch_size),
            method=train.method,
            lora_params=shape.layers * r * 2 * (4 * shape.hidden + 3 * shape.intermediate),
            ram_efficient_loading=fsdp["ram_efficient_loading"],
        )
        finetune = replan(
            precision=used, gpus=gpus, activation_checkpointing=fsdp["activation_checkpointing"] and gpus > 1
        )
        # CoS-Low's pass as it runs: micro-batches of coslow.grad_batch_size examples, each cut to
        # coslow.max_seq_len tokens whatever the data (dataeff.coslow.gradients.encode_capped).
        cos = plan_coslow_settings(shape, coslow, dtype=_eval_dtype(fam))
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
                    fix="a smaller coslow.grad_batch_size or coslow.max_seq_len, or GPUs with more memory",
                )
            )
    return problems


def plan_coslow_settings(shape: ModelShape, coslow: CoslowSettings, *, dtype: str) -> Plan:
    """:func:`plan_coslow` for the ``coslow`` settings: the micro-batch, length cap, k and LoRA
    rank and targets the pass will use."""
    return plan_coslow(
        shape,
        dtype=dtype,
        seq_len=int(coslow.max_seq_len),
        k=int(coslow.k),
        micro_batch=int(coslow.grad_batch_size),
        lora_r=int(coslow.lora.r),
        lora_targets=tuple(coslow.lora.target_modules),
    )


def _eval_dtype(fam: FamilySettings) -> str:
    return "bfloat16" if fam.dtype == "auto" else fam.dtype


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
