"""Helpers shared by the benchmark scripts: machine description, timing, data, tiny model.

Nothing here is timed itself; it only prepares what the measurements in ``run.py`` need, so
the project code and its plain baseline get exactly the same model, data, threads and order.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dataeff.core.settings import TrainSettings

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_MODEL = REPO / "results" / "models" / "smollm2"
#: Generated tasks of the embedded default (varied prompt and answer lengths).
TASKS = ("boolean_expressions", "web_of_lies", "object_counting", "hyperbaton")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or platform's guess elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine(threads: int) -> dict[str, Any]:
    """What the numbers were measured on."""
    import torch
    import transformers

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "torch_threads": threads,
        "python": platform.python_version(),
        "gpu": None,
    }
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info["gpu"] = f"{props.name} ({props.total_memory / 2**30:.0f} GiB), CUDA {torch.version.cuda}"
    return info


def sync(device: str) -> None:
    """Wait for queued GPU work so a timer measures it (no-op on the CPU)."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def timed(fn: Callable[[], Any], device: str = "cpu") -> tuple[float, Any]:
    """Seconds ``fn`` takes (GPU work included) and its result."""
    sync(device)
    t0 = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - t0, out


def matmul_gflops(device: str = "cpu", n: int | None = None, repeats: int = 7) -> dict[str, Any]:
    """Measured rate of one large square matmul (fp32 on the CPU, bf16 on a GPU): the
    machine's practical dense-compute ceiling against which training utilisation is read."""
    import torch

    cuda = device.startswith("cuda")
    n = n or (8192 if cuda else 2048)
    dtype = torch.bfloat16 if cuda else torch.float32
    g = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, device=device, dtype=dtype, generator=g)
    b = torch.randn(n, n, device=device, dtype=dtype, generator=g)
    for _ in range(2):  # warm-up (thread pool, kernels)
        a @ b
    secs = [timed(lambda: a @ b, device)[0] for _ in range(repeats)]
    s = median(secs)
    return {
        "n": n,
        "dtype": str(dtype).removeprefix("torch."),
        "seconds": s,
        "gflops": 2 * n**3 / s / 1e9,
        "best_gflops": 2 * n**3 / min(secs) / 1e9,
    }


def task_rows(n_per_task: int, seed: int = 0, difficulty: str = "easy") -> list[dict[str, Any]]:
    """Rendered ``{"id", "prompt", "answer"}`` rows of the generated default tasks, shuffled
    with ``seed`` (the same rows the pipeline would prepare, independent of ``data/``)."""
    import importlib
    import random

    from dataeff.tasks.prepare import render
    from dataeff.tasks.registry import get_task

    rows = []
    for name in TASKS:
        spec = get_task(name)
        module = importlib.import_module(spec.generator or f"dataeff.tasks.generators.{name}")
        for i, rec in enumerate(module.generate(n_per_task, seed, difficulty)):
            rec["_id"] = f"{name}-{i:06d}"
            rows.append(render(spec, rec))
    random.Random(seed).shuffle(rows)
    return rows


def tiny_model(dest: Path, source: str | os.PathLike[str] = DEFAULT_MODEL) -> Path:
    """A 2-layer random Llama with SmolLM2's tokenizer (as tests/conftest.py builds it)."""
    from dataeff.modeling.loading import build_tiny_model

    return build_tiny_model(source, dest)


def _accelerator(device: str) -> Any:
    """A one-process Accelerator on ``device``, configured as ``finetune()`` configures its own
    (:func:`dataeff.training.distributed.make_accelerator`). accelerate keeps its state in a
    process-wide singleton, reset here because the benchmark moves from the CPU to the GPU."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    return Accelerator(cpu=not device.startswith("cuda"), step_scheduler_with_optimizer=False, mixed_precision="no")


def train_project(
    model: Any, tok: Any, examples: list, plan: list[list[int]], train: TrainSettings, device: str, precision: Any
) -> dict[str, Any]:
    """The project's own optimizer step (:func:`dataeff.training.step.train_step`, the one
    ``finetune()`` runs on every rank) on one process over the batches of ``plan``, with the
    project's optimizer and schedule; no validation and no checkpoints, which the Trainer
    baseline does not do either. ``precision``: a :mod:`dataeff.modeling.precision` policy."""
    from dataeff.training.finetune import layout_for, prepare_training
    from dataeff.training.step import StepContext, train_step

    acc = _accelerator(device)
    model.train()
    model.config.use_cache = False
    model, optimizer, scheduler = prepare_training(acc, model, train, len(plan))
    ctx = StepContext(
        accelerator=acc,
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        layout=layout_for(acc.unwrap_model(model)),
        precision=precision,
        pad_id=tok.pad_token_id,
        micro_batch_size=train.micro_batch_size,
        max_grad_norm=train.max_grad_norm,
        sharded=False,
        source="benchmark",
    )
    ends, losses = [], []
    sync(device)
    for step, idx in enumerate(plan):
        losses.append(train_step(ctx, [examples[i] for i in idx], step))
        sync(device)
        ends.append(time.perf_counter())
    acc.free_memory()  # the accelerator holds the model and optimizer; the next run loads afresh
    return {
        "ends": ends,
        "losses": losses,
        "optimizer": "fused torch.optim.AdamW (dataeff.training.finetune.build_optimizer)",
    }
