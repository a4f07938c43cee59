"""Performance of dataeff, every figure a ratio against the plain way, measured in the same run.

    python benchmarks/run.py [--quick] [--repeats 3] [--threads 2] [--out results/benchmark.md]

1. fine-tuning throughput: the project's optimizer step (``dataeff.training.step.train_step``, the
   step ``finetune()`` runs: left padding or packing, length-grouped micro-batches, logits of the
   answer positions only) vs a plain ``transformers.Trainer``
   (right padding by DataCollatorForSeq2Seq, labels -100 on the prompt, full logits), same model,
   examples, order, batch, micro batch, sequence length, lr, schedule; steady-state step time
   (the first, warm-up, step excluded; model load and tokenisation excluded); plus the fraction
   of a measured large-matmul rate the loop reaches (6 x trainable parameters x tokens / time);
2. evaluation: ``dataeff.inference.evaluate.evaluate_rows`` (batched) vs one ``model.generate`` per example;
3. CoS-Low vs the one-example-at-a-time reference, and the batched selection pass vs one
   ``generate`` per prompt (``benchmarks/bench_coslow.py``);
4. ``snakemake -n`` on the paper's grid, and on a grid with 10x the tasks (scaling);
5. the embedded default end to end: ``--default-run`` runs the README's command from nothing in a
   scratch directory and records the wall time in ``results/default_run_seconds.json``; without
   it the table shows the last such measurement.

Every timing is the median of ``--repeats`` runs, with the project and the baseline run
alternately (so slow drift of a shared machine hits both). ``--quick`` uses a tiny random model,
two timed steps, a few examples and one repeat, to check the script itself in seconds.
The Markdown table is printed last and written to ``--out`` (raw numbers next to it, ``.json``).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dataeff.core.settings import EvalSettings, TrainSettings

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from common import (  # noqa: E402
    DEFAULT_MODEL,
    REPO,
    TASKS,
    machine,
    matmul_gflops,
    median,
    sync,
    task_rows,
    tiny_model,
    train_project,
)

TARGETS = {
    "train": 1.5,
    "eval": 5.0,
    "coslow_time": 3.0,
    "coslow_mem": 0.5,
    "coslow_diff": 1e-4,
    "selection": 5.0,
    "dryrun_s": 10.0,
    "default_min": 25.0,
}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- 1. fine-tuning


def _load(model_ref: str, device: str):
    from dataeff.modeling.loading import load_model

    model, tok, _ = load_model(model_ref, device=device)
    return model, tok


def _step_plan(examples: list, n_steps: int, batch: int, seed: int) -> list[list[int]]:
    """The effective batch (example indices) of every step: the project's own data order."""
    from dataeff.training.finetune import batch_indices

    return [batch_indices(len(examples), batch, step, seed) for step in range(n_steps)]


def train_trainer(
    model: Any, model_path: str, examples: list, plan: list[list[int]], train: TrainSettings, device: str, out_dir: str
) -> dict[str, Any]:
    """The plain way: ``transformers.Trainer`` with its defaults, DataCollatorForSeq2Seq right
    padding, labels -100 on the prompt, full logits; the same examples in the same order."""
    import torch
    from torch.utils.data import SequentialSampler
    from transformers import (
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        PrinterCallback,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    tok = AutoTokenizer.from_pretrained(model_path)
    tok.padding_side = "right"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    features = []
    for idx in plan:  # one effective batch after the other; the sampler keeps this order
        for i in idx:
            e = examples[i]
            ids = e.prompt + e.completion
            features.append(
                {
                    "input_ids": ids,
                    "attention_mask": [1] * len(ids),
                    "labels": [-100] * len(e.prompt) + list(e.completion),
                }
            )

    class Sequential(Trainer):
        def _get_train_sampler(self, *args: Any, **kwargs: Any):
            return SequentialSampler(self.train_dataset)

    ends: list[float] = []
    losses: list[float] = []

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):  # after the optimizer step
            sync(device)
            ends.append(time.perf_counter())

        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))

    total = len(plan)
    args = TrainingArguments(
        output_dir=out_dir,
        per_device_train_batch_size=train.micro_batch_size,
        gradient_accumulation_steps=max(1, train.batch_size // train.micro_batch_size),
        max_steps=total,
        learning_rate=train.learning_rate,
        weight_decay=train.weight_decay,
        lr_scheduler_type=train.lr_scheduler,
        warmup_steps=int(round(train.warmup_ratio * total)),
        max_grad_norm=train.max_grad_norm,
        eval_strategy="no",
        save_strategy="no",
        logging_strategy="steps",
        logging_steps=1,
        report_to="none",
        disable_tqdm=True,
        use_cpu=not device.startswith("cuda"),
        dataloader_num_workers=0,
        dataloader_pin_memory=device.startswith("cuda"),
        seed=0,
    )
    model.config.use_cache = False
    trainer = Sequential(
        model=model,
        args=args,
        train_dataset=features,
        data_collator=DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100),
        callbacks=[Clock()],
    )
    trainer.remove_callback(PrinterCallback)  # keep stdout for the table (losses come via on_log)
    optim = str(args.optim).split(".")[-1].lower()
    with torch.random.fork_rng(devices=[]):
        trainer.train()
    return {"ends": ends, "losses": losses, "optimizer": f"Trainer default ({optim})"}


def bench_training(
    model_ref: str,
    device: str,
    train: TrainSettings,
    rows: list[dict[str, Any]],
    steps: int,
    repeats: int,
    peak_gflops: float,
) -> dict[str, Any]:
    """Steady-state throughput of both loops; a fresh copy of the model for every run."""
    import torch

    from dataeff.modeling.loading import load_tokenizer, resolve_model_path
    from dataeff.modeling.precision import resolve_precision
    from dataeff.training.finetune import tokenize_rows

    fp32 = resolve_precision("fp32", device)
    model_path, _ = resolve_model_path(model_ref)
    tok = load_tokenizer(model_ref)
    examples = tokenize_rows(tok, rows, train.max_seq_len, "benchmark")
    warmup = 1
    plan = _step_plan(examples, warmup + steps, train.batch_size, seed=0)
    timed_plan = plan[warmup:]
    tokens = sum(examples[i].length for idx in timed_plan for i in idx)
    answer_tokens = sum(len(examples[i].completion) for idx in timed_plan for i in idx)
    runs: dict[str, list[float]] = {"project": [], "trainer": []}
    first_loss: dict[str, float] = {}
    optimizers: dict[str, str] = {}
    n_params = 0
    for r in range(repeats):
        for kind in ("project", "trainer") if r % 2 == 0 else ("trainer", "project"):
            torch.manual_seed(0)
            model, _ = _load(model_ref, device)
            n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
            with tempfile.TemporaryDirectory() as tmp:
                if kind == "project":
                    res = train_project(model, tok, examples, plan, train, device, fp32)
                else:
                    res = train_trainer(model, model_path, examples, plan, train, device, tmp)
            if len(res["ends"]) != len(plan):
                raise RuntimeError(f"{kind}: {len(res['ends'])} steps timed, expected {len(plan)}")
            seconds = res["ends"][-1] - res["ends"][warmup - 1]
            runs[kind].append(seconds)
            if res["losses"]:
                first_loss[kind] = res["losses"][0]
            optimizers[kind] = res["optimizer"]
            log(f"train {device} {kind} run {r + 1}: {seconds:.2f} s for {steps} steps")
            del model
            if device.startswith("cuda"):
                torch.cuda.empty_cache()
    out: dict[str, Any] = {
        "device": device,
        "steps": steps,
        "warmup_steps": warmup,
        "batch_size": train.batch_size,
        "micro_batch_size": train.micro_batch_size,
        "max_seq_len": train.max_seq_len,
        "learning_rate": train.learning_rate,
        "tokens": tokens,
        "answer_tokens": answer_tokens,
        "trainable_params": n_params,
        "first_step_loss": first_loss,
        "optimizer": optimizers,
        "runs": runs,
    }
    for kind in runs:
        s = median(runs[kind])
        out[kind] = {
            "seconds": s,
            "tokens_per_s": tokens / s,
            "answer_tokens_per_s": answer_tokens / s,
            "model_gflops": 6 * n_params * tokens / s / 1e9,
        }
        out[kind]["utilisation"] = out[kind]["model_gflops"] / peak_gflops
    out["speedup"] = out["trainer"]["seconds"] / out["project"]["seconds"]
    return out


def bench_precision(
    model_ref: str, device: str, train: TrainSettings, rows: list[dict[str, Any]], steps: int, repeats: int
) -> dict[str, Any]:
    """The project's loop in fp32 and under bf16 autocast (``dataeff.modeling.precision``'s
    ``autocast_bf16`` policy: fp32 master weights and AdamW state, bf16 matmuls), side by side in
    one run: same model, examples, order and settings, runs alternated. Reports the ratio and
    the first-step losses (they should agree to bf16 rounding)."""
    import torch

    from dataeff.modeling.loading import load_tokenizer
    from dataeff.modeling.precision import resolve_precision
    from dataeff.training.finetune import tokenize_rows

    policy = resolve_precision("autocast_bf16", device)
    tok = load_tokenizer(model_ref)
    examples = tokenize_rows(tok, rows, train.max_seq_len, "benchmark")
    warmup = 1
    plan = _step_plan(examples, warmup + steps, train.batch_size, seed=0)
    tokens = sum(examples[i].length for idx in plan[warmup:] for i in idx)
    kinds = {"fp32": resolve_precision("fp32", device), policy.used: policy}
    runs: dict[str, list[float]] = {k: [] for k in kinds}
    first_loss: dict[str, float] = {}
    for r in range(repeats):
        order = list(kinds) if r % 2 == 0 else list(reversed(kinds))
        for kind in order:
            torch.manual_seed(0)
            model, _ = _load(model_ref, device)
            res = train_project(model, tok, examples, plan, train, device, kinds[kind])
            seconds = res["ends"][-1] - res["ends"][warmup - 1]
            runs[kind].append(seconds)
            first_loss[kind] = res["losses"][0]
            log(f"precision {device} {kind} run {r + 1}: {seconds:.2f} s for {steps} steps")
            del model
    out: dict[str, Any] = {
        "device": device,
        "steps": steps,
        "batch_size": train.batch_size,
        "micro_batch_size": train.micro_batch_size,
        "tokens": tokens,
        "policy": policy.record(),
        "runs": runs,
        "first_step_loss": first_loss,
    }
    for kind in runs:
        out[kind] = {"seconds": median(runs[kind]), "tokens_per_s": tokens / median(runs[kind])}
    out["ratio"] = out["fp32"]["seconds"] / out[policy.used]["seconds"] if policy.used != "fp32" else None
    return out


# --------------------------------------------------------------------------- 2. evaluation


def generate_one_by_one(model: Any, tok: Any, rows: list[dict[str, Any]], max_new_tokens: int) -> list[str]:
    """The plain way: one greedy ``model.generate`` per example, stopping at end of turn."""
    import torch

    from dataeff.modeling.chat import prompt_ids, stop_token_ids

    device = next(model.parameters()).device
    stops = stop_token_ids(tok)
    texts = []
    with torch.inference_mode():
        for r in rows:
            ids = torch.tensor([prompt_ids(tok, r["prompt"], r.get("system"))], device=device)
            out = model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                eos_token_id=stops,
                pad_token_id=tok.pad_token_id,
            )
            texts.append(tok.decode(out[0, ids.shape[1] :], skip_special_tokens=True))
    return texts


def _by_task(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Rows grouped by their task (ids are ``task-000123``), in first-seen order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["id"].rsplit("-", 1)[0], []).append(r)
    return groups


def bench_eval(
    model_ref: str, device: str, settings: EvalSettings, rows: list[dict[str, Any]], repeats: int
) -> dict[str, Any]:
    from dataeff.inference.evaluate import evaluate_rows, normalize, score

    model, tok = _load(model_ref, device)
    mnt, bs = settings.max_new_tokens, settings.batch_size
    golds = [str(r["answer"]) for r in rows]
    # warm-up (token tables, kernels, generation config), excluded from the timings
    evaluate_rows(model, tok, rows[:2], metric="accuracy", batch_size=bs, max_new_tokens=mnt, progress=False)
    generate_one_by_one(model, tok, rows[:1], mnt)
    runs: dict[str, list[float]] = {"project": [], "generate": []}
    preds: dict[str, list[str]] = {}
    for r in range(repeats):
        for kind in ("project", "generate") if r % 2 == 0 else ("generate", "project"):
            sync(device)
            t0 = time.perf_counter()
            if kind == "project":  # one call per task, as the pipeline runs one evaluation job per task
                by_id = {}
                for task_rows_ in _by_task(rows).values():
                    _, p = evaluate_rows(
                        model, tok, task_rows_, metric="accuracy", batch_size=bs, max_new_tokens=mnt, progress=False
                    )
                    by_id.update({r["id"]: x["prediction"] for r, x in zip(task_rows_, p, strict=True)})
                texts = [by_id[r["id"]] for r in rows]
            else:
                texts = generate_one_by_one(model, tok, rows, mnt)
            sync(device)
            runs[kind].append(time.perf_counter() - t0)
            preds[kind] = texts
            log(f"eval {device} {kind} run {r + 1}: {runs[kind][-1]:.2f} s")
    same = sum(normalize(a) == normalize(b) for a, b in zip(preds["project"], preds["generate"], strict=True))
    out: dict[str, Any] = {
        "device": device,
        "n": len(rows),
        "batch_size": bs,
        "max_new_tokens": mnt,
        "runs": runs,
        "same_answers": same,
        "accuracy": {k: score(v, golds) for k, v in preds.items()},
    }
    for kind in runs:
        s = median(runs[kind])
        out[kind] = {"seconds": s, "examples_per_s": len(rows) / s}
    out["speedup"] = out["generate"]["seconds"] / out["project"]["seconds"]
    return out


# --------------------------------------------------------------------------- 3. CoS-Low


def bench_coslow_all(model_ref: str, repeats: int, quick: bool, threads: int, batch_size: int) -> dict[str, Any]:
    import bench_coslow

    if quick:  # its quick mode builds a tiny model from the tokenizer of DEFAULT_MODEL
        base = Path(model_ref)
        bench_coslow.DEFAULT_MODEL = base if (base / "model.json").is_file() else DEFAULT_MODEL
    log("CoS-Low: fast vs reference")
    ref = None if quick else model_ref
    cos = bench_coslow.bench(ref, n=4 if quick else 32, repeats=repeats, quick=quick, threads=threads)
    log("selection: batched vs per-prompt generate")
    sel = bench_coslow.bench_selection(
        ref, n=8 if quick else 64, repeats=repeats, quick=quick, threads=threads, batch_size=batch_size
    )
    return {"coslow": cos, "selection": sel}


# --------------------------------------------------------------------------- 4. snakemake -n

_LINKS = ("Snakefile", "workflow", "config", "prompts", "envs")


def _scratch_workdir(root: Path) -> Path:
    """A directory that looks like the repository (links to the workflow and config) but has
    no data/, results/ or .snakemake/, so every job is planned and the repo is not touched."""
    root.mkdir(parents=True, exist_ok=True)
    for name in _LINKS:
        if (REPO / name).exists() and not (root / name).exists():
            (root / name).symlink_to(REPO / name)
    return root


def _tenfold(config_path: Path, dest: Path, factor: int = 10) -> Path:
    """The same grid with ``factor`` x the tasks: each task plus user-task clones of it."""
    import yaml

    cfg = yaml.safe_load(config_path.read_text())
    user_file = dest.parent / "clone.jsonl"
    user_file.write_text(
        "".join(json.dumps({"prompt": f"q{i}", "label": "yes" if i % 2 else "no"}) + "\n" for i in range(20))
    )
    tasks = list(cfg["tasks"])
    user = dict(cfg.get("user_tasks") or {})
    for t in list(tasks):
        for k in range(1, factor):
            name = f"{t}_clone{k}"
            user[name] = {"file": str(user_file), "labels": ["no", "yes"]}
            tasks.append(name)
    cfg["tasks"], cfg["user_tasks"] = tasks, user
    dest.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return dest


def _snakemake_exe() -> str:
    """The snakemake of this environment (the one next to this interpreter if not on PATH)."""
    return shutil.which("snakemake") or str(Path(sys.executable).parent / "snakemake")


def _dry_run(workdir: Path, configfile: Path) -> tuple[float, int]:
    """Wall seconds of ``snakemake -n --configfile FILE`` (fresh process, output captured) and
    the number of jobs it planned."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [_snakemake_exe(), "-n", "--configfile", str(configfile)], cwd=workdir, capture_output=True, text=True
    )
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"snakemake -n failed ({proc.returncode}): {(proc.stderr or proc.stdout)[-2000:]}")
    m = re.search(r"^total\s+(\d+)\s*$", proc.stdout + proc.stderr, re.MULTILINE)
    return seconds, int(m.group(1)) if m else 0


def bench_dryrun(config_path: Path, repeats: int, max_scale_seconds: float = 120.0) -> dict[str, Any]:
    out: dict[str, Any] = {
        "config": str(config_path.relative_to(REPO) if config_path.is_relative_to(REPO) else config_path)
    }
    with tempfile.TemporaryDirectory(prefix="dataeff-dryrun-") as tmp:
        work = _scratch_workdir(Path(tmp) / "repo")
        ten = _tenfold(config_path, Path(tmp) / "tenfold.yaml")
        for label, cfg in (("1x", config_path), ("10x", ten)):
            times, jobs = [], 0
            for r in range(repeats):
                s, jobs = _dry_run(work, cfg)
                times.append(s)
                log(f"snakemake -n {label} run {r + 1}: {s:.2f} s, {jobs} jobs")
                if label == "10x" and s > max_scale_seconds:
                    break  # one run is enough to read the scaling; repeats would take many minutes
            s = median(times)
            out[label] = {"seconds": s, "runs": times, "jobs": jobs, "ms_per_job": 1000 * s / max(jobs, 1)}
    out["time_ratio"] = out["10x"]["seconds"] / out["1x"]["seconds"]
    out["job_ratio"] = out["10x"]["jobs"] / max(out["1x"]["jobs"], 1)
    return out


# --------------------------------------------------------------------------- 5. default run

DEFAULT_RUN_FILE = REPO / "results" / "default_run_seconds.json"


def default_run_seconds() -> dict[str, Any] | None:
    """The last measurement of the embedded default run (``--default-run`` writes it)."""
    if not DEFAULT_RUN_FILE.is_file():
        return None
    return dict(json.loads(DEFAULT_RUN_FILE.read_text()), source=str(DEFAULT_RUN_FILE.relative_to(REPO)))


def run_default(cores: int = 2, here: bool = False) -> dict[str, Any]:
    """Run the README's command (``snakemake --cores N`` on config/config.yaml) from nothing and
    time it: in a scratch directory shaped like the repository (no data/, results/ or
    .snakemake/), or with ``here`` in the repository itself after removing those (so its results
    and figures stay to look at).

    This is the whole default (model conversion, task generation, every fine-tune, evaluation,
    CoS-Low, analysis and figures), so it takes as long as the target says: about 20 minutes
    on 2 cores. The snakemake log is kept beside the measurement.
    """
    if here:
        for name in ("data", ".snakemake", "logs"):
            shutil.rmtree(REPO / name, ignore_errors=True)
        for child in (REPO / "results").glob("*"):
            if child.is_dir():  # keep the benchmark tables (files) but no pipeline output
                shutil.rmtree(child)
        return _time_default(REPO, cores)
    with tempfile.TemporaryDirectory(prefix="dataeff-default-") as tmp:
        return _time_default(_scratch_workdir(Path(tmp) / "repo"), cores)


def _time_default(work: Path, cores: int) -> dict[str, Any]:
    log(f"snakemake --cores {cores} on config/config.yaml in {work} (about 20 min)")
    t0 = time.perf_counter()
    proc = subprocess.run([_snakemake_exe(), "--cores", str(cores)], cwd=work, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    text = proc.stdout + proc.stderr
    log_path = DEFAULT_RUN_FILE.with_suffix(".log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text(text)
    if proc.returncode != 0:
        raise RuntimeError(f"the default run failed ({proc.returncode}); see {log_path}")
    done = re.findall(r"^(\d+) of (\d+) steps", text, re.MULTILINE)
    accuracy: dict[str, dict[str, float]] = {}
    for f in sorted((work / "results").glob("*/*/eval/n*.json")):
        if not re.fullmatch(r"n\d+", f.stem):  # n16.timing.json etc. are not results
            continue
        r = json.loads(f.read_text())
        accuracy.setdefault(f.parents[1].name, {})[f.stem] = r.get("accuracy")
    return {
        "seconds": seconds,
        "cores": cores,
        "jobs": int(done[-1][1]) if done else None,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": f"snakemake --cores {cores}",
        "accuracy": accuracy,
    }


# --------------------------------------------------------------------------- table


def _fmt(x: float, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "**no**")


def _header(res: dict[str, Any], quick: bool) -> list[str]:
    """The title, the command, the machine and the table's column heads."""
    m = res["machine"]
    return [
        "# dataeff performance benchmark",
        "",
        f"Command: `{res['command']}`  ",
        f"Date: {res['date']}  ",
        f"Machine: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), torch {m['torch']}, "
        f"transformers {m['transformers']}, torch threads {m['torch_threads']}, GPU: {m['gpu'] or 'none'}  ",
        f"Model: {res['model']}; timings are medians of {res['repeats']} repeats"
        + (" (QUICK MODE: tiny random model, numbers meaningless)" if quick else ""),
        "",
        "| # | measurement | dataeff | plain baseline | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
    ]


def _training_rows(res: dict[str, Any]) -> list[str]:
    """Rows 1: fine-tuning throughput and compute utilisation, per device."""
    rows: list[str] = []
    row = rows.append
    for dev, tr in res["train"].items():
        p, t = tr["project"], tr["trainer"]
        setup = (
            f"{tr['steps']} steps after 1 warm-up, batch {tr['batch_size']}/micro "
            f"{tr['micro_batch_size']}, max_seq_len {tr['max_seq_len']}"
        )
        row(
            f"| 1 | fine-tune training tokens/s ({dev}; {setup}) | {_fmt(p['tokens_per_s'], 1)} "
            f"| {_fmt(t['tokens_per_s'], 1)} (transformers.Trainer: right padding, full logits, "
            f"{tr['optimizer'].get('trainer', '')}) | {tr['speedup']:.2f}x | >= {TARGETS['train']}x "
            f"| {_met(tr['speedup'] >= TARGETS['train'])} |"
        )
        row(
            f"| 1 | fine-tune answer tokens/s ({dev}) | {_fmt(p['answer_tokens_per_s'], 1)} "
            f"| {_fmt(t['answer_tokens_per_s'], 1)} (Trainer) | {tr['speedup']:.2f}x "
            f"| >= {TARGETS['train']}x | {_met(tr['speedup'] >= TARGETS['train'])} |"
        )
        mm = res["matmul"][dev]
        row(
            f"| 1 | training compute utilisation ({dev}): 6 x {tr['trainable_params'] / 1e6:.1f}M params "
            f"x tokens / time | {_fmt(p['model_gflops'], 1)} GFLOP/s | {_fmt(mm['gflops'], 1)} GFLOP/s "
            f"({mm['n']}^2 {mm['dtype']} matmul, same run; Trainer reaches {t['utilisation']:.1%}) "
            f"| {p['utilisation']:.1%} | report | - |"
        )
    return rows


def _precision_rows(res: dict[str, Any]) -> list[str]:
    """Rows 1: bf16 autocast against fp32 in the same loop, per device."""
    rows: list[str] = []
    row = rows.append
    for dev, pr in res.get("precision", {}).items():
        used = pr["policy"]["used"]
        if pr["ratio"] is None:
            row(
                f"| 1 | bf16 autocast training ({dev}) | not available: {pr['policy']['reason']} | - | - | report | - |"
            )
            continue
        row(
            f"| 1 | training tokens/s under bf16 autocast ({dev}; {pr['steps']} steps, batch "
            f"{pr['batch_size']}/micro {pr['micro_batch_size']}; {pr['policy']['reason']}) "
            f"| {_fmt(pr[used]['tokens_per_s'], 1)} | {_fmt(pr['fp32']['tokens_per_s'], 1)} (fp32, same loop) "
            f"| {pr['ratio']:.2f}x | report | - |"
        )
    return rows


def _eval_rows(res: dict[str, Any]) -> list[str]:
    """Rows 2: batched evaluation against one ``generate`` per example, per device."""
    rows: list[str] = []
    row = rows.append
    for dev, ev in res["eval"].items():
        row(
            f"| 2 | evaluation examples/s ({dev}; n={ev['n']}, batch {ev['batch_size']}, "
            f"max_new_tokens {ev['max_new_tokens']}) | {_fmt(ev['project']['examples_per_s'], 2)} "
            f"| {_fmt(ev['generate']['examples_per_s'], 2)} (one model.generate per example; same answer on "
            f"{ev['same_answers']}/{ev['n']}) | {ev['speedup']:.2f}x | >= {TARGETS['eval']}x "
            f"| {_met(ev['speedup'] >= TARGETS['eval'])} |"
        )
    return rows


def _coslow_rows(res: dict[str, Any]) -> list[str]:
    """Rows 3: CoS-Low time, memory and value against the reference; the selection pass."""
    rows: list[str] = []
    row = rows.append
    cs = res.get("coslow")
    if cs:
        c, s = cs["coslow"], cs["selection"]
        row(
            f"| 3 | CoS-Low time (n={c['n']}) | {c['fast']['seconds']:.2f} s "
            f"| {c['reference']['seconds']:.2f} s (one example at a time, benchmarks/coslow_reference.py) "
            f"| {c['speedup']:.2f}x "
            f"| >= {TARGETS['coslow_time']}x | {_met(c['speedup'] >= TARGETS['coslow_time'])} |"
        )
        row(
            f"| 3 | CoS-Low extra peak memory | {c['fast']['extra_mb']:.0f} MB "
            f"| {c['reference']['extra_mb']:.0f} MB | {c['memory_ratio']:.2f} | <= {TARGETS['coslow_mem']} "
            f"| {_met(c['memory_ratio'] <= TARGETS['coslow_mem'])} |"
        )
        row(
            f"| 3 | CoS-Low value | {c['fast']['value']:.6f} | {c['reference']['value']:.6f} "
            f"| abs diff {c['abs_diff']:.1e} | <= 1e-4 | {_met(c['agree'])} |"
        )
        row(
            f"| 3 | selection confidence pass (n={s['n']}, batch {s['batch_size']}, max_new_tokens "
            f"{s['max_new_tokens']}) | {s['batched']['seconds']:.2f} s (batched) "
            f"| {s['per_prompt']['seconds']:.2f} s (one generate per prompt; same tokens "
            f"{s['same_tokens']}/{s['n']}) | {s['speedup']:.2f}x | >= {TARGETS['selection']}x "
            f"| {_met(s['speedup'] >= TARGETS['selection'])} |"
        )
    return rows


def _dryrun_rows(res: dict[str, Any]) -> list[str]:
    """Rows 4: ``snakemake -n`` on the paper grid and on 10x its tasks."""
    rows: list[str] = []
    row = rows.append
    d = res.get("dryrun")
    if d:
        one, ten = d["1x"], d["10x"]
        row(
            f"| 4 | `snakemake -n` ({d['config']}: {one['jobs']} jobs) | {one['seconds']:.2f} s "
            f"({one['ms_per_job']:.1f} ms/job) | - | - | < {TARGETS['dryrun_s']:.0f} s "
            f"| {_met(one['seconds'] < TARGETS['dryrun_s'])} |"
        )
        runs10 = "" if len(ten["runs"]) >= res["repeats"] else f", {len(ten['runs'])} run"
        row(
            f"| 4 | `snakemake -n` with 10x the tasks ({ten['jobs']} jobs{runs10}) | {ten['seconds']:.2f} s "
            f"({ten['ms_per_job']:.1f} ms/job) | {one['seconds']:.2f} s (1x grid) "
            f"| {d['time_ratio']:.2f}x time for {d['job_ratio']:.2f}x jobs | <= 1.1 x jobs ratio (linear; 10% "
            f"for timing noise) "
            f"| {_met(d['time_ratio'] <= d['job_ratio'] * 1.1)} |"
        )
    return rows


def _default_run_rows(res: dict[str, Any]) -> list[str]:
    """Row 5: the embedded default end to end (the last recorded measurement)."""
    rows: list[str] = []
    row = rows.append
    dr = res.get("default_run")
    if dr:
        row(
            f"| 5 | embedded default end to end (from {dr['source']}) | {dr['seconds'] / 60:.1f} min | - | - "
            f"| <= {TARGETS['default_min']:.0f} min | {_met(dr['seconds'] / 60 <= TARGETS['default_min'])} |"
        )
    else:
        row(
            "| 5 | embedded default end to end | not measured (run the README command) | - | - "
            f"| <= {TARGETS['default_min']:.0f} min | n/a |"
        )
    return rows


def _notes(res: dict[str, Any]) -> list[str]:
    """What the table cannot hold: first-step losses (the loops must agree), raw runs, accuracies."""
    notes: list[str] = []
    for dev, tr in res["train"].items():
        fl = tr["first_step_loss"]
        if "project" in fl and "trainer" in fl:
            notes.append(
                f"- first-step loss ({dev}): dataeff {fl['project']:.4f}, "
                f"Trainer {fl['trainer']:.4f} (same examples, same answer-token mean: should agree)"
            )
        runs_p = ", ".join(f"{x:.2f}" for x in tr["runs"]["project"])
        runs_t = ", ".join(f"{x:.2f}" for x in tr["runs"]["trainer"])
        notes.append(
            f"- training ({dev}): {tr['tokens']} non-padding tokens, {tr['answer_tokens']} answer "
            f"tokens over the timed steps; runs (s): dataeff {runs_p}; Trainer {runs_t}"
        )
    for dev, pr in res.get("precision", {}).items():
        fl = ", ".join(f"{k} {v:.4f}" for k, v in pr["first_step_loss"].items())
        notes.append(f"- precision ({dev}): first-step loss {fl} (same examples: should agree to bf16 rounding)")
    for dev, ev in res["eval"].items():
        notes.append(
            f"- evaluation ({dev}): accuracy dataeff {ev['accuracy']['project']:.3f}, "
            f"per-example generate {ev['accuracy']['generate']:.3f}"
        )
    return notes


def build_table(res: dict[str, Any], args: argparse.Namespace) -> str:
    """The Markdown report: one row per measurement, each a ratio against its baseline."""
    lines = _header(res, args.quick)
    for section in (_training_rows, _precision_rows, _eval_rows, _coslow_rows, _dryrun_rows, _default_run_rows):
        lines += section(res)
    notes = _notes(res)
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main


def _parser() -> argparse.ArgumentParser:
    """The command line (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick", action="store_true", help="tiny random model, 2 steps, 1 repeat: checks the script, not the speed"
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="torch threads on the CPU (both sides)")
    ap.add_argument("--model", default=str(DEFAULT_MODEL), help="prepared model (results/models/NAME)")
    ap.add_argument("--config", default="config/config.yaml", help="train/eval settings come from here")
    ap.add_argument("--grid", default="config/paper.yaml", help="config of the snakemake -n measurement")
    ap.add_argument("--steps", type=int, default=None, help="timed optimizer steps (default 6; quick 2)")
    ap.add_argument(
        "--n-eval",
        type=int,
        default=None,
        help="test examples (default: the config's data.test_max per task, the size of one "
        "evaluation job of the pipeline; quick 4)",
    )
    ap.add_argument("--skip", nargs="*", default=[], choices=["train", "precision", "eval", "coslow", "dryrun"])
    ap.add_argument("--cpu-only", action="store_true", help="skip the GPU even if there is one")
    ap.add_argument("--out", default="results/benchmark.md")
    ap.add_argument(
        "--default-run",
        action="store_true",
        help="also run the embedded default end to end (about 20 min) and record its time",
    )
    ap.add_argument(
        "--here",
        action="store_true",
        help="with --default-run: run it in this repository (its data/, results/ pipeline "
        "output, .snakemake/ and logs/ are removed first) instead of a scratch copy",
    )
    return ap


def _measure_devices(res: dict[str, Any], args: argparse.Namespace, cfg: dict[str, Any], n_eval: int) -> None:
    """Sections 1-3 into ``res``: training, precision and evaluation per device, then CoS-Low.
    The model is the prepared one, or with ``--quick`` a tiny random copy of its architecture."""
    import dataclasses

    import torch

    from dataeff.core.settings import coslow_settings, eval_settings, train_settings

    repeats, steps = res["repeats"], res["steps"]
    train, evaluation = train_settings(cfg), eval_settings(cfg)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() and not args.cpu_only else [])
    with tempfile.TemporaryDirectory(prefix="dataeff-bench-") as tmp:
        model_ref = args.model
        if args.quick:
            model_ref = str(tiny_model(Path(tmp) / "tiny", args.model))
            train = dataclasses.replace(train, batch_size=4, micro_batch_size=2)
        res["model"] = "tiny random Llama (quick)" if args.quick else model_ref
        rows = task_rows(60 if args.quick else max(250, 100 + n_eval // len(TASKS)), seed=0)
        train_rows, test_rows = rows[: len(rows) - n_eval], rows[len(rows) - n_eval :]
        for dev in devices:
            res["matmul"][dev] = matmul_gflops(dev, n=512 if args.quick else None)
            log(f"matmul {dev}: {res['matmul'][dev]['gflops']:.1f} GFLOP/s")
            if "train" not in args.skip:
                res["train"][dev] = bench_training(
                    model_ref, dev, train, train_rows, steps, repeats, res["matmul"][dev]["gflops"]
                )
            if "precision" not in args.skip:
                res["precision"][dev] = bench_precision(model_ref, dev, train, train_rows, steps, repeats)
            if "eval" not in args.skip:
                res["eval"][dev] = bench_eval(model_ref, dev, evaluation, test_rows, repeats)
        if "coslow" not in args.skip:
            res["coslow"] = bench_coslow_all(
                args.model if args.quick else model_ref,
                repeats,
                args.quick,
                args.threads,
                int(coslow_settings(cfg).batch_size),
            )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    import torch

    from dataeff.core.io import atomic_write_json, atomic_write_text
    from dataeff.core.settings import data_settings
    from dataeff.pipeline.config import load_config

    torch.set_num_threads(args.threads)
    cfg = load_config(REPO / args.config)
    n_eval = args.n_eval or (4 if args.quick else len(TASKS) * int(data_settings(cfg).test_max))
    res: dict[str, Any] = {
        "command": " ".join(["python", "benchmarks/run.py", *(sys.argv[1:] if argv is None else argv)]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine(args.threads),
        "repeats": 1 if args.quick else max(1, args.repeats),
        "steps": args.steps or (2 if args.quick else 6),
        "train": {},
        "precision": {},
        "eval": {},
        "matmul": {},
    }
    _measure_devices(res, args, cfg, n_eval)
    if "dryrun" not in args.skip:
        grid = REPO / (args.config if args.quick else args.grid)
        log(f"snakemake -n on {grid.name} and 10x its tasks")
        res["dryrun"] = bench_dryrun(grid, res["repeats"])
    if args.default_run and not args.quick:
        atomic_write_json(DEFAULT_RUN_FILE, run_default(cores=args.threads, here=args.here))
    res["default_run"] = default_run_seconds()

    table = build_table(res, args)
    out = Path(args.out)
    if not out.is_absolute():
        out = REPO / out
    atomic_write_text(out, table)
    atomic_write_json(out.with_suffix(".json"), res)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
