"""How a model reaches its GPUs under FSDP2 (issue 26, part 4), on 2 CPU processes (gloo).

Every rank used to load the whole model and move it to its device before ``fully_shard``: a full
copy plus the shard on each GPU, and a full read of the shared cache on every rank. Now
(``dataeff.training.finetune.load_placement``) the main process loads into host memory, the other rank
builds the model without reading a weight file or writing its tensors, and accelerate's
``fsdp_cpu_ram_efficient_loading`` broadcasts the weights one tensor at a time into each rank's
shard. Checked here, on bf16 weights (the paper's policy): the other rank never read the weights
and its resident memory did not grow by a quarter of the model's size while loading (imports
alone add about 17 MB), each rank holds half the parameters after sharding, the optimizer holds
every shard (accelerate maps parameters by ``data_ptr``, which the meta device would break), the
rotary tables stay fp32 on both ranks, and the sharded model's logits equal one plain process's.
The GPU side (peak memory during set-up) is in scripts/gpu_check.py.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def wide_model_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """A 2-layer Llama with untied 1024-wide embeddings (SmolLM2's 49k vocabulary), saved in
    bf16: 235 MB of weights, so a full copy shows in a process's resident memory."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=1024,
        intermediate_size=2048,
        num_hidden_layers=2,
        num_attention_heads=8,
        num_key_value_heads=4,
        max_position_embeddings=512,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("wide") / "model"
    LlamaForCausalLM(cfg).to(torch.bfloat16).save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.mark.slow
def test_only_the_main_rank_reads_the_weights_and_each_holds_its_shard(wide_model_dir, tmp_path):
    import torch

    from _fsdp_cpu import fsdp_launch_env, torchrun
    from dataeff.modeling.loading import load_model

    env = dict(
        os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])
    )
    env.update(fsdp_launch_env(2))
    assert env["FSDP_CPU_RAM_EFFICIENT_LOADING"].lower() == "true"  # config/fsdp.yaml
    cmd = torchrun(HERE / "_fsdp_load.py", str(wide_model_dir), str(tmp_path))
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    main, other = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    model_bytes = main["full_numel"] * 2  # bf16 weights
    assert model_bytes > 200e6
    assert (main["placement"], other["placement"]) == ("cpu", "empty")
    assert other["info_placement"] == "empty" and other["weight_reads"] == []
    assert len(main["weight_reads"]) == 1
    # the other rank allocated tensors it never wrote: their pages never became resident (the main
    # rank's weights are mapped from the safetensors file and read only as they are broadcast,
    # so its resident memory says nothing here)
    assert other["rss_growth_bytes"] < 0.25 * model_bytes, (other["rss_growth_bytes"], model_bytes)
    for rec in (main, other):
        assert rec["param_dtypes"] == ["torch.bfloat16"]
        assert rec["buffer_dtypes"]["model.rotary_emb.inv_freq"] == "torch.float32"
        assert rec["full_numel"] == main["full_numel"]
        assert abs(rec["local_numel"] - rec["full_numel"] / 2) < 0.01 * rec["full_numel"]
        assert rec["optimizer_holds_every_shard"]
    plain, _, _ = load_model(wide_model_dir, dtype="bfloat16", device="cpu")
    with torch.no_grad():
        ref = plain(input_ids=torch.tensor([[5, 17, 300, 42, 7, 99]])).logits.float().flatten()
    for rec in (main, other):
        diff = float((torch.tensor(rec["logits"]) - ref).abs().max())
        assert diff <= 1e-6 * float(ref.abs().max()), diff
