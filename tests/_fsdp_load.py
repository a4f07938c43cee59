"""Load and shard a model as dataeff.training.finetune.finetune does, under accelerate's FSDP2 on CPU
processes (tests/_fsdp_cpu.py); run by tests/test_fsdp_loading.py under torch.distributed.run.

Usage: ``_fsdp_load.py MODEL_DIR OUT_DIR``. Each rank writes ``rank{R}.json``: where it loaded the
weights, whether it read a weight file, how much its resident memory grew while loading, the
parameter elements it holds after sharding, and the logits of a fixed input (a forward of the
sharded model), so the test can compare them with one plain process.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(model_dir: str, out_dir: str) -> None:
    import psutil
    import torch
    from transformers import AutoModelForCausalLM

    from _fsdp_cpu import allow_fsdp_on_cpu

    allow_fsdp_on_cpu()
    import dataclasses

    from dataeff.core.config import validate_schema
    from dataeff.core.settings import family_settings, train_settings
    from dataeff.modeling.precision import resolve_precision
    from dataeff.pipeline.config import load_config
    from dataeff.training.distributed import make_accelerator
    from dataeff.training.finetune import load_placement, prepare_training, trainable_model

    reads = []
    original = AutoModelForCausalLM.from_pretrained.__func__

    def counting(cls, *args, **kwargs):
        reads.append(str(args[0]))
        return original(cls, *args, **kwargs)

    AutoModelForCausalLM.from_pretrained = classmethod(counting)
    acc = make_accelerator()
    config = load_config(Path(__file__).resolve().parents[1] / "config" / "config.yaml")
    train = dataclasses.replace(train_settings(config), threads=1)
    families = validate_schema({"families": {"f": {"model": model_dir, "precision": "bf16"}}}, partial=True)["families"]
    # the paper's policy: bf16 weights (rotary tables must stay fp32 on every rank)
    precision = resolve_precision("bf16", "cpu", (True, "test"))
    placement = load_placement(acc)
    # what loading imports and caches (model classes, tokenizer) before measuring, so that the
    # resident memory that grows below is the weights'
    from accelerate import init_empty_weights  # noqa: F401
    from transformers import AutoConfig

    from dataeff.modeling.loading import load_tokenizer

    load_tokenizer(model_dir)
    small = AutoConfig.from_pretrained(model_dir)
    small.update({"vocab_size": 64, "hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 2})
    small.num_key_value_heads = 1
    AutoModelForCausalLM.from_config(small)
    proc = psutil.Process()
    before = proc.memory_info().rss
    model, _, info = trainable_model(model_dir, family_settings(families["f"]), train, precision, "cpu", placement)
    grown = proc.memory_info().rss - before
    full = sum(p.numel() for p in model.parameters())
    model, optimizer, _ = prepare_training(acc, model, train, steps=2)
    params = list(model.parameters())
    local = sum(p.to_local().numel() for p in params)
    in_optimizer = [p for g in optimizer.param_groups for p in g["params"]]
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([[5, 17, 300, 42, 7, 99]])).logits
    record = {
        "rank": acc.process_index,
        "placement": placement,
        "info_placement": info["placement"],
        "weight_reads": reads,
        "rss_growth_bytes": grown,
        "full_numel": full,
        "local_numel": local,
        "optimizer_holds_every_shard": len(in_optimizer) == len(params)
        and {id(p) for p in in_optimizer} == {id(p) for p in params},
        "logits": logits.float().flatten().tolist(),
        "param_dtypes": sorted({str(p.dtype) for p in params}),
        "buffer_dtypes": {n: str(b.dtype) for n, b in model.named_buffers()},
    }
    Path(out_dir, f"rank{acc.process_index}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main(sys.argv[1], sys.argv[2])
