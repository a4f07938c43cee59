"""BIG-bench tasks read from the PyPI sdist ``bigbench==1.0.0``, without installing it.

The package ships every task as ``<root>/bigbench/benchmark_tasks/<task>/task.json`` (subtasks
in subfolders), plus ``vocab.json``/``task.py``/``generate_task.py`` for a few tasks. Installing
it pulls TensorFlow (and even ``--no-deps`` builds 1.8 GB), so this module instead:

* checks the sdist's sha256 against the pinned ``data.bigbench_sha256`` (a changed file would
  silently change every task);
* streams the gzip once (``tarfile.open(path, "r|gz")``; ``getmember`` on a gzip would index the
  whole archive first) and keeps only the wanted tasks' files, stopping as soon as the last
  wanted task directory has been passed (the sdist stores each task directory contiguously);
* caches each task directory under ``data.bigbench_cache/<sdist sha256[:16]>/<task>/`` with a
  ``MANIFEST.json`` of file sha256s, written atomically, so later calls read a few files,
  verify their hashes and never touch the sdist (offline, and quick).

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
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataeff.errors import DataeffError
from dataeff.io import atomic_path
from dataeff.tasks import bigbench_generators as gen
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
    """Where the sdist is, what its sha256 must be, where extracted tasks are cached."""

    sdist: Path
    sha256: str
    cache_dir: Path
    max_target_words: int

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> BigbenchSource:
        """The source described by a config's (schema-filled) ``data`` section."""
        missing = [
            k
            for k in ("bigbench_sdist", "bigbench_sha256", "bigbench_cache", "bigbench_max_target_words")
            if data.get(k) is None
        ]
        if missing:
            raise DataeffError(
                f"missing {', '.join(missing)}",
                field="data",
                fix="pass the data section of a config loaded with dataeff.config.load_config",
            )
        return cls(
            Path(data["bigbench_sdist"]),
            str(data["bigbench_sha256"]).lower(),
            Path(data["bigbench_cache"]),
            int(data["bigbench_max_target_words"]),
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


def verify_sdist(source: BigbenchSource) -> None:
    """Raise a one-line error unless the sdist exists and has the pinned sha256."""
    path = source.sdist
    if not path.is_file():
        raise DataeffError(
            "BIG-bench sdist not found",
            file=str(path),
            field="data.bigbench_sdist",
            fix="run `snakemake fetch_bigbench` (pip download --no-deps bigbench==1.0.0) "
            "or point data.bigbench_sdist at the downloaded bigbench-1.0.0.tar.gz",
        )
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    digest = _VERIFIED.get(key) or sha256_of(path)
    if digest != source.sha256:
        raise DataeffError(
            f"sha256 {digest} differs from the pinned {source.sha256}",
            file=str(path),
            field="data.bigbench_sha256",
            fix="download bigbench==1.0.0 again (the file is corrupt or another version)",
        )
    _VERIFIED[key] = digest


#: The pip requirement whose sdist ``data.bigbench_sha256`` pins.
REQUIREMENT = "bigbench==1.0.0"
_SIMPLE_INDEX = "https://pypi.org/simple/bigbench/"


def fetch_sdist(data: Mapping[str, Any]) -> Path:
    """Put the pinned sdist at ``data.bigbench_sdist`` (``pip download --no-deps bigbench==1.0.0``).

    Nothing is downloaded when a file with the pinned sha256 is already there. pip 26 refuses to
    download this sdist (its metadata declares a direct URL dependency on bleurt); then the file
    pip would have fetched is downloaded from the URL pip's index lists for the pinned sha256.
    The result is checked and moved into place atomically.
    """
    source = BigbenchSource.from_data(data)
    if source.sdist.is_file():
        verify_sdist(source)
        return source.sdist
    source.sdist.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=source.sdist.parent, prefix=".bigbench-download.") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", REQUIREMENT, "-d", tmp]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        sys.stderr.write(proc.stdout + proc.stderr)
        got = sorted(Path(tmp).glob("bigbench-*.tar.gz"))
        if not got:
            if "direct URL dependencies" not in proc.stderr:
                reason = (proc.stderr.strip().splitlines() or ["no file"])[-1]
                raise DataeffError(
                    f"pip download {REQUIREMENT} failed: {reason}",
                    field="data.bigbench_sdist",
                    fix="run it where the package index is reachable, or download "
                    "bigbench-1.0.0.tar.gz by hand to data.bigbench_sdist",
                )
            got = [_download_from_registry(source, Path(tmp))]
        digest = sha256_of(got[0])
        if digest != source.sha256:
            raise DataeffError(
                f"downloaded sdist has sha256 {digest}, not the pinned {source.sha256}",
                field="data.bigbench_sha256",
                fix="check the package index",
            )
        got[0].replace(source.sdist)
    return source.sdist


def _download_from_registry(source: BigbenchSource, folder: Path) -> Path:
    """The pinned sdist, by the URL the registry's simple index (PEP 691 JSON, pip's own index)
    lists for the file with the pinned sha256."""
    import urllib.request

    req = urllib.request.Request(_SIMPLE_INDEX, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 (fixed https URL)
        index = json.load(resp)
    files = [f for f in index.get("files", []) if (f.get("hashes") or {}).get("sha256") == source.sha256]
    if not files:
        raise DataeffError(
            f"the package index lists no bigbench file with sha256 {source.sha256}",
            field="data.bigbench_sha256",
            fix="check data.bigbench_sha256",
        )
    out = folder / Path(files[0]["filename"]).name
    with urllib.request.urlopen(files[0]["url"], timeout=600) as resp, open(out, "wb") as fh:  # noqa: S310
        while block := resp.read(1 << 20):
            fh.write(block)
    return out


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


def load_bigbench_task(task: str, subtask: str | None = None, *, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows of the BIG-bench JSON task ``task`` (one ``subtask``, or all of them if None).

    Each row is ``{"id", "input", "target"}`` plus ``"options"`` (all option texts, file order)
    for multiple-choice examples; unusable examples are dropped (see :func:`example_row`).
    ``data`` is a config's ``data`` section (``load_config(...)["data"]``). The first call
    extracts the task from the sdist into the cache; later calls read only the cache.
    """
    rows, _, _ = load_bigbench_task_info(task, subtask, data=data)
    return rows


def load_bigbench_task_info(
    task: str, subtask: str | None = None, *, data: Mapping[str, Any]
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


def catalog(data: Mapping[str, Any]) -> list[dict[str, Any]]:
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
#: Paper tasks whose JSON is topped up (or, for programs, replaced) by bigbench_generators.
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
    bb: Mapping[str, Any], source: BigbenchSource, data: Mapping[str, Any], seed: int
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
        records.append({"_id": row["id"], "instruction": instruction, "body": body, "label": row["target"]})
    return records, {
        "json_examples_usable": usable,
        "json_examples_dropped": dropped,
        "json_examples_used": len(records),
        "generated": 0,
    }


def bigbench_records(spec: Any, data: Mapping[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Raw records (template fields, ``label``, ``_id``) of a ``bigbench`` task, and its provenance.

    Paper tasks (``spec.bigbench["paper"]``) are posed as the authors posed them and sized so that
    the 80/10/10 split leaves the authors' training pool (``train_size``); where the JSON holds
    fewer examples, the task's generator adds distinct ones (never an input of the JSON, so never
    a test example), and where it holds none or no generator exists, all usable examples are used.
    Config tasks (``bigbench_tasks``) use every usable example (or ``examples`` of them).
    Deterministic given ``data.split_seed`` and the pinned sdist.
    """
    source = BigbenchSource.from_data(data)
    bb = spec.bigbench or {}
    seed = int(data["split_seed"])
    if bb.get("paper"):
        records, meta = _paper_records(spec.name, bb, source, seed, int(data["test_max"]))
    else:
        records, meta = _config_records(bb, source, data, seed)
    meta.update(
        {
            "task": bb.get("task"),
            "subtasks": list(bb.get("subtasks") or ()),
            "sdist": source.sdist.name,
            "sdist_sha256": source.sha256,
            "seed": seed,
        }
    )
    return records, meta
