"""User-defined tasks: a JSONL or CSV file of prompts and labels named in ``user_tasks``.

A config entry::

    user_tasks:
      my_task: {file: data/my_task.jsonl, prompt_field: text, label_field: label,
                labels: [yes, no], system: null, ceiling: 0.9, metric: accuracy}

Every problem with the file is reported as one line naming the file, the line and the field
(missing or empty file, non-UTF-8, malformed JSONL line, missing or empty prompt/label, a
label outside ``labels``, too few examples for the largest budget), before anything is
written. The file is split 80/10/10 into train/validation/test (docs/METHOD.md section 4).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dataeff.core.errors import DataeffError
from dataeff.core.io import read_table
from dataeff.core.settings import data_settings
from dataeff.tasks.registry import TaskSpec


def split_sizes(n: int, test_max: int) -> tuple[int, int, int]:
    """(train, validation, test) sizes the 80/10/10 rule gives ``n`` examples."""
    n_test = min(round(0.1 * n), test_max)
    n_val = round(0.1 * n)
    return n - n_test - n_val, n_val, n_test


def min_examples(largest_budget: int, test_max: int) -> int:
    """Smallest file size whose 80/10/10 split covers ``largest_budget`` with non-empty
    validation and test sets."""
    n = max(3, largest_budget)
    while True:
        train, val, test = split_sizes(n, test_max)
        if train >= largest_budget and val >= 1 and test >= 1:
            return n
        n += 1


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def read_user_rows(spec: TaskSpec, config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Validated records of a user task file, each with ``_id``, the prompt and the label."""
    if not spec.file:
        raise DataeffError(
            f"user task '{spec.name}' has no file",
            field=f"user_tasks.{spec.name}.file",
            fix="give the path of a .jsonl or .csv file",
        )
    path = spec.file
    rows = read_table(path)
    prompt_field = spec.input_fields[0]
    label_field = spec.label_field
    labels = list(spec.labels or [])
    out = []
    for row in rows:
        line = row.get("_line", "?")
        prompt = row.get(prompt_field)
        if prompt_field not in row or prompt is None:
            raise DataeffError(
                f"line {line}: missing prompt field '{prompt_field}'",
                file=path,
                field=prompt_field,
                fix=f"give every example a '{prompt_field}' (or set user_tasks.{spec.name}.prompt_field)",
            )
        if not isinstance(prompt, str) or not prompt.strip():
            raise DataeffError(
                f"line {line}: prompt is empty or not text",
                file=path,
                field=prompt_field,
                fix="give every example a non-empty prompt string",
            )
        if label_field not in row or _text(row.get(label_field)) == "":
            raise DataeffError(
                f"line {line}: missing label field '{label_field}'",
                file=path,
                field=label_field,
                fix=f"give every example a '{label_field}' (or set user_tasks.{spec.name}.label_field)",
            )
        label = _text(row[label_field])
        if labels and label not in labels:
            raise DataeffError(
                f"line {line}: label {label!r} is not one of {labels}",
                file=path,
                field=label_field,
                fix=f"fix the label or add it to user_tasks.{spec.name}.labels",
            )
        rid = _text(row.get("id")) or f"{spec.name}-L{line}"
        out.append({"_id": rid, prompt_field: prompt, label_field: label})
    budgets = list(config.get("budgets") or [])
    if budgets:
        test_max = int(data_settings(config).test_max)  # the schema's default if unset
        need = min_examples(max(budgets), test_max)
        if len(out) < need:
            raise DataeffError(
                f"has {len(out)} examples but the largest budget {max(budgets)} needs at "
                f"least {need} (split 80/10/10 into train/validation/test)",
                file=path,
                field="budgets",
                fix="add examples or lower the largest budget",
            )
    ids = [r["_id"] for r in out]
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        dup = next(i for i in ids if i in seen or seen.add(i))
        raise DataeffError(f"duplicate id {dup!r}", file=path, field="id", fix="make every id unique")
    return out
