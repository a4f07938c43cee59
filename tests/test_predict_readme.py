"""The README's practitioner commands, run as written from a directory outside the repository.

The commands are read from the README's block marked ``practitioner-commands``; the prompts file
it describes (``prompts.csv`` with a ``question`` column) is made from a generated task, and the
examples the first command picks are labeled with their gold answers before the second command.
The fast test swaps only the model for the tiny one; the slow test runs the block verbatim on the
real SmolLM2.
"""

from __future__ import annotations

import csv
import json
import re
import shlex
from pathlib import Path

import pytest

from dataeff.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_commands() -> tuple[list[list[str]], list[str]]:
    """The ``dataeff`` command lines of the marked block (without ``dataeff``) and its comments."""
    text = README.read_text(encoding="utf-8")
    marker = text.index("<!-- practitioner-commands")
    block = re.search(r"```bash\n(.*?)```", text[marker:], re.S)
    assert block is not None, "no ```bash block after the practitioner-commands marker"
    lines = block.group(1).replace("\\\n", " ").splitlines()  # join shell continuation lines
    commands = [shlex.split(line)[1:] for line in lines if line.startswith("dataeff ")]
    comments = [line.lstrip("# ") for line in lines if line.startswith("#")]
    return commands, comments


def write_prompts(path: Path, n: int) -> dict[str, str]:
    """``prompts.csv`` with ``id`` and ``question`` columns (web_of_lies); returns id -> gold."""
    from dataeff.tasks.generators import web_of_lies

    gold = {}
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "question"])
        for i, rec in enumerate(web_of_lies.generate(n, 11, "easy")):
            w.writerow([f"w{i}", rec["question"] + "\nAnswer True or False."])
            gold[f"w{i}"] = rec["label"]
    return gold


def run_readme(tmp_path, monkeypatch, capsys, model: str | None) -> dict:
    """The README's two commands, verbatim; with ``model`` another model replaces ``--model``
    and, not being SmolLM2, uses SmolLM2's coefficients only with ``--force``."""
    commands, comments = readme_commands()
    assert len(commands) == 2 and commands[0] == commands[1]
    home = tmp_path / "somewhere"
    home.mkdir()
    monkeypatch.chdir(home)
    gold = write_prompts(home / "prompts.csv", 400)  # k = 32 needs >= 320 (bottom 10%)
    if model is not None:
        commands = [[model if i and c[i - 1] == "--model" else a for i, a in enumerate(c)] for c in commands]
        commands = [[*c, "--family", "smollm2", "--force"] for c in commands]
    assert main(commands[0]) == 0
    out = capsys.readouterr()
    promised = next(c for c in comments if c.startswith("-> label the"))
    assert promised.removeprefix("-> ").split(", then")[0] in out.out  # "label the `answer` field of the 32 ..."
    log = (home / "my_task" / "predict.log").read_text()
    assert "confidence pass: 400/400 prompts (100%)" in out.err and "confidence pass: 400/400 prompts" in log
    annotate = home / "my_task" / "to_annotate.jsonl"
    rows = [json.loads(line) for line in annotate.read_text().splitlines()]
    annotate.write_text("".join(json.dumps(dict(r, answer=gold[r["id"]])) + "\n" for r in rows))
    assert main(commands[1]) == 0
    out = capsys.readouterr()
    pred = json.loads((home / "my_task" / "prediction.json").read_text())
    assert out.out.splitlines()[0] == pred["headline"]
    assert "CoS-Low of the 32 labeled examples" in out.out and "sd " in out.out
    assert pred["k"] == 32 and pred["budget_low"] >= 1
    if pred["budget"] is None:  # most of SmolLM2's own curves never reach 70% of the gap by 256
        assert pred["status"] == "beyond_max" and pred["budget_high"] is None
        assert pred["headline"].startswith("more than 256 labels to reach 70% of the gap")
    else:
        assert pred["budget_low"] <= pred["budget"]
        assert pred["budget_high"] is None or pred["budget"] <= pred["budget_high"]
    assert ("not on this model" in pred["headline"]) == (model is not None) and pred["coslow_spread"]["sd"] >= 0
    assert pred["family"] == "smollm2" and not [w for w in pred["warnings"] if "--majority" in w]
    assert sorted(p.name for p in home.iterdir()) == ["my_task", "prompts.csv"]
    return pred


def test_readme_commands_with_the_tiny_model(tmp_path, monkeypatch, capsys, tiny_model_dir):
    monkeypatch.setenv("DATAEFF_CACHE", str(tmp_path / "cache"))
    run_readme(tmp_path, monkeypatch, capsys, str(tiny_model_dir))


@pytest.mark.slow
def test_readme_commands_as_written_on_smollm2(tmp_path, monkeypatch, capsys, smollm2_dir):
    """Verbatim on the real SmolLM2 (``--model smollm2``); its model cache is seeded with the
    prepared test model so the run does not convert the GGUF file again."""
    cache = tmp_path / "cache"
    (cache / "models").mkdir(parents=True)
    (cache / "models" / "smollm2").symlink_to(smollm2_dir)
    monkeypatch.setenv("DATAEFF_CACHE", str(cache))
    pred = run_readme(tmp_path, monkeypatch, capsys, None)
    assert pred["model"] == "smollm2" and -1 <= pred["coslow"] <= 1
