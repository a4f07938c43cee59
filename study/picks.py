"""What the low-confidence picks of a 135M model look like, from the committed records alone.

CoS-Low rests on the low-confidence segment being the examples the model finds hard. This module
checks that on the study's committed files, per task: the 32 picks of every seed
(``coslow_seed*.json``: ``selected_ids``) against the 32 random examples drawn from the same pool
for the baselines (``random_ids``), with the untuned model's own greedy generation of each
(``confidence.json``) and the gold answers of both sets (``picks.json``). It reports their mean
confidence, the length of the generation, and how often the generation already states the gold
answer. The untuned instruction model answers in sentences, so the pipeline's exact-match score
is 0 for nearly every example; "states the gold answer" is the lenient reading: the gold answer
appears as a word of the generation and no other answer of the task does (the answer set: every
gold answer of the task's test set and of the picks).

    python study/picks.py [--results study/results/smollm2]   # also run by study/analyze.py
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "study"))

from committed import run_on_committed  # noqa: E402

#: Columns of ``analysis/picks.tsv``.
COLUMNS = (
    "task",
    "seeds",
    "answers",
    "conf_picks",
    "conf_random",
    "tokens_picks",
    "tokens_random",
    "states_gold_picks",
    "states_gold_random",
)


def _mentions(text: str, answer: str) -> bool:
    """``answer`` occurs in ``text`` as a whole word (case-insensitive)."""
    a = answer.strip().lower()
    return bool(a) and re.search(r"(?<!\w)" + re.escape(a) + r"(?!\w)", text.lower()) is not None


def states_gold(generation: str, gold: str, answers: set[str]) -> bool:
    """The generation names ``gold`` and none of the task's other ``answers`` (a model that lists
    the options does not count as answering)."""
    if not _mentions(generation, gold):
        return False
    g = gold.strip().lower()
    return not any(_mentions(generation, a) for a in answers if a.strip().lower() != g)


def answer_set(task_dir: Path, picks: dict) -> set[str]:
    """Every gold answer the task's committed files hold (the test set's and the picks'),
    lower-cased: the matching is case-insensitive."""
    answers: set[str] = set()
    for path in task_dir.glob("eval_n*.predictions.jsonl"):
        answers |= {json.loads(line)["gold"] for line in path.read_text().splitlines() if line.strip()}
        break  # every budget evaluates the same test rows
    for group in ("selected", "random"):
        for labels in picks.get(group, {}).values():
            answers |= set(labels)
    return {str(a).strip().lower() for a in answers}  # the test set's golds may be lower-cased


def task_profile(task_dir: Path) -> dict | None:
    """The picks against the random draws of the same pools, over every committed seed; None
    where the task has no confidence record or picks."""
    conf_path, picks_path = task_dir / "confidence.json", task_dir / "picks.json"
    if not (conf_path.is_file() and picks_path.is_file()):
        return None
    scores = {s["id"]: s for s in json.loads(conf_path.read_text())["scores"]}
    picks = json.loads(picks_path.read_text())
    answers = answer_set(task_dir, picks)
    sides: dict[str, dict[str, list[float]]] = {
        side: {"conf": [], "tokens": [], "gold": []} for side in ("picks", "random")
    }
    seeds = 0
    for seed in sorted(picks["selected"]):
        record_path = task_dir / f"coslow_seed{seed}.json"
        record = json.loads(record_path.read_text())
        for side, ids_key, group in (("picks", "selected_ids", "selected"), ("random", "random_ids", "random")):
            golds = picks[group][seed]
            ids = record[ids_key]
            if len(ids) != len(golds):
                raise ValueError(f"{record_path}: {len(ids)} {ids_key} but {len(golds)} gold answers in picks.json")
            for i, gold in zip(ids, golds, strict=True):
                s = scores[i]
                sides[side]["conf"].append(float(s["confidence"]))
                sides[side]["tokens"].append(float(s["n_generated"]))
                sides[side]["gold"].append(float(states_gold(s["generated"], gold, answers)))
        seeds += 1
    if not seeds:
        return None
    row: dict = {"task": task_dir.name, "seeds": seeds, "answers": len(answers)}
    for side, v in sides.items():
        row[f"conf_{side}"] = statistics.mean(v["conf"])
        row[f"tokens_{side}"] = statistics.mean(v["tokens"])
        row[f"states_gold_{side}"] = statistics.mean(v["gold"])
    return row


def examples(task_dir: Path, width: int = 70) -> tuple[str, str]:
    """The generation of the pool's least and most confident prompt, cut to ``width``."""
    scores = sorted(json.loads((task_dir / "confidence.json").read_text())["scores"], key=lambda s: s["confidence"])

    def cut(s: dict) -> str:
        text = " ".join(s["generated"].split())
        return f"{s['confidence']:.2f}: {text[:width]}{'…' if len(text) > width else ''}"

    return cut(scores[0]), cut(scores[-1])


def write_picks(root: Path, tasks: list[str], out: Path) -> list[dict]:
    """``out/picks.tsv`` (one row per task, :data:`COLUMNS`) and ``out/picks.md`` (the table in
    words with one least- and one most-confident generation per task); returns the rows."""
    rows = [r for t in tasks if (r := task_profile(root / "raw" / t)) is not None]
    lines = ["\t".join(COLUMNS)]
    lines += ["\t".join(f"{r[c]:.4f}" if isinstance(r[c], float) else str(r[c]) for c in COLUMNS) for r in rows]
    (out / "picks.tsv").write_text("\n".join(lines) + "\n")
    md = [
        "| task | answers | confidence: picks / random | generated tokens: picks / random "
        "| states the gold answer: picks / random | least confident generation | most confident generation |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        low, high = (s.replace("|", "\\|") for s in examples(root / "raw" / r["task"]))
        md.append(
            f"| {r['task']} | {r['answers']} | {r['conf_picks']:.2f} / {r['conf_random']:.2f} "
            f"| {r['tokens_picks']:.1f} / {r['tokens_random']:.1f} "
            f"| {r['states_gold_picks']:.2f} / {r['states_gold_random']:.2f} | {low} | {high} |"
        )
    harder = sum(r["states_gold_picks"] < r["states_gold_random"] for r in rows)
    shorter = sum(r["tokens_picks"] < r["tokens_random"] for r in rows)
    md += [
        "",
        f"On {harder} of {len(rows)} tasks the untuned model states the gold answer less often for its "
        f"low-confidence picks than for random examples of the same pool; on {shorter} of {len(rows)} "
        "its generations for the picks are shorter.",
    ]
    (out / "picks.md").write_text("\n".join(md) + "\n")
    return rows


def main(argv: list[str] | None = None) -> int:
    return run_on_committed(__doc__, write_picks, "picks.md", argv)


if __name__ == "__main__":
    raise SystemExit(main())
