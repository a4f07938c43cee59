"""Fine-tune the tiny model once; run by tests/test_multiprocess.py and tests/test_fsdp.py under
``torch.distributed.run`` (several processes) and directly (one process), so results compare.

Usage: ``_mp_finetune.py MODEL_DIR OUT_DIR [--fsdp] [--kill-after-checkpoint STEP] [--best-at STEP]``.
With ``--fsdp`` accelerate's FSDP2 path runs on CPU (tests/_fsdp_cpu.py). With
``--kill-after-checkpoint`` every rank SIGKILLs itself right after the checkpoint of that step is
complete, as a job killed by a time limit would die. With ``--best-at`` the validation losses the
loop decides on rise after that step (the real loss plus the steps past it), so the best weights
are those of an earlier step than the last, whatever the tiny model's losses do.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

#: Shared by the tests that compare runs of this script.
STEPS = 6
CHECKPOINT_EVERY = 2


def main(
    model_dir: str, out_dir: str, fsdp: bool = False, kill_after: int | None = None, best_at: int | None = None
) -> None:
    from _coslow_helpers import labeled_rows

    if fsdp:
        from _fsdp_cpu import allow_fsdp_on_cpu

        allow_fsdp_on_cpu()
    if kill_after is not None:
        from dataeff.training import checkpoint

        save = checkpoint.Checkpointer.save

        def save_then_die(self, state, best):
            path = save(self, state, best)
            if state.step == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
            return path

        checkpoint.Checkpointer.save = save_then_die
    if best_at is not None:
        from dataeff.training.state import TrainState

        observe = TrainState.observe_validation

        def rising_after_best(self, loss):
            # every rank adds the same amount, so all still take the same decisions
            return observe(self, loss + max(0, self.step - best_at))

        TrainState.observe_validation = rising_after_best

    import dataclasses

    from dataeff.core.config import validate_schema
    from dataeff.core.settings import family_settings, train_settings
    from dataeff.pipeline.config import load_config
    from dataeff.training.finetune import finetune, write_metrics

    config = load_config(Path(__file__).resolve().parents[1] / "config" / "config.yaml")
    # 12 examples, batch 6 in micro-batches of 2: 3 micro-batches a step, so with 2 processes
    # one rank is left a micro-batch short and must pad (the uneven case).
    train = dataclasses.replace(
        train_settings(config),
        batch_size=6,
        micro_batch_size=2,
        max_steps=STEPS,
        max_epochs=None,
        eval_every=2,
        patience=10,
        checkpoint_every=CHECKPOINT_EVERY,
        learning_rate=1e-3,
        threads=1,
    )
    family = validate_schema({"families": {"f": {"model": model_dir, "precision": "fp32"}}}, partial=True)["families"]
    rows = labeled_rows(16)
    out = Path(out_dir)
    metrics = finetune(
        model_ref=model_dir,
        family=family_settings(family["f"]),
        train=train,
        train_rows=rows[:12],
        val_rows=rows[12:],
        out_dir=out,
        ckpt_dir=out.with_name(out.name + ".ckpt"),
        seed=7,
        progress=False,
    )
    import torch.distributed as dist

    if not dist.is_initialized() or dist.get_rank() == 0:
        write_metrics(out / "metrics.json", metrics)
        world = {"world": dist.get_world_size() if dist.is_initialized() else 1}
        if dist.is_initialized():  # the timeout the default process group really runs with
            import torch

            backend = dist.distributed_c10d._get_default_group()._get_backend(torch.device("cpu"))
            world["timeout_s"] = backend.options._timeout.total_seconds()
        (out / "world.json").write_text(json.dumps(world))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    argv = sys.argv[1:]

    def value(flag: str) -> int | None:
        return int(argv[argv.index(flag) + 1]) if flag in argv else None

    main(
        argv[0],
        argv[1],
        fsdp="--fsdp" in argv,
        kill_after=value("--kill-after-checkpoint"),
        best_at=value("--best-at"),
    )
