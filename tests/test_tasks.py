"""Task layer: registry, rendering, splits and nesting, Hub code path on local data, user tasks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dataeff.cli import main
from dataeff.config import validate_config
from dataeff.errors import DataeffError
from dataeff.io import read_jsonl
from dataeff.tasks import registry
from dataeff.tasks.prepare import (
    answer_text,
    budget_subset,
    check_budget,
    prepare_task,
    render,
    validation_subset,
)
from dataeff.tasks.registry import TaskSpec, ceilings, get_task, known_task_names

METHOD_TASKS = {
    "ade_corpus_v2_classification": 0.83, "anli": 0.92, "banking77": 0.607, "boolean_expressions": 1.0,
    "boolq": 0.89, "circa": 0.923, "commonsense_qa": 0.89, "fig_qa": 0.9534,
    "formal_fallacies_syllogisms_negation": 0.8, "high": 0.85, "hyperbaton": 1.0, "medmcqa": 0.9,
    "mmlu": 0.898, "mnist_ascii": 0.98, "mnli": 0.92, "mrpc": 0.808, "object_counting": 0.95,
    "overruling": 0.937, "qnli": 0.912, "qqp": 0.804, "quail": 0.6, "reasoning_about_colored_objects": 1.0,
    "rte": 0.936, "sports_understanding": 1.0, "sst2": 0.978, "temporal_sequences": 1.0,
    "toxicchat0124": 1.0, "tracking_shuffled_objects": 1.0, "web_of_lies": 1.0, "wic": 0.8,
}


def make_config(tasks=("hyperbaton",), budgets=(8, 16), **data):
    cfg = {"families": {"f": {"model": "m"}}, "tasks": list(tasks), "budgets": list(budgets),
           "data": {"generated_examples": 200, "difficulty": "easy", "test_max": 50, "split_seed": 5, **data}}
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
        else:
            assert spec.source == "hub" and spec.hub_id and spec.splits["train"]
        if spec.label_map and spec.labels:
            assert set(spec.label_map.values()) <= set(spec.labels)


def test_registry_split_conventions():
    assert dict(get_task("mmlu").splits) == {"train": "test", "validation": "validation", "test": "dev"}
    assert get_task("mmlu").hub_config == "all"
    assert dict(get_task("anli").splits) == {"train": "train_r1", "validation": "dev_r1", "test": "test_r1"}
    assert get_task("mnli").splits["validation"] == "validation_matched"
    assert get_task("sports_understanding").source == "bigbench"  # the Hub mirror is a loading script
    assert get_task("anli").label_map[0] == "entailment"


def test_unknown_task_error():
    with pytest.raises(DataeffError, match=r"field 'tasks'.*unknown task 'nope'.*--list"):
        get_task("nope")


def test_registry_import_is_cheap():
    code = ("import sys, dataeff.tasks.registry, dataeff.config; "
            "print([m for m in ('torch', 'datasets', 'sklearn', 'transformers') if m in sys.modules])")
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
    if len(spec.options_fields) == 1:
        rec[spec.options_fields[0]] = ({"label": list("ABCDE"), "text": [f"opt{i}" for i in range(5)]}
                                       if spec.name == "commonsense_qa" else [f"opt{i}" for i in range(4)])
    else:
        rec.update({f: f"opt{i}" for i, f in enumerate(spec.options_fields)})
    raw = next(iter(spec.label_map)) if spec.label_map else 0
    rec[spec.label_field] = ["plausible"] if spec.name == "sports_understanding" else raw
    rec["_id"] = "x-1"
    return rec


@pytest.mark.parametrize("name", [n for n in METHOD_TASKS if get_task(n).source == "hub"])
def test_render_hub_templates(name):
    spec = get_task(name)
    row = render(spec, fake_record(spec), class_names=["alpha", "beta"])
    assert row["id"] == "x-1" and set(row) == {"id", "prompt", "answer"}
    for f in spec.input_fields:
        assert f"<{f}>" in row["prompt"]
    assert "{" not in row["prompt"] and "Answer" in row["prompt"]
    if spec.options_fields:
        assert "(A) opt0" in row["prompt"] and "(B) opt1" in row["prompt"]
        assert row["answer"] == "(A)"
    if spec.labels:
        assert row["answer"] in spec.labels


def test_answer_text_rules():
    mnli = get_task("mnli")
    assert answer_text(mnli, 2) == "contradiction"
    assert answer_text(mnli, -1) is None and answer_text(mnli, None) is None
    assert answer_text(get_task("commonsense_qa"), "") is None
    assert answer_text(get_task("banking77"), 1, ["a", "b"]) == "b"
    with pytest.raises(DataeffError, match="no usable gold label"):
        render(mnli, {"premise": "p", "hypothesis": "h", "label": -1})


def test_render_system_prompt_and_generated():
    spec = get_task("boolean_expressions")
    row = render(spec, {"expression": "True and False", "label": "False", "_id": "b-1"})
    assert row == {"id": "b-1", "answer": "False",
                   "prompt": "Evaluate the following Boolean expression.\nTrue and False\n"
                             "Answer with True or False only."}
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
    return {"premise": [f"p{i + offset}" for i in range(n)],
            "hypothesis": [f"h{i + offset}" for i in range(n)],
            "label": [i % 3 for i in range(n)]}


def _parquet_dir(tmp_path, splits):
    import datasets

    d = tmp_path / "hub"
    d.mkdir()
    for name, (n, offset) in splits.items():
        datasets.Dataset.from_dict(_nli_rows(n, offset)).to_parquet(str(d / f"{name}.parquet"))
    return d


def _hub_spec(path, **kw):
    base = get_task("mnli")
    fields = {"hub_id": str(path), "hub_config": None,
              "splits": {"train": "train", "validation": "validation", "test": "test"}, **kw}
    return TaskSpec(**{**base.__dict__, **fields})


def test_hub_train_only_gives_80_10_10(tmp_path):
    d = _parquet_dir(tmp_path, {"train": (100, 0)})
    spec = _hub_spec(d, splits={"train": "train", "validation": None, "test": None})
    meta = prepare_task(spec, validate_config(make_config(test_max=1000)), tmp_path / "out")
    assert meta["sizes"] == {"train": 80, "validation": 10, "test": 10}
    train = read_jsonl(tmp_path / "out" / "train.jsonl")
    assert {r["answer"] for r in train} == {"entailment", "neutral", "contradiction"}
    assert "Premise: p" in train[0]["prompt"]


def test_hub_validation_without_test_carves_10_percent(tmp_path):
    d = _parquet_dir(tmp_path, {"train": (100, 0), "validation": (30, 1000)})
    spec = _hub_spec(d, splits={"train": "train", "validation": "validation", "test": None})
    meta = prepare_task(spec, validate_config(make_config(test_max=1000)), tmp_path / "out")
    assert meta["sizes"] == {"train": 90, "validation": 30, "test": 10}
    assert meta["split_rule"].startswith("test = 10% of train")
    val = read_jsonl(tmp_path / "out" / "validation.jsonl")
    assert all(int(r["prompt"].split("Premise: p")[1].split("\n")[0]) >= 1000 for r in val)


def test_hub_own_splits_test_cap_and_hidden_labels(tmp_path):
    import datasets

    d = _parquet_dir(tmp_path, {"train": (60, 0), "validation": (20, 500)})
    hidden = _nli_rows(40, 900)
    hidden["label"] = [-1] * 20 + [1] * 20  # half the test labels hidden (GLUE style)
    datasets.Dataset.from_dict(hidden).to_parquet(str(d / "test.parquet"))
    meta = prepare_task(_hub_spec(d), validate_config(make_config(test_max=15)), tmp_path / "out")
    assert meta["sizes"] == {"train": 60, "validation": 20, "test": 15}
    assert meta["split_rule"] == "own splits" and meta["dropped_unlabelled"] == 20


def test_hub_save_to_disk_class_label_names(tmp_path):
    import datasets

    feats = datasets.Features({"text": datasets.Value("string"),
                               "label": datasets.ClassLabel(names=["card_arrival", "age_limit"])})
    dd = datasets.DatasetDict({
        "train": datasets.Dataset.from_dict(
            {"text": [f"t{i}" for i in range(50)], "label": [i % 2 for i in range(50)]}, features=feats),
        "test": datasets.Dataset.from_dict({"text": ["q1", "q2"], "label": [0, 1]}, features=feats)})
    dd.save_to_disk(str(tmp_path / "disk"))
    base = get_task("banking77")
    spec = TaskSpec(**{**base.__dict__, "hub_id": str(tmp_path / "disk")})
    meta = prepare_task(spec, validate_config(make_config()), tmp_path / "out")
    assert meta["labels"] == ["card_arrival", "age_limit"]
    assert meta["sizes"] == {"train": 45, "validation": 5, "test": 2}
    test = read_jsonl(tmp_path / "out" / "test.jsonl")
    assert sorted(r["answer"] for r in test) == ["age_limit", "card_arrival"]


def test_hub_missing_dataset_offline(tmp_path, monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'org/ds' on the Hub (OfflineModeIsEnabled)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    spec = _hub_spec("org/ds")
    with pytest.raises(DataeffError) as err:
        prepare_task(spec, validate_config(make_config()), tmp_path / "out")
    msg = str(err.value)
    assert "\n" not in msg and "cannot load dataset org/ds" in msg and "HF_HOME" in msg
    assert not (tmp_path / "out").exists()


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
    csv_path.write_text("text,gold\n" + "".join(f"\"q{i}, really?\",{'yes' if i % 2 else 'no'}\n"
                                                for i in range(40)))
    cfg = user_config(csv_path, prompt_field="text", label_field="gold")
    meta = prepare_task(get_task("mine", cfg), cfg, tmp_path / "out2")
    assert meta["sizes"]["train"] == 32
    assert read_jsonl(tmp_path / "out2" / "test.jsonl")[0]["prompt"].endswith(", really?")


@pytest.mark.parametrize("case, pattern", [
    ("missing", r"file not found"),
    ("empty", r"file is empty"),
    ("latin1", r"line 2: not valid UTF-8"),
    ("badjson", r"line 3: not valid JSON"),
    ("noprompt", r"line 2: missing prompt field 'prompt'"),
    ("emptyprompt", r"field 'prompt': line 1: prompt is empty"),
    ("nolabel", r"field 'label': line 4: missing label field 'label'"),
    ("badlabel", r"field 'label': line 5: label 'maybe' is not one of \['yes', 'no'\]"),
    ("toofew", r"has 12 examples but the largest budget 16 needs at least 20"),
])
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
    assert main(["prepare-task", "--config", str(cfg_path), "--task", "object_counting",
                 "--out-dir", str(out)]) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["task"] == "object_counting" and meta["sizes"]["train"] == 160
    assert main(["prepare-task", "--config", str(cfg_path), "--task", "nope", "--out-dir", str(out)]) == 2
    assert "unknown task 'nope'" in capsys.readouterr().err


def test_prompts_dir_has_one_template_per_task():
    prompts = {p.stem for p in (registry.REPO_ROOT / "prompts").glob("*.txt")}
    assert prompts == set(METHOD_TASKS)
    assert Path(registry.REPO_ROOT / "prompts" / "generated" / "mnist_ascii.txt").read_text().count("{image}") == 1
