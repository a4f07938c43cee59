"""The optional BIG-bench source (a user's sdist or checkout) and the generators' rules.

The sdist was withdrawn from the package index, so nothing shipped reads it: its streaming and
cache are tested on a small synthetic tarball laid out like the sdist (with that file's own
sha256 pinned), a checkout on a small folder laid out like google/BIG-bench. The generators'
labelling rules are checked against every real example of the shipped BIG-Bench Hard files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from dataeff.core.errors import DataeffError
from dataeff.core.settings import DataSettings, data_settings, to_dict
from dataeff.pipeline.config import load_config
from dataeff.tasks import bigbench
from dataeff.tasks.bigbench import BigbenchSource, example_row, load_bigbench_task, task_files

REPO = Path(__file__).resolve().parents[1]
ROOT = "bigbench-1.0.0/bigbench/benchmark_tasks"


def _data(**overrides: Any) -> DataSettings:
    return dataclasses.replace(data_settings(load_config(REPO / "config" / "paper.yaml")), **overrides)


def _add(tf: tarfile.TarFile, name: str, payload: bytes | None = None) -> None:
    info = tarfile.TarInfo(name)
    if payload is None:
        info.type = tarfile.DIRTYPE
        tf.addfile(info)
    else:
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))


def _task(examples: list[dict[str, Any]], **extra: Any) -> bytes:
    return json.dumps({"name": "t", "description": "d", "keywords": ["k"], "examples": examples, **extra}).encode()


@pytest.fixture()
def fake_sdist(tmp_path: Path) -> dict[str, Any]:
    """A gzip tarball laid out like the sdist: MC task, exact-match task, subtasks, a program."""
    path = tmp_path / "bigbench-1.0.0.tar.gz"
    mc = [{"input": f"q{i}", "target_scores": {"yes": int(i % 2 == 0), "no": int(i % 2 == 1)}} for i in range(6)]
    mc.append({"input": "two right", "target_scores": {"x": 1, "y": 1}})  # unusable: 2 correct
    em = [
        {"input": "2+2", "target": ["four", "4"]},
        {"input": "long", "target": "a b c d e f g h"},
        {"input": "3+3", "target": "6"},
    ]
    with tarfile.open(path, "w:gz") as tf:
        _add(tf, "bigbench-1.0.0/PKG-INFO", b"Name: bigbench\n")
        _add(tf, f"{ROOT}/alpha")
        _add(tf, f"{ROOT}/alpha/README.md", b"# alpha\n")
        _add(tf, f"{ROOT}/alpha/task.json", _task(mc))
        _add(tf, f"{ROOT}/beta/task.json", _task(em))
        _add(tf, f"{ROOT}/beta/vocab.json", b'{"w": [1]}')
        _add(tf, f"{ROOT}/gamma/task.json", _task([]))
        _add(tf, f"{ROOT}/gamma/one/task.json", _task([{"input": "g1", "target": "1"}]))
        _add(tf, f"{ROOT}/gamma/two/task.json", _task([{"input": "g2", "target_scores": {"a": 0, "b": 1}}]))
        _add(tf, f"{ROOT}/prog/task.py", b"print('program')\n")
        _add(tf, "bigbench-1.0.0/bigbench/api/task.py", b"# api\n")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    data = _data(bigbench_sdist=str(path), bigbench_sha256=digest, bigbench_cache=str(tmp_path / "cache"))
    return {"path": path, "data": data, "source": BigbenchSource.from_data(data)}


def test_rows_of_multiple_choice_and_exact_match(fake_sdist):
    rows = load_bigbench_task("alpha", data=fake_sdist["data"])
    assert len(rows) == 6  # the two-correct example is dropped
    assert rows[0] == {"id": "alpha:0", "input": "q0", "target": "yes", "options": ["yes", "no"]}
    assert [r["target"] for r in rows] == ["yes", "no"] * 3
    rows = load_bigbench_task("beta", data=fake_sdist["data"])
    assert rows == [
        {"id": "beta:0", "input": "2+2", "target": "four"},
        {"id": "beta:2", "input": "3+3", "target": "6"},
    ]  # 8-word target dropped
    both = load_bigbench_task("gamma", data=fake_sdist["data"])
    assert [r["id"] for r in both] == ["gamma/one:0", "gamma/two:0"]
    assert load_bigbench_task("gamma", "two", data=fake_sdist["data"]) == [
        {"id": "gamma/two:0", "input": "g2", "target": "b", "options": ["a", "b"]}
    ]


def test_cache_is_used_offline_and_verified(fake_sdist):
    data, source = fake_sdist["data"], fake_sdist["source"]
    first = load_bigbench_task("beta", data=data)
    folder = source.task_root / "beta"
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    assert manifest["sdist_sha256"] == source.sha256
    assert set(manifest["files"]) == {"task.json", "vocab.json"}  # README and others not kept
    assert manifest["files"]["vocab.json"] == hashlib.sha256(b'{"w": [1]}').hexdigest()
    fake_sdist["path"].unlink()  # offline: the cache alone serves the task
    assert load_bigbench_task("beta", data=data) == first
    (folder / "task.json").write_text("{}")  # damaged cache: re-extraction needs the sdist
    with pytest.raises(DataeffError, match="BIG-bench sdist not found"):
        load_bigbench_task("beta", data=data)


def test_one_pass_stops_after_the_last_wanted_folder(fake_sdist, monkeypatch):
    seen: list[str] = []
    real_open = tarfile.open

    def spy_open(*args: Any, **kwargs: Any) -> Any:
        assert kwargs.get("mode", args[1] if len(args) > 1 else None) == "r|gz"  # streaming only
        tf = real_open(*args, **kwargs)
        members = iter(tf)

        class Spy:
            def __enter__(self) -> Any:
                return self

            def __exit__(self, *exc: Any) -> None:
                tf.close()

            def __iter__(self) -> Any:
                for m in members:
                    seen.append(m.name)
                    yield m

            def extractfile(self, m: Any) -> Any:
                return tf.extractfile(m)

        return Spy()

    monkeypatch.setattr(bigbench.tarfile, "open", spy_open)
    files = task_files(["beta", "alpha"], fake_sdist["source"])
    assert sorted(files) == ["alpha", "beta"]
    assert not any("/gamma/two/" in n or "/prog/" in n for n in seen)  # stopped after beta
    seen.clear()
    task_files(["alpha", "beta"], fake_sdist["source"])
    assert seen == []  # second call: cache only


def test_unsupported_and_unknown_tasks_are_one_line(fake_sdist):
    data = fake_sdist["data"]
    with pytest.raises(DataeffError, match="'prog' is a program") as err:
        load_bigbench_task("prog", data=data)
    assert "\n" not in str(err.value)
    with pytest.raises(DataeffError, match="no BIG-bench task named 'nosuch'"):
        load_bigbench_task("nosuch", data=data)
    with pytest.raises(DataeffError, match="did you mean gamma"):
        load_bigbench_task("gammma", data=data)
    with pytest.raises(DataeffError, match="has no subtask 'three'.*one, two"):
        load_bigbench_task("gamma", "three", data=data)
    with pytest.raises(DataeffError, match="invalid BIG-bench task name"):
        load_bigbench_task("../etc", data=data)
    with pytest.raises(DataeffError, match="differs from the pinned"):
        load_bigbench_task("alpha", data=dataclasses.replace(data, bigbench_sha256="0" * 64))


def test_example_row_rules():
    assert example_row({"input": "x", "target_scores": {"a": 0.5, "b": 0.5}}, 5) is None
    assert example_row({"input": "x", "target_scores": {"a": 0, "b": 0}}, 5) is None
    assert example_row({"input": "x", "target": []}, 5) is None
    assert example_row({"input": "x", "target": "one two three"}, 2) is None
    assert example_row({"input": "x", "target": " ok "}, 2) == {"input": "x", "target": "ok"}


def test_catalog_counts_usable_examples(fake_sdist):
    entries = {(e["task"], e["subtask"]): e for e in bigbench.catalog(fake_sdist["data"])}
    assert set(entries) == {("alpha", None), ("beta", None), ("gamma", None), ("gamma", "one"), ("gamma", "two")}
    assert (entries["alpha", None]["examples"], entries["alpha", None]["multiple_choice"]) == (7, 6)
    assert (entries["beta", None]["exact_match"], entries["beta", None]["multiple_choice"]) == (2, 0)


def test_config_entry_prepares_any_json_task(fake_sdist, tmp_path):
    from dataeff.pipeline.config import validate_config
    from dataeff.tasks.prepare import prepare_task
    from dataeff.tasks.registry import get_task

    cfg = validate_config(
        {
            "families": {"f": {"model": "m"}},
            "tasks": ["my_alpha", "my_gamma"],
            "budgets": [4],
            "data": {
                k: v for k, v in to_dict(fake_sdist["data"]).items() if k.startswith("bigbench_") or k == "split_seed"
            },
            "bigbench_tasks": {"my_alpha": {"task": "alpha"}, "my_gamma": {"task": "gamma", "subtask": "two"}},
        }
    )
    meta = prepare_task(get_task("my_alpha", cfg), cfg, tmp_path / "alpha")
    rows = [
        json.loads(line)
        for s in ("train", "validation", "test")
        for line in (tmp_path / "alpha" / f"{s}.jsonl").read_text().splitlines()
    ]
    assert len(rows) == 6 and meta["bigbench"]["json_examples_dropped"] == 1
    assert meta["bigbench"]["sdist_sha256"] == fake_sdist["source"].sha256
    assert all(r["answer"] in ("yes", "no") and "OPTIONS - " in r["prompt"] and "[SEP]" in r["prompt"] for r in rows)
    assert prepare_task(get_task("my_gamma", cfg), cfg, tmp_path / "g")["sizes"]["train"] == 1
    with pytest.raises(DataeffError, match="bigbench_tasks.*unknown key 'examplez'|unknown key 'examplez'"):
        validate_config({**cfg, "bigbench_tasks": {"my_alpha": {"task": "alpha", "examplez": 3}}})
    bad = {**cfg, "bigbench_tasks": {"my_alpha": {"task": "prog"}, "my_gamma": {"task": "gamma"}}}
    with pytest.raises(DataeffError, match="'prog' is a program"):
        prepare_task(get_task("my_alpha", bad), bad, tmp_path / "prog")
    assert not (tmp_path / "prog").exists()


def test_paper_switch_selects_the_source():
    from dataeff.tasks.registry import BIGBENCH_PAPER, get_task

    paper = load_config(REPO / "config" / "paper.yaml")
    assert paper["data"]["bigbench_paper_tasks"] == "generators"
    for name in BIGBENCH_PAPER:
        spec = get_task(name, paper)
        # sports_understanding has no generator: the shipped BBH file serves it
        want = "bbh" if name == "sports_understanding" else "generated"
        assert spec.source == want and spec.template_path.is_file(), name
    own_copy = {**paper, "data": {**paper["data"], "bigbench_paper_tasks": "sdist"}}
    for name in BIGBENCH_PAPER:
        assert get_task(name, own_copy).source == "bigbench", name


# --------------------------------------------------------------------------- generators + solvers

from dataeff.tasks.generators import bigbench_rules as gen  # noqa: E402

_TOKENS = ("True", "False", "and", "or", "not", "(", ")")


def test_boolean_grammar_is_exactly_pythons():
    import itertools

    for length in range(1, 7):
        ours = {" ".join(t) for t in gen.boolean_expressions_of_length(length)}
        python = set()
        for seq in itertools.product(_TOKENS, repeat=length):
            text = " ".join(seq)
            pairs = set(zip(seq, seq[1:], strict=False))
            # Python also reads "()" as a tuple and "x (" as a call: not Boolean expressions.
            if pairs & {("(", ")"), ("True", "("), ("False", "("), (")", "(")}:
                continue
            try:
                compile(text, "<expr>", "eval")
            except SyntaxError:
                continue
            python.add(text)
        assert ours == python, length


def test_boolean_generator_labels_match_python_eval():
    import random

    recs = gen.boolean_expressions(10000, random.Random(1), {"True", "not False"})
    assert len({r["input"] for r in recs}) == 10000
    assert not {"True", "not False"} & {r["input"] for r in recs}
    for r in recs:
        assert r["label"] == str(eval(r["input"]))  # noqa: S307 (True/False/and/or/not only)
    lengths = {len(r["input"].split()) for r in recs}
    assert lengths == set(range(1, gen.BOOLEAN_MAX_TOKENS + 1))


def _web_of_lies_solver(text: str) -> str:
    """Independent solver: walk the statements, tracking who tells the truth."""
    import re

    *statements, question = re.split(r"(?<=\.) ", text)
    truth: dict[str, bool] = {}
    first = re.fullmatch(r"(\w+) (tells the truth|lies)\.", statements[0])
    truth[first[1]] = first[2] == "tells the truth"
    for s in statements[1:]:
        m = re.fullmatch(r"(\w+) says (\w+) (tells the truth|lies)\.", s)
        truth[m[1]] = (m[3] == "tells the truth") == truth[m[2]]
    asked = re.fullmatch(r"Does (\w+) tell the truth\?", question)[1]
    return str(truth[asked])


def test_web_of_lies_generator_agrees_with_a_solver():
    import random

    names = [f"Name{c}" for c in "ABCDEFGHIJKLMNOPQRST"]
    recs = gen.web_of_lies(names, 3000, random.Random(2), set())
    assert len({r["input"] for r in recs}) == 3000
    assert all(_web_of_lies_solver(r["input"]) == r["label"] for r in recs)
    assert sum(r["label"] == "True" for r in recs) == 1500
    assert {r["input"].count(".") for r in recs} == set(gen.WEB_OF_LIES_LENGTHS)


def _counting_solver(text: str, kinds: dict[str, list[str]]) -> str:
    """Independent solver: split the item list, map each noun (or its plural) to its kind."""
    import re

    body, kind = re.fullmatch(r"I have (.*)\. How many (.*) do I have\?", text).groups()
    words = {"a": 1, "an": 1, "two": 2, "three": 3, "four": 4, "five": 5}
    total = 0
    for item in re.split(r", (?:and )?", body):
        count, noun = item.removeprefix("and ").split(" ", 1)
        owner = [k for k, nouns in kinds.items() if any(noun in (n, gen.plural(n)) for n in nouns)]
        assert len(owner) == 1, item
        total += words[count] if owner[0] == kind else 0
    return str(total)


# --------------------------------------------------------------------------- the rules on real data (BBH)


def _bbh(task: str) -> list[dict[str, str]]:
    from dataeff.tasks.bbh import read_bbh

    return read_bbh(task)


def test_boolean_rule_reproduces_every_real_bbh_label():
    rows = _bbh("boolean_expressions")
    assert len(rows) == 250
    for r in rows:
        expression = r["input"].removesuffix(" is")
        assert str(gen.evaluate_boolean(expression.split())) == r["target"], r["input"]


def test_web_of_lies_solver_reproduces_every_real_bbh_label():
    rows = _bbh("web_of_lies")
    assert len(rows) == 250
    for r in rows:
        got = _web_of_lies_solver(r["input"].removeprefix("Question: "))
        assert {"True": "Yes", "False": "No"}[got] == r["target"], r["input"]


# --------------------------------------------------------------------------- a user's checkout


@pytest.fixture()
def checkout(tmp_path: Path) -> Path:
    """A folder laid out like a google/BIG-bench checkout: a task, a subtask, a program."""
    root = tmp_path / "BIG-bench"
    tasks = root / "bigbench" / "benchmark_tasks"
    mc = [{"input": f"q{i}", "target_scores": {"yes": int(i % 3 == 0), "no": int(i % 3 != 0)}} for i in range(12)]
    (tasks / "alpha").mkdir(parents=True)
    (tasks / "alpha" / "task.json").write_bytes(_task(mc))
    (tasks / "alpha" / "README.md").write_text("# alpha\n")
    (tasks / "gamma" / "one").mkdir(parents=True)
    (tasks / "gamma" / "one" / "task.json").write_bytes(_task([{"input": "g1", "target": "1"}]))
    (tasks / "prog").mkdir()
    (tasks / "prog" / "task.py").write_text("print('program')\n")
    return root


def test_checkout_serves_json_tasks_in_place(checkout, tmp_path):
    from dataeff.pipeline.config import validate_config
    from dataeff.tasks.prepare import prepare_task
    from dataeff.tasks.registry import get_task

    data = _data(bigbench_checkout=str(checkout), bigbench_cache=str(tmp_path / "never"))
    rows = load_bigbench_task("alpha", data=data)
    assert len(rows) == 12 and rows[0] == {"id": "alpha:0", "input": "q0", "target": "yes", "options": ["yes", "no"]}
    assert load_bigbench_task("gamma", "one", data=data) == [{"id": "gamma/one:0", "input": "g1", "target": "1"}]
    assert not (tmp_path / "never").exists()  # read in place, nothing cached
    cfg = validate_config(
        {
            "families": {"f": {"model": "m"}},
            "tasks": ["my_alpha"],
            "budgets": [4],
            "data": {"bigbench_checkout": str(checkout), "split_seed": 5},
            "bigbench_tasks": {"my_alpha": {"task": "alpha"}},
        }
    )
    meta = prepare_task(get_task("my_alpha", cfg), cfg, tmp_path / "alpha")
    digest = hashlib.sha256((checkout / "bigbench/benchmark_tasks/alpha/task.json").read_bytes()).hexdigest()
    assert meta["bigbench"]["files_sha256"] == {"task.json": digest}
    assert meta["bigbench"]["checkout"] == str(checkout) and meta["bigbench"]["sdist_sha256"] is None
    with pytest.raises(DataeffError, match="no BIG-bench task named 'alpah'.*did you mean alpha"):
        load_bigbench_task("alpah", data=data)
    with pytest.raises(DataeffError, match="'prog' is a program"):
        load_bigbench_task("prog", data=data)
    with pytest.raises(DataeffError, match="not a google/BIG-bench checkout"):
        load_bigbench_task("alpha", data=_data(bigbench_checkout=str(tmp_path)))


def test_without_a_copy_a_bigbench_task_is_one_line(tmp_path, capsys):
    import yaml

    from dataeff.cli import main

    with pytest.raises(DataeffError, match="no BIG-bench copy is configured.*bigbench_checkout.*bigbench_sdist"):
        load_bigbench_task("alpha", data=_data())
    cfg = yaml.safe_load((REPO / "config" / "study.yaml").read_text())
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["prepare-task", "--config", str(path), "--task", "navigate", "--out-dir", str(tmp_path / "t")]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "data.bigbench_checkout" in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "t").exists()
