"""Prepare a task: raw examples -> rendered prompts -> train/validation/test JSONL + meta.json.

Splits follow docs/METHOD.md section 4: the dataset's own splits where given; with no validation
and no test split, 80/10/10 of train; with a test but no validation split, validation = 10% of
train (20% for the tasks whose ``validation_fraction`` says so); with validation but no test,
test = 10% of train; test capped at ``data.test_max``.
``train.jsonl`` is shuffled once with ``data.split_seed`` so that the budget-n training set
is its first n rows (nested budgets, :func:`budget_subset`), and ``validation.jsonl`` likewise
(:func:`validation_subset`). The output directory is written atomically as a whole, so an
error never leaves a partial task behind.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import os
import random
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from dataeff.core.errors import DataeffError
from dataeff.core.io import atomic_path, strip_private
from dataeff.core.provenance import file_hash, provenance, stable_hash
from dataeff.core.settings import DataSettings, data_settings
from dataeff.tasks.bbh import config_records, paper_records
from dataeff.tasks.bigbench import bigbench_records
from dataeff.tasks.hub import load_hub
from dataeff.tasks.registry import TaskSpec, carved_train_size
from dataeff.tasks.user import read_user_rows

log = logging.getLogger("dataeff")

SPLITS = ("train", "validation", "test")
_NO_LABEL = object()


# --------------------------------------------------------------------------- rendering


@cache
def _template_text(path: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise DataeffError("prompt template not found", file=str(p), fix="restore prompts/ from the repository")
    return p.read_text(encoding="utf-8")


def _safe_name(key: str) -> str:
    """Field name usable in a ``str.format`` template (``question-X`` -> ``question_X``)."""
    return "".join(c if c.isalnum() or c == "_" else "_" for c in key)


def format_options(spec: TaskSpec, record: Mapping[str, Any]) -> str:
    """``Options:`` then ``(A) text`` lines from the spec's ``options_fields``."""
    fields = spec.options_fields
    if len(fields) == 1:
        value = record.get(fields[0])
        if isinstance(value, Mapping):  # commonsense_qa: {"label": [...], "text": [...]}
            value = value.get("text")
        options = list(value or [])
    else:
        options = [record.get(f) for f in fields]
    lines = [f"({chr(ord('A') + i)}) {'' if o is None else str(o).strip()}" for i, o in enumerate(options)]
    return "Options:\n" + "\n".join(lines)


def answer_text(spec: TaskSpec, raw: Any, class_names: Sequence[str] | None = None) -> str | None:
    """Gold answer text of a raw label, or ``None`` when the example has no usable label.

    Order: the spec's ``label_map``; the dataset's ``ClassLabel`` names; ``str(raw)``. Hidden
    labels (``None``, ``""``, ``-1``) and values outside ``label_map`` give ``None``.
    """
    if isinstance(raw, list | tuple):  # BIG-bench targets: the first one is the answer
        raw = raw[0] if raw else None
    if raw is None or raw == "" or (isinstance(raw, int) and not isinstance(raw, bool) and raw < 0):
        return None
    if spec.label_map:
        if raw in spec.label_map:
            return spec.label_map[raw]
        if isinstance(raw, str) and raw.strip().lstrip("-").isdigit() and int(raw) in spec.label_map:
            return spec.label_map[int(raw)]
        if str(raw) in spec.label_map:
            return spec.label_map[str(raw)]
        return None
    if class_names and isinstance(raw, int) and not isinstance(raw, bool):
        return class_names[raw] if raw < len(class_names) else None
    text = str(raw).strip()
    if spec.labels is not None and text not in spec.labels:
        return None
    return text or None


def field_value(value: Any) -> str:
    """One field of the user turn as text: strings as they are (stripped), lists and mappings
    (answer choices) as JSON, as the authors' instructions describe them."""
    if value is None:
        return ""
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, ensure_ascii=False)
    return str(value).strip()


def input_line(spec: TaskSpec, record: Mapping[str, Any]) -> str:
    """The user turn of an instruction-style task (docs/METHOD.md section 4): the value alone for
    an unlabelled single field, else ``LABEL - value [SEP] LABEL - value ...``."""
    labels = spec.field_labels or ("",) * len(spec.input_fields)
    missing = [f for f in spec.input_fields if f not in record]
    if missing:
        raise DataeffError(
            f"records have no field '{missing[0]}' (fields: "
            f"{', '.join(sorted(k for k in record if not k.startswith('_')))})",
            field=missing[0],
            fix="fix the task's input fields",
        )
    parts = [
        f"{lab} - {field_value(record[f])}" if lab else field_value(record[f])
        for lab, f in zip(labels, spec.input_fields, strict=True)
    ]
    return " [SEP] ".join(parts)


def instruction(spec: TaskSpec) -> str:
    """The task instruction (the prompt file of an instruction-style task), stripped."""
    return _template_text(str(spec.template_path)).strip()


def _prompt(spec: TaskSpec, record: Mapping[str, Any]) -> str:
    if spec.template is None:  # user task: the prompt field is the prompt
        return str(record[spec.input_fields[0]])
    if spec.prompt_style == "instruction":
        return input_line(spec, record)
    fields: dict[str, Any] = {}
    for key, value in record.items():
        fields[key] = value
        fields[_safe_name(key)] = value
    if spec.options_fields:
        fields["options"] = format_options(spec, record)
    template = _template_text(str(spec.template_path))
    try:
        return template.format(**fields).strip()
    except KeyError as exc:
        raise DataeffError(
            f"template uses {{{exc.args[0]}}} but the record has no such field (fields: {', '.join(sorted(record))})",
            file=str(spec.template_path),
            field=str(exc.args[0]),
            fix="fix the template or the task's input fields",
        ) from None


def render(spec: TaskSpec, record: Mapping[str, Any], class_names: Sequence[str] | None = None) -> dict[str, Any]:
    """Prepared row ``{"id", "prompt", "answer"[, "system"]}`` of one raw record.

    ``prompt`` is the user turn; ``system`` the task instruction (instruction-style tasks, or a
    user task's ``system``), placed by :func:`dataeff.modeling.chat.messages_for`. The id is the
    record's ``_id`` (set by :func:`prepare_task`), else its ``id``, else a hash of its content.
    A record without a usable gold label raises :class:`DataeffError`.
    """
    answer = answer_text(spec, record.get(spec.label_field), class_names)
    if answer is None:
        raise DataeffError(
            f"no usable gold label {record.get(spec.label_field)!r}",
            field=spec.label_field,
            fix=f"labels must be one of {list(spec.labels or spec.label_map.values())}",
        )
    prompt = _prompt(spec, record)
    rid = record.get("_id") or record.get("id") or stable_hash(strip_private(dict(record)))
    row: dict[str, Any] = {"id": str(rid), "prompt": prompt, "answer": answer}
    if record.get("n_options"):  # the example lists its own options: the fair chance floor uses it
        row["n_options"] = int(record["n_options"])
    system = instruction(spec) if spec.prompt_style == "instruction" and spec.template else spec.system
    if system:
        row["system"] = system
    return row


# --------------------------------------------------------------------------- budgets


def budget_subset(rows: Sequence[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """The budget-``n`` training set: the first ``n`` rows of the shuffled ``train.jsonl``."""
    return list(rows[: max(0, int(n))])


def validation_size(n: int, fraction: float, pool: int | None = None) -> int:
    """Validation rows of budget ``n``: ``ceil(fraction * n)``, at least 1, at most ``pool``."""
    k = max(1, math.ceil(fraction * n))
    return min(k, pool) if pool is not None else k


def validation_subset(rows: Sequence[dict[str, Any]], n: int, fraction: float) -> list[dict[str, Any]]:
    """Validation rows for budget ``n``: the first :func:`validation_size` rows."""
    return list(rows[: validation_size(n, fraction)])


def check_budget(train_size: int, budgets: Sequence[int]) -> dict[int, int]:
    """Actual training-set size of each budget (``min(budget, train_size)``).

    A budget larger than the training pool is not an error (the fine-tune records the actual
    size), but it is logged once, clearly, so a too-small pool is noticed.
    """
    actual = {int(b): min(int(b), int(train_size)) for b in budgets}
    too_big = sorted(b for b in actual if b > train_size)
    if too_big:
        log.warning(
            "budgets %s exceed the %d training examples; they will train on all %d", too_big, train_size, train_size
        )
    return actual


# --------------------------------------------------------------------------- splitting


def _rng(seed: int, purpose: str) -> random.Random:
    return random.Random(f"{seed}:{purpose}")


def split_rows(
    train: list[dict[str, Any]],
    validation: list[dict[str, Any]] | None,
    test: list[dict[str, Any]] | None,
    seed: int,
    test_max: int,
    validation_fraction: float = 0.1,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], str]:
    """Apply docs/METHOD.md section 4 (see module docstring); returns (train, validation, test, rule).

    The sizes are :func:`dataeff.tasks.registry.carved_train_size`'s, so the workflow's
    recorded pool sizes and the prepared tasks agree."""
    train = list(train)
    _rng(seed, "carve").shuffle(train)
    n = len(train)
    left = carved_train_size(n, validation is not None, test is not None, test_max, validation_fraction)
    if validation is None and test is None:
        n_test = min(round(0.1 * n), test_max)
        test, validation, train = train[:n_test], train[n_test : n - left], train[n - left :]
        rule = "80/10/10 of train"
    elif validation is None:
        validation, train = train[: n - left], train[n - left :]
        rule = f"validation = {round(100 * validation_fraction)}% of train; own test"
    elif test is None:
        test, train = train[: n - left], train[n - left :]
        rule = "test = 10% of train; own validation"
    else:
        rule = "own splits"
    validation, test = list(validation), list(test)
    _rng(seed, "validation").shuffle(validation)
    _rng(seed, "test").shuffle(test)
    test = test[:test_max]
    _rng(seed, "train").shuffle(train)
    return train, validation, test, rule


# --------------------------------------------------------------------------- sources


# --------------------------------------------------------------------------- task sources


@dataclass
class SourceRows:
    """What a task source yields, the one shape :func:`prepare_task` renders, splits and writes.

    ``splits`` maps each split role to its raw records, ``None`` where the source has no such
    split (it is then carved from train). ``used`` names the source split behind each role
    (``None``: carved), ``class_names`` a dataset's label names (Hub class labels), and ``meta``
    the source's own record for ``meta.json`` (``hub_load``, ``bigbench``).
    """

    splits: dict[str, list[dict[str, Any]] | None]
    used: dict[str, str | None]
    class_names: list[str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def _train_only(records: list[dict[str, Any]], spec: TaskSpec, **meta: Any) -> SourceRows:
    return SourceRows({"train": records, "validation": None, "test": None}, dict(spec.splits), meta=meta)


def _generated_source(spec: TaskSpec, config: Mapping[str, Any], data: DataSettings) -> SourceRows:
    """Seeded generators written for the tests (``dataeff.tasks.generators``)."""
    module = importlib.import_module(spec.generator or f"dataeff.tasks.generators.{spec.name}")
    records = module.generate(int(data.generated_examples), int(data.split_seed), data.difficulty)
    for i, rec in enumerate(records):
        rec["_id"] = f"{spec.name}-{i:06d}"
    return _train_only(records, spec)


def _hub_source(spec: TaskSpec, config: Mapping[str, Any], data: DataSettings) -> SourceRows:
    """A Hub dataset (or a local copy of one), its own splits where it has them."""
    ds, load = load_hub(spec, data)
    available = list(ds.keys()) if hasattr(ds, "keys") else ["train"]
    used: dict[str, str | None] = {}
    out: dict[str, list[dict[str, Any]] | None] = {}
    class_names: list[str] | None = None
    for role in SPLITS:
        name = spec.splits.get(role)
        if name is not None and name not in available:
            if role == "train":
                raise DataeffError(
                    f"dataset {spec.hub_id} has no split '{name}' (has {', '.join(available)})",
                    field="splits",
                    fix="fix the task's split names in the registry",
                )
            log.warning("%s: dataset has no '%s' split; carving %s from train", spec.name, name, role)
            name = None
        used[role] = name
        if name is None:
            out[role] = None
            continue
        split = ds[name]
        feature = split.features.get(spec.label_field) if hasattr(split, "features") else None
        if class_names is None and feature is not None and hasattr(feature, "names"):
            class_names = list(feature.names)
        rows = split.to_list()
        for i, row in enumerate(rows):
            row["_id"] = f"{spec.name}-{name}-{i}"
        out[role] = _without_excluded(spec, rows)
    return SourceRows(out, used, class_names, {"hub_load": load})


def _user_source(spec: TaskSpec, config: Mapping[str, Any], data: DataSettings) -> SourceRows:
    """A user's own labelled JSONL/CSV file (``user_tasks``)."""

    return _train_only(read_user_rows(spec, config), spec)


def _bigbench_source(spec: TaskSpec, config: Mapping[str, Any], data: DataSettings) -> SourceRows:
    """A BIG-bench task from the pinned PyPI sdist (``dataeff.tasks.bigbench``)."""

    records, bigbench_meta = bigbench_records(spec, data)
    return _train_only(records, spec, bigbench=bigbench_meta)


def _bbh_source(spec: TaskSpec, config: Mapping[str, Any], data: DataSettings) -> SourceRows:
    """A BIG-Bench Hard task shipped in ``data/bbh`` (``dataeff.tasks.bbh``), sha256 checked."""
    bbh = dict(spec.bbh or {})
    if bbh.get("paper"):
        records, meta = paper_records(str(bbh["task"]), data)
        return _train_only(records, spec, bbh=meta)
    train, test, meta = config_records(bbh, data)
    return SourceRows({"train": train, "validation": None, "test": test}, dict(spec.splits), meta={"bbh": meta})


#: A task source: (spec, config, the config's ``data`` settings) -> its records.
TaskSource = Callable[[TaskSpec, Mapping[str, Any], DataSettings], SourceRows]

#: Every task source by the name a :class:`TaskSpec` gives in ``source``.
SOURCES: dict[str, TaskSource] = {
    "generated": _generated_source,
    "hub": _hub_source,
    "user": _user_source,
    "bigbench": _bigbench_source,
    "bbh": _bbh_source,
}


def load_source(spec: TaskSpec, config: Mapping[str, Any], data: DataSettings) -> SourceRows:
    """The records of ``spec`` from its source."""
    source = SOURCES.get(spec.source)
    if source is None:
        raise DataeffError(
            f"unknown task source '{spec.source}'", field="source", fix=f"use one of {', '.join(SOURCES)}"
        )
    return source(spec, config, data)


def _without_excluded(spec: TaskSpec, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows whose columns hold none of the spec's excluded values (MMLU's two subjects)."""
    for column, values in spec.exclude.items():
        rows = [r for r in rows if r.get(column) not in values]
    return rows


def _render_all(
    spec: TaskSpec, rows: list[dict[str, Any]], class_names: Sequence[str] | None
) -> tuple[list[dict[str, Any]], int]:
    """Rendered rows and the number dropped for lacking a usable gold label."""
    out, dropped = [], 0
    for rec in rows:
        if spec.label_field not in rec:
            raise DataeffError(
                f"records have no label field '{spec.label_field}' "
                f"(fields: {', '.join(sorted(k for k in rec if not k.startswith('_')))})",
                field="label_field",
                fix="fix the task's label field",
            )
        if answer_text(spec, rec.get(spec.label_field), class_names) is None:
            dropped += 1
            continue
        out.append(render(spec, rec, class_names))
    return out, dropped


# --------------------------------------------------------------------------- main entry


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_task_dir(
    out: Path, splits: Mapping[str, list[dict[str, Any]]], describe: Callable[[str], dict[str, Any]]
) -> dict[str, Any]:
    """The one writer of a prepared task: ``{train,validation,test}.jsonl`` and ``meta.json``
    (``describe(data_hash)``), the whole directory at once (atomic rename) or not at all."""
    with atomic_path(out) as tmp:
        tmp.mkdir(parents=True)
        for role in SPLITS:
            _write_jsonl(tmp / f"{role}.jsonl", splits[role])
        meta = describe(file_hash(*(tmp / f"{r}.jsonl" for r in SPLITS)))
        (tmp / "meta.json").write_text(
            json.dumps(meta, indent=2, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8"
        )
    return meta


def _render_splits(spec: TaskSpec, raw: Any) -> tuple[dict[str, list[dict[str, Any]] | None], dict[str, Any], int]:
    """Every split of the source rendered as prompt/answer rows; a validation or test split
    with no labelled example is dropped (it is then carved from train). Returns the rows per
    split, the source splits used, and how many unlabelled rows were dropped."""
    rendered: dict[str, list[dict[str, Any]] | None] = {}
    used, dropped = dict(raw.used), 0
    for role in SPLITS:
        rows = raw.splits.get(role)
        if rows is None:
            rendered[role] = None
            continue
        rendered[role], d = _render_all(spec, rows, raw.class_names)
        dropped += d
        if role != "train" and not rendered[role]:
            log.warning("%s: the %s split has no labelled examples; carving it from train", spec.name, role)
            rendered[role] = None
            used[role] = None
    if not rendered["train"]:
        raise DataeffError(
            f"task '{spec.name}' has no labelled training examples",
            field=spec.label_field,
            fix="check the label field and label map",
        )
    return rendered, used, dropped


def _answer_space(spec: TaskSpec, class_names: Any, rows: list[dict[str, Any]]) -> list[str] | None:
    """The task's answers: the spec's, else the source's class names, else (generated tasks)
    every answer of the rows, shortest first; None for an open answer space."""
    if spec.labels is not None:
        return list(spec.labels)
    if class_names:
        return list(class_names)
    if spec.source == "generated":
        return sorted({r["answer"] for r in rows}, key=lambda s: (len(s), s))
    return None


def prepare_task(spec: TaskSpec, config: Mapping[str, Any], out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Write ``{out_dir}/{train,validation,test}.jsonl`` and ``meta.json``; return the meta.

    The whole directory appears at once (atomic rename) or not at all.
    """
    data = data_settings(config)  # schema defaults for keys a partial config leaves out
    seed = int(data.split_seed)
    raw = load_source(spec, config, data)
    rendered, used, dropped = _render_splits(spec, raw)
    train, validation, test, rule = split_rows(
        rendered["train"] or [],
        rendered["validation"],
        rendered["test"],
        seed,
        int(data.test_max),
        spec.validation_fraction,
    )
    budgets = list(config.get("budgets") or [])
    actual = check_budget(len(train), budgets) if budgets else {}
    labels = _answer_space(spec, raw.class_names, train + validation + test)
    generated = spec.source == "generated"

    def describe(data_hash: str) -> dict[str, Any]:
        return {
            "task": spec.name,
            "source": spec.source,
            "hub_id": spec.hub_id,
            "hub_config": spec.hub_config,
            "hub_revision": spec.revision,
            "hub_data_files": dict(spec.data_files) if spec.data_files else None,
            "hub_load": raw.meta.get("hub_load"),
            "excluded": {k: list(v) for k, v in spec.exclude.items()} or None,
            "prompt_style": spec.prompt_style,
            "field_labels": list(spec.field_labels) or None,
            "splits_used": used,
            "split_rule": rule,
            "sizes": {"train": len(train), "validation": len(validation), "test": len(test)},
            "dropped_unlabelled": dropped,
            "split_seed": seed,
            "difficulty": data.difficulty if generated else None,
            "generated_examples": int(data.generated_examples) if generated else None,
            "labels": labels,
            "metric": spec.metric,
            "ceiling": spec.ceiling,
            "template": spec.template,
            "template_hash": file_hash(spec.template_path) if spec.template_path else None,
            "system": instruction(spec) if spec.prompt_style == "instruction" and spec.template else spec.system,
            "budget_sizes": {str(b): n for b, n in actual.items()},
            "bigbench": raw.meta.get("bigbench"),
            "bbh": raw.meta.get("bbh"),
            "data_hash": data_hash,
            "provenance": provenance(config=dict(config), seed=seed, data_hash=data_hash),
        }

    out = Path(out_dir)
    meta = write_task_dir(out, {"train": train, "validation": validation, "test": test}, describe)
    print(
        f"prepared {spec.name}: train {len(train)}, validation {len(validation)}, test {len(test)} ({rule}) -> {out}",
        file=sys.stderr,
    )
    return meta
