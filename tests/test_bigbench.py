"""The BIG-bench task source: streaming the sdist, the cache, JSON tasks -> rows.

The streaming logic is tested on a small synthetic tarball laid out like the sdist. Tests
marked by the ``real_data`` fixture use the real ``bigbench-1.0.0.tar.gz`` at the configured
``data.bigbench_sdist`` (or ``$DATAEFF_BIGBENCH_SDIST``) and skip cleanly when it is absent.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from dataeff.config import load_config
from dataeff.errors import DataeffError
from dataeff.tasks import bigbench
from dataeff.tasks.bigbench import BigbenchSource, example_row, load_bigbench_task, task_files

REPO = Path(__file__).resolve().parents[1]
ROOT = "bigbench-1.0.0/bigbench/benchmark_tasks"


def _data(**overrides: Any) -> dict[str, Any]:
    data = dict(load_config(REPO / "config" / "paper.yaml")["data"])
    data.update(overrides)
    return data


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
        load_bigbench_task("alpha", data={**data, "bigbench_sha256": "0" * 64})


def test_example_row_rules():
    assert example_row({"input": "x", "target_scores": {"a": 0.5, "b": 0.5}}, 5) is None
    assert example_row({"input": "x", "target_scores": {"a": 0, "b": 0}}, 5) is None
    assert example_row({"input": "x", "target": []}, 5) is None
    assert example_row({"input": "x", "target": "one two three"}, 2) is None
    assert example_row({"input": "x", "target": " ok "}, 2) == {"input": "x", "target": "ok"}


# --------------------------------------------------------------------------- the real sdist


@pytest.fixture(scope="module")
def real_data(tmp_path_factory) -> dict[str, Any]:
    """Config data for the real sdist (skip when absent); cache under DATAEFF_TEST_CACHE."""
    data = _data()
    path = Path(os.environ.get("DATAEFF_BIGBENCH_SDIST") or data["bigbench_sdist"])
    if not path.is_absolute():
        path = REPO / path
    if not path.is_file():
        pytest.skip(f"BIG-bench sdist not at {path} (run `snakemake fetch_bigbench`)")
    base = os.environ.get("DATAEFF_TEST_CACHE")
    cache = Path(base) / "bigbench" if base else tmp_path_factory.mktemp("bigbench")
    return {**data, "bigbench_sdist": str(path), "bigbench_cache": str(cache)}


def test_real_sdist_json_tasks(real_data):
    hyper = load_bigbench_task("hyperbaton", data=real_data)
    assert len(hyper) == 50000 and {r["target"] for r in hyper} == {"a", "b"}
    tracking = load_bigbench_task("tracking_shuffled_objects", data=real_data)
    assert len(tracking) == 750 + 1250 + 1750
    assert len(load_bigbench_task("tracking_shuffled_objects", "three_objects", data=real_data)) == 750
    assert all(r["target"] in r["options"] for r in tracking)
    counting = load_bigbench_task("object_counting", data=real_data)
    assert len(counting) == 1000 and "options" not in counting[0]
    t0 = time.perf_counter()
    again = load_bigbench_task("object_counting", data=real_data)
    assert again == counting and time.perf_counter() - t0 < 2.0  # from the cache (measured 0.05 s)
    with pytest.raises(DataeffError, match="'web_of_lies' is a program"):
        load_bigbench_task("web_of_lies", data=real_data)


def test_catalog_counts_usable_examples(fake_sdist):
    entries = {(e["task"], e["subtask"]): e for e in bigbench.catalog(fake_sdist["data"])}
    assert set(entries) == {("alpha", None), ("beta", None), ("gamma", None), ("gamma", "one"), ("gamma", "two")}
    assert (entries["alpha", None]["examples"], entries["alpha", None]["multiple_choice"]) == (7, 6)
    assert (entries["beta", None]["exact_match"], entries["beta", None]["multiple_choice"]) == (2, 0)


def test_fetch_keeps_a_pinned_file_and_refuses_another(fake_sdist, monkeypatch):
    def no_download(*a: Any, **k: Any) -> None:
        raise AssertionError("downloaded although the pinned file is there")

    monkeypatch.setattr(bigbench.subprocess, "run", no_download)
    assert bigbench.fetch_sdist(fake_sdist["data"]) == fake_sdist["path"]
    with pytest.raises(DataeffError, match="differs from the pinned"):
        bigbench.fetch_sdist({**fake_sdist["data"], "bigbench_sha256": "f" * 64})


def test_config_entry_prepares_any_json_task(fake_sdist, tmp_path):
    from dataeff.config import validate_config
    from dataeff.tasks.prepare import prepare_task
    from dataeff.tasks.registry import get_task

    cfg = validate_config(
        {
            "families": {"f": {"model": "m"}},
            "tasks": ["my_alpha", "my_gamma"],
            "budgets": [4],
            "data": {k: v for k, v in fake_sdist["data"].items() if k.startswith("bigbench_") or k == "split_seed"},
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
    from dataeff.tasks.registry import get_task

    generated = load_config(REPO / "config" / "config.yaml")
    assert generated["data"]["bigbench_paper_tasks"] == "generators"
    assert get_task("hyperbaton", generated).source == "generated"
    assert get_task("sports_understanding", generated).source == "bigbench"  # no generator exists
    paper = load_config(REPO / "config" / "paper.yaml")
    assert paper["data"]["bigbench_paper_tasks"] == "sdist"
    for name in PAPER_ANSWERS:
        spec = get_task(name, paper)
        assert spec.source == "bigbench" and spec.template_path.is_file(), name


# --------------------------------------------------------------------------- generators + solvers

from dataeff.tasks import bigbench_generators as gen  # noqa: E402

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


# --------------------------------------------------------------------------- the paper tasks (real sdist)

PAPER_ANSWERS = {
    "boolean_expressions": {"True", "False"},
    "formal_fallacies_syllogisms_negation": {"0", "1"},
    "hyperbaton": {"a", "b"},
    "mnist_ascii": set("0123456789"),
    "object_counting": None,
    "reasoning_about_colored_objects": None,
    "sports_understanding": {"0", "1"},
    "temporal_sequences": None,
    "tracking_shuffled_objects": None,
    "web_of_lies": {"True", "False"},
}
#: The authors' training pools (METHOD.md section 5); the JSON of reasoning_about_colored_objects
#: holds 2 000 examples, so its 80/10/10 pool is 1 600.
PAPER_TRAIN = {
    "boolean_expressions": 8000,
    "formal_fallacies_syllogisms_negation": 10000,
    "hyperbaton": 10000,
    "mnist_ascii": 10000,
    "object_counting": 10000,
    "reasoning_about_colored_objects": 1600,
    "sports_understanding": 7300,
    "temporal_sequences": 750,
    "tracking_shuffled_objects": 2500,
    "web_of_lies": 4700,
}


def _real_files(real_data: dict[str, Any], task: str) -> dict[str, Path]:
    return task_files([task], BigbenchSource.from_data(real_data))[task]


def test_sports_rule_reproduces_every_real_label(real_data):
    import random

    files = _real_files(real_data, "sports_understanding")
    vocab = json.loads(files["vocab.json"].read_text())
    real = json.loads(files["task.json"].read_text())["examples"]
    for ex in real:
        want = "1" if ex["target_scores"]["plausible"] == 1 else "0"
        assert gen.sports_label(vocab, ex["input"]) == want, ex["input"]
    inputs = {ex["input"] for ex in real}
    recs = gen.sports_sentences(vocab, 5000, random.Random(3), inputs, 0.2)
    assert not inputs & {r["input"] for r in recs}
    assert all(gen.sports_label(vocab, r["input"]) == r["label"] for r in recs)
    assert sum(r["label"] == "1" for r in recs) == 2500


def test_counting_rule_reproduces_every_real_count(real_data):
    import random

    files = _real_files(real_data, "object_counting")
    kinds = gen.python_literal(files["generate_task.py"].read_text(), "DATA")
    real = json.loads(files["task.json"].read_text())["examples"]
    for ex in real:  # the solver (and our plurals) explain the authors' data
        assert _counting_solver(ex["input"], kinds) == ex["target"][1], ex["input"]
    inputs = {ex["input"] for ex in real}
    recs = gen.counting_questions(kinds, 5000, random.Random(4), inputs)
    assert not inputs & {r["input"] for r in recs}
    assert all(_counting_solver(r["input"], kinds) == r["label"] for r in recs)


def test_web_of_lies_names_come_from_the_task_program(real_data):
    names = gen.python_literal(_real_files(real_data, "web_of_lies")["task.py"].read_text(), "_names")
    assert len(names) == 50 and "Crista" in names


@pytest.fixture(scope="module")
def paper_config(real_data, tmp_path_factory) -> Path:
    import yaml

    cfg = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    cfg["data"].update({k: real_data[k] for k in ("bigbench_sdist", "bigbench_cache")})
    path = tmp_path_factory.mktemp("paper") / "paper.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize("task", sorted(PAPER_ANSWERS))
def test_paper_task_prepares_deterministically(task, paper_config, real_data, tmp_path):
    from dataeff.cli import main

    metas = []
    for run in ("a", "b"):
        assert (
            main(["prepare-task", "--config", str(paper_config), "--task", task, "--out-dir", str(tmp_path / run)]) == 0
        )
        metas.append(json.loads((tmp_path / run / "meta.json").read_text()))
    assert metas[0]["data_hash"] == metas[1]["data_hash"]
    meta = metas[0]
    assert meta["source"] == "bigbench" and meta["sizes"]["train"] == PAPER_TRAIN[task]
    assert meta["bigbench"]["sdist_sha256"] == real_data["bigbench_sha256"]
    rows = {
        s: [json.loads(line) for line in (tmp_path / "a" / f"{s}.jsonl").read_text().splitlines()]
        for s in ("train", "validation", "test")
    }
    test_prompts = {r["prompt"] for r in rows["test"]}
    assert not test_prompts & {r["prompt"] for r in rows["train"] + rows["validation"]}
    answers = {r["answer"] for s in rows.values() for r in s}
    if PAPER_ANSWERS[task] is not None:
        assert answers == PAPER_ANSWERS[task]
    elif task == "object_counting":
        assert all(a.isdigit() for a in answers)
    else:  # the correct option, one of those the prompt lists
        for r in rows["test"]:
            assert r["answer"] in r["prompt"].split("OPTIONS - ")[1].split(" | ")
