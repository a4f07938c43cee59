"""BIG-Bench Hard tasks shipped with the repository (``data/bbh/``), read offline.

Why this exists: the BIG-bench task files the project used to read came from the PyPI sdist
``bigbench==1.0.0``, which the package index withdrew (2026-12-07). A set-up that depends on a
file a third party can take away is not reproducible, so the real task data the default, the
paper grid and the tests need now ships inside the repository. No copy of the BIG-bench sdist
survived, so that data is BIG-Bench Hard (Suzgun et al., 2022; MIT), 250 examples per task,
taken byte for byte from the public repository and gzip-compressed.

``data/bbh/PROVENANCE.json`` records, for every shipped file, where it came from (repository,
commit, path) and the sha256 of the upstream file. Every read checks the decompressed bytes
against that hash, so an altered or truncated file is refused with one line naming it and the
fix, never silently used.

A BBH example is ``{"input": str, "target": str}``. Multiple-choice tasks list their options
inside the input (``Options:`` then ``(A) ...`` lines) and answer with the letter in
parentheses; :func:`option_letters` reads them back, so each example's own number of options
is known (the fair chance floor needs it).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from dataeff.core.errors import DataeffError
from dataeff.core.settings import DataSettings

#: The shipped folder: ``<repository>/data/bbh``, reached through the package's resources (a link
#: in the source tree, a copy in a wheel, so the practitioner commands work outside the repository).
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "resources" / "bbh"
PROVENANCE = "PROVENANCE.json"
_RESTORE = "restore the shipped file with `git checkout -- data/bbh` (or point data.bbh_dir at an intact copy)"
_OPTION = re.compile(r"^\(([A-Z])\) ", re.MULTILINE)
#: BBH's sports_understanding wraps each BIG-bench sentence in this question.
_SPORTS = re.compile(r'^Is the following sentence plausible\? "(.*)"$', re.DOTALL)


def bbh_dir(data: DataSettings | None = None) -> Path:
    """The folder holding the BBH files: ``data.bbh_dir`` if set, else the shipped one."""
    value = data.bbh_dir if data is not None else None
    return Path(value) if value else SHIPPED_DIR


@lru_cache(maxsize=8)
def _provenance(folder: Path) -> dict[str, Any]:
    path = folder / PROVENANCE
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataeffError("BBH provenance file missing", file=str(path), fix=_RESTORE) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataeffError(f"BBH provenance file unreadable: {exc}", file=str(path), fix=_RESTORE) from None
    if not isinstance(info, dict) or not isinstance(info.get("files"), dict):
        raise DataeffError("BBH provenance file has no 'files' table", file=str(path), field="files", fix=_RESTORE)
    return info


def shipped_tasks(data: DataSettings | None = None) -> list[str]:
    """Names of the BBH tasks in the data folder, from its provenance file."""
    return _shipped(bbh_dir(data))


def _shipped(folder: Path) -> list[str]:
    return sorted(name.removesuffix(".json.gz") for name in _provenance(folder)["files"])


def task_entry(task: str, data: DataSettings | None = None) -> dict[str, Any]:
    """The provenance record of ``task`` (upstream path, sha256, example count)."""
    return _entry(task, bbh_dir(data))


def _entry(task: str, folder: Path) -> dict[str, Any]:
    entry = _provenance(folder)["files"].get(f"{task}.json.gz")
    if entry is None:
        raise DataeffError(
            f"BBH task '{task}' is not in the data folder",
            file=str(folder / PROVENANCE),
            field="task",
            fix=f"use one of {', '.join(_shipped(folder))}, or add its file with its sha256 to the provenance",
        )
    return entry


def read_bbh(task: str, data: DataSettings | None = None) -> list[dict[str, str]]:
    """The examples of BBH task ``task``, checked against the recorded sha256.

    Each row is ``{"id", "input", "target"}``; ``id`` is ``bbh/<task>:<index in the file>``.
    Examples whose input repeats an earlier one are dropped (sports_understanding has two such),
    so no input can land in both the training and the test split.
    """
    return _read(task, bbh_dir(data))


def _read(task: str, folder: Path) -> list[dict[str, str]]:
    entry = _entry(task, folder)
    path = folder / f"{task}.json.gz"
    try:
        raw = gzip.decompress(path.read_bytes())
    except FileNotFoundError:
        raise DataeffError("BBH task file missing", file=str(path), fix=_RESTORE) from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataeffError(f"BBH task file is not valid gzip ({exc})", file=str(path), fix=_RESTORE) from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != entry.get("sha256"):
        raise DataeffError(
            f"sha256 {digest[:16]}… differs from the recorded {str(entry.get('sha256'))[:16]}…",
            file=str(path),
            fix=_RESTORE,
        )
    examples = json.loads(raw)["examples"]
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, ex in enumerate(examples):
        if ex["input"] in seen:
            continue
        seen.add(ex["input"])
        rows.append({"id": f"bbh/{task}:{i}", "input": ex["input"], "target": str(ex["target"]).strip()})
    return rows


def usable_examples(task: str, data: DataSettings | None = None) -> int:
    """How many examples of ``task`` :func:`read_bbh` yields (the workflow sizes pools from it)."""
    return _usable(task, bbh_dir(data))


@lru_cache(maxsize=64)
def _usable(task: str, folder: Path) -> int:
    return len(_read(task, folder))


def option_letters(text: str) -> list[str]:
    """The option labels a BBH input lists (``["(A)", "(B)"]``), empty when it lists none."""
    return [f"({m})" for m in _OPTION.findall(text)]


def answer_format(rows: list[dict[str, str]]) -> str:
    """How the instruction asks for the answer, read off the task's own targets."""
    targets = sorted({r["target"] for r in rows})
    if all(option_letters(r["input"]) and r["target"] in option_letters(r["input"]) for r in rows):
        return "Reply with the letter of the correct option in parentheses, such as (A), and nothing else."
    if len(targets) <= 4:
        return f"Reply with one of: {', '.join(targets)}; nothing else."
    return "Reply with the answer only, without explanation."


def _title(task: str) -> str:
    return task.replace("_", " ").capitalize()


def config_records(
    entry: Mapping[str, Any], data: DataSettings
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """Train and test records of a ``bbh_tasks`` config entry, and its provenance for meta.json.

    The instruction is the entry's own (``instruction``) or ``"<Task name>."``, followed by the
    answer format the task's targets call for. A seeded shuffle (``data.split_seed``) puts
    ``entry.test`` examples in the test split; the rest are the training pool, from which the
    workflow carves validation (``validation_fraction``).
    """
    task = str(entry["task"])
    rows = read_bbh(task, data)
    head = str(entry.get("instruction") or f"{_title(task)}.").strip()
    instruction = f"{head} {answer_format(rows)}"
    records = [
        {
            "_id": r["id"],
            "instruction": instruction,
            "body": r["input"].strip(),
            "label": r["target"],
            "n_options": len(option_letters(r["input"])),
        }
        for r in rows
    ]
    seed = int(data.split_seed)
    random.Random(f"{seed}:bbh:{task}").shuffle(records)
    n_test = int(entry.get("test") or 50)
    if n_test >= len(records):
        raise DataeffError(
            f"test size {n_test} leaves no training example of the {len(records)} in BBH '{task}'",
            field=f"bbh_tasks.{task}.test",
            fix="use a smaller test size",
        )
    meta = _meta(task, data, len(rows), seed)
    return records[n_test:], records[:n_test], meta


def paper_records(name: str, data: DataSettings) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Records of a paper-grid task posed as the authors posed it, from its BBH file.

    Only sports_understanding is served this way (its BIG-bench JSON went with the sdist and it
    has no generator): BBH's sentence in the authors' ``input`` field, 1 for plausible (BBH
    ``yes``), 0 for implausible.
    """
    if name != "sports_understanding":
        raise DataeffError(
            f"no BBH posing of paper task '{name}'",
            field="tasks",
            fix="only sports_understanding comes from BBH; the others come from generators",
        )
    rows = read_bbh(name, data)
    records = []
    for r in rows:
        match = _SPORTS.match(r["input"].strip())
        if match is None or r["target"] not in ("yes", "no"):
            raise DataeffError(
                f"unexpected BBH sports_understanding example {r['id']}",
                file=str(bbh_dir(data) / f"{name}.json.gz"),
                fix=_RESTORE,
            )
        records.append({"_id": r["id"], "input": match.group(1), "label": "1" if r["target"] == "yes" else "0"})
    return records, _meta(name, data, len(rows), int(data.split_seed))


def _meta(task: str, data: DataSettings, usable: int, seed: int) -> dict[str, Any]:
    folder = bbh_dir(data)
    info = _provenance(folder)
    entry = task_entry(task, data)
    return {
        "task": task,
        "repository": info.get("repository"),
        "commit": info.get("commit"),
        "upstream_path": entry.get("upstream_path"),
        "sha256": entry.get("sha256"),
        "examples": entry.get("examples"),
        "examples_used": usable,
        "seed": seed,
    }
