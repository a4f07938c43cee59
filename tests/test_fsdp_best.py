"""FSDP2 keeps and saves the best step's weights when the best step is not the last one.

accelerate's FSDP2 wrapping groups the model's tail (final norm, lm_head, and the embedding when
it is tied) with ``reshard_after_forward=False``. Validation runs forward only, so after it that
group's parameters are the gathered copy, not the shards: weights captured or restored there must
still land in the shards, or the saved model mixes the best step's decoder layers with the last
step's tail. Here the validation losses the loop decides on rise after step ``BEST`` (the harness's
``--best-at``), so the best weights are an earlier step's than the last, and on 2 CPU processes
(gloo, through the shipped config/fsdp.yaml) every saved tensor must equal one plain process's, for
a tied and an untied embedding; the best weights a checkpoint keeps must be that step's shards, and
a run killed after that checkpoint and resumed must save the same model.
"""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path

import pytest

from test_fsdp import _launch, _log, _weights

BEST = 2  # validation "rises" after this step: the best of the validations at steps 2, 4, 6
KILL_AFTER = 4  # the checkpoint after it keeps step 2's weights as the best, not its own
TOL = 1e-4  # as tests/test_fsdp.py: 2 ranks against one process, fp32


def _untied_copy(tiny: Path, dest: Path) -> Path:
    """The tiny Llama with its own (randomly initialised) lm_head, and the same tokenizer."""
    import torch
    from transformers import AutoConfig, AutoTokenizer, LlamaForCausalLM

    cfg = AutoConfig.from_pretrained(tiny)
    cfg.tie_word_embeddings = False
    torch.manual_seed(1)
    LlamaForCausalLM(cfg).save_pretrained(dest)
    AutoTokenizer.from_pretrained(tiny).save_pretrained(dest)
    return dest


@pytest.fixture(scope="module")
def best_runs(tiny_model_dir, tmp_path_factory):
    """Per embedding kind: one process, 2 FSDP ranks straight through, and (tied) 2 FSDP ranks
    killed after the step-4 checkpoint (its kept best weights read before resuming) and resumed."""
    root = tmp_path_factory.mktemp("fsdp_best")
    models = {"tied": tiny_model_dir, "untied": _untied_copy(tiny_model_dir, root / "untied_model")}
    runs: dict[str, dict] = {}
    for kind, model in models.items():
        one, two = root / f"{kind}_one", root / f"{kind}_fsdp"
        best = ("--best-at", str(BEST))
        for out, args, procs in ((two, ("--fsdp", *best), 2), (one, best, 1)):
            proc = _launch(model, out, *args, procs=procs)
            assert proc.returncode == 0, proc.stderr[-4000:]
        runs[kind] = {"one": one, "two": two}
    killed = root / "tied_killed"
    proc = _launch(tiny_model_dir, killed, "--fsdp", *best, "--kill-after-checkpoint", str(KILL_AFTER))
    assert proc.returncode != 0, f"the run meant to be killed after its step-{KILL_AFTER} checkpoint finished"
    import torch

    step_dir = killed.with_name("tied_killed.ckpt") / f"step-{KILL_AFTER:06d}"
    kept = [torch.load(step_dir / f"best_rank{r}.pt", map_location="cpu") for r in (0, 1)]
    trainer_state = json.loads((step_dir / "trainer_state.json").read_text())
    proc = _launch(tiny_model_dir, killed, "--fsdp", *best)
    assert proc.returncode == 0, proc.stderr[-4000:]
    runs["tied"].update(killed=killed, kept=kept, kept_state=trainer_state)
    return runs


def _max_abs_diff(a: dict, b: dict) -> dict[str, float]:
    assert a.keys() == b.keys() and len(a) > 0
    return {k: float((a[k].float() - b[k].float()).abs().max()) for k in a}


def _listing(diffs: dict[str, float]) -> str:
    """Every tensor's difference, in full (pytest shortens a dict in an assertion message)."""
    return "; ".join(f"{k} {d:.2e}" for k, d in sorted(diffs.items()))


def _canonical(name: str) -> str:
    """A parameter name without the activation-checkpoint wrapper accelerate inserts."""
    return name.replace("_checkpoint_wrapped_module.", "")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["tied", "untied"])
def test_fsdp2_saves_the_best_step_not_the_last(best_runs, kind):
    from _mp_finetune import STEPS

    one, two = best_runs[kind]["one"], best_runs[kind]["two"]
    m1, m2 = (json.loads((d / "metrics.json").read_text()) for d in (one, two))
    assert (m1["processes"], m2["processes"], m2["distributed"]) == (1, 2, "FSDP")
    # the best is an earlier step than the last, on both
    assert m1["steps_run"] == m2["steps_run"] == STEPS
    assert m1["best_step"] == m2["best_step"] == BEST < STEPS
    assert [r["step"] for r in _log(two) if "val_loss" in r] == [2, 4, 6]
    w1, w2 = _weights(one), _weights(two)
    assert ("lm_head.weight" in w1) == (kind == "untied")  # the tied head is saved once, as the embedding
    diffs = _max_abs_diff(w1, w2)
    assert max(diffs.values()) < TOL, _listing(diffs)


@pytest.mark.slow
def test_checkpoint_keeps_the_best_steps_shards_and_resume_saves_them(best_runs):
    import torch

    runs = best_runs["tied"]
    best = _weights(runs["one"])  # the best step's weights (one process, checked above)
    assert runs["kept_state"]["step"] == KILL_AFTER and runs["kept_state"]["best_step"] == BEST
    rank0, rank1 = runs["kept"]
    assert rank0.keys() == rank1.keys() and {_canonical(n) for n in rank0} == best.keys()
    diffs = {}
    for name in rank0:
        full = best[_canonical(name)]
        # each rank keeps its own dim-0 shard (half the rows), not a gathered copy
        assert [rank0[name].shape[0], rank1[name].shape[0]] == [math.ceil(full.shape[0] / 2), full.shape[0] // 2]
        diffs[_canonical(name)] = float((torch.cat([rank0[name], rank1[name]]) - full).abs().max())
    assert max(diffs.values()) < TOL, _listing(diffs)

    killed, straight = runs["killed"], runs["two"]
    m = json.loads((killed / "metrics.json").read_text())
    assert m["resumed_from_step"] == KILL_AFTER and m["best_step"] == BEST
    wk, ws = _weights(killed), _weights(straight)
    assert wk.keys() == ws.keys()
    for k in ws:
        assert torch.equal(wk[k], ws[k]), k


@pytest.mark.slow
def test_process_group_timeout_comes_from_the_config(best_runs):
    """The schema's default ``train.process_group_timeout_minutes`` (config/config.yaml leaves it
    unset) is the timeout the 2-rank run's default process group really has."""
    from dataeff.pipeline.config import load_config

    minutes = load_config(Path(__file__).resolve().parents[1] / "config" / "config.yaml")["train"][
        "process_group_timeout_minutes"
    ]
    world = json.loads((best_runs["tied"]["two"] / "world.json").read_text())
    assert world["world"] == 2 and world["timeout_s"] == minutes * 60


def test_process_group_timeout_reaches_accelerate(monkeypatch):
    """``make_accelerator`` hands the timeout to accelerate as ``InitProcessGroupKwargs``, which
    accelerate passes to ``torch.distributed.init_process_group``; without one it adds none."""
    import accelerate
    from accelerate.utils import InitProcessGroupKwargs

    from dataeff.training.distributed import make_accelerator

    seen: list[dict] = []

    class Recorder:
        def __init__(self, **kwargs):
            seen.append(kwargs)
            self.distributed_type = "NO"

    monkeypatch.setattr(accelerate, "Accelerator", Recorder)
    make_accelerator(process_group_timeout_minutes=45)
    make_accelerator()
    handlers = seen[0]["kwargs_handlers"]
    assert [type(h) for h in handlers] == [InitProcessGroupKwargs]
    assert handlers[0].to_kwargs() == {"timeout": timedelta(minutes=45)}
    assert not seen[1].get("kwargs_handlers")


def test_process_group_timeout_keeps_the_checkpoint():
    """The timeout does not change what is trained: changing it (or a config written before the
    setting existed) still resumes the run's checkpoint."""
    import dataclasses

    from dataeff.core.config import validate_schema
    from dataeff.core.settings import family_settings, train_settings
    from dataeff.training.state import fingerprint

    # a config without the setting gets the schema's default
    config = validate_schema({"families": {"f": {"model": "m"}}, "train": {"learning_rate": 1e-5}}, partial=True)
    train = train_settings(config)
    family = family_settings(config["families"]["f"])
    base = dict(train=train, family=family, seed=1, train_rows=[], val_rows=[], precision="fp32")
    later = dict(base, train=dataclasses.replace(train, process_group_timeout_minutes=90))
    assert fingerprint(**base) == fingerprint(**later)


def test_restore_refuses_kept_weights_of_another_shape():
    """Kept weights that do not match the parameter's local data (a gathered tensor kept by an
    older checkpoint, against this rank's shard) are refused, not broadcast into it."""
    import torch

    from dataeff.core.errors import DataeffError
    from dataeff.training.validation import BestWeights

    model = torch.nn.Linear(2, 2, bias=False)
    with pytest.raises(DataeffError, match=r"weight have shape \(4, 2\)"):
        BestWeights({"weight": torch.zeros(4, 2)}).restore(model)
    BestWeights({"weight": torch.ones(2, 2)}).restore(model)
    assert torch.equal(model.weight.detach(), torch.ones(2, 2))
