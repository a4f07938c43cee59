"""CoS-Low: the median pairwise cosine of per-example LoRA gradients (docs/METHOD.md section 2, step 3-4).

What is computed is exactly the textbook recipe (kept runnable in
``benchmarks/coslow_reference.py``): wrap the model in LoRA with a seeded initialisation, take
one gradient per labeled example (mean cross-entropy over the answer tokens), flatten it over
all LoRA parameters, and report the median of the k(k-1)/2 pairwise cosines. How it is
computed is different, for speed and memory:

* With the standard initialisation (B = 0) the gradient of every A matrix is exactly zero and
  the LoRA branch adds exactly zero to the forward pass. So the forward and backward passes run
  on the plain base model; peft is used only to draw the seeded A matrices (then unloaded).
* For a LoRA layer ``y = W x + s B A x`` the gradient of B for one example is
  ``s * sum_t outer(dL/dy_t, A x_t)``. A forward hook on each target linear layer stores
  ``u = A x`` (r numbers per token, small) and a tensor hook on its output receives
  ``dL/dy`` during one batched backward pass; per-example B gradients are then one einsum.
  Because examples in a batch do not interact, summing their losses gives each example's own
  gradient at its own rows.
* With all k examples in one batch, each layer's per-example gradients are folded into a k x k
  Gram matrix (float64) as soon as they arrive and dropped, so the k full gradients never exist at
  once (an 8B model's 32 gradients would be ~11 GB in fp32). In micro-batches (below) they wait
  in host memory instead, not on the GPU.
* Logits are computed only at the answer positions (the body's hidden states there, then the
  output head), not over the whole prompt; the last token (which only predicts end-of-turn,
  excluded from the loss) is not fed at all; sequences are right-padded, so no attention mask
  is needed and pad positions receive zero gradient.
* On a GPU (or on request) decoder layers are activation-checkpointed, so the activation
  memory of k sequences stays small; the hooks ignore the recomputation.
* The k examples run in micro-batches of ``coslow.grad_batch_size`` (schema default 8), each
  example at most ``coslow.max_seq_len`` tokens (a longer prompt is cut from the left, as
  fine-tuning cuts it; the answer never is). Activations then scale with one micro-batch, not
  with k: Qwen2.5-14B at k = 32 and 2048 tokens would need about 96 GB of one GPU in one batch,
  50 GB in micro-batches of 8. Examples of different micro-batches never share a backward pass,
  so each one's gradient is the same as in one batch; the cross-batch Gram entries need the
  earlier micro-batches' gradients, which are kept in host memory (k x LoRA parameters x 4
  bytes: 17.7 GB for the 14B model at r = 64) and folded once all have run.
  ``dataeff.modeling.memory.plan_coslow`` plans exactly this pass (micro-batch x capped length), and the
  cluster preflight checks it.

Cosines and norms come from the Gram matrix: cos_ij = K_ij / sqrt(K_ii K_jj), |g_i| = sqrt(K_ii).
"""

from __future__ import annotations

import contextlib
import functools
import statistics
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from dataeff.core.errors import DataeffError
from dataeff.core.settings import CoslowSettings, LoraSettings, analysis_settings, coslow_settings, to_dict
from dataeff.modeling.chat import answer_ids, prompt_ids
from dataeff.modeling.lora import peft_config
from dataeff.training.batches import cut_prompt

# --------------------------------------------------------------------------- examples


def validate_labeled_rows(rows: Sequence[dict[str, Any]], source: str = "examples") -> None:
    """Each row needs non-empty string ``prompt`` and ``answer``; at least two rows."""
    if len(rows) < 2:
        raise DataeffError(
            f"CoS-Low needs at least 2 labeled examples, got {len(rows)}",
            file=source,
            fix="label more examples (the method uses k=32)",
        )
    for i, r in enumerate(rows):
        line = r.get("_line", i + 1)
        for key in ("prompt", "answer"):
            value = r.get(key)
            if not isinstance(value, str) or not value.strip():
                what = "missing" if value is None else "empty" if isinstance(value, str) else "not a string"
                raise DataeffError(
                    f"line {line}: {key} is {what}",
                    file=source,
                    field=key,
                    fix=f"give every example a non-empty '{key}'",
                )


def encode_examples(
    tokenizer: Any,
    rows: Sequence[dict[str, Any]],
    *,
    max_len: int | None = None,
    max_seq_len: int | None = None,
    source: str = "examples",
) -> list[tuple[list[int], int]]:
    """``(prompt_ids + answer_ids, len(prompt_ids))`` per row (:func:`encode_capped` without
    the count of cut prompts)."""
    return encode_capped(tokenizer, rows, max_len=max_len, max_seq_len=max_seq_len, source=source)[0]


def encode_capped(
    tokenizer: Any,
    rows: Sequence[dict[str, Any]],
    *,
    max_len: int | None = None,
    max_seq_len: int | None = None,
    source: str = "examples",
) -> tuple[list[tuple[list[int], int]], int]:
    """Encoded examples and how many prompts were cut.

    ``max_seq_len`` (``coslow.max_seq_len``) caps prompt + answer: a longer prompt keeps its
    last tokens, as :func:`dataeff.training.batches.tokenize_rows` cuts a training prompt, so the
    memory of the gradient pass is bounded whatever the data (the preflight plans for this
    length). An answer that alone reaches the cap, and an example still longer than the model's
    context ``max_len``, are errors: cutting either would change what is measured.
    """

    out, cut = [], 0
    for i, r in enumerate(rows):
        line = r.get("_line", i + 1)
        p = prompt_ids(tokenizer, r["prompt"], r.get("system"))
        a = answer_ids(tokenizer, r["answer"])
        if not a:
            raise DataeffError(f"line {line}: answer has no tokens", file=source, field="answer")
        if max_seq_len is not None and len(p) + len(a) > max_seq_len:
            if len(a) >= max_seq_len:
                raise DataeffError(
                    f"line {line}: answer is {len(a)} tokens, not shorter than coslow.max_seq_len={max_seq_len}",
                    file=source,
                    field="coslow.max_seq_len",
                    fix="raise coslow.max_seq_len or shorten the answer",
                )
            p = cut_prompt(p, len(a), max_seq_len)
            cut += 1
        if max_len is not None and len(p) + len(a) > max_len:
            raise DataeffError(
                f"line {line}: prompt + answer is {len(p) + len(a)} tokens, longer"
                f" than the model's context of {max_len}",
                file=source,
                field="prompt",
                fix="shorten the prompt, set coslow.max_seq_len to at most the context (prompts are then cut"
                " from the left) or use a model with a longer context",
            )
        out.append((p + a, len(p)))
    return out, cut


def context_length(model: Any) -> int | None:
    cfg = model.config
    cfg = getattr(cfg, "get_text_config", lambda: cfg)()
    return getattr(cfg, "max_position_embeddings", None)


# --------------------------------------------------------------------------- LoRA


def lora_projections(model: Any, seed: int, lora: LoraSettings) -> list[tuple[str, Any, Any, float]]:
    """Seeded LoRA initialisation (``lora``: rank, scaling, dropout, target modules), returned as
    ``(name, base_linear, A, scaling)`` per target.

    The model is wrapped with peft exactly as for training (``torch.manual_seed(seed)`` first),
    the A matrices and scalings are copied out, the B matrices are checked to be zero, and the
    wrapper is removed again, leaving ``model`` as it was.
    """
    import torch
    from peft import get_peft_model

    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    torch.manual_seed(seed)
    wrapped = get_peft_model(model, peft_config(lora))
    out = []
    try:
        for name, mod in wrapped.base_model.model.named_modules():
            if hasattr(mod, "lora_A") and "default" in getattr(mod, "lora_A", {}):
                b = mod.lora_B["default"].weight
                if bool(b.detach().abs().max() > 0):
                    raise RuntimeError("LoRA B is not zero-initialised; the fast path needs B = 0")
                out.append(
                    (
                        name,
                        mod.get_base_layer(),
                        mod.lora_A["default"].weight.detach().clone(),
                        float(mod.scaling["default"]),
                    )
                )
    finally:
        base = wrapped.unload()
        for n, p in base.named_parameters():
            p.requires_grad_(flags.get(n, False))
    if not out:
        raise DataeffError(
            "none of the LoRA target modules exist in this model",
            field="lora.target_modules",
            fix="set coslow.lora.target_modules to the model's linear layer names",
        )
    return out


# --------------------------------------------------------------------------- fast Gram matrix


@contextlib.contextmanager
def _checkpointing(model: Any, enabled: bool) -> Iterator[None]:
    """Activation checkpointing of decoder layers without switching dropout on.

    transformers checkpoints a layer only when the layer itself is in training mode, so only
    that flag is set on the layers (their submodules, dropout included, stay in eval mode).
    """
    if not enabled:
        yield
        return
    from transformers.modeling_layers import GradientCheckpointingLayer

    was = any(getattr(m, "gradient_checkpointing", False) for m in model.modules())
    if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.x name
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        disable = model.activation_checkpointing_disable
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        disable = model.gradient_checkpointing_disable
    layers = [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]
    for m in layers:
        m.training = True
    try:
        yield
    finally:
        for m in layers:
            m.training = False
        if not was:
            disable()


def _in_backward() -> bool:
    import torch

    return torch._C._current_graph_task_id() != -1


def _answer_loss(model: Any, body: Any, head: Any, batch: list[tuple[list[int], int]], device: Any):
    """Sum over the batch of each example's mean answer cross-entropy (right-padded, no mask)."""
    import torch

    lengths = [len(t) - 1 for t, _ in batch]  # the last token only predicts end-of-turn
    width = max(lengths)
    ids = torch.zeros((len(batch), width), dtype=torch.long)
    for j, (toks, _) in enumerate(batch):
        ids[j, : lengths[j]] = torch.tensor(toks[:-1])
    ids = ids.to(device)
    emb = body.get_input_embeddings()(ids)
    emb.requires_grad_(True)  # makes every layer output part of the graph; base weights stay frozen
    hidden = body(inputs_embeds=emb, use_cache=False).last_hidden_state
    rows, cols, targets, owner = [], [], [], []
    for j, (toks, n_prompt) in enumerate(batch):
        for pos in range(n_prompt - 1, len(toks) - 1):
            rows.append(j)
            cols.append(pos)
            targets.append(toks[pos + 1])
            owner.append(j)
    h = hidden[torch.tensor(rows, device=device), torch.tensor(cols, device=device)]
    logits = head(h).float()
    cap = getattr(getattr(model.config, "get_text_config", lambda: model.config)(), "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    ce = torch.nn.functional.cross_entropy(logits, torch.tensor(targets, device=device), reduction="none")
    counts = torch.bincount(torch.tensor(owner, device=device), minlength=len(batch)).to(ce.dtype)
    weights = 1.0 / counts[torch.tensor(owner, device=device)]
    return (ce * weights).sum()


@contextlib.contextmanager
def _frozen(model: Any) -> Iterator[None]:
    """Every weight without ``requires_grad`` inside the block: only the LoRA B gradients are
    wanted, and they come from the hooks, so backward must not also compute (and store) the full
    weight gradients of the base model. The flags are restored afterwards."""
    frozen = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in frozen:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in frozen:
            p.requires_grad_(flag)


class GramAccumulator:
    """The k x k Gram matrix (float64) of per-example LoRA B gradients, filled by the hooks it owns.

    :meth:`hooked` registers a forward hook on each target linear layer of ``projections``
    (``(name, module, A, scaling)`` from :func:`lora_projections`) and removes them on exit. The
    forward hook stores ``u = A x``; a tensor hook on the layer's output receives ``dL/dy`` in
    backward and forms each example's B gradient ``s * sum_t outer(dL/dy_t, u_t)``. With
    ``fold`` (one batch holds every example) each layer's gradients are folded into the Gram
    matrix at once and dropped; otherwise they are kept on the CPU per layer and folded by
    :meth:`gram` once all batches are done. :meth:`begin_batch` names the examples (rows of the
    Gram matrix) of the batch about to run. ``on_progress(done, total)`` is called as the hooks
    fire: a forward through one target layer counts 1, its backward 2 (it costs about twice).
    """

    def __init__(
        self,
        k: int,
        projections: Sequence[tuple[str, Any, Any, float]],
        device: Any,
        *,
        fold: bool,
        n_batches: int,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> None:
        import torch

        self.device = device
        self.projections = list(projections)
        self.fold = fold
        self.on_progress = on_progress
        self.matrix = torch.zeros((k, k), dtype=torch.float64, device=device)
        self.a_mats = {name: a.to(device=device) for name, _, a, _ in self.projections}
        self.spill: dict[str, list[Any]] = {}  # layer -> per-batch gradients [b, params] (not fold)
        self.rows: Any = None  # Gram rows of the batch in flight
        self.done = 0
        self.total = 3 * len(self.projections) * n_batches

    @contextlib.contextmanager
    def hooked(self) -> Iterator[GramAccumulator]:
        """The forward hooks registered on every target layer inside the block, removed after."""
        handles = [
            mod.register_forward_hook(functools.partial(self._on_forward, name, scaling))
            for name, mod, _, scaling in self.projections
        ]
        try:
            yield self
        finally:
            for h in handles:
                h.remove()

    def begin_batch(self, rows: Sequence[int]) -> None:
        """The examples (Gram rows) of the next forward/backward, in batch order."""
        import torch

        self.rows = torch.tensor(list(rows), device=self.device)

    def _tick(self, units: int) -> None:
        if self.on_progress is not None:
            self.done += units
            self.on_progress(self.done, self.total)

    def _on_forward(self, name: str, scaling: float, mod: Any, inputs: Any, output: Any) -> None:
        import torch

        if not output.requires_grad or _in_backward():  # a checkpointed layer's recomputation
            return
        with torch.no_grad():
            u = inputs[0].detach() @ self.a_mats[name].to(inputs[0].dtype).T  # [b, T, r]
        output.register_hook(functools.partial(self._on_grad, name, scaling, u))
        self._tick(1)

    def _on_grad(self, name: str, scaling: float, u: Any, g: Any) -> None:
        import torch

        with torch.no_grad():
            per = torch.einsum("bto,btr->bor", g.float(), u.float()).mul_(scaling)
            per = per.reshape(per.shape[0], -1)
            if self.fold:
                idx = self.rows
                self.matrix[idx[:, None], idx[None, :]] += (per @ per.T).double()
            else:
                self.spill.setdefault(name, []).append(per.cpu())
        self._tick(2)

    def gram(self, order: Sequence[int]) -> Any:
        """The Gram matrix on the CPU; kept gradients (their rows in ``order``, the order the
        batches ran) are folded in first."""
        import torch

        if self.spill:
            inv = torch.tensor(list(order))
            for chunks in self.spill.values():
                g = torch.cat(chunks)  # rows in `order`
                sub = (g @ g.T).double()
                self.matrix[inv[:, None], inv[None, :]] += sub.to(self.device)
            self.spill.clear()
        return self.matrix.cpu()


def lora_gram(
    model: Any,
    examples: Sequence[tuple[list[int], int]],
    projections,
    *,
    batch_size: int | None = None,
    checkpointing: bool | None = None,
    on_progress: Callable[[int, int], None] | None = None,
):
    """k x k Gram matrix (float64, CPU) of the per-example LoRA gradients.

    ``batch_size`` None runs all k examples in one forward/backward, so each layer's gradients
    are folded into the Gram matrix and dropped at once. A smaller batch (the pipeline's
    ``coslow.grad_batch_size``) trades that for activation memory of one micro-batch: the
    per-layer gradients are then kept on the CPU until all micro-batches are done, and give the
    same Gram matrix to float tolerance (tests/test_coslow.py measures it). Examples run longest
    first, so a micro-batch pads little. ``checkpointing`` None means on: keeping every layer's
    activations for all k examples costs more memory than the gradients themselves (SmolLM2,
    k=32, CPU: 4.8 GB extra without, 2.2 GB with, for 20% more time), and an 8B model's k=32
    batch would not fit a GPU without it. ``on_progress(done, total)`` is called as the hooks fire (see
    :class:`GramAccumulator`).
    """
    import torch

    k = len(examples)
    device = next(model.parameters()).device
    if checkpointing is None:
        checkpointing = True
    bs = k if not batch_size or batch_size >= k else batch_size
    order = sorted(range(k), key=lambda i: -len(examples[i][0]))  # longest first: less padding
    batches = [order[start : start + bs] for start in range(0, k, bs)]
    acc = GramAccumulator(k, projections, device, fold=bs == k, n_batches=len(batches), on_progress=on_progress)
    body = model.get_decoder() if hasattr(model, "get_decoder") else model.model
    head = model.get_output_embeddings()
    with acc.hooked(), _frozen(model), _checkpointing(model, checkpointing), torch.enable_grad():
        for idx in batches:
            acc.begin_batch(idx)
            loss = _answer_loss(model, body, head, [examples[i] for i in idx], device)
            loss.backward()
            del loss
    return acc.gram(order)


# --------------------------------------------------------------------------- statistics


def pairwise_cosines(gram) -> list[float]:
    """The k(k-1)/2 cosines (i < j) from a Gram matrix; a zero gradient gives cosine 0."""
    import torch

    norms = gram.diagonal().clamp(min=0).sqrt()
    denom = norms[:, None] * norms[None, :]
    cos = torch.where(denom > 0, gram / denom.clamp(min=1e-300), torch.zeros_like(gram)).clamp(-1, 1)
    i, j = torch.triu_indices(gram.shape[0], gram.shape[0], offset=1)
    return cos[i, j].tolist()


def cosine_matrix(gram):
    """k x k cosines (numpy float64) from a Gram matrix; a zero gradient gives cosine 0."""
    import numpy as np

    g = np.asarray(gram, dtype=np.float64)
    norms = np.sqrt(np.clip(np.diag(g), 0.0, None))
    denom = np.outer(norms, norms)
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = np.where(denom > 0, g / np.where(denom > 0, denom, 1.0), 0.0)
    return np.clip(cos, -1.0, 1.0)


def median_cosine_resamples(gram, draws) -> Any:
    """CoS-Low of each row of ``draws`` (an r x m array of example indices into the Gram
    matrix): the median over position pairs a < b whose examples differ. A bootstrap draw
    repeats examples; pairing an example with its own copy (cosine 1) is left out, as in a
    U-statistic bootstrap, so repeats do not inflate the median."""
    import numpy as np

    cos = cosine_matrix(gram)
    draws = np.asarray(draws)
    ia, ib = np.triu_indices(draws.shape[1], 1)
    a, b = draws[:, ia], draws[:, ib]
    vals = np.where(a != b, cos[a, b], np.nan)
    with warnings.catch_warnings():  # a draw of one example repeated has no pair: NaN, dropped by callers
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(vals, axis=1)


def coslow_spread(gram, *, resamples: int, seed: int, level: float | None = None) -> dict[str, Any]:
    """How much CoS-Low would move with another draw of the k labeled examples.

    Bootstrap over examples (not pairs: the k(k-1)/2 cosines share examples and are not
    independent), from the Gram matrix already computed, so it costs no backward pass. The
    labeled examples are a random draw from the low-confidence segment, so the spread of the
    resampled medians estimates how CoS-Low varies between draws of that segment. Returns
    ``sd`` (of the resampled medians), the percentile interval ``low``/``high`` at ``level``,
    and what was done. ``level`` defaults to the schema's ``analysis.level``.
    """
    import numpy as np

    level = float(level if level is not None else analysis_settings(None).level)
    k = int(np.asarray(gram).shape[0])
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, k, size=(int(resamples), k))
    meds = median_cosine_resamples(gram, draws)
    meds = meds[np.isfinite(meds)]
    lo, hi = np.quantile(meds, [(1 - level) / 2, (1 + level) / 2]) if len(meds) else (np.nan, np.nan)
    return {
        "sd": float(np.std(meds, ddof=1)) if len(meds) > 1 else float("nan"),
        "low": float(lo),
        "high": float(hi),
        "level": level,
        "resamples": int(len(meds)),
        "seed": int(seed),
        "method": "bootstrap of the k labeled examples (pairs of an example with its own copy left out)",
    }


def quartiles(values: Sequence[float]) -> dict[str, float]:
    import numpy as np

    q = np.quantile(np.asarray(values, dtype=float), [0.0, 0.25, 0.5, 0.75, 1.0])
    return dict(zip(("min", "q1", "median", "q3", "max"), (float(x) for x in q), strict=True))


def gradient_pass_settings(settings: CoslowSettings) -> dict[str, int]:
    """``batch_size`` and ``max_seq_len`` of the gradient pass from ``coslow`` (``coslow_settings(None)``
    for the schema defaults): the keyword arguments :func:`gradient_stats` takes, and what
    :func:`dataeff.modeling.memory.plan_coslow` plans for."""
    return {"batch_size": int(settings.grad_batch_size), "max_seq_len": int(settings.max_seq_len)}


def gradient_stats(
    model: Any,
    tokenizer: Any,
    rows: Sequence[dict[str, Any]],
    *,
    seed: int,
    lora: LoraSettings | None = None,
    batch_size: int | None = None,
    max_seq_len: int | None = None,
    checkpointing: bool | None = None,
    source: str = "examples",
    spread_resamples: int = 0,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Median pairwise cosine, quartiles and per-example gradient norms of ``rows``; with
    ``spread_resamples`` > 0 also its bootstrap spread (:func:`coslow_spread`, key ``spread``).

    ``batch_size`` (examples per forward/backward) and ``max_seq_len`` (cap on prompt + answer)
    default to the schema's ``coslow.grad_batch_size`` and ``coslow.max_seq_len``, so every caller
    runs the pass the preflight planned; what was used is recorded under ``gradient_pass``.
    ``lora`` defaults to the schema's ``coslow.lora``; it is recorded under ``lora``."""
    validate_labeled_rows(rows, source)
    schema_defaults = coslow_settings(None)
    defaults = gradient_pass_settings(schema_defaults)
    batch_size = int(batch_size or defaults["batch_size"])
    max_seq_len = int(max_seq_len or defaults["max_seq_len"])
    examples, cut = encode_capped(
        tokenizer, rows, max_len=context_length(model), max_seq_len=max_seq_len, source=source
    )
    lora = lora if lora is not None else schema_defaults.lora
    was_training = model.training
    model.eval()
    projections = lora_projections(model, seed, lora)
    try:
        gram = lora_gram(
            model, examples, projections, batch_size=batch_size, checkpointing=checkpointing, on_progress=on_progress
        )
    finally:
        model.train(was_training)
    cos = pairwise_cosines(gram)
    norms = gram.diagonal().clamp(min=0).sqrt().tolist()
    extra = {"spread": coslow_spread(gram, resamples=spread_resamples, seed=seed)} if spread_resamples else {}
    return {
        **extra,
        "value": statistics.median(cos),
        "k": len(rows),
        "n_pairs": len(cos),
        "cosine_quartiles": quartiles(cos),
        "mean_cosine": sum(cos) / len(cos),
        # every pair's cosine (i < j, row-major; 5 decimals): with the picks' answers they split
        # CoS-Low into same-answer and different-answer pairs (study/analyze.py)
        "pair_cosines": [round(c, 5) for c in cos],
        "grad_norms": norms,
        "mean_grad_norm": sum(norms) / len(norms),
        "seed": seed,
        "lora": to_dict(lora),
        "n_lora_modules": len(projections),
        "gradient_pass": {
            "micro_batch": min(batch_size, len(rows)),
            "max_seq_len": max_seq_len,
            "prompts_cut": cut,
            "longest_tokens": max(len(t) for t, _ in examples),
        },
    }


def coslow_from_rows(
    model: Any,
    tokenizer: Any,
    rows: Sequence[dict[str, Any]],
    *,
    seed: int,
    lora: LoraSettings | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """CoS-Low of labeled rows (``prompt``, ``answer``, optional ``system``) on a loaded model."""
    return gradient_stats(model, tokenizer, rows, seed=seed, lora=lora, **kwargs)
