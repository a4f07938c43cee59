"""The precision policy is resolved honestly and recorded, and metrics.json reports what a run
really used: distinct examples, examples drawn, updates, evaluations, best step, stop reason."""

from __future__ import annotations

import dataclasses
import json

import pytest

from _coslow_helpers import labeled_rows
from dataeff.core.config import validate_schema
from dataeff.core.settings import FamilySettings, TrainSettings, family_settings, train_settings

AVX = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16\n"
OLD = "processor\t: 0\nflags\t\t: fpu sse2 avx2\n"
ARM = "processor\t: 0\nFeatures\t: fp asimd bf16 i8mm\n"


def test_cpu_flags_decide_native_bf16():
    from dataeff.modeling.precision import cpu_bf16_support

    assert cpu_bf16_support(AVX) == (True, "CPU flag avx512_bf16")
    assert cpu_bf16_support(ARM)[0] is True
    ok, why = cpu_bf16_support(OLD)
    assert not ok and "avx512_bf16" in why


def test_resolution_falls_back_to_fp32_with_the_reason():
    from dataeff.modeling.precision import resolve_precision

    yes, no = (True, "CPU flag avx512_bf16"), (False, "CPU has none of the bf16 flags")
    p = resolve_precision("auto", "cpu", yes)
    assert (p.used, p.weights_dtype, p.compute_dtype) == ("autocast_bf16", "float32", "bfloat16")
    p = resolve_precision("autocast_bf16", "cpu", no)
    assert p.used == "fp32" and p.requested == "autocast_bf16" and "none of the bf16 flags" in p.reason
    assert resolve_precision("auto", "cpu", no).used == "fp32"
    b = resolve_precision("bf16", "cpu", no)
    assert (b.used, b.weights_dtype, b.optimizer_state_dtype) == ("bf16", "bfloat16", "bfloat16")
    assert resolve_precision("fp32", "cpu", yes).compute_dtype == "float32"


def test_unknown_policy_is_one_clear_error():
    from dataeff.core.errors import DataeffError
    from dataeff.modeling.precision import resolve_precision

    with pytest.raises(DataeffError, match="precision"):
        resolve_precision("fp8", "cpu", (True, ""))


def test_autocast_runs_matmuls_in_bf16_and_keeps_weights_fp32():
    import torch

    from dataeff.modeling.precision import resolve_precision

    lin = torch.nn.Linear(4, 4)
    with resolve_precision("autocast_bf16", "cpu", (True, "test")).autocast():
        y = lin(torch.randn(2, 4))
    assert y.dtype == torch.bfloat16 and lin.weight.dtype == torch.float32
    with resolve_precision("fp32", "cpu", (True, "test")).autocast():
        assert lin(torch.randn(2, 4)).dtype == torch.float32


def test_coverage_and_validation_schedule_follow_the_budget():
    from dataeff.training.finetune import data_coverage, early_stopping_possible, validation_steps

    assert data_coverage(10, 4, 2, seed=1) == (8, 8)
    assert data_coverage(10, 4, 3, seed=1) == (10, 10)  # the epoch's last batch has 2
    drawn, distinct = data_coverage(10, 4, 6, seed=1)
    assert drawn == 20 and distinct == 10
    cfg = dataclasses.replace(train_settings(None), eval_every=5, patience=3)
    assert validation_steps(10, cfg) == [5, 10] and not early_stopping_possible(10, cfg)
    cfg = dataclasses.replace(cfg, eval_every=2)
    assert validation_steps(11, cfg) == [2, 4, 6, 8, 10, 11] and early_stopping_possible(11, cfg)


def _train(**over) -> TrainSettings:
    cfg = {
        "method": "full",
        "learning_rate": 5e-2,
        "lr_scheduler": "constant",
        "warmup_ratio": 0.0,
        "max_steps": 12,
        "max_epochs": None,
        "batch_size": 4,
        "micro_batch_size": 4,
        "max_seq_len": 128,
        "eval_every": 1,
        "patience": 2,
        "checkpoint_every": 100,
        "weight_decay": 0.0,
        "max_grad_norm": 1.0,
        "threads": 1,
    }
    return dataclasses.replace(train_settings(None), **(cfg | over))


def _family(**entry) -> FamilySettings:
    """A ``families`` entry, validated and filled with the schema's defaults, typed."""
    return family_settings(validate_schema({"families": {"f": entry}}, partial=True)["families"]["f"])


@pytest.mark.parametrize("policy", ["fp32", "autocast_bf16", "bf16"])
def test_metrics_report_what_the_run_used(tiny_model_dir, tmp_path, policy):
    """A run that overfits 6 examples at a high learning rate stops early; its metrics say when,
    why, on how many distinct examples, and in which precision it trained."""
    from safetensors import safe_open

    from dataeff.modeling.precision import cpu_bf16_support
    from dataeff.training.finetune import finetune

    rows = labeled_rows(10)
    m = finetune(
        model_ref=str(tiny_model_dir),
        family=_family(model=str(tiny_model_dir), precision=policy),
        train=_train(),
        train_rows=rows[:6],
        val_rows=rows[6:],
        out_dir=tmp_path,
        ckpt_dir=tmp_path / "ckpt",
        seed=3,
        progress=False,
    )
    expect = policy if policy != "autocast_bf16" or cpu_bf16_support()[0] else "fp32"
    assert m["precision"]["requested"] == policy and m["precision"]["used"] == expect
    assert m["model"]["dtype"] == m["precision"]["weights_dtype"]
    log = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert m["optimizer_updates"] == m["steps_run"] == len(log)
    assert m["validation_evaluations"] == sum("val_loss" in r for r in log)
    vals = [(r["val_loss"], r["step"]) for r in log if "val_loss" in r]
    assert m["best_step"] == min(vals)[1] and m["best_val_loss"] == pytest.approx(min(vals)[0])
    epochs, rest = divmod(m["steps_run"], 2)  # 6 examples at batch 4: steps of 4 and 2
    assert m["examples_drawn"] == 6 * epochs + 4 * rest
    assert m["distinct_examples_seen"] == m["examples_used"] == min(6, m["examples_drawn"])
    assert m["train_pool"] == 6
    if m["stopped_early"]:
        assert m["stop_reason"] == "early_stopping" and m["steps_run"] < 12
        assert m["steps_run"] - m["best_step"] == 2 and "2 evaluations" in m["early_stop_reason"]
    else:
        assert m["stop_reason"] == "max_steps" and m["early_stop_reason"] is None
    with safe_open(str(tmp_path / "model" / "model.safetensors"), "pt") as f:
        saved = {f.get_tensor(k).dtype for k in f.keys()}  # noqa: SIM118 (safe_open is not a dict)
    # saved in the dtype evaluation loads (family dtype "auto" on a CPU: float32), not the training dtype
    assert m["saved_dtype"] == "float32" and {str(d).removeprefix("torch.") for d in saved} == {"float32"}
