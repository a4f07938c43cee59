"""Fine-tune the tiny model once; run by tests/test_multiprocess.py under ``torch.distributed.run``
(several processes) and directly (one process), so the two results can be compared."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(model_dir: str, out_dir: str) -> None:
    from _coslow_helpers import labeled_rows
    from dataeff.config import load_config
    from dataeff.train import finetune, write_metrics

    train_cfg = dict(load_config(Path(__file__).resolve().parents[1] / "config" / "config.yaml")["train"])
    # 12 examples, batch 6 in micro-batches of 2: 3 micro-batches a step, so with 2 processes
    # one rank is left a micro-batch short and must pad (the uneven case).
    train_cfg.update(batch_size=6, micro_batch_size=2, max_steps=4, max_epochs=None, eval_every=2,
                     checkpoint_every=100, learning_rate=1e-3, threads=1)
    rows = labeled_rows(16)
    out = Path(out_dir)
    metrics = finetune(model_ref=model_dir, family_cfg={"precision": "fp32"}, train_cfg=train_cfg, train_rows=rows[:12],
                       val_rows=rows[12:], out_dir=out, ckpt_dir=out / "ckpt", seed=7, progress=False)
    import torch.distributed as dist

    if not dist.is_initialized() or dist.get_rank() == 0:
        write_metrics(out / "metrics.json", metrics)
        (out / "world.json").write_text(json.dumps({"world": dist.get_world_size() if dist.is_initialized() else 1}))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main(sys.argv[1], sys.argv[2])
