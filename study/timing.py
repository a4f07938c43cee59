"""What the study cost, from the Snakemake ``benchmark`` file of every job it committed.

Each job of the study runs on one thread, so its ``cpu_time`` is what it takes on an idle core;
its ``s`` (wall seconds) is longer when other work shared the cores. Per task and stage
(fine-tune, evaluation, confidence pass, CoS-Low seeds) this sums both, and the whole study's
CPU time divided by two is its wall time on two otherwise idle cores (Snakemake keeps both busy
except at a task's start and end, so that is a lower bound by a few minutes per task). Tasks run
before the benchmark files were kept are listed without numbers.

    python study/timing.py [--results study/results/smollm2]   # also run by study/analyze.py
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "study"))

from committed import run_on_committed  # noqa: E402

STAGES = ("finetune", "evaluate", "confidence", "coslow")


def task_seconds(task_dir: Path) -> dict[str, dict[str, float]] | None:
    """{stage: {"cpu": s, "wall": s, "jobs": n}} from ``raw/{task}/benchmarks/*.tsv``; None if none."""
    files = sorted((task_dir / "benchmarks").glob("*.tsv"))
    if not files:
        return None
    out = {stage: {"cpu": 0.0, "wall": 0.0, "jobs": 0} for stage in STAGES}
    for f in files:
        stage = f.stem.split("_")[0]
        if stage not in out:
            raise ValueError(f"{f}: unknown stage {stage!r} (expected one of {', '.join(STAGES)})")
        rows = list(csv.DictReader(f.open(), delimiter="\t"))
        last = rows[-1]  # a benchmark file holds one row per repeat; the study runs each job once
        out[stage]["cpu"] += float(last["cpu_time"])
        out[stage]["wall"] += float(last["s"])
        out[stage]["jobs"] += 1
    return out


def write_timing(root: Path, tasks: list[str], out: Path) -> dict[str, float]:
    """``out/timing.tsv`` (CPU and wall minutes per task and stage) and ``out/timing.md`` (the
    totals in words); returns the totals."""
    header = ["task", "jobs", *(f"{s}_cpu_min" for s in STAGES), "cpu_min", "wall_min"]
    lines, cpu_total, wall_total, timed, untimed = ["\t".join(header)], 0.0, 0.0, [], []
    for task in tasks:
        sec = task_seconds(root / "raw" / task)
        if sec is None:
            untimed.append(task)
            continue
        cpu = sum(v["cpu"] for v in sec.values())
        wall = sum(v["wall"] for v in sec.values())
        jobs = sum(int(v["jobs"]) for v in sec.values())
        cpu_total, wall_total = cpu_total + cpu, wall_total + wall
        timed.append(task)
        cells = [task, str(jobs), *(f"{sec[s]['cpu'] / 60:.1f}" for s in STAGES), f"{cpu / 60:.1f}", f"{wall / 60:.1f}"]
        lines.append("\t".join(cells))
    (out / "timing.tsv").write_text("\n".join(lines) + "\n")
    totals = {"tasks": len(timed), "cpu_hours": cpu_total / 3600, "wall_job_hours": wall_total / 3600}
    text = [
        f"Jobs of {len(timed)} tasks: {totals['cpu_hours']:.2f} CPU-hours (one-thread jobs: their time on "
        f"an idle core), so {totals['cpu_hours'] / 2:.2f} hours on 2 otherwise idle cores. Their wall times sum "
        f"to {totals['wall_job_hours']:.2f} hours (two ran at a time: about {totals['wall_job_hours'] / 2:.1f} "
        "hours of clock time) because other work shared the cores.",
    ]
    if timed:
        per = sorted(float(line.split("\t")[-2]) for line in lines[1:])
        text.append(f"Per task: {per[0]:.1f}–{per[-1]:.1f} CPU-minutes (median {per[len(per) // 2]:.1f}).")
    if untimed:
        text.append(f"No benchmark files kept for: {', '.join(untimed)} (run before they were harvested).")
    (out / "timing.md").write_text("\n".join(text) + "\n")
    return totals


def main(argv: list[str] | None = None) -> int:
    return run_on_committed(__doc__, write_timing, "timing.md", argv)


if __name__ == "__main__":
    raise SystemExit(main())
