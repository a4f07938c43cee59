"""Several processes split an effective batch and end where one process ends.

The multi-GPU path (``accelerate launch --num_processes N``, FSDP on GPUs) runs the same loop as
a single process, with each rank taking every N-th micro-batch. A GPU is not needed to check the
arithmetic: two CPU processes (``torch.distributed.run``, gloo) must give the same training
losses, validation losses, token counts and final weights as one process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _load_weights(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path / "model" / "model.safetensors"))


def test_rank_share_pads_the_short_rank():
    from dataeff.training.finetune import rank_share

    mbs = [["a"], ["b"], ["c"]]
    assert rank_share(mbs, 1, 0) == [(["a"], 1.0), (["b"], 1.0), (["c"], 1.0)]
    assert rank_share(mbs, 2, 0) == [(["a"], 1.0), (["c"], 1.0)]
    assert rank_share(mbs, 2, 1) == [(["b"], 1.0), (["a"], 0.0)]


@pytest.mark.slow
def test_two_processes_equal_one(tiny_model_dir, tmp_path):
    path = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=path)
    two = tmp_path / "two"
    # torch.distributed.run is what `accelerate launch` uses for several GPUs; on CPUs accelerate
    # itself would want mpirun, so the test calls it directly (accelerate sees MULTI_CPU, gloo).
    from _fsdp_cpu import torchrun
    from _mp_finetune import STEPS

    cmd = torchrun(HERE / "_mp_finetune.py", str(tiny_model_dir), str(two))
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    one = tmp_path / "one"
    proc = subprocess.run(
        [sys.executable, str(HERE / "_mp_finetune.py"), str(tiny_model_dir), str(one)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]

    assert json.loads((two / "world.json").read_text())["world"] == 2
    m1, m2 = (json.loads((d / "metrics.json").read_text()) for d in (one, two))
    assert m1["steps_run"] == m2["steps_run"] == STEPS
    assert (m1["distributed"], m2["distributed"]) == ("NO", "MULTI_CPU")
    assert m1["train_tokens"] == m2["train_tokens"] and m1["answer_tokens"] == m2["answer_tokens"]
    assert m2["best_val_loss"] == pytest.approx(m1["best_val_loss"], rel=1e-4)
    log1, log2 = ([json.loads(line) for line in (d / "train_log.jsonl").read_text().splitlines()] for d in (one, two))
    assert [r["loss"] for r in log2] == pytest.approx([r["loss"] for r in log1], rel=1e-4)
    w1, w2 = _load_weights(one), _load_weights(two)
    assert w1.keys() == w2.keys()
    for k in w1:
        assert float((w1[k] - w2[k]).abs().max()) < 1e-4, k
