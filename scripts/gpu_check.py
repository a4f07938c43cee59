"""The first-GPU check of the project's training, evaluation and CoS-Low code (run by
scripts/gpu_check.sh).

Needs no internet and no model hub: every model is built with random weights from a config (one
of them Llama-3.1-8B-shaped) and a small byte-level tokenizer is trained on the spot. Checks, each
one JSON line in the report (``check``, ``ok``, measured numbers, ``seconds``; ``error`` when it
failed), written as soon as it finishes so a timeout keeps what ran:

* ``environment``: torch, CUDA, the GPUs used (all the node has, at most 2), whether flash-attn
  is installed and usable, and the attention the runs below use (flash-attention 2 when usable,
  sdpa otherwise, with the reason);
* ``train_step_precision``: the project's training step (dataeff.training.step) in bf16, bf16
  autocast and fp32 from the same weights and batch: losses, fraction of weights changed and the
  update's error against fp32 after 3 steps at lr 1e-5;
* ``finetune_launch``: ``dataeff finetune`` launched by the finetune rule's own line
  (``accelerate launch --config_file config/fsdp.yaml --num_processes N --main_process_port 0 -m
  dataeff.cli``, workflow/rules/common.smk) on every GPU of the node, FSDP2, the paper's bf16
  policy, on a model with untied embeddings and ~1500-token prompts. The model is first fitted
  to answer "no"; the fine-tune teaches "yes" and validates on "no", so validation loss rises from
  the first evaluation on and the best step comes before the end: the run must save that step's
  weights, not the last. Reports the set-up and overall peak GPU memory (metrics.json) against
  dataeff.modeling.memory's plan;
* ``evaluate_saved``: ``dataeff evaluate`` (the evaluate rule's line) on the saved model, bf16
  generation with the chosen attention; and that model's validation loss recomputed on one GPU,
  which must be the best step's (metrics.json), not the last step's;
* ``generation_bf16``: batched greedy generation (dataeff.inference.generation) in bf16 with the chosen
  attention, against one prompt at a time;
* ``coslow_8b``: CoS-Low's gradient pass (dataeff.coslow.gradients.lora_gram) on the Llama-3.1-8B-shaped
  model, 32 examples in micro-batches of coslow.grad_batch_size at 1024 and 2048 tokens: peak
  memory against dataeff.modeling.memory.plan_coslow, and at 1024 tokens the micro-batched Gram matrix
  against the one-batch one (bf16);
* ``planner_vs_measured``: one bf16 fine-tuning step of the 8B-shaped model on one GPU with
  activation checkpointing: peak memory against the planner's estimate.

``--cpu --tiny`` runs the same code on tiny shapes on the CPU (FSDP on 2 gloo processes), for the
test suite; ``--plan`` prints what each check would run (commands, shapes, settings) and runs
nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

#: The finetune rule's launcher for a family with N GPUs (workflow/rules/common.smk, launcher());
#: tests/test_gpu_check.py checks the two stay the same.
LAUNCH = "accelerate launch --config_file config/fsdp.yaml --num_processes {n} --main_process_port 0 -m dataeff.cli"
#: The evaluate rule's command (workflow/rules/evaluate.smk).
EVALUATE = "python -m dataeff evaluate"

LLAMA_8B = dict(
    vocab_size=128256,
    hidden_size=4096,
    intermediate_size=14336,
    num_hidden_layers=32,
    num_attention_heads=32,
    num_key_value_heads=8,
    max_position_embeddings=8192,
    rope_theta=500000.0,
    tie_word_embeddings=False,
)
SMALL = dict(
    vocab_size=2048,
    hidden_size=1024,
    intermediate_size=2816,
    num_hidden_layers=4,
    num_attention_heads=16,
    num_key_value_heads=4,
    max_position_embeddings=4096,
    tie_word_embeddings=True,
)
#: The fine-tuned model: untied embeddings (FSDP2 puts the output head in its own group with the
#: final norm, apart from the input embedding), a 32k vocabulary so both are real tensors.
UNTIED = dict(SMALL, vocab_size=32768, tie_word_embeddings=False)
TINY = dict(
    vocab_size=512,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=512,
    tie_word_embeddings=True,
)
TINY_UNTIED = dict(TINY, tie_word_embeddings=False)
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def make_tokenizer(dest: Path, vocab: int) -> Path:
    """A byte-level BPE tokenizer with a ChatML template, trained on a few sentences (no hub)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    corpus = [f"Question {i}: is {i} an even number? Answer: {'yes' if i % 2 == 0 else 'no'}." for i in range(400)]
    tok.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=min(vocab, 1000), special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(dest)
    return dest


def build_model(shape: dict[str, Any], dest: Path | None, dtype: Any, device: str, seed: int = 0, init: float = 0.02):
    """A random-weight Llama from ``shape`` (weights drawn with std ``init``); saved with a
    tokenizer to ``dest`` when given."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(**shape, initializer_range=init, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    cfg._attn_implementation = "sdpa"
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # built in its dtype: no fp32 copy of an 8B model on the way
    try:
        with torch.device(device):
            model = LlamaForCausalLM(cfg)
    finally:
        torch.set_default_dtype(default)
    _fp32_rotary(model)
    if dest is not None:
        make_tokenizer(dest, shape["vocab_size"])
        model.save_pretrained(dest)
    return model


def _fp32_rotary(model: Any) -> None:
    """Rotary tables in fp32, as ``from_pretrained(dtype=bf16)`` leaves them (``.to()`` casts them)."""
    for name, buf in model.named_buffers():
        if name.endswith("inv_freq"):
            buf.data = buf.data.float()


FILLER = " Question 12: is 12 an even number? Answer: yes."


def rows(n: int, seed: int = 0, answer: str | None = None, filler: int = 0) -> list[dict[str, str]]:
    """``n`` prompts asking whether a number is even; the answer is the true one, or ``answer``
    for all. ``filler`` repeats a sentence (about 13 tokens) that many times before the question."""
    return [
        {
            "id": str(i),
            "prompt": FILLER * filler + f" Question {i + seed}: is {i + seed} an even number?" + " Think." * (i % 5),
            "answer": answer or ("yes" if (i + seed) % 2 == 0 else "no"),
        }
        for i in range(n)
    ]


def attention_choice(cpu: bool) -> dict[str, Any]:
    """What attention the project picks here (``dataeff.modeling.loading.pick_attention``) and why."""
    import importlib.util

    from dataeff.modeling.loading import flash_attention_usable, pick_attention

    installed = importlib.util.find_spec("flash_attn") is not None
    usable = (not cpu) and flash_attention_usable()
    used = pick_attention("auto", "cpu" if cpu else "cuda")
    if used == "flash_attention_2":
        reason = "flash-attn imports and transformers reports it available"
    elif cpu:
        reason = "CPU run: flash-attention needs CUDA"
    elif installed:
        reason = "flash_attn is installed but does not import or transformers does not accept it"
    else:
        reason = "flash_attn is not installed (bash scripts/setup.sh --gpu)"
    version = None
    if installed:
        from importlib import metadata

        try:
            version = metadata.version("flash-attn")
        except metadata.PackageNotFoundError:
            version = "unknown"
    return {
        "flash_attn_installed": installed,
        "flash_attn_version": version,
        "flash_attn_usable": usable,
        "attention": used,
        "attention_reason": reason,
    }


# ---------------------------------------------------------------------------------------------- checks
def check_train_step_precision(args) -> dict[str, Any]:
    import torch
    from transformers import get_scheduler

    from dataeff.core.settings import train_settings
    from dataeff.modeling.precision import resolve_precision
    from dataeff.training.batches import Example
    from dataeff.training.distributed import make_accelerator
    from dataeff.training.finetune import build_optimizer, layout_for
    from dataeff.training.step import StepContext, train_step

    shape = TINY if args.tiny else SMALL
    device = "cpu" if args.cpu else "cuda"
    base = build_model(shape, None, torch.float32, device)
    with torch.no_grad():
        for p in base.parameters():
            p.copy_(p.to(torch.bfloat16).float())  # a start all three policies represent exactly
    start = {n: p.detach().clone() for n, p in base.named_parameters()}
    g = torch.Generator().manual_seed(1)
    batch = [
        Example(
            torch.randint(3, shape["vocab_size"], (48,), generator=g).tolist(),
            torch.randint(3, shape["vocab_size"], (4,), generator=g).tolist(),
        )
        for _ in range(8)
    ]
    acc = make_accelerator()
    out: dict[str, Any] = {}
    deltas = {}
    for policy in ("fp32", "autocast_bf16", "bf16"):
        prec = resolve_precision(policy, device, (True, "gpu_check"))
        model = build_model(shape, None, torch.float32, device)
        model.load_state_dict(base.state_dict())
        model.to(getattr(torch, prec.weights_dtype)).train()
        _fp32_rotary(model)
        opt = build_optimizer(
            list(model.parameters()), dataclasses.replace(train_settings(None), learning_rate=1e-5, weight_decay=0.0)
        )
        sched = get_scheduler("constant", opt)
        ctx = StepContext(
            accelerator=acc,
            model=model,
            optimizer=opt,
            scheduler=sched,
            layout=layout_for(model),
            precision=prec,
            pad_id=0,
            micro_batch_size=4,
            max_grad_norm=1.0,
            sharded=False,
        )
        losses = [train_step(ctx, batch, s) for s in range(3)]
        delta = torch.cat([(p.detach().float() - start[n]).flatten() for n, p in model.named_parameters()])
        deltas[policy] = delta
        out[policy] = {
            "losses": [round(x, 5) for x in losses],
            "fraction_changed": round(float((delta != 0).float().mean()), 4),
        }
        del model, opt
    for policy in ("autocast_bf16", "bf16"):
        err = (deltas[policy] - deltas["fp32"]).norm() / deltas["fp32"].norm()
        out[policy]["update_rel_error_vs_fp32"] = round(float(err), 4)
    first = out["fp32"]["losses"][0]
    out["ok"] = (
        abs(out["autocast_bf16"]["losses"][0] - first) / first < 0.02
        and out["autocast_bf16"]["fraction_changed"] >= 0.9 * out["fp32"]["fraction_changed"]
    )
    return out


# ------------------------------------------------------------------- fine-tune through the rule's launcher
def finetune_settings(args) -> dict[str, Any]:
    """Shapes, data sizes and settings of the launched fine-tune (also printed by ``--plan``)."""
    tiny = args.tiny
    return {
        "shape": TINY_UNTIED if tiny else UNTIED,
        "world": args.gpus,
        "filler": 2 if tiny else 110,  # about 40 / 1500 prompt tokens
        "train_rows": 16,
        "validation_rows": 8,
        "test_rows": 16,
        "budget": 16,
        "family": {
            "model": "(the fitted model's directory)",
            "dtype": "bfloat16",
            "precision": "bf16",
            "attn_implementation": "auto",
            "gpus": args.gpus,
        },
        "train": {
            "method": "full",
            "learning_rate": 3e-4,
            "lr_scheduler": "constant",
            "warmup_ratio": 0.0,
            "max_steps": 8,
            "max_epochs": None,
            "batch_size": 8,
            "micro_batch_size": 4,
            "max_seq_len": 256 if tiny else 2048,
            "eval_every": 2,
            "patience": 10,
            "checkpoint_every": 4,
            "threads": 1,
        },
        "eval": {"batch_size": 16, "max_new_tokens": 4},
    }


def launch_command(args) -> list[str]:
    return LAUNCH.format(n=args.gpus).split()


def _write_task(directory: Path, settings: dict[str, Any]) -> None:
    """Train on "yes", validate and test on "no": the fitted model starts at its best validation
    loss, so every fine-tuning step makes it worse and the best step is the first evaluation."""
    directory.mkdir(parents=True, exist_ok=True)
    f = settings["filler"]
    splits = {
        "train": rows(settings["train_rows"], 0, "yes", f),
        "validation": rows(settings["validation_rows"], 100, "no", f),
        "test": rows(settings["test_rows"], 200, "no", f),
    }
    for name, data in splits.items():
        (directory / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in data))
    (directory / "meta.json").write_text(json.dumps({"metric": "accuracy"}))


def _fit_to_no(model_dir: Path, settings: dict[str, Any], device: str) -> dict[str, Any]:
    """Fit the random model to answer "no" to every prompt of the task (fp32, answer tokens
    only), and save it: the starting point whose validation loss fine-tuning can only raise."""
    import torch
    from transformers import AutoTokenizer

    from dataeff.modeling.chat import completion_ids, prompt_ids

    shape = settings["shape"]
    model = build_model(shape, model_dir, torch.float32, device, seed=1)
    tok = AutoTokenizer.from_pretrained(model_dir)
    f = settings["filler"]
    prompts = rows(settings["train_rows"], 0, "no", f) + rows(settings["validation_rows"], 100, "no", f)
    seqs = []
    for r in prompts:
        p, c = prompt_ids(tok, r["prompt"]), completion_ids(tok, "no")
        seqs.append((p + c, len(p)))
    width = max(len(t) for t, _ in seqs)
    ids = torch.full((len(seqs), width), tok.pad_token_id)
    labels = torch.full((len(seqs), width), -100)
    for j, (t, n) in enumerate(seqs):
        ids[j, : len(t)] = torch.tensor(t)
        labels[j, n : len(t)] = torch.tensor(t[n:])
    ids, labels = ids.to(device), labels.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    losses = []
    for _ in range(40):
        loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss))
    model.eval()
    model.save_pretrained(model_dir)
    del model, opt, ids, labels
    if device == "cuda":
        torch.cuda.empty_cache()  # the launched job gets the GPU to itself
    return {"fit_loss_first": round(losses[0], 4), "fit_loss_last": round(losses[-1], 5)}


def _subprocess_env(args) -> dict[str, str]:
    """The environment of a launched job: this Python's scripts first on PATH (``accelerate``),
    the package importable, one thread per process; on the CPU a sitecustomize that lets
    accelerate take FSDP on CPU processes (tests/_fsdp_cpu.py)."""
    paths = [str(ROOT / "workflow")]
    if args.cpu:
        site = Path(args.workdir) / "cpu_fsdp_site"
        site.mkdir(parents=True, exist_ok=True)
        (site / "sitecustomize.py").write_text(
            "import sys\n"
            f"sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
            "from _fsdp_cpu import allow_fsdp_on_cpu\n"
            "allow_fsdp_on_cpu()\n"
        )
        paths.insert(0, str(site))
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env["PYTHONPATH"] = os.pathsep.join(paths + [p for p in [os.environ.get("PYTHONPATH")] if p])
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    if args.cpu:
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def _write_config(path: Path, model_dir: Path, settings: dict[str, Any]) -> Path:
    import yaml

    family = dict(settings["family"], model=str(model_dir))
    config = {
        "families": {"check": family},
        "tasks": ["check"],
        "user_tasks": {"check": {"file": "check.jsonl", "labels": ["yes", "no"]}},
        "budgets": [settings["budget"]],
        "data": {"validation_fraction": settings["validation_rows"] / settings["budget"]},
        "train": settings["train"],
        "eval": settings["eval"],
    }
    path.write_text(yaml.safe_dump(config))
    return path


def check_finetune_launch(args) -> dict[str, Any]:
    import torch

    from dataeff.modeling.memory import ModelShape, plan_finetune

    settings = finetune_settings(args)
    work = Path(args.workdir) / "finetune"
    shutil.rmtree(work, ignore_errors=True)
    model_dir, task_dir, out = work / "model", work / "task", work / "run"
    out_rec: dict[str, Any] = _fit_to_no(model_dir, settings, "cpu" if args.cpu else "cuda")
    _write_task(task_dir, settings)
    cfg = _write_config(work / "config.yaml", model_dir, settings)
    cmd = launch_command(args) + [
        "finetune", "--config", str(cfg), "--family", "check", "--task", "check",
        "--budget", str(settings["budget"]), "--model", str(model_dir), "--task-dir", str(task_dir),
        "--out-dir", str(out), "--no-progress",
    ]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=_subprocess_env(args), capture_output=True, text=True, timeout=300)
    out_rec["launch_seconds"] = round(time.perf_counter() - t0, 1)
    out_rec["command"] = " ".join(cmd[: len(launch_command(args)) + 1]) + " ..."
    if proc.returncode != 0:
        return out_rec | {"ok": False, "error": f"exit {proc.returncode}: " + (proc.stderr + proc.stdout)[-3000:]}
    metrics = json.loads((out / "metrics.json").read_text())
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    val = [(r["step"], r["val_loss"]) for r in log if "val_loss" in r]
    from safetensors import safe_open

    with safe_open(str(out / "model" / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
        untied = "lm_head.weight" in keys and not torch.equal(
            f.get_tensor("lm_head.weight"), f.get_tensor("model.embed_tokens.weight")
        )
        saved_dtypes = sorted({str(f.get_tensor(k).dtype) for k in keys})
    shape = ModelShape.from_config(json.loads((model_dir / "config.json").read_text()))
    plan = plan_finetune(
        shape,
        precision="bf16",
        gpus=args.gpus,
        seq_len=settings["train"]["max_seq_len"],
        micro_batch=settings["train"]["micro_batch_size"],
        activation_checkpointing=True,
    )
    memory = metrics.get("gpu_memory")
    out_rec.update(
        distributed=metrics["distributed"],
        processes=metrics["processes"],
        fsdp=metrics["fsdp"],
        precision=metrics["precision"]["used"],
        saved_dtype=metrics["saved_dtype"],
        saved_tensor_dtypes=saved_dtypes,
        untied_embeddings_saved=untied,
        attention=metrics["model"]["attn_implementation"],
        placement=metrics["model"].get("placement"),
        steps_run=metrics["steps_run"],
        best_step=metrics["best_step"],
        best_val_loss=metrics["best_val_loss"],
        val_losses=[[s_, round(v, 5)] for s_, v in val],
        full_model_gb=round(shape.params * 2 / 1e9, 3),
        planned_setup_gb=round(plan.setup_peak / 1e9, 3),
        planned_gb=round(plan.tensors / 1e9, 3),
    )
    if memory:
        out_rec.update(
            setup_peak_gb=round(memory["setup_peak_bytes"] / 1e9, 3), peak_gb=round(memory["peak_bytes"] / 1e9, 3)
        )
    expected_attention = attention_choice(args.cpu)["attention"]
    out_rec["ok"] = (
        metrics["distributed"] == "FSDP"
        and metrics["processes"] == args.gpus
        and untied
        and saved_dtypes == ["torch.bfloat16"]
        and metrics["model"]["attn_implementation"] == expected_attention
        and metrics["best_step"] < metrics["steps_run"]
        and val[-1][1] > metrics["best_val_loss"] + 0.1
        # set-up never held a full copy on a GPU beside the shard (2 GPUs: shard + one tensor)
        and (not memory or args.gpus == 1 or memory["setup_peak_bytes"] < shape.params * 2)
    )
    return out_rec


def check_evaluate_saved(args) -> dict[str, Any]:
    """The evaluate rule's command on the saved model, then its validation loss on one GPU."""

    from dataeff.modeling.loading import load_model
    from dataeff.modeling.precision import resolve_precision
    from dataeff.training.batches import tokenize_rows
    from dataeff.training.finetune import layout_for
    from dataeff.training.validation import validation_loss

    settings = finetune_settings(args)
    work = Path(args.workdir) / "finetune"
    run, task = work / "run", work / "task"
    if not (run / "metrics.json").is_file():
        return {"ok": False, "error": "no fine-tuned model (finetune_launch failed or did not run)"}
    metrics = json.loads((run / "metrics.json").read_text())
    result = work / "eval" / f"n{settings['budget']}.json"
    cmd = EVALUATE.split() + [
        "--config", str(work / "config.yaml"), "--family", "check", "--task", "check",
        "--budget", str(settings["budget"]), "--base-model", str(work / "model"), "--model", str(run / "model"),
        "--task-dir", str(task), "--out", str(result), "--no-progress",
    ]  # fmt: skip
    cmd[0] = sys.executable
    env = _subprocess_env(args)
    if not args.cpu:
        env["CUDA_VISIBLE_DEVICES"] = env.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0] or "0"
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    if proc.returncode != 0:
        return {"ok": False, "error": f"evaluate exit {proc.returncode}: " + (proc.stderr + proc.stdout)[-3000:]}
    res = json.loads(result.read_text())
    device = "cpu" if args.cpu else "cuda"
    model, tok, _ = load_model(run / "model", device=device, dtype="bfloat16", attn_implementation="auto")
    val_rows = [json.loads(line) for line in (task / "validation.jsonl").read_text().splitlines()]
    examples = tokenize_rows(tok, val_rows, settings["train"]["max_seq_len"], "validation")
    loss = validation_loss(
        None, model, examples, settings["train"]["micro_batch_size"], tok.pad_token_id, layout_for(model),
        resolve_precision("bf16", device, (True, "gpu_check")),
    )  # fmt: skip
    log = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    last = [r["val_loss"] for r in log if "val_loss" in r][-1]
    best = metrics["best_val_loss"]
    out = {
        "accuracy": res["accuracy"],
        "n_test": res["n_test"],
        "eval_dtype": res["model"]["dtype"],
        "eval_attention": res["model"]["attn_implementation"],
        "saved_model_val_loss": round(loss, 5),
        "best_val_loss": round(best, 5),
        "last_val_loss": round(last, 5),
    }
    # the saved weights are the best step's: their loss is the best one up to bf16 rounding of
    # a differently sharded computation, far from the last step's
    out["ok"] = (
        res["model"]["dtype"] == "bfloat16"
        and res["model"]["attn_implementation"] == attention_choice(args.cpu)["attention"]
        and abs(loss - best) <= 0.02 * best + 0.02
        and abs(loss - best) < abs(loss - last) / 4
    )
    return out


def check_generation_bf16(args) -> dict[str, Any]:
    """Batched greedy generation in bf16 with the chosen attention against one prompt at a time.

    A random model with large weights (std 0.2) has clear argmax margins; bf16 rounding of a
    padded batch can still flip a rare near-tie, so one of twelve prompts may differ, while a
    padding or masking error changes most of them."""
    import torch
    from transformers import AutoTokenizer

    from dataeff.inference.generation import greedy_generate
    from dataeff.modeling.loading import load_model

    work = Path(args.workdir) / "gen"
    device = "cpu" if args.cpu else "cuda"
    build_model(TINY_UNTIED if args.tiny else UNTIED, work, torch.bfloat16, "cpu", seed=2, init=0.2)
    model, _, info = load_model(work, device=device, dtype="bfloat16", attn_implementation="auto")
    tok = AutoTokenizer.from_pretrained(work)
    prompts = [tok(r["prompt"])["input_ids"] for r in rows(12, 0, None, filler=3)]
    batched = greedy_generate(model, tok, prompts, max_new_tokens=8, batch_size=12)
    single = [greedy_generate(model, tok, [p], max_new_tokens=8, batch_size=1)[0] for p in prompts]
    same = [a.token_ids == b.token_ids for a, b in zip(batched, single, strict=True)]
    return {
        "prompts": len(prompts),
        "identical": sum(same),
        "dtype": info["dtype"],
        "attention": info["attn_implementation"],
        "ok": sum(same) >= len(prompts) - 1 and info["dtype"] == "bfloat16",
    }


def check_coslow_8b(args) -> dict[str, Any]:
    import statistics

    import torch

    from dataeff.core.settings import coslow_settings
    from dataeff.coslow.gradients import gradient_pass_settings, lora_gram, lora_projections, pairwise_cosines
    from dataeff.modeling.lora import lora_settings
    from dataeff.modeling.memory import ModelShape, plan_coslow

    shape = TINY if args.tiny else LLAMA_8B
    device = "cpu" if args.cpu else "cuda"
    micro = gradient_pass_settings(coslow_settings(None))["batch_size"]
    model = build_model(shape, None, torch.bfloat16, device).eval()
    projections = lora_projections(model, 0, lora_settings(None))
    out: dict[str, Any] = {"params": sum(p.numel() for p in model.parameters()), "micro_batch": micro}
    g = torch.Generator().manual_seed(0)
    grams = {}
    for tokens in (64, 128) if args.tiny else (1024, 2048):
        examples = [
            (torch.randint(3, shape["vocab_size"], (tokens,), generator=g).tolist(), tokens - 4) for _ in range(32)
        ]
        if device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        gram = lora_gram(model, examples, projections, batch_size=micro)
        sec = time.perf_counter() - t0
        plan = plan_coslow(
            ModelShape.from_config(model.config), dtype="bfloat16", seq_len=tokens, k=32, micro_batch=micro
        )
        rec = {
            "seconds": round(sec, 2),
            "gram_finite": bool(torch.isfinite(gram).all()),
            "planned_gb": round(plan.tensors / 1e9, 2),
            "host_gb": round(sum(plan.host.values()) / 1e9, 2),
        }
        if device == "cuda":
            peak = torch.cuda.max_memory_allocated()
            rec["peak_gb"] = round(peak / 1e9, 2)
            rec["planned_over_measured"] = round(plan.tensors / peak, 3)
        out[f"tokens_{tokens}"] = rec
        if not grams:  # the shorter length also in one batch: the micro-batches' tolerance in bf16
            grams["micro"], grams["one"] = gram, lora_gram(model, examples, projections)
    cos_m, cos_o = pairwise_cosines(grams["micro"]), pairwise_cosines(grams["one"])
    out["one_batch_max_cosine_diff"] = max(abs(a - b) for a, b in zip(cos_m, cos_o, strict=True))
    out["one_batch_coslow_diff"] = abs(statistics.median(cos_m) - statistics.median(cos_o))
    out["ok"] = all(v["gram_finite"] for k, v in out.items() if k.startswith("tokens_")) and (
        out["one_batch_coslow_diff"] < 5e-3
    )
    del model
    return out


def check_planner_vs_measured(args) -> dict[str, Any]:
    import torch
    from transformers import get_scheduler

    from dataeff.core.settings import train_settings
    from dataeff.modeling.memory import ModelShape, plan_finetune
    from dataeff.modeling.precision import resolve_precision
    from dataeff.training.batches import Example
    from dataeff.training.distributed import make_accelerator
    from dataeff.training.finetune import build_optimizer, layout_for
    from dataeff.training.step import StepContext, train_step

    if args.cpu:
        return {"ok": True, "skipped": "peak GPU memory needs a GPU"}
    shape, seq, micro = LLAMA_8B, 2048, 1
    model = build_model(shape, None, torch.bfloat16, "cuda").train()
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.config.use_cache = False
    opt = build_optimizer(
        list(model.parameters()), dataclasses.replace(train_settings(None), learning_rate=1e-5, weight_decay=0.0)
    )
    ctx = StepContext(
        accelerator=make_accelerator(),
        model=model,
        optimizer=opt,
        scheduler=get_scheduler("constant", opt),
        layout=layout_for(model, sharded=True),
        precision=resolve_precision("bf16", "cuda"),
        pad_id=0,
        micro_batch_size=micro,
        max_grad_norm=1.0,
        sharded=False,
    )
    g = torch.Generator().manual_seed(0)
    batch = [
        Example(
            torch.randint(3, shape["vocab_size"], (seq - 8,), generator=g).tolist(),
            torch.randint(3, shape["vocab_size"], (8,), generator=g).tolist(),
        )
        for _ in range(2)
    ]
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for s in range(2):  # the second step has the optimizer state allocated
        train_step(ctx, batch, s)
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    plan = plan_finetune(
        ModelShape.from_config(model.config),
        precision="bf16",
        gpus=1,
        seq_len=seq,
        micro_batch=micro,
        activation_checkpointing=True,
    )
    ratio = plan.tensors / peak
    return {
        "peak_gb": round(peak / 1e9, 2),
        "planned_gb": round(plan.tensors / 1e9, 2),
        "planned_with_overhead_gb": round(plan.total / 1e9, 2),
        "planned_over_measured": round(ratio, 3),
        "parts_gb": {k: round(v / 1e9, 2) for k, v in plan.parts.items()},
        "seconds_two_steps": round(time.perf_counter() - t0, 2),
        "ok": 0.85 <= ratio <= 1.3,
    }


CHECKS = {
    "train_step_precision": check_train_step_precision,
    "finetune_launch": check_finetune_launch,
    "evaluate_saved": check_evaluate_saved,
    "generation_bf16": check_generation_bf16,
    "coslow_8b": check_coslow_8b,
    "planner_vs_measured": check_planner_vs_measured,
}


def plan(args) -> list[dict[str, Any]]:
    """What each check would run here, without running it (``--plan``)."""
    settings = finetune_settings(args)
    return [
        {"check": "environment", "mode": "cpu" if args.cpu else "gpu", "gpus": args.gpus, "tiny": args.tiny},
        {
            "check": "train_step_precision",
            "shape": TINY if args.tiny else SMALL,
            "policies": ["fp32", "autocast_bf16", "bf16"],
        },
        {
            "check": "finetune_launch",
            "command": LAUNCH.format(n=args.gpus) + " finetune --config CONFIG --family check ...",
            "shape": settings["shape"],
            "family": settings["family"],
            "train": settings["train"],
            "data": {k: settings[k] for k in ("train_rows", "validation_rows", "test_rows", "budget", "filler")},
            "best_step_before_end": "fitted to 'no', fine-tuned on 'yes', validated on 'no'",
        },
        {
            "check": "evaluate_saved",
            "command": EVALUATE + " --config CONFIG --family check ... --model RUN/model",
            "dtype": "bfloat16",
        },
        {"check": "generation_bf16", "shape": TINY_UNTIED if args.tiny else UNTIED, "dtype": "bfloat16", "prompts": 12},
        {
            "check": "coslow_8b",
            "shape": TINY if args.tiny else LLAMA_8B,
            "k": 32,
            "tokens": [64, 128] if args.tiny else [1024, 2048],
        },
        {"check": "planner_vs_measured", "shape": LLAMA_8B, "runs": not args.cpu},
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="gpu_check.jsonl")
    ap.add_argument("--workdir", default=None, help="scratch directory (default: next to --out)")
    ap.add_argument("--cpu", action="store_true", help="run on the CPU (FSDP on 2 gloo processes); for tests")
    ap.add_argument("--tiny", action="store_true", help="tiny shapes instead of 1B/8B-shaped models")
    ap.add_argument("--gpus", type=int, default=None, help="GPUs to launch the fine-tune on (default: all, at most 2)")
    ap.add_argument("--plan", action="store_true", help="print what each check would run, run nothing")
    ap.add_argument("--only", default=None, help="comma-separated check names")
    args = ap.parse_args()
    if args.gpus is None:
        if args.cpu or args.plan:
            args.gpus = 2 if args.cpu else 1
        else:
            import torch

            args.gpus = max(1, min(2, torch.cuda.device_count()))
    if args.plan:
        for rec in plan(args):
            print(json.dumps(rec))
        return 0
    import torch

    if not args.cpu and not torch.cuda.is_available():
        print("gpu_check: no CUDA device (use --cpu --tiny for the CPU dry run)", file=sys.stderr)
        return 2
    out = Path(args.out)
    args.workdir = args.workdir or str(out.with_suffix("")) + ".work"
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    names = args.only.split(",") if args.only else list(CHECKS)
    import accelerate
    import transformers

    header = {
        "check": "environment",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "accelerate": accelerate.__version__,
        "cuda": torch.version.cuda,
        "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if not args.cpu else [],
        "gpus_used": 0 if args.cpu else args.gpus,
        "processes": args.gpus,
        "mode": "cpu" if args.cpu else "gpu",
        "tiny": args.tiny,
        **attention_choice(args.cpu),
        "ok": True,
    }
    failed = 0
    with out.open("w") as f:
        f.write(json.dumps(header) + "\n")
        f.flush()
        print(f"environment: {header['attention']} ({header['attention_reason']}), {args.gpus} process(es)", flush=True)
        for name in names:
            t0 = time.perf_counter()
            try:
                rec = CHECKS[name](args)
            except Exception as exc:  # a failed check is reported, the next one still runs
                rec = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-3000:]}
            rec = {"check": name, **rec, "seconds": round(time.perf_counter() - t0, 1)}
            failed += not rec["ok"]
            f.write(json.dumps(rec, default=str) + "\n")
            f.flush()
            print(f"{name}: {'ok' if rec['ok'] else 'FAILED'} ({rec['seconds']} s)", flush=True)
            if not args.cpu:
                torch.cuda.empty_cache()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
