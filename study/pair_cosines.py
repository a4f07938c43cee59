"""Add every pair's cosine to the study's CoS-Low records written before they were recorded.

    python study/pair_cosines.py [--results study/results/smollm2] [--config config/study.yaml]
                                 [--tasks a,b] [--threads 1]

CoS-Low records now keep the cosine of each of the k(k-1)/2 pairs (``coslow_details.pair_cosines``)
so that ``study/analyze.py`` can split CoS-Low into same-answer and different-answer pairs. The
records of the tasks run before that hold only quartiles. For each such record this recomputes the
CoS-Low of its recorded picks (``selected_ids``, in their recorded order) with its recorded seed
and LoRA settings on the study's prepared model (``results/models/{family}/model.json``, left by
the run in this checkout) and the task's training split (``data/tasks/{task}/train.jsonl``, or
prepared again into a temporary directory where this checkout has none; either way its hash must
be the record's ``provenance.data_hash``). Only the 32 picks are recomputed (not the random
baselines), so a record takes about a minute on one core.

It is a check as well: the recomputed median must equal the recorded CoS-Low (to 1e-4; float32 sums
in another order move it by about 1e-7), else the record is left unchanged and the mismatch is
reported. A record that passes gets ``pair_cosines`` and ``pair_cosines_source``; nothing else in it
changes. Records that already have pair cosines are skipped, so the script resumes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from dataeff.core.io import atomic_write_json, read_json, read_jsonl  # noqa: E402
from dataeff.core.settings import LoraSettings, build  # noqa: E402
from dataeff.pipeline.config import load_config  # noqa: E402

#: Largest accepted difference between the recomputed and the recorded CoS-Low.
TOLERANCE = 1e-4


def pending(root: Path, tasks: list[str]) -> list[Path]:
    """CoS-Low records of ``tasks`` under ``root/raw`` that have no pair cosines yet."""
    out = []
    for task in tasks:
        for path in sorted((root / "raw" / task).glob("coslow_seed*.json")):
            if "pair_cosines" not in read_json(path).get("coslow_details", {}):
                out.append(path)
    return out


def train_rows(config: dict, task: str, data_hash: str, scratch: Path) -> dict[str, dict]:
    """id -> row of the task's training split, the one whose hash the CoS-Low record recorded."""
    from dataeff.core.provenance import file_hash
    from dataeff.tasks.prepare import prepare_task
    from dataeff.tasks.registry import get_task

    path = REPO / "data" / "tasks" / task / "train.jsonl"
    if not path.is_file() or file_hash(path) != data_hash:
        prepare_task(get_task(task, config), config, scratch / task)
        path = scratch / task / "train.jsonl"
    if file_hash(path) != data_hash:
        raise SystemExit(f"{task}: the prepared train split's hash is not the record's {data_hash}")
    return {str(r.get("id", i)): r for i, r in enumerate(read_jsonl(path))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", default="study/results/smollm2")
    ap.add_argument("--config", default="config/study.yaml")
    ap.add_argument("--tasks", default=None, help="comma-separated tasks (default: every committed task)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    from dataeff.coslow.gradients import coslow_from_rows
    from dataeff.modeling.resolve import load_model_ref

    config = load_config(REPO / args.config)
    (family,) = list(config["families"])
    root = REPO / args.results
    tasks = args.tasks.split(",") if args.tasks else sorted(p.name for p in (root / "raw").iterdir() if p.is_dir())
    todo = pending(root, tasks)
    print(f"{len(todo)} CoS-Low records without pair cosines", flush=True)
    if not todo:
        return 0
    model_json = REPO / "results" / "models" / family / "model.json"
    model, tok, _ = load_model_ref(str(model_json), config, family=family, threads=args.threads)
    failed = 0
    scratch = Path(tempfile.mkdtemp(prefix="pair_cosines_"))
    splits: dict[tuple[str, str], dict[str, dict]] = {}
    for path in todo:
        t0 = time.perf_counter()
        rec = read_json(path)
        task = rec["task"]
        key = (task, rec["provenance"]["data_hash"])
        if key not in splits:
            splits[key] = train_rows(config, task, key[1], scratch)
        rows = splits[key]
        picks = [rows[i] for i in rec["selected_ids"]]
        # the LoRA settings the record was computed with (it records every one of them)
        lora = build(LoraSettings, rec["lora"])
        stats = coslow_from_rows(model, tok, picks, seed=int(rec["seed"]), lora=lora)
        value = statistics.median(stats["pair_cosines"])
        diff = abs(value - float(rec["coslow"]))
        if diff > TOLERANCE:
            failed += 1
            print(f"{path}: recomputed CoS-Low {value:.6f} != recorded {rec['coslow']:.6f}; left unchanged", flush=True)
            continue
        rec["coslow_details"]["pair_cosines"] = stats["pair_cosines"]
        rec["coslow_details"]["pair_cosines_source"] = (
            f"recomputed by study/pair_cosines.py from the recorded picks, seed and LoRA settings "
            f"(median matches the recorded CoS-Low to {diff:.1e})"
        )
        atomic_write_json(path, rec)
        print(f"{path.relative_to(REPO)}: done in {time.perf_counter() - t0:.0f} s (|diff| {diff:.1e})", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
