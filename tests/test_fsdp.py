"""The project's fine-tune on accelerate's FSDP2 path, on 2 CPU processes (gloo), through the
shipped config/fsdp.yaml (tests/_fsdp_cpu.py lets accelerate take FSDP on CPUs).

It must finish (a hang fails on the subprocess timeout), give the losses and final weights of
one plain process within 1e-4, write one checkpoint with both ranks' shards, resume from it after
a SIGKILL to bit-identical final weights, and save a model a plain transformers model reloads
with tied weights intact.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TIMEOUT = 300  # seconds per launch: a hang (a collective left waiting) fails the test


def _env(fsdp: bool) -> dict[str, str]:
    path = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=path)
    if fsdp:
        from _fsdp_cpu import fsdp_launch_env

        env.update(fsdp_launch_env(2))
    return env


def _launch(model: Path, out: Path, *extra: str, procs: int = 2) -> subprocess.CompletedProcess:
    from _fsdp_cpu import torchrun

    script, args = HERE / "_mp_finetune.py", (str(model), str(out), *extra)
    cmd = [sys.executable, str(script), *args] if procs == 1 else torchrun(script, *args, procs=procs)
    return subprocess.run(cmd, env=_env("--fsdp" in extra), capture_output=True, text=True, timeout=TIMEOUT)


def _weights(out: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(out / "model" / "model.safetensors"))


def _log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def runs(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("fsdp")
    one, two, killed = root / "one", root / "fsdp", root / "killed"
    for out, args, procs in ((two, ("--fsdp",), 2), (one, (), 1)):
        proc = _launch(tiny_model_dir, out, *args, procs=procs)
        assert proc.returncode == 0, proc.stderr[-4000:]
    proc = _launch(tiny_model_dir, killed, "--fsdp", "--kill-after-checkpoint", "2")
    assert proc.returncode != 0, "the run meant to be killed after its step-2 checkpoint finished"
    ckpt = killed.with_name("killed.ckpt")
    listing = sorted(str(p.relative_to(ckpt)) for p in ckpt.rglob("*") if p.is_file())
    latest = json.loads((ckpt / "latest.json").read_text())
    proc = _launch(tiny_model_dir, killed, "--fsdp")
    assert proc.returncode == 0, proc.stderr[-4000:]
    return {"one": one, "two": two, "killed": killed, "listing": listing, "latest": latest}


@pytest.mark.slow
def test_fsdp2_on_two_ranks_equals_one_process(runs):
    from _mp_finetune import STEPS

    one, two = runs["one"], runs["two"]
    m1, m2 = (json.loads((d / "metrics.json").read_text()) for d in (one, two))
    assert (m2["distributed"], m2["processes"], m1["processes"]) == ("FSDP", 2, 1)
    assert (
        m2["fsdp"]
        == {
            "version": 2,
            "reshard_after_forward": True,
            "activation_checkpointing": True,
            "state_dict_type": "SHARDED_STATE_DICT",
        }
        and m1["fsdp"] is None
    )
    assert m1["steps_run"] == m2["steps_run"] == STEPS
    assert m1["train_tokens"] == m2["train_tokens"] and m1["validation_evaluations"] == m2["validation_evaluations"]
    assert m2["best_step"] == m1["best_step"]
    assert m2["best_val_loss"] == pytest.approx(m1["best_val_loss"], rel=1e-4)
    l1, l2 = _log(one), _log(two)
    assert [r["loss"] for r in l2] == pytest.approx([r["loss"] for r in l1], rel=1e-4)
    v1, v2 = ([(r["step"], r["val_loss"]) for r in log if "val_loss" in r] for log in (l1, l2))
    assert [s for s, _ in v1] == [s for s, _ in v2] == [2, 4, 6]
    assert [v for _, v in v2] == pytest.approx([v for _, v in v1], rel=1e-4)
    w1, w2 = _weights(one), _weights(two)
    assert w1.keys() == w2.keys() and len(w1) > 0
    for k in w1:
        assert float((w1[k] - w2[k]).abs().max()) < 1e-4, k
    assert not two.with_name("fsdp.ckpt").exists(), "checkpoint left behind after a finished run"


@pytest.mark.slow
def test_checkpoint_holds_every_rank_and_resume_is_bit_exact(runs):
    import torch

    listing, latest = runs["listing"], runs["latest"]
    assert latest["step"] == 2 and latest["dir"] == "step-000002"
    step = "step-000002/"
    # both ranks' model and optimizer shards, both ranks' RNG state and best-weights shard
    for name in ("__0_0.distcp", "__1_0.distcp"):
        assert sum(p.startswith(step) and p.endswith(name) for p in listing) >= 2, (name, listing)
    for rank in (0, 1):
        assert f"{step}accelerate/random_states_{rank}.pkl" in listing, listing
        assert f"{step}best_rank{rank}.pt" in listing, listing
    assert f"{step}trainer_state.json" in listing
    assert not any(".tmp" in p for p in listing), listing

    killed, straight = runs["killed"], runs["two"]
    m, ms = (json.loads((d / "metrics.json").read_text()) for d in (killed, straight))
    assert m["resumed_from_step"] == 2 and m["steps_run"] == ms["steps_run"]
    assert [r["loss"] for r in _log(killed)] == [r["loss"] for r in _log(straight)]
    wk, ws = _weights(killed), _weights(straight)
    assert wk.keys() == ws.keys()
    for k in ws:
        assert torch.equal(wk[k], ws[k]), k


@pytest.mark.slow
def test_saved_model_reloads_into_a_plain_model_with_tied_weights(runs):
    import torch
    from transformers import AutoModelForCausalLM

    out = runs["two"] / "model"
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.config.tie_word_embeddings
    assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    saved = _weights(runs["two"])
    state = model.state_dict()
    for k, v in saved.items():
        assert torch.equal(state[k], v), k
    saved_dtype = json.loads((runs["two"] / "metrics.json").read_text())["saved_dtype"]
    assert {str(v.dtype).removeprefix("torch.") for v in saved.values()} == {saved_dtype}
    ids = torch.tensor([[1, 2, 3, 4]])
    assert torch.isfinite(model(ids).logits).all()
