"""The first-GPU check of the project's training and CoS-Low code (run by scripts/gpu_check.sh).

Needs no internet and no model hub: every model is built with random weights from a config (one
of them Llama-3.1-8B-shaped) and a small byte-level tokenizer is trained on the spot. Checks, each
one JSON line in the report (``check``, ``ok``, measured numbers, ``seconds``; ``error`` when it
failed), written as soon as it finishes so a timeout keeps what ran:

* ``train_step_precision``: the project's training step (dataeff.training.step) in bf16, bf16
  autocast and fp32 from the same weights and batch: losses, fraction of weights changed and the
  update's error against fp32 after 3 steps at lr 1e-5;
* ``fsdp2_one_rank``: the project's fine-tune on accelerate's FSDP2 path (config/fsdp.yaml) with
  one rank on NCCL: a run killed right after its step-2 checkpoint resumes to the same final
  weights as a straight run, the saved model is bf16, rotary ``inv_freq`` buffers stayed fp32;
* ``coslow_8b``: CoS-Low's 32 per-example LoRA gradients (dataeff.coslow.lora_gram) of the
  Llama-3.1-8B-shaped model at 1024 and 2048 tokens: peak memory against dataeff.memory;
* ``generation_batched``: batched greedy generation (dataeff.generation) against one prompt at a
  time: identical tokens;
* ``planner_vs_measured``: one bf16 fine-tuning step of the 8B-shaped model on one GPU with
  activation checkpointing: peak memory against the planner's estimate.

``--cpu --tiny`` runs the same code on tiny shapes on the CPU (FSDP on gloo), for the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

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


def build_model(shape: dict[str, Any], dest: Path | None, dtype: Any, device: str, seed: int = 0):
    """A random-weight Llama from ``shape``; saved with a tokenizer to ``dest`` when given."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(**shape, initializer_range=0.02, bos_token_id=1, eos_token_id=2, pad_token_id=0)
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


def rows(n: int, seed: int = 0) -> list[dict[str, str]]:
    return [
        {
            "id": str(i),
            "prompt": f"Question {i + seed}: is {i + seed} an even number?" + " Think." * (i % 5),
            "answer": "yes" if (i + seed) % 2 == 0 else "no",
        }
        for i in range(n)
    ]


# ---------------------------------------------------------------------------------------------- checks
def check_train_step_precision(args) -> dict[str, Any]:
    import torch
    from transformers import get_scheduler

    from dataeff.precision import resolve_precision
    from dataeff.train import build_optimizer, layout_for
    from dataeff.training.batches import Example
    from dataeff.training.distributed import make_accelerator
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
        opt = build_optimizer(list(model.parameters()), {"learning_rate": 1e-5, "weight_decay": 0.0})
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


def _fsdp_env(world: int) -> dict[str, str]:
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_multi_gpu_env

    a = launch_command_parser().parse_args(
        [
            "--config_file",
            str(ROOT / "config" / "fsdp.yaml"),
            "--num_processes",
            str(world),
            "--main_process_port",
            "0",
            "unused.py",
        ]
    )
    a, _, _ = _validate_launch_command(a)
    return {k: v for k, v in prepare_multi_gpu_env(a).items() if k.startswith(("FSDP_", "ACCELERATE_"))}


def _launch_worker(args, model_dir: Path, out: Path, kill_after: int | None) -> subprocess.CompletedProcess:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join([str(ROOT / "workflow"), os.environ.get("PYTHONPATH", "")]),
    )
    # one rank on a GPU (two FSDP ranks cannot share one GPU: NCCL refuses duplicate devices); two on
    # CPUs, where accelerate takes a single process for no distribution at all
    world = 2 if args.cpu else 1
    env.update(_fsdp_env(world))
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        str(world),
        "--master_port",
        str(port),
        __file__,
        "--worker-fsdp",
        str(model_dir),
        str(out),
    ]
    if kill_after is not None:
        cmd += ["--kill-after", str(kill_after)]
    if args.cpu:
        cmd += ["--cpu"]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def check_fsdp2_one_rank(args) -> dict[str, Any]:
    import torch
    from safetensors.torch import load_file

    work = Path(args.workdir) / "fsdp"
    model_dir = work / "model"
    build_model(TINY if args.tiny else SMALL, model_dir, torch.float32, "cpu")
    straight, killed = work / "straight", work / "killed"
    out: dict[str, Any] = {}
    p = _launch_worker(args, model_dir, straight, None)
    if p.returncode != 0:
        return {"ok": False, "error": "straight run failed: " + p.stderr[-2000:]}
    p = _launch_worker(args, model_dir, killed, 2)
    out["killed_run_exit"] = p.returncode
    ckpt = killed.with_name("killed.ckpt")
    out["checkpoint_files"] = sorted(str(f.relative_to(ckpt)) for f in ckpt.rglob("*") if f.is_file())[:40]
    p = _launch_worker(args, model_dir, killed, None)
    if p.returncode != 0:
        return out | {"ok": False, "error": "resumed run failed: " + p.stderr[-2000:]}
    a, b = (load_file(str(d / "model" / "model.safetensors")) for d in (straight, killed))
    info = json.loads((killed / "worker.json").read_text())
    out.update(
        resumed_from_step=info["metrics"]["resumed_from_step"],
        identical_after_resume=a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a),
        saved_dtypes=sorted({str(v.dtype) for v in b.values()}),
        buffer_dtypes=info["buffers"],
        precision=info["metrics"]["precision"]["used"],
        distributed=info["metrics"]["distributed"],
    )
    out["ok"] = (
        p.returncode == 0
        and out["killed_run_exit"] != 0
        and out["resumed_from_step"] == 2
        and out["identical_after_resume"]
        and out["saved_dtypes"] == ["torch.bfloat16"]
        and out["distributed"] == "FSDP"
        and all(d == "torch.float32" for n, d in info["buffers"].items() if n.endswith("inv_freq"))
    )
    return out


def worker_fsdp(model_dir: str, out_dir: str, kill_after: int | None, cpu: bool) -> None:
    """One FSDP2 fine-tune of the project (run under torch.distributed.run by check_fsdp2_one_rank)."""
    if cpu:
        sys.path.insert(0, str(ROOT / "tests"))
        from _fsdp_cpu import allow_fsdp_on_cpu

        allow_fsdp_on_cpu()
    from dataeff.training import checkpoint, distributed

    buffers: dict[str, str] = {}
    save = distributed.save_model

    def save_and_record(accelerator, model, *a, **k):
        buffers.update({n: str(b.dtype) for n, b in model.named_buffers()})
        return save(accelerator, model, *a, **k)

    distributed.save_model = save_and_record
    if kill_after is not None:
        original = checkpoint.Checkpointer.save

        def save_then_die(self, state, best):
            path = original(self, state, best)
            if state.step == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
            return path

        checkpoint.Checkpointer.save = save_then_die
    from dataeff import train as train_mod

    cfg = {
        "method": "full",
        "learning_rate": 1e-4,
        "lr_scheduler": "cosine",
        "warmup_ratio": 0.1,
        "max_steps": 6,
        "max_epochs": None,
        "batch_size": 8,
        "micro_batch_size": 4,
        "max_seq_len": 128,
        "eval_every": 2,
        "patience": 10,
        "checkpoint_every": 2,
        "weight_decay": 0.0,
        "max_grad_norm": 1.0,
        "threads": 1,
    }
    data = rows(24)
    out = Path(out_dir)
    # bf16 weights and optimizer state (the paper's policy), saved in bf16 for evaluation
    fam = {"precision": "bf16", "dtype": "bfloat16"}
    metrics = train_mod.finetune(
        model_ref=model_dir,
        family_cfg=fam,
        train_cfg=cfg,
        train_rows=data[:16],
        val_rows=data[16:],
        out_dir=out,
        ckpt_dir=out.with_name(out.name + ".ckpt"),
        seed=3,
        progress=False,
    )
    import torch.distributed as dist

    if not dist.is_initialized() or dist.get_rank() == 0:
        (out / "worker.json").write_text(json.dumps({"metrics": metrics, "buffers": buffers}, default=str))


def check_coslow_8b(args) -> dict[str, Any]:
    import torch

    from dataeff.coslow import lora_gram, lora_projections
    from dataeff.lora import lora_settings
    from dataeff.memory import ModelShape, plan_coslow

    shape = TINY if args.tiny else LLAMA_8B
    device = "cpu" if args.cpu else "cuda"
    model = build_model(shape, None, torch.bfloat16, device).eval()
    projections = lora_projections(model, 0, lora_settings(None))
    out: dict[str, Any] = {"params": sum(p.numel() for p in model.parameters())}
    g = torch.Generator().manual_seed(0)
    for tokens in (64, 128) if args.tiny else (1024, 2048):
        examples = [
            (torch.randint(3, shape["vocab_size"], (tokens,), generator=g).tolist(), tokens - 4) for _ in range(32)
        ]
        if device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        gram = lora_gram(model, examples, projections)
        sec = time.perf_counter() - t0
        plan = plan_coslow(ModelShape.from_config(model.config), dtype="bfloat16", seq_len=tokens, k=32)
        rec = {
            "seconds": round(sec, 2),
            "gram_finite": bool(torch.isfinite(gram).all()),
            "planned_gb": round(plan.tensors / 1e9, 2),
        }
        if device == "cuda":
            rec["peak_gb"] = round(torch.cuda.max_memory_allocated() / 1e9, 2)
            rec["planned_over_measured"] = round(plan.tensors / torch.cuda.max_memory_allocated(), 3)
        out[f"tokens_{tokens}"] = rec
    out["ok"] = all(v["gram_finite"] for k, v in out.items() if k.startswith("tokens_"))
    del model
    return out


def check_generation_batched(args) -> dict[str, Any]:
    import torch
    from transformers import AutoTokenizer

    from dataeff.generation import greedy_generate

    work = Path(args.workdir) / "gen"
    device = "cpu" if args.cpu else "cuda"
    model = build_model(TINY if args.tiny else SMALL, work, torch.float32, device).eval()
    tok = AutoTokenizer.from_pretrained(work)
    prompts = [tok(r["prompt"])["input_ids"] for r in rows(12)]
    batched = greedy_generate(model, tok, prompts, max_new_tokens=8, batch_size=12)
    single = [greedy_generate(model, tok, [p], max_new_tokens=8, batch_size=1)[0] for p in prompts]
    same = [a.token_ids == b.token_ids for a, b in zip(batched, single, strict=True)]
    return {"prompts": len(prompts), "identical": sum(same), "ok": all(same)}


def check_planner_vs_measured(args) -> dict[str, Any]:
    import torch
    from transformers import get_scheduler

    from dataeff.memory import ModelShape, plan_finetune
    from dataeff.precision import resolve_precision
    from dataeff.train import build_optimizer, layout_for
    from dataeff.training.batches import Example
    from dataeff.training.distributed import make_accelerator
    from dataeff.training.step import StepContext, train_step

    if args.cpu:
        return {"ok": True, "skipped": "peak GPU memory needs a GPU"}
    shape, seq, micro = LLAMA_8B, 2048, 1
    model = build_model(shape, None, torch.bfloat16, "cuda").train()
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.config.use_cache = False
    opt = build_optimizer(list(model.parameters()), {"learning_rate": 1e-5, "weight_decay": 0.0})
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
    "fsdp2_one_rank": check_fsdp2_one_rank,
    "coslow_8b": check_coslow_8b,
    "generation_batched": check_generation_batched,
    "planner_vs_measured": check_planner_vs_measured,
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="gpu_check.jsonl")
    ap.add_argument("--workdir", default=None, help="scratch directory (default: next to --out)")
    ap.add_argument("--cpu", action="store_true", help="run on the CPU (FSDP on gloo); for tests")
    ap.add_argument("--tiny", action="store_true", help="tiny shapes instead of 1B/8B-shaped models")
    ap.add_argument("--only", default=None, help="comma-separated check names")
    ap.add_argument("--worker-fsdp", nargs=2, metavar=("MODEL", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--kill-after", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker_fsdp:
        worker_fsdp(*args.worker_fsdp, args.kill_after, args.cpu)
        return 0
    import torch

    if not args.cpu and not torch.cuda.is_available():
        print("gpu_check: no CUDA device (use --cpu --tiny for the CPU dry run)", file=sys.stderr)
        return 2
    out = Path(args.out)
    args.workdir = args.workdir or str(out.with_suffix("")) + ".work"
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    names = args.only.split(",") if args.only else list(CHECKS)
    header = {
        "check": "environment",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() and not args.cpu else "cpu",
        "mode": "cpu" if args.cpu else "gpu",
        "tiny": args.tiny,
        "ok": True,
    }
    failed = 0
    with out.open("w") as f:
        f.write(json.dumps(header) + "\n")
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
