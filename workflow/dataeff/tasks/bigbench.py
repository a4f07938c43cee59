"""BIG-bench JSON tasks from a user's own copy: a google/BIG-bench checkout or the 1.0.0 sdist.

Nothing the project needs by default comes from here. The PyPI sdist ``bigbench==1.0.0`` that
the project used to download was withdrawn from the package index (2026-12-07); the real task
data the default, the paper grid and the tests use now ships in the repository
(:mod:`dataeff.tasks.bbh`, ``data/bbh``). This module serves users who still have BIG-bench:

* a git checkout of google/BIG-bench: ``data.bigbench_checkout`` names its root, and each task
  is read from ``<root>/bigbench/benchmark_tasks/<task>/`` (subtasks in subfolders);
* the sdist file: ``data.bigbench_sdist`` names it, and its sha256 must be the pinned
  ``data.bigbench_sha256`` (a changed file would silently change every task). The gzip is
  streamed once (``tarfile.open(path, "r|gz")``; ``getmember`` would index the whole archive)
  keeping only the wanted tasks' files, and each task directory is cached under
  ``data.bigbench_cache/<sha256[:16]>/<task>/`` with a ``MANIFEST.json`` of file sha256s, so
  later calls read a few files, verify their hashes and never touch the sdist.

With neither set, asking for a BIG-bench task is a one-line error that names both keys.

:func:`load_bigbench_task` turns a JSON task into rows ``{"id", "input", "target"[, "options"]}``:
multiple-choice examples with exactly one correct option (``target`` = that option's text,
``options`` = all option texts in the file's order) and exact-match examples whose first target
has at most ``data.bigbench_max_target_words`` words. Other examples are dropped (and counted);
a task with no usable example is rejected with one line.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import random
import re
import tarfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataeff.core.errors import DataeffError
from dataeff.core.io import atomic_path
from dataeff.core.settings import DataSettings
from dataeff.tasks.generators import bigbench_rules as gen
from dataeff.tasks.registry import BIGBENCH_PAPER

log = logging.getLogger("dataeff")

#: Members under ``<anything>/bigbench/benchmark_tasks/``; group 1 is the path below it.
_MEMBER = re.compile(r"^[^/]+/bigbench/benchmark_tasks/(.+)$")
#: Files kept from a task directory (depth 1) or a subtask directory (depth 2).
_KEPT = {"task.json", "vocab.json", "task.py", "generate_task.py"}
_NAME = re.compile(r"^[A-Za-z0-9_]+$")
MANIFEST = "MANIFEST.json"
#: Keywords that mark a task as not (only) English.
NON_ENGLISH_KEYWORDS = frozenset({"non-English", "multilingual", "translation", "low-resource language"})


@dataclass(frozen=True)
class BigbenchSource:
    """Where a user's BIG-bench copy is: a checkout root, or the sdist (pinned sha256) and the
    folder its extracted tasks are cached in. Neither is needed by anything dataeff ships."""

    sdist: Path | None
    sha256: str
    cache_dir: Path
    max_target_words: int
    checkout: Path | None = None

    @classmethod
    def from_data(cls, data: DataSettings) -> BigbenchSource:
        """The source described by a config's ``data`` settings."""
        sdist, checkout = data.bigbench_sdist, data.bigbench_checkout
        return cls(
            Path(sdist) if sdist else None,
            str(data.bigbench_sha256).lower(),
            Path(data.bigbench_cache),
            int(data.bigbench_max_target_words),
            Path(checkout) if checkout else None,
        )

    @property
    def task_root(self) -> Path:
        """Cache directory of this sdist version (one per sha256)."""
        return self.cache_dir / self.sha256[:16]


# --------------------------------------------------------------------------- sdist and cache


def sha256_of(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_VERIFIED: dict[tuple[str, int, int], str] = {}


#: What a user without a BIG-bench copy is told (the sdist was withdrawn from the index).
NOT_SHIPPED_FIX = (
    "set data.bigbench_checkout to the root of a google/BIG-bench checkout, or data.bigbench_sdist "
    "to your copy of bigbench-1.0.0.tar.gz (the package index withdrew it); the shipped BIG-Bench "
    "Hard tasks (bbh_tasks, data/bbh) need neither"
)


def verify_sdist(source: BigbenchSource) -> None:
    """Raise a one-line error unless the sdist exists and has the pinned sha256."""
    path = source.sdist
    if path is None:
        raise DataeffError("no BIG-bench copy is configured", field="data.bigbench_sdist", fix=NOT_SHIPPED_FIX)
    if not path.is_file():
        raise DataeffError(
            "BIG-bench sdist not found", file=str(path), field="data.bigbench_sdist", fix=NOT_SHIPPED_FIX
        )
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    digest = _VERIFIED.get(key) or sha256_of(path)
    if digest != source.sha256:
        raise DataeffError(
            f"sha256 {digest} differs from the pinned {source.sha256}",
            file=str(path),
            field="data.bigbench_sha256",
            fix="use the bigbench 1.0.0 sdist (the file is corrupt or another version)",
        )
    _VERIFIED[key] = digest


def _checkout_files(source: BigbenchSource, tasks: Iterable[str]) -> dict[str, dict[str, Path]]:
    """The kept files of each task in a google/BIG-bench checkout (read in place, no cache)."""
    assert source.checkout is not None
    root = source.checkout / "bigbench" / "benchmark_tasks"
    if not root.is_dir():
        raise DataeffError(
            "not a google/BIG-bench checkout (no bigbench/benchmark_tasks folder)",
            file=str(source.checkout),
            field="data.bigbench_checkout",
            fix="point data.bigbench_checkout at the repository's root folder",
        )
    out: dict[str, dict[str, Path]] = {}
    for task in tasks:
        folder = root / task
        if not folder.is_dir():
            names = sorted(p.name for p in root.iterdir() if p.is_dir())
            close = difflib.get_close_matches(task, names, n=3)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise DataeffError(
                f"no BIG-bench task named '{task}' in the checkout",
                file=str(root),
                field="task",
                fix=f"{hint}use a folder name under bigbench/benchmark_tasks",
            )
        files = {p.name: p for p in folder.iterdir() if p.is_file() and p.name in _KEPT}
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
            files |= {f"{sub.name}/{p.name}": p for p in sub.iterdir() if p.is_file() and p.name in _KEPT}
        out[task] = files
    return out


def file_hashes(files: Mapping[str, Path]) -> dict[str, str]:
    """sha256 of every file of a task (recorded in a prepared task's meta.json)."""
    return {rel: sha256_of(path) for rel, path in sorted(files.items())}


def _check_name(name: str, what: str = "task") -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise DataeffError(
            f"invalid BIG-bench {what} name {name!r}",
            field=what,
            fix="use the task's folder name under bigbench/benchmark_tasks, e.g. hyperbaton",
        )
    return name


def _cached(source: BigbenchSource, task: str) -> dict[str, Path] | None:
    """The cached files of ``task`` if its manifest exists and every file hash matches."""
    folder = source.task_root / task
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return None
    try:
        info = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if info.get("sdist_sha256") != source.sha256:
        return None
    files: dict[str, Path] = {}
    for rel, digest in (info.get("files") or {}).items():
        path = folder / rel
        if not path.is_file() or sha256_of(path) != digest:
            log.warning("BIG-bench cache of %s is damaged (%s); extracting it again", task, rel)
            return None
        files[rel] = path
    return files


def _write_cache(source: BigbenchSource, task: str, members: Mapping[str, bytes]) -> dict[str, Path]:
    existing = _cached(source, task)
    if existing is not None:  # another process (a parallel prepare_task job) wrote it meanwhile
        return existing
    folder = source.task_root / task
    with atomic_path(folder) as tmp:
        tmp.mkdir(parents=True)
        for rel, blob in members.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_bytes(blob)
        manifest = {
            "task": task,
            "sdist": source.sdist.name,
            "sdist_sha256": source.sha256,
            "files": {rel: hashlib.sha256(blob).hexdigest() for rel, blob in sorted(members.items())},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return {rel: folder / rel for rel in members}


def _stream(source: BigbenchSource, wanted: set[str] | None) -> tuple[dict[str, dict[str, bytes]], list[str]]:
    """One pass over the sdist: the kept files of the ``wanted`` task directories (all if None),
    and the names of the task directories passed on the way.

    Stops once every wanted directory has been seen and left (directories are contiguous).
    """
    passed: list[str] = []
    found: dict[str, dict[str, bytes]] = {}
    done: set[str] = set()
    current: str | None = None
    t0 = time.perf_counter()
    with tarfile.open(source.sdist, "r|gz") as tf:
        for member in tf:
            m = _MEMBER.match(member.name)
            if not m:
                continue
            rel = m.group(1)
            parts = rel.split("/")
            task = parts[0]
            if task != current:
                if current is not None and current in found:
                    done.add(current)
                current = task
                passed.append(task)
                if wanted is not None and wanted <= done:
                    break
            if wanted is not None and task not in wanted:
                continue
            kept = found.setdefault(task, {})
            if not member.isfile() or parts[-1] not in _KEPT or len(parts) > 3:
                continue
            handle = tf.extractfile(member)
            if handle is not None:
                kept["/".join(parts[1:])] = handle.read()
    log.info(
        "read %d BIG-bench task folders from %s in %.1f s", len(found), source.sdist.name, time.perf_counter() - t0
    )
    return found, passed


def task_files(tasks: Iterable[str], source: BigbenchSource) -> dict[str, dict[str, Path]]:
    """Cached files (``relative path -> Path``) of each task, extracting the missing ones.

    All missing tasks come out of one pass over the sdist; a task absent from it is a
    one-line error suggesting the closest task names.
    """
    names = sorted({_check_name(t) for t in tasks})
    if source.checkout is not None:
        return _checkout_files(source, names)
    out: dict[str, dict[str, Path]] = {}
    missing: set[str] = set()
    for task in names:
        files = _cached(source, task)
        if files is None:
            missing.add(task)
        else:
            out[task] = files
    if missing:
        verify_sdist(source)
        found, passed = _stream(source, missing)
        absent = sorted(missing - set(found))
        if absent:
            close = difflib.get_close_matches(absent[0], passed, n=3)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise DataeffError(
                f"no BIG-bench task named '{absent[0]}' in {source.sdist.name}",
                field="task",
                fix=f"{hint}use a folder name under bigbench/benchmark_tasks; "
                "docs/BIGBENCH.md lists the usable JSON tasks",
            )
        for task in sorted(found):
            out[task] = _write_cache(source, task, found[task])
    return out


# --------------------------------------------------------------------------- JSON tasks -> rows


def _subtask_files(task: str, files: Mapping[str, Path], subtask: str | None) -> list[tuple[str | None, Path]]:
    """``(subtask or None, task.json path)`` pairs to read: the task itself and its subtasks."""
    subs = sorted(rel.split("/")[0] for rel in files if rel.count("/") == 1 and rel.endswith("/task.json"))
    if subtask is not None:
        _check_name(subtask, "subtask")
        if subtask not in subs:
            raise DataeffError(
                f"BIG-bench task '{task}' has no subtask '{subtask}'",
                field="subtask",
                fix=f"use one of: {', '.join(subs) or '(none: leave subtask empty)'}",
            )
        return [(subtask, files[f"{subtask}/task.json"])]
    if "task.json" not in files and not subs:
        kind = "a program (task.py)" if "task.py" in files else "not a JSON task"
        raise DataeffError(
            f"BIG-bench task '{task}' is {kind}, with no JSON examples",
            field="task",
            fix="use a JSON task (docs/BIGBENCH.md lists them); web_of_lies and "
            "boolean_expressions come from dataeff's own generators",
        )
    pairs: list[tuple[str | None, Path]] = [(None, files["task.json"])] if "task.json" in files else []
    return pairs + [(s, files[f"{s}/task.json"]) for s in subs]


def read_task_json(path: Path) -> dict[str, Any]:
    """A cached ``task.json`` as a dict (one-line error if it is not a JSON object)."""
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataeffError(
            f"cannot read BIG-bench task file: {exc}", file=str(path), fix="delete the cache folder to extract it again"
        ) from None
    if not isinstance(obj, dict):
        raise DataeffError(
            "BIG-bench task file is not a JSON object",
            file=str(path),
            fix="delete the cache folder to extract it again",
        )
    return obj


def example_row(example: Any, max_target_words: int) -> dict[str, Any] | None:
    """``{"input", "target"[, "options"]}`` of one BIG-bench example, or None if unusable.

    Multiple choice (``target_scores``): usable when exactly one option scores 1 and the rest 0.
    Exact match (``target``, a string or list of strings): the first target, when it has
    1..``max_target_words`` words.
    """
    if not isinstance(example, Mapping) or not isinstance(example.get("input"), str):
        return None
    text = example["input"]
    scores = example.get("target_scores")
    if isinstance(scores, Mapping) and scores:
        values = list(scores.values())
        if not all(isinstance(v, int | float) and v in (0, 1) for v in values) or values.count(1) != 1:
            return None
        options = [str(k) for k in scores]
        return {"input": text, "target": options[values.index(1)], "options": options}
    target = example.get("target")
    if isinstance(target, list):
        target = target[0] if target and isinstance(target[0], str) else None
    if not isinstance(target, str) or not target.strip():
        return None
    if len(target.split()) > max_target_words:
        return None
    return {"input": text, "target": target.strip()}


def _json_rows(
    task: str, pairs: list[tuple[str | None, Path]], max_target_words: int
) -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    dropped = 0
    info: dict[str, Any] = {}
    for sub, path in pairs:
        obj = read_task_json(path)
        if sub is None or not info:
            info = {k: obj.get(k) for k in ("name", "description", "keywords", "task_prefix")}
        for i, example in enumerate(obj.get("examples") or []):
            row = example_row(example, max_target_words)
            if row is None:
                dropped += 1
                continue
            row["id"] = f"{task}{'/' + sub if sub else ''}:{i}"
            rows.append(row)
    return rows, dropped, info


def load_bigbench_task(task: str, subtask: str | None = None, *, data: DataSettings) -> list[dict[str, Any]]:
    """Rows of the BIG-bench JSON task ``task`` (one ``subtask``, or all of them if None).

    Each row is ``{"id", "input", "target"}`` plus ``"options"`` (all option texts, file order)
    for multiple-choice examples; unusable examples are dropped (see :func:`example_row`).
    ``data`` is a config's ``data`` settings (``data_settings(load_config(...))``). The first call
    extracts the task from the sdist into the cache; later calls read only the cache.
    """
    rows, _, _ = load_bigbench_task_info(task, subtask, data=data)
    return rows


def load_bigbench_task_info(
    task: str, subtask: str | None = None, *, data: DataSettings
) -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
    """:func:`load_bigbench_task` plus the number of dropped examples and the task's metadata
    (``name``, ``description``, ``keywords``, ``task_prefix``)."""
    source = BigbenchSource.from_data(data)
    files = task_files([task], source)[task]
    rows, dropped, info = _json_rows(task, _subtask_files(task, files, subtask), source.max_target_words)
    if not rows:
        where = task + (f"/{subtask}" if subtask else "")
        raise DataeffError(
            f"BIG-bench task '{where}' has no usable example ({dropped} examples are neither "
            "multiple choice with one correct option nor short exact-match)",
            field="task",
            fix="choose a task listed in docs/BIGBENCH.md",
        )
    if dropped:
        log.info(
            "BIG-bench %s: dropped %d of %d examples (not one-correct multiple choice or short exact match)",
            task,
            dropped,
            dropped + len(rows),
        )
    return rows, dropped, info


# --------------------------------------------------------------------------- catalogue


def catalog(data: DataSettings) -> list[dict[str, Any]]:
    """One pass over the whole sdist: usable-example counts of every JSON task and subtask.

    Each entry: ``task``, ``subtask`` (None for the task file itself), ``examples`` (all),
    ``multiple_choice`` / ``exact_match`` (usable rows of each kind), ``english`` (no
    non-English keyword), ``description``. Nothing is cached.
    """
    source = BigbenchSource.from_data(data)
    verify_sdist(source)
    out: list[dict[str, Any]] = []
    for task, members in sorted(_stream(source, None)[0].items()):
        for rel, blob in sorted(members.items()):
            if not rel.endswith("task.json"):
                continue
            try:
                obj = json.loads(blob)
            except (UnicodeDecodeError, json.JSONDecodeError):
                continue
            examples = obj.get("examples") or [] if isinstance(obj, dict) else []
            kinds = [example_row(e, source.max_target_words) for e in examples]
            keywords = obj.get("keywords") or []
            out.append(
                {
                    "task": task,
                    "subtask": rel.split("/")[0] if "/" in rel else None,
                    "examples": len(examples),
                    "multiple_choice": sum(1 for r in kinds if r is not None and "options" in r),
                    "exact_match": sum(1 for r in kinds if r is not None and "options" not in r),
                    "english": not (set(keywords) & NON_ENGLISH_KEYWORDS),
                    "description": " ".join(str(obj.get("description") or "").split()),
                }
            )
    return out


# --------------------------------------------------------------------------- tasks for prepare_task

_NUMBER_WORDS = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
)
OPTION_SEPARATOR = " | "
#: Paper tasks whose JSON is topped up (or, for programs, replaced) by generators.bigbench_rules.
GENERATED_TASKS = ("sports_understanding", "object_counting", "web_of_lies", "boolean_expressions")


def total_for_train(train_size: int, test_max: int) -> int:
    """Smallest example count whose 80/10/10 split (``split_rows``) leaves ``train_size`` to train."""
    n = train_size
    while n - min(round(0.1 * n), test_max) - round(0.1 * n) < train_size:
        n += 1
    return n


def _one_correct(scores: Mapping[str, Any]) -> tuple[list[str], str] | None:
    """Options and the correct one; number words are dropped where their digits are options too
    (reasoning_about_colored_objects lists "3" and "three", both correct)."""
    options = [str(k) for k in scores]
    digits = set(options)
    keep = [o for o in options if not (o in _NUMBER_WORDS and str(_NUMBER_WORDS.index(o)) in digits)]
    correct = [o for o in keep if scores[o] == 1]
    if len(correct) != 1 or any(scores[o] not in (0, 1) for o in keep):
        return None
    return keep, correct[0]


def _raw_examples(
    source: BigbenchSource, task: str, subtasks: tuple[str, ...]
) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Path]]:
    files = task_files([task], source)[task]
    pairs = [(s, files[f"{s}/task.json"]) for s in subtasks] if subtasks else _subtask_files(task, files, None)
    out = []
    for sub, path in pairs:
        for i, ex in enumerate(read_task_json(path).get("examples") or []):
            out.append((f"{task}{'/' + sub if sub else ''}:{i}", ex))
    return out, files


def _dedupe(records: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for rec in records:
        if rec[key] not in seen:
            seen.add(rec[key])
            out.append(rec)
    return out


def _paper_json_records(
    name: str, examples: list[tuple[str, dict[str, Any]]], rng: random.Random
) -> list[dict[str, Any]]:
    """Records ``{"_id", input fields, "label"}`` of a paper task's JSON examples."""
    out: list[dict[str, Any]] = []
    for rid, ex in examples:
        text = ex.get("input")
        if not isinstance(text, str):
            continue
        if name == "object_counting":
            digits = [t for t in ex.get("target") or [] if isinstance(t, str) and t.isdigit()]
            if digits:
                out.append({"_id": rid, "input": text, "label": digits[0]})
            continue
        picked = _one_correct(ex.get("target_scores") or {})
        if picked is None:
            continue
        options, correct = picked
        if name in ("reasoning_about_colored_objects", "temporal_sequences", "tracking_shuffled_objects"):
            if name == "temporal_sequences":  # the file lists the answer first in every example
                rng.shuffle(options)
            out.append(
                {"_id": rid, "question": text.strip(), "options": OPTION_SEPARATOR.join(options), "label": correct}
            )
            continue
        label = {
            "formal_fallacies_syllogisms_negation": {"valid": "1", "invalid": "0"},
            "sports_understanding": {"plausible": "1", "implausible": "0"},
        }.get(name, {}).get(correct, correct)
        out.append({"_id": rid, "input": text.strip("\n") if name == "mnist_ascii" else text.strip(), "label": label})
    return _dedupe(out, "question" if out and "question" in out[0] else "input")


def _generated(
    name: str, files: Mapping[str, Path], n: int, rng: random.Random, real: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    if name not in GENERATED_TASKS:
        return []
    exclude = {r["input"] for r in real}
    if name == "sports_understanding":
        vocab = read_task_json(files["vocab.json"])
        with_game = sum(1 for r in real if " in the " in r["input"]) / max(1, len(real))
        recs = gen.sports_sentences(vocab, n, rng, exclude, with_game)
    elif name == "object_counting":
        kinds = gen.python_literal(files["generate_task.py"].read_text(encoding="utf-8"), "DATA")
        recs = gen.counting_questions(kinds, n, rng, exclude)
    elif name == "web_of_lies":
        names = gen.python_literal(files["task.py"].read_text(encoding="utf-8"), "_names")
        recs = gen.web_of_lies(names, n, rng, exclude)
    else:
        recs = gen.boolean_expressions(n, rng, exclude)
    for i, rec in enumerate(recs):
        rec["_id"] = f"{name}-generated-{i:06d}"
    return recs


def _paper_records(
    spec_name: str, bb: Mapping[str, Any], source: BigbenchSource, seed: int, test_max: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    task = bb["task"]
    # One pass extracts the folders of all the paper tasks, so the other nine read the cache.
    task_files([s.bigbench["task"] for s in BIGBENCH_PAPER.values() if s.bigbench], source)
    rng = random.Random(f"{seed}:bigbench:{spec_name}")
    wanted = total_for_train(int(bb["train_size"]), test_max)
    if task in ("web_of_lies", "boolean_expressions"):
        files, real = task_files([task], source)[task], []
    else:
        examples, files = _raw_examples(source, task, tuple(bb.get("subtasks") or ()))
        real = _paper_json_records(spec_name, examples, rng)
    available = len(real)
    if len(real) > wanted:
        real = [real[i] for i in sorted(rng.sample(range(len(real)), wanted))]
    generated = _generated(spec_name, files, wanted - len(real), rng, real) if len(real) < wanted else []
    meta = {
        "json_examples_usable": available,
        "json_examples_used": len(real),
        "generated": len(generated),
        "authors_train_size": int(bb["train_size"]),
    }
    return real + generated, meta


def _config_records(
    bb: Mapping[str, Any], source: BigbenchSource, data: DataSettings, seed: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    subtasks = tuple(bb.get("subtasks") or ())
    rows, dropped, info = load_bigbench_task_info(bb["task"], subtasks[0] if subtasks else None, data=data)
    rng = random.Random(f"{seed}:bigbench:{bb['task']}:{','.join(subtasks)}")
    usable = len(rows)
    rows = _dedupe(rows, "input")
    limit = bb.get("examples")
    if limit is not None and len(rows) > int(limit):
        rows = [rows[i] for i in sorted(rng.sample(range(len(rows)), int(limit)))]
    description = " ".join(str(info.get("description") or "").split()).rstrip(".")
    records = []
    for row in rows:
        if "options" in row:
            options = list(row["options"])
            rng.shuffle(options)
            instruction = f"{description}. Reply with one of the options exactly as written, without explanation."
            body = f"QUESTION - {row['input'].strip()} [SEP] OPTIONS - {OPTION_SEPARATOR.join(options)}"
        else:
            instruction = f"{description}. Reply with the answer only, without explanation."
            body = row["input"].strip()
        record = {"_id": row["id"], "instruction": instruction, "body": body, "label": row["target"]}
        if "options" in row:
            record["n_options"] = len(row["options"])
        records.append(record)
    return records, {
        "json_examples_usable": usable,
        "json_examples_dropped": dropped,
        "json_examples_used": len(records),
        "generated": 0,
    }


def bigbench_records(spec: Any, data: DataSettings) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Raw records (template fields, ``label``, ``_id``) of a ``bigbench`` task, and its provenance.

    Paper tasks (``spec.bigbench["paper"]``) are posed as the authors posed them and sized so that
    the 80/10/10 split leaves the authors' training pool (``train_size``); where the JSON holds
    fewer examples, the task's generator adds distinct ones (never an input of the JSON, so never
    a test example), and where it holds none or no generator exists, all usable examples are used.
    Config tasks (``bigbench_tasks``) use every usable example (or ``examples`` of them).
    Deterministic given ``data.split_seed`` and the task files (their sha256s are recorded).
    """
    source = BigbenchSource.from_data(data)
    bb = spec.bigbench or {}
    seed = int(data.split_seed)
    if bb.get("paper"):
        records, meta = _paper_records(spec.name, bb, source, seed, int(data.test_max))
    else:
        records, meta = _config_records(bb, source, data, seed)
    where = (
        {"checkout": str(source.checkout)}
        if source.checkout
        else {"sdist": source.sdist.name if source.sdist else None}
    )
    meta.update(
        {
            "task": bb.get("task"),
            "subtasks": list(bb.get("subtasks") or ()),
            **where,
            "sdist_sha256": None if source.checkout else source.sha256,
            "files_sha256": file_hashes(task_files([str(bb.get("task"))], source)[str(bb.get("task"))]),
            "seed": seed,
        }
    )
    return records, meta
