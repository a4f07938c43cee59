"""Task layer: registry, the authors' formulation (answer spaces, instructions, input lines),
recorded Hub metadata, splits and nesting, Hub code path on local data, user tasks, and budgets
above the training pool."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dataeff.cli import main
from dataeff.core.errors import DataeffError
from dataeff.core.io import read_jsonl
from dataeff.pipeline.config import validate_config
from dataeff.tasks import hub, registry
from dataeff.tasks.prepare import (
    answer_text,
    budget_subset,
    check_budget,
    input_line,
    instruction,
    prepare_task,
    render,
    split_rows,
    validation_subset,
)
from dataeff.tasks.registry import TaskSpec, ceilings, get_task, known_task_names, pool_size

REPO = Path(__file__).resolve().parents[1]
HUB_FIXTURE = Path(__file__).parent / "fixtures" / "hub_datasets.json"

METHOD_TASKS = {
    "ade_corpus_v2_classification": 0.83,
    "anli": 0.92,
    "banking77": 0.607,
    "boolean_expressions": 1.0,
    "boolq": 0.89,
    "circa": 0.923,
    "commonsense_qa": 0.89,
    "fig_qa": 0.9534,
    "formal_fallacies_syllogisms_negation": 0.8,
    "high": 0.85,
    "hyperbaton": 1.0,
    "medmcqa": 0.9,
    "mmlu": 0.898,
    "mnist_ascii": 0.98,
    "mnli": 0.92,
    "mrpc": 0.808,
    "object_counting": 0.95,
    "overruling": 0.937,
    "qnli": 0.912,
    "qqp": 0.804,
    "quail": 0.6,
    "reasoning_about_colored_objects": 1.0,
    "rte": 0.936,
    "sports_understanding": 1.0,
    "sst2": 0.978,
    "temporal_sequences": 1.0,
    "toxicchat0124": 1.0,
    "tracking_shuffled_objects": 1.0,
    "web_of_lies": 1.0,
    "wic": 0.8,
}

# The answer the assistant gives, as the authors posed each task (METHOD.md section 5). None:
# an open answer space (a count, or the text of the correct option), checked through the prompt.
_BIN = ("0", "1")
ANSWER_SPACE: dict[str, tuple[str, ...] | None] = {
    "ade_corpus_v2_classification": _BIN,
    "anli": ("0", "1", "2"),
    "banking77": tuple(map(str, range(77))),
    "boolean_expressions": ("True", "False"),
    "boolq": _BIN,
    "circa": tuple(map(str, range(5))),
    "commonsense_qa": tuple("ABCDE"),
    "fig_qa": _BIN,
    "formal_fallacies_syllogisms_negation": _BIN,
    "high": tuple("ABCD"),
    "hyperbaton": ("a", "b"),
    "medmcqa": ("0", "1", "2", "3"),
    "mmlu": ("0", "1", "2", "3"),
    "mnist_ascii": tuple(map(str, range(10))),
    "mnli": ("0", "1", "2"),
    "mrpc": _BIN,
    "object_counting": None,
    "overruling": _BIN,
    "qnli": _BIN,
    "qqp": _BIN,
    "quail": ("0", "1", "2", "3"),
    "reasoning_about_colored_objects": None,
    "rte": _BIN,
    "sports_understanding": _BIN,
    "sst2": _BIN,
    "temporal_sequences": None,
    "toxicchat0124": _BIN,
    "tracking_shuffled_objects": None,
    "web_of_lies": ("True", "False"),
    "wic": _BIN,
}
# The user-turn fields of the 20 Hub tasks (METHOD.md section 5): (LABEL, column), "" = value alone.
HUB_FIELDS = {
    "ade_corpus_v2_classification": [("", "text")],
    "anli": [("PREMISE", "premise"), ("HYPOTHESIS", "hypothesis")],
    "banking77": [("", "text")],
    "boolq": [("PASSAGE", "passage"), ("QUESTION", "question")],
    "circa": [("CONTEXT", "context"), ("QUESTION", "question-X"), ("ANSWER", "answer-Y")],
    "commonsense_qa": [("QUESTION", "question"), ("CHOICES", "choices")],
    "fig_qa": [("PHRASE", "startphrase"), ("OPTION 0", "ending1"), ("OPTION 1", "ending2")],
    "high": [("ARTICLE", "article"), ("QUESTION", "question"), ("CHOICES", "options")],
    "medmcqa": [("QUESTION", "question"), ("0", "opa"), ("1", "opb"), ("2", "opc"), ("3", "opd")],
    "mmlu": [("SUBJECT", "subject"), ("QUESTION", "question"), ("CHOICES", "choices")],
    "mnli": [("PREMISE", "premise"), ("HYPOTHESIS", "hypothesis")],
    "mrpc": [("SENTENCE1", "sentence1"), ("SENTENCE2", "sentence2")],
    "overruling": [("", "sentence1")],
    "qnli": [("CONTEXT", "sentence"), ("QUESTION", "question")],
    "qqp": [("QUESTION1", "question1"), ("QUESTION2", "question2")],
    "quail": [("CONTEXT", "context"), ("QUESTION", "question"), ("CHOICES", "answers")],
    "rte": [("PREMISE", "premise"), ("HYPOTHESIS", "hypothesis")],
    "sst2": [("", "sentence")],
    "toxicchat0124": [("USER", "user_input")],
    "wic": [("WORD", "word"), ("SENTENCE1", "sentence1"), ("SENTENCE2", "sentence2")],
}
HUB_TASKS = sorted(HUB_FIELDS)


def make_config(tasks=("hyperbaton",), budgets=(8, 16), **data):
    cfg = {
        "families": {"f": {"model": "m"}},
        "tasks": list(tasks),
        "budgets": list(budgets),
        "data": {"generated_examples": 200, "difficulty": "easy", "test_max": 50, "split_seed": 5, **data},
    }
    return cfg


def user_config(path, budgets=(8, 16), **entry):
    cfg = make_config(tasks=("mine",), budgets=budgets)
    cfg["user_tasks"] = {"mine": {"file": str(path), "labels": ["yes", "no"], **entry}}
    return validate_config(cfg)


# ----------------------------------------------------------------- registry


def test_registry_has_the_30_tasks_with_ceilings():
    assert set(known_task_names()) == set(METHOD_TASKS)
    for name, ceiling in METHOD_TASKS.items():
        spec = get_task(name)
        assert spec.name == name and spec.ceiling == ceiling
        assert spec.template_path.is_file(), name
        assert spec.metric in {"accuracy", "macro_f1"}
        if spec.source == "generated":
            assert spec.generator == f"dataeff.tasks.generators.{name}"
        elif spec.source == "bigbench":  # tests/test_bigbench.py covers it
            assert spec.bigbench["task"] == name and spec.bigbench["paper"]
        elif spec.source == "bbh":  # tests/test_shipped_data.py covers it
            assert spec.bbh["task"] == name and spec.bbh["paper"]
        elif name in HUB_FIELDS:
            assert spec.source == "hub" and spec.hub_id and spec.splits["train"]
        if spec.label_map and spec.labels:
            assert set(spec.label_map.values()) <= set(spec.labels)


def test_registry_split_conventions():
    mmlu = get_task("mmlu")
    assert dict(mmlu.splits) == {"train": "test", "validation": "validation", "test": "dev"}
    assert mmlu.hub_config is None and "auxiliary_train" not in json.dumps(dict(mmlu.data_files))
    assert mmlu.exclude == {"subject": ("high_school_statistics", "world_religions")}
    assert dict(get_task("anli").splits) == {"train": "train_r1", "validation": "dev_r1", "test": "test_r1"}
    assert get_task("mnli").splits["validation"] == "validation_matched"
    # The Hub mirror is a loading script and the BIG-bench sdist was withdrawn: the shipped BBH file
    sports = get_task("sports_understanding")
    assert sports.source == "bbh" and sports.bbh == {"task": "sports_understanding", "paper": True}
    assert get_task("mrpc").splits["test"] == "test"  # the labelled GLUE test split
    for name in ("boolq", "rte", "wic"):
        assert (get_task(name).hub_id, get_task(name).hub_config) == ("aps/super_glue", name)
    assert get_task("banking77").hub_id == "PolyAI/banking77"
    for name in ("banking77", "toxicchat0124"):  # validation = 20% of train
        assert get_task(name).validation_fraction == 0.2 and get_task(name).splits["validation"] is None
    fig = get_task("fig_qa")
    assert sorted(fig.data_files) == ["train", "validation"] and fig.data_files["train"].endswith("train_xl.csv")


@pytest.mark.parametrize("name", sorted(METHOD_TASKS))
def test_each_task_asks_for_the_authors_answer_space(name):
    """The registry's answer space is the authors' (METHOD.md section 5), and the prompt says
    which answer it asks for, lists the answer space and asks for the answer only. BIG-bench tasks
    as the paper grid poses them (the real data, ``data.bigbench_paper_tasks: sdist``)."""
    spec = get_task(name, {"data": {"bigbench_paper_tasks": "sdist"}})
    assert not (spec.generator or "").startswith("dataeff.tasks.generators.")
    expected = ANSWER_SPACE[name]
    if expected is not None:
        assert spec.labels is not None and tuple(spec.labels) == expected
        if spec.label_map:
            assert {answer_text(spec, raw) for raw in spec.label_map} == set(expected)
    if spec.prompt_style != "instruction":
        return
    text = instruction(spec)
    assert "without explanation" in text and "Return only" in text
    for label in spec.labels or ():
        assert re_word(label).search(text), f"{name}: answer {label!r} not listed in the instruction"


def re_word(label: str):
    import re

    return re.compile(rf"(?<![\w]){re.escape(label)}(?![\w])")


def test_banking77_instruction_lists_all_77_categories_with_their_numbers():
    names = json.loads(HUB_FIXTURE.read_text())["PolyAI/banking77"]["configs"]["null"]["label_names"]
    lines = instruction(get_task("banking77")).splitlines()
    listed = [line for line in lines if line.split(" ", 1)[0].isdigit()]
    assert listed == [f"{i} {n}" for i, n in enumerate(names)] and len(listed) == 77


@pytest.mark.parametrize("name", HUB_TASKS)
def test_hub_task_resolves_against_recorded_repository_metadata(name):
    """The registry's id, config (or named files), revision, splits and columns exist in the
    recorded Hub metadata (tests/fixtures/hub_datasets.json, provenance inside), and the
    recorded split sizes are the card's."""
    import fnmatch

    spec = get_task(name)
    repo = json.loads(HUB_FIXTURE.read_text())[spec.hub_id]
    assert spec.revision == repo["revision"]
    if spec.revision is not None and not spec.revision.startswith("refs/"):
        assert len(spec.revision) == 40 and int(spec.revision, 16) >= 0
    if spec.data_files:
        files = repo["files"]
        for split, pattern in spec.data_files.items():
            matched = [f for f in files if fnmatch.fnmatch(f, pattern) or fnmatch.fnmatch(f, pattern.lstrip("*/"))]
            assert len(matched) == 1, (split, pattern, matched)  # one file: nothing merged
        available = set(spec.data_files)
        columns = set(repo["columns"])
        sizes = (repo["configs"].get("all") or {}).get("splits", {})
    else:
        config = repo["configs"]["null" if spec.hub_config is None else spec.hub_config]
        available, columns, sizes = set(config["splits"]), set(config["columns"]), config["splits"]
    for role, split in spec.splits.items():
        if split is not None:
            assert split in available, (role, split, sorted(available))
    assert set(spec.input_fields) <= columns and spec.label_field in columns
    assert [lab for lab, _ in HUB_FIELDS[name]] == list(spec.field_labels)
    assert [col for _, col in HUB_FIELDS[name]] == list(spec.input_fields)
    for role, n in (spec.split_sizes or {}).items():
        assert sizes[spec.splits[role]] == n, role


def test_pool_sizes_follow_the_split_rule():
    cfg = validate_config(make_config(tasks=("rte",), budgets=(50, 5000), test_max=5000))
    # own validation, test = 10% of train: 2490 - 249
    assert pool_size(get_task("rte"), cfg) == 2241
    assert pool_size(get_task("mrpc"), cfg) == 3668  # own splits
    assert pool_size(get_task("overruling"), cfg) == 1920  # 80/10/10 of 2400
    assert pool_size(get_task("toxicchat0124"), cfg) == 4066  # validation = 20% of 5082
    assert pool_size(get_task("wic"), cfg) == 4885
    rows = [{"id": str(i)} for i in range(5082)]
    train, val, test, rule = split_rows(rows, None, [{"id": "t"}], 123, 5000, 0.2)
    assert (len(train), len(val), rule) == (4066, 1016, "validation = 20% of train; own test")
    train, val, test, _ = split_rows(rows[:2490], [{"id": "v"}], None, 123, 5000)
    assert len(train) == pool_size(get_task("rte"), cfg) and len(test) == 249


def test_unknown_task_error():
    with pytest.raises(DataeffError, match=r"field 'tasks'.*unknown task 'nope'.*--list"):
        get_task("nope")


def test_registry_import_is_cheap():
    code = (
        "import sys, dataeff.tasks.registry, dataeff.core.config; "
        "print([m for m in ('torch', 'datasets', 'sklearn', 'transformers') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_ceilings_and_user_tasks(tmp_path):
    cfg = make_config(tasks=("hyperbaton", "mnli", "mine"))
    cfg["user_tasks"] = {"mine": {"file": "x.jsonl", "labels": ["a", "b"], "ceiling": 0.7}}
    cfg = validate_config(cfg)
    assert ceilings(cfg) == {"hyperbaton": 1.0, "mnli": 0.92, "mine": 0.7}
    spec = get_task("mine", cfg)
    assert spec.source == "user" and spec.labels == ("a", "b") and spec.input_fields == ("prompt",)
    table = tmp_path / "ceil.json"
    table.write_text(json.dumps({"mnli": {"score": 0.5}}))
    cfg["analysis"]["ceilings"] = str(table)
    assert ceilings(cfg)["mnli"] == 0.5


# ----------------------------------------------------------------- rendering


def fake_record(spec: TaskSpec) -> dict:
    rec = {f: f"<{f}>" for f in spec.input_fields}
    if spec.name == "commonsense_qa":
        rec["choices"] = {"label": list("ABCDE"), "text": [f"opt{i}" for i in range(5)]}
    elif spec.name in {"mmlu", "high", "quail"}:
        rec[dict(zip(spec.field_labels, spec.input_fields, strict=True))["CHOICES"]] = [f"opt{i}" for i in range(4)]
    rec[spec.label_field] = next(iter(spec.label_map))
    rec["_id"] = "x-1"
    return rec


@pytest.mark.parametrize("name", HUB_TASKS)
def test_render_hub_tasks_as_the_authors_posed_them(name):
    spec = get_task(name)
    row = render(spec, fake_record(spec))
    assert row["id"] == "x-1" and set(row) == {"id", "prompt", "answer", "system"}
    assert row["system"] == (REPO / "prompts" / f"{name}.txt").read_text().strip()
    assert row["answer"] == next(iter(spec.label_map.values())) and row["answer"] in ANSWER_SPACE[name]
    fields = HUB_FIELDS[name]
    if fields[0][0] == "":
        assert row["prompt"] == f"<{fields[0][1]}>"
    else:
        parts = row["prompt"].split(" [SEP] ")
        assert [p.split(" - ", 1)[0] for p in parts] == [lab for lab, _ in fields]
        assert "\n" not in row["prompt"]
    if name == "commonsense_qa":
        assert 'CHOICES - {"label": ["A", "B", "C", "D", "E"], "text": ["opt0"' in row["prompt"]
    if name == "mmlu":
        assert row["prompt"].endswith('CHOICES - ["opt0", "opt1", "opt2", "opt3"]')


def test_input_line_format():
    spec = get_task("wic")
    assert (
        input_line(spec, {"word": " bank ", "sentence1": "A river bank.", "sentence2": "A bank loan."})
        == "WORD - bank [SEP] SENTENCE1 - A river bank. [SEP] SENTENCE2 - A bank loan."
    )
    with pytest.raises(DataeffError, match="records have no field 'word'"):
        input_line(spec, {"sentence1": "a", "sentence2": "b"})


def test_answer_text_rules():
    mnli = get_task("mnli")
    assert answer_text(mnli, 2) == "2"
    assert answer_text(mnli, -1) is None and answer_text(mnli, None) is None
    assert answer_text(get_task("commonsense_qa"), "") is None
    assert answer_text(get_task("commonsense_qa"), "C") == "C"
    assert answer_text(get_task("banking77"), 76, ["a", "b"]) == "76"  # the id, not the class name
    with pytest.raises(DataeffError, match="no usable gold label"):
        render(mnli, {"premise": "p", "hypothesis": "h", "label": -1})


def test_render_system_prompt_and_generated():
    spec = get_task("boolean_expressions")
    row = render(spec, {"expression": "True and False", "label": "False", "_id": "b-1"})
    assert row == {
        "id": "b-1",
        "answer": "False",
        "prompt": "Evaluate the following Boolean expression.\nTrue and False\nAnswer with True or False only.",
    }
    sys_spec = registry.user_spec("u", {"file": "f", "labels": ["yes", "no"], "system": "Be brief."})
    row = render(sys_spec, {"prompt": "Q?", "label": "yes", "_id": "u-1"})
    assert row == {"id": "u-1", "prompt": "Q?", "answer": "yes", "system": "Be brief."}


# ----------------------------------------------------------------- budgets


def test_budget_helpers(caplog):
    rows = [{"id": str(i)} for i in range(10)]
    assert budget_subset(rows, 4) == rows[:4]
    assert budget_subset(rows, 4) == budget_subset(rows, 8)[:4]
    assert validation_subset(rows, 16, 0.2) == rows[:4]
    assert validation_subset(rows, 1, 0.2) == rows[:1]
    assert check_budget(100, [16, 64]) == {16: 16, 64: 64}
    with caplog.at_level("WARNING", logger="dataeff"):
        assert check_budget(50, [16, 64]) == {16: 16, 64: 50}
    assert "exceed the 50 training examples" in caplog.text


# ----------------------------------------------------------------- generated tasks


def test_prepare_generated(tmp_path):
    cfg = validate_config(make_config())
    spec = get_task("hyperbaton", cfg)
    meta = prepare_task(spec, cfg, tmp_path / "t")
    assert meta["sizes"] == {"train": 160, "validation": 20, "test": 20}
    assert meta["split_rule"] == "80/10/10 of train" and meta["split_seed"] == 5
    assert meta["labels"] == ["(A)", "(B)"] and meta["difficulty"] == "easy" and meta["ceiling"] == 1.0
    assert meta["provenance"]["data_hash"] == meta["data_hash"]
    files = {s: read_jsonl(tmp_path / "t" / f"{s}.jsonl") for s in ("train", "validation", "test")}
    prompts = [{r["prompt"] for r in rows} for rows in files.values()]
    assert not (prompts[0] & prompts[1]) and not (prompts[0] & prompts[2]) and not (prompts[1] & prompts[2])
    assert all(set(r) - {"_line"} == {"id", "prompt", "answer"} for r in files["train"])
    assert json.loads((tmp_path / "t" / "meta.json").read_text())["data_hash"] == meta["data_hash"]
    # same seed -> identical files; another split seed -> another order
    meta2 = prepare_task(spec, cfg, tmp_path / "t2")
    assert meta2["data_hash"] == meta["data_hash"]
    cfg3 = validate_config(make_config(split_seed=6))
    assert prepare_task(spec, cfg3, tmp_path / "t3")["data_hash"] != meta["data_hash"]


def test_prepare_overwrites_atomically(tmp_path):
    cfg = validate_config(make_config(tasks=("web_of_lies",)))
    out = tmp_path / "t"
    prepare_task(get_task("web_of_lies"), cfg, out)
    (out / "stale.txt").write_text("x")
    prepare_task(get_task("web_of_lies"), cfg, out)
    names = sorted(p.name for p in out.iterdir())
    assert names == ["meta.json", "test.jsonl", "train.jsonl", "validation.jsonl"]
    assert [p.name for p in tmp_path.iterdir()] == ["t"]


# ----------------------------------------------------------------- Hub code path on local data


def _nli_rows(n, offset=0):
    return {
        "premise": [f"p{i + offset}" for i in range(n)],
        "hypothesis": [f"h{i + offset}" for i in range(n)],
        "label": [i % 3 for i in range(n)],
    }


def _parquet_dir(tmp_path, splits):
    import datasets

    d = tmp_path / "hub"
    d.mkdir()
    for name, (n, offset) in splits.items():
        datasets.Dataset.from_dict(_nli_rows(n, offset)).to_parquet(str(d / f"{name}.parquet"))
    return d


def _hub_spec(path, **kw):
    base = get_task("mnli")
    fields = {
        "hub_id": str(path),
        "hub_config": None,
        "splits": {"train": "train", "validation": "validation", "test": "test"},
        **kw,
    }
    return TaskSpec(**{**base.__dict__, **fields})


def test_hub_train_only_gives_80_10_10(tmp_path):
    d = _parquet_dir(tmp_path, {"train": (100, 0)})
    spec = _hub_spec(d, splits={"train": "train", "validation": None, "test": None})
    meta = prepare_task(spec, validate_config(make_config(test_max=1000)), tmp_path / "out")
    assert meta["sizes"] == {"train": 80, "validation": 10, "test": 10}
    train = read_jsonl(tmp_path / "out" / "train.jsonl")
    assert {r["answer"] for r in train} == {"0", "1", "2"}
    assert train[0]["prompt"].startswith("PREMISE - p") and "[SEP] HYPOTHESIS - h" in train[0]["prompt"]
    assert train[0]["system"] == instruction(get_task("mnli"))


def test_hub_validation_without_test_carves_10_percent(tmp_path):
    d = _parquet_dir(tmp_path, {"train": (100, 0), "validation": (30, 1000)})
    spec = _hub_spec(d, splits={"train": "train", "validation": "validation", "test": None})
    meta = prepare_task(spec, validate_config(make_config(test_max=1000)), tmp_path / "out")
    assert meta["sizes"] == {"train": 90, "validation": 30, "test": 10}
    assert meta["split_rule"].startswith("test = 10% of train")
    val = read_jsonl(tmp_path / "out" / "validation.jsonl")
    assert all(int(r["prompt"].split("PREMISE - p")[1].split(" ")[0]) >= 1000 for r in val)


def test_hub_own_splits_test_cap_and_hidden_labels(tmp_path):
    import datasets

    d = _parquet_dir(tmp_path, {"train": (60, 0), "validation": (20, 500)})
    hidden = _nli_rows(40, 900)
    hidden["label"] = [-1] * 20 + [1] * 20  # half the test labels hidden (GLUE style)
    datasets.Dataset.from_dict(hidden).to_parquet(str(d / "test.parquet"))
    meta = prepare_task(_hub_spec(d), validate_config(make_config(test_max=15)), tmp_path / "out")
    assert meta["sizes"] == {"train": 60, "validation": 20, "test": 15}
    assert meta["split_rule"] == "own splits" and meta["dropped_unlabelled"] == 20
    load = meta["hub_load"]  # a local directory: its files are recorded, there is no Hub commit
    assert load["local"] and load["resolved_revision"] is None and not load["pinned"]
    assert {k: [Path(f).name for f in v] for k, v in load["data_files"].items()} == {
        s: [f"{s}.parquet"] for s in ("train", "validation", "test")
    }
    assert set(load["fingerprints"]) == {"train", "validation", "test"} and all(load["fingerprints"].values())


def test_hub_save_to_disk_class_label_names(tmp_path):
    import datasets

    feats = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["card_arrival", "age_limit"])}
    )
    dd = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict(
                {"text": [f"t{i}" for i in range(50)], "label": [i % 2 for i in range(50)]}, features=feats
            ),
            "test": datasets.Dataset.from_dict({"text": ["q1", "q2"], "label": [0, 1]}, features=feats),
        }
    )
    dd.save_to_disk(str(tmp_path / "disk"))
    base = get_task("banking77")
    spec = TaskSpec(**{**base.__dict__, "hub_id": str(tmp_path / "disk")})
    meta = prepare_task(spec, validate_config(make_config()), tmp_path / "out")
    assert meta["labels"] == [str(i) for i in range(77)]  # the authors' answers: category numbers
    assert meta["sizes"] == {"train": 40, "validation": 10, "test": 2}  # validation = 20% of train
    assert meta["split_rule"] == "validation = 20% of train; own test"
    test = read_jsonl(tmp_path / "out" / "test.jsonl")
    assert sorted(r["answer"] for r in test) == ["0", "1"]


def test_mmlu_named_files_and_the_authors_55_subjects(tmp_path):
    """MMLU through its named files: auxiliary_train is never read (here it is not even valid
    Parquet), and the test split is the dev questions of 55 subjects (275 of 285)."""
    import datasets

    subjects = [f"subject_{i:02d}" for i in range(55)] + ["high_school_statistics", "world_religions"]

    def split(per_subject: int) -> datasets.Dataset:
        rows = [(s, j) for s in subjects for j in range(per_subject)]
        return datasets.Dataset.from_dict(
            {
                "question": [f"{s} q{j}?" for s, j in rows],
                "subject": [s for s, _ in rows],
                "choices": [["w", "x", "y", "z"] for _ in rows],
                "answer": [j % 4 for _, j in rows],
            }
        )

    root = tmp_path / "mmlu"
    (root / "all").mkdir(parents=True)
    split(4).to_parquet(str(root / "all" / "test-00000-of-00001.parquet"))
    split(2).to_parquet(str(root / "all" / "validation-00000-of-00001.parquet"))
    split(5).to_parquet(str(root / "all" / "dev-00000-of-00001.parquet"))
    (root / "all" / "auxiliary_train-00000-of-00001.parquet").write_bytes(b"not parquet")
    spec = TaskSpec(**{**get_task("mmlu").__dict__, "hub_id": str(root)})
    meta = prepare_task(spec, validate_config(make_config(tasks=("mmlu",), test_max=5000)), tmp_path / "out")
    assert meta["sizes"] == {"train": 220, "validation": 110, "test": 275}
    test = read_jsonl(tmp_path / "out" / "test.jsonl")
    assert len({r["prompt"].split(" [SEP] ")[0] for r in test}) == 55
    assert not any("world_religions" in r["prompt"] or "high_school_statistics" in r["prompt"] for r in test)
    assert {r["answer"] for r in test} == {"0", "1", "2", "3"} and meta["hub_data_files"]["dev"] == "all/dev-*"


def _offline(monkeypatch):
    """The Hub unreachable, as the library sees it (HF_HUB_OFFLINE): nothing is downloaded."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub, "_warned", set())


def test_hub_missing_dataset_offline(tmp_path, monkeypatch):
    _offline(monkeypatch)
    spec = _hub_spec("org/ds")
    cfg = validate_config(make_config(hf_home=str(tmp_path / "hf")))
    with pytest.raises(DataeffError) as err:
        prepare_task(spec, cfg, tmp_path / "out")
    msg = str(err.value)
    assert "\n" not in msg and "cannot load dataset org/ds" in msg and "HF_HOME" in msg
    assert not (tmp_path / "out").exists()


SHA_A = "0123456789abcdef0123456789abcdef01234567"


def _hub_cache(tmp_path, hub_id, sha, rows):
    """An HF datasets cache holding ``hub_id`` as a Hub load writes it (Parquet builder,
    ``{org}___{name}/default/0.0.0/{commit}/``), so the library's offline path reads it back."""
    from datasets.packaged_modules.parquet.parquet import Parquet

    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    files = {}
    for split, table in rows.items():
        import datasets

        files[split] = str(src / f"{split}.parquet")
        datasets.Dataset.from_dict(table).to_parquet(files[split])
    cache = tmp_path / "hf" / "datasets"
    org, name = hub_id.split("/")
    builder = Parquet(cache_dir=str(cache), dataset_name=name, config_name="default", data_files=files, hash=sha)
    builder.download_and_prepare()
    built = next((cache / name).glob("*/0.0.0/" + sha))
    target = cache / f"{org}___{name}" / "default" / "0.0.0" / sha
    target.parent.mkdir(parents=True)
    built.rename(target)
    return tmp_path / "hf"


def _overruling_rows(n):
    return {"train": {"sentence1": [f"s{i}" for i in range(n)], "label": [i % 2 for i in range(n)]}}


def test_unpinned_hub_load_records_its_commit_warns_once_and_becomes_a_pin(tmp_path, monkeypatch, caplog, capsys):
    """overruling (registry: no pinned revision) loaded through the library's Hub path from an
    offline cache: meta.json records the commit the library resolved, one warning line names the
    dataset and the pin, ``dataeff hub-pins`` turns the record into a config pin, and the pinned
    load gives the same data; a pin the cache cannot honour is refused."""
    _offline(monkeypatch)
    hf_home = _hub_cache(tmp_path, "LawInformedAI/overruling", SHA_A, _overruling_rows(100))
    spec = get_task("overruling")
    assert spec.revision is None
    cfg = validate_config(make_config(tasks=("overruling",), hf_home=str(hf_home), test_max=1000))
    with caplog.at_level("WARNING", logger="dataeff"):
        meta = prepare_task(spec, cfg, tmp_path / "tasks" / "overruling")
        again = prepare_task(spec, cfg, tmp_path / "again")
    load = meta["hub_load"]
    assert load["resolved_revision"] == SHA_A and load["requested_revision"] is None and not load["pinned"]
    assert load["builder"] == "Cache" and set(load["fingerprints"]) == {"train"} and not load["local"]
    assert meta["sizes"] == {"train": 80, "validation": 10, "test": 10}
    assert again["data_hash"] == meta["data_hash"]
    warned = [r.getMessage() for r in caplog.records if "no pinned revision" in r.getMessage()]
    assert len(warned) == 1 and "\n" not in warned[0]  # once per dataset, one line
    assert (
        "LawInformedAI/overruling" in warned[0]
        and f"data.hub_revisions: {{LawInformedAI/overruling: {SHA_A}}}" in warned[0]
    )

    capsys.readouterr()
    assert main(["hub-pins", str(tmp_path / "tasks")]) == 0
    pins = yaml.safe_load(capsys.readouterr().out)
    assert pins == {"data": {"hub_revisions": {"LawInformedAI/overruling": SHA_A}}}

    pinned_cfg = validate_config(
        make_config(tasks=("overruling",), hf_home=str(hf_home), test_max=1000, **pins["data"])
    )
    pinned_spec = get_task("overruling", pinned_cfg)
    assert pinned_spec.revision == SHA_A
    caplog.clear()
    with caplog.at_level("WARNING", logger="dataeff"):
        monkeypatch.setattr(hub, "_warned", set())
        pinned = prepare_task(pinned_spec, pinned_cfg, tmp_path / "pinned")
    assert pinned["hub_load"]["pinned"] and pinned["hub_revision"] == SHA_A
    assert pinned["data_hash"] == meta["data_hash"]
    assert not [r for r in caplog.records if "no pinned revision" in r.getMessage()]

    other = validate_config(make_config(hf_home=str(hf_home), hub_revisions={"LawInformedAI/overruling": "f" * 40}))
    with pytest.raises(DataeffError) as err:
        prepare_task(get_task("overruling", other), other, tmp_path / "refused")
    assert "pinned to " + "f" * 40 in str(err.value) and SHA_A in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "refused").exists()


def test_hub_pins_refuses_two_commits_of_one_dataset(tmp_path, capsys):
    """Recorded metadata of two glue tasks loaded at different commits cannot make one pin."""
    for task, commit in (("mrpc", SHA_A), ("sst2", "a" * 40)):
        d = tmp_path / task
        d.mkdir()
        meta = {"task": task, "source": "hub", "hub_id": "nyu-mll/glue", "hub_load": {"resolved_revision": commit}}
        (d / "meta.json").write_text(json.dumps(meta))
    assert main(["hub-pins", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "nyu-mll/glue was loaded at two commits" in err and "\n" not in err
    with pytest.raises(DataeffError, match="hub_revisions"):
        validate_config(make_config(hub_revisions={"nyu-mll/glue": "main"}))


# ----------------------------------------------------------------- user tasks


def _write_user_jsonl(path, n, label=lambda i: "yes" if i % 2 else "no"):
    path.write_text("".join(json.dumps({"prompt": f"q{i}?", "label": label(i)}) + "\n" for i in range(n)))
    return path


def test_user_jsonl_and_csv(tmp_path):
    cfg = user_config(_write_user_jsonl(tmp_path / "u.jsonl", 40), system="Be brief.")
    meta = prepare_task(get_task("mine", cfg), cfg, tmp_path / "out")
    assert meta["sizes"] == {"train": 32, "validation": 4, "test": 4} and meta["source"] == "user"
    row = read_jsonl(tmp_path / "out" / "train.jsonl")[0]
    assert row["system"] == "Be brief." and row["answer"] in {"yes", "no"} and row["prompt"].startswith("q")

    csv_path = tmp_path / "u.csv"
    csv_path.write_text("text,gold\n" + "".join(f'"q{i}, really?",{"yes" if i % 2 else "no"}\n' for i in range(40)))
    cfg = user_config(csv_path, prompt_field="text", label_field="gold")
    meta = prepare_task(get_task("mine", cfg), cfg, tmp_path / "out2")
    assert meta["sizes"]["train"] == 32
    assert read_jsonl(tmp_path / "out2" / "test.jsonl")[0]["prompt"].endswith(", really?")


@pytest.mark.parametrize(
    "case, pattern",
    [
        ("missing", r"file not found"),
        ("empty", r"file is empty"),
        ("latin1", r"line 2: not valid UTF-8"),
        ("badjson", r"line 3: not valid JSON"),
        ("noprompt", r"line 2: missing prompt field 'prompt'"),
        ("emptyprompt", r"field 'prompt': line 1: prompt is empty"),
        ("nolabel", r"field 'label': line 4: missing label field 'label'"),
        ("badlabel", r"field 'label': line 5: label 'maybe' is not one of \['yes', 'no'\]"),
        ("toofew", r"has 12 examples but the largest budget 16 needs at least 20"),
    ],
)
def test_user_bad_input(tmp_path, case, pattern):
    path = tmp_path / "u.jsonl"
    lines = [json.dumps({"prompt": f"q{i}", "label": "yes"}) for i in range(30)]
    if case == "empty":
        path.write_text("\n\n")
    elif case == "latin1":
        bad = '{"prompt": "caf\xe9", "label": "yes"}\n'
        path.write_bytes((lines[0] + "\n" + bad).encode("latin-1"))
    elif case == "badjson":
        lines[2] = '{"prompt": "q2", "label": '
    elif case == "noprompt":
        lines[1] = json.dumps({"text": "q1", "label": "yes"})
    elif case == "emptyprompt":
        lines[0] = json.dumps({"prompt": "  ", "label": "yes"})
    elif case == "nolabel":
        lines[3] = json.dumps({"prompt": "q3"})
    elif case == "badlabel":
        lines[4] = json.dumps({"prompt": "q4", "label": "maybe"})
    elif case == "toofew":
        lines = lines[:12]
    if case not in {"missing", "empty", "latin1"}:
        path.write_text("\n".join(lines) + "\n")
    cfg = user_config(path)
    with pytest.raises(DataeffError, match=pattern) as err:
        prepare_task(get_task("mine", cfg), cfg, tmp_path / "out")
    assert "\n" not in str(err.value) and str(path) in str(err.value)
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------- command line


def test_cli_list_and_prepare(tmp_path, capsys):
    assert main(["prepare-task", "--list"]) == 0
    listing = capsys.readouterr().out
    assert "sports_understanding" in listing and "0.607" in listing and len(listing.splitlines()) == 31
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(yaml.safe_dump(make_config(tasks=("object_counting",))))
    out = tmp_path / "data" / "tasks" / "object_counting"
    assert main(["prepare-task", "--config", str(cfg_path), "--task", "object_counting", "--out-dir", str(out)]) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["task"] == "object_counting" and meta["sizes"]["train"] == 160
    assert main(["prepare-task", "--config", str(cfg_path), "--task", "nope", "--out-dir", str(out)]) == 2
    assert "unknown task 'nope'" in capsys.readouterr().err


def test_prompts_dir_has_one_template_per_task():
    prompts = {p.stem for p in (registry.REPO_ROOT / "prompts").glob("*.txt")}
    assert prompts == set(METHOD_TASKS)
    assert Path(registry.REPO_ROOT / "prompts" / "generated" / "mnist_ascii.txt").read_text().count("{image}") == 1


# ----------------------------------------------------------------- budgets above the training pool


def _workflow_copy(tmp_path: Path) -> Path:
    import shutil

    work = tmp_path / "wf"
    work.mkdir()
    shutil.copy(REPO / "Snakefile", work / "Snakefile")
    for sub in ("workflow/rules", "workflow/schemas", "workflow/report", "config"):
        if (REPO / sub).is_dir():
            shutil.copytree(REPO / sub, work / sub)
    return work


def _dry_run_jobs(work: Path, config: Path) -> dict[str, list[dict[str, str]]]:
    """Rule -> wildcards of every job `snakemake -n` plans."""
    import os
    import re
    import shutil

    exe = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or "snakemake"
    env = {**os.environ, "PYTHONPATH": str(REPO / "workflow")}
    out = subprocess.run(
        [exe, "-n", "--cores", "1", "--configfile", str(config)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    jobs: dict[str, list[dict[str, str]]] = {}
    rule = None
    for line in out.stdout.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):$", line.strip())
        if m:
            rule = m.group(1)
            jobs.setdefault(rule, [])
        elif line.strip().startswith("wildcards:") and rule:
            jobs[rule].append(dict(kv.split("=", 1) for kv in line.split(":", 1)[1].strip().split(", ")))
    return jobs


def test_budget_above_pool_runs_once_at_the_pool_size_and_the_auc_uses_it(tmp_path):
    """Budgets 64 and 128 exceed web_of_lies' 80-example pool (100 generated, 80/10/10): the DAG
    plans one fine-tune at n = 80 (no duplicate for 128), evaluated and recorded at n = 80, and
    the AUC is the one computed with that off-grid point."""
    from dataeff.efficiency.auc import compute_curve

    work = _workflow_copy(tmp_path)
    cfg = make_config(tasks=("web_of_lies",), budgets=(16, 32, 64, 128), generated_examples=100)
    cfg["families"] = {"tiny": {"model": str(tmp_path / "no-model")}}
    (work / "c.yaml").write_text(yaml.safe_dump(cfg))
    assert pool_size(get_task("web_of_lies"), validate_config(cfg)) == 80
    jobs = _dry_run_jobs(work, work / "c.yaml")
    assert sorted(int(j["budget"]) for j in jobs["finetune"]) == [16, 32, 64, 80]
    assert sorted(int(j["budget"]) for j in jobs["evaluate"]) == [0, 16, 32, 64, 80]

    # The evaluations the DAG asks for, then the pipeline's own aggregation and AUC commands.
    acc = {0: 0.30, 16: 0.40, 32: 0.55, 64: 0.50, 80: 0.90}
    evals = []
    for n, a in acc.items():
        path = tmp_path / "results" / "tiny" / "web_of_lies" / "eval" / f"n{n}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps(
                {
                    "family": "tiny",
                    "task": "web_of_lies",
                    "budget": n,
                    "n_train": n,
                    "accuracy": a,
                    "metric": "accuracy",
                    "seed": 123,
                }
            )
        )
        evals.append(str(path))
    curves = tmp_path / "curves"
    assert main(["aggregate", "--family", "tiny", "--evals", *evals, "--out-dir", str(curves)]) == 0
    out = tmp_path / "eff.json"
    assert (
        main(
            [
                "auc",
                "--results",
                str(curves),
                "--family",
                "tiny",
                "--tasks",
                "web_of_lies",
                "--config",
                str(work / "c.yaml"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    record = json.loads(out.read_text())["web_of_lies"]
    expected = compute_curve(acc, 1.0, grid=[16, 32, 64, 128], max_budget=128)
    assert 80 in record["curve"]["budgets"] and record["auc"] == pytest.approx(expected.auc, abs=1e-12)
    # Recorded at the nominal 128 instead, the same accuracy would give a smaller AUC.
    nominal = compute_curve(
        {**{k: v for k, v in acc.items() if k != 80}, 128: 0.90}, 1.0, grid=[16, 32, 64, 128], max_budget=128
    )
    assert record["auc"] > nominal.auc + 0.01


def test_evaluate_refuses_a_point_trained_on_fewer_examples_than_its_budget(tmp_path, capsys):
    """A stale recorded pool would put a point at the wrong n: evaluation stops with one line."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(make_config(tasks=("web_of_lies",))))
    run_dir = tmp_path / "train" / "n64"
    (run_dir / "model").mkdir(parents=True)
    (run_dir / "metrics.json").write_text(json.dumps({"budget": 64, "budget_actual": 50}))
    (tmp_path / "task").mkdir()
    (tmp_path / "task" / "test.jsonl").write_text(json.dumps({"id": "1", "prompt": "p", "answer": "a"}) + "\n")
    rc = main(
        [
            "evaluate",
            "--config",
            str(cfg),
            "--family",
            "f",
            "--task",
            "web_of_lies",
            "--budget",
            "64",
            "--base-model",
            str(tmp_path / "m.json"),
            "--model",
            str(run_dir / "model"),
            "--task-dir",
            str(tmp_path / "task"),
            "--out",
            str(tmp_path / "n64.json"),
        ]
    )
    err = capsys.readouterr().err
    assert rc != 0 and "trained on 50 examples, fewer than budget 64" in err and "split_sizes" in err
    assert not (tmp_path / "n64.json").exists()


def test_every_task_source_has_one_loader_and_an_unknown_one_is_refused(tmp_path):
    """Task sources share one protocol (``SOURCES``: spec -> SourceRows) and one writer."""
    from dataclasses import replace

    from dataeff.tasks.prepare import SOURCES, prepare_task

    sources = {registry.REGISTRY[name].source for name in known_task_names()} | {"user"}
    assert sources <= set(SOURCES), sources - set(SOURCES)
    spec = replace(registry.REGISTRY["web_of_lies"], source="spreadsheet")
    with pytest.raises(DataeffError, match="unknown task source 'spreadsheet'"):
        prepare_task(spec, {"budgets": [8]}, tmp_path / "t")
    assert not (tmp_path / "t").exists()
