"""Atomic, validated file input and output.

Results are written to a temporary file in the destination directory and renamed into
place, so a crash never leaves a half-written result that a re-run would trust. Readers
turn malformed input into one-line :class:`~dataeff.core.errors.DataeffError` messages.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from dataeff.core.errors import DataeffError

_HOST = socket.gethostname().replace(".", "_")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(dest: str | os.PathLike[str]) -> list[Path]:
    """Remove temporaries of ``dest`` left by a writer that was killed (SIGKILL, OOM, time limit).

    A temporary is named ``.{name}.{host}.{pid}.XXXX.tmp``; it is stale when it was made on
    this host by a process that no longer exists. Temporaries of live processes (other ranks
    of a multi-GPU job) and of other hosts are left alone.
    """
    dest = Path(dest)
    prefix = f".{dest.name}.{_HOST}."
    removed = []
    try:
        entries = list(dest.parent.iterdir())
    except FileNotFoundError:
        return removed
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid_text = name[len(prefix) :].split(".", 1)[0]
        if pid_text.isdigit() and not _pid_alive(int(pid_text)):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it over ``path`` on success.

    Works for files and directories. On error the temporary is removed and ``path`` is
    untouched. Temporaries left next to ``path`` by an earlier, killed writer are removed
    first, so a crash leaves nothing behind once the step is re-run.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(dest)
    prefix = f".{dest.name}.{_HOST}.{os.getpid()}."
    tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=dest.parent))
    target = tmp / dest.name
    try:
        yield target
        if dest.is_dir() and not dest.is_symlink():
            # Move the old directory aside (one rename) instead of deleting it in place, so a
            # kill at this point never leaves ``dest`` half-deleted; ``tmp`` is removed below.
            os.replace(dest, tmp / f"{dest.name}.old")
        os.replace(target, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically (fsync then rename)."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted JSON atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


def atomic_write_jsonl(path: str | os.PathLike[str], rows: Iterable[dict[str, Any]]) -> None:
    """Write one JSON object per line atomically."""
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def check_output_path(path: str | os.PathLike[str], field: str, *, directory: bool = False) -> Path:
    """Refuse, in one line and before any work, an output a command could not write as asked.

    ``directory``: ``path`` is a directory the command fills (made if missing), so an existing
    file there is an error. Otherwise ``path`` is a file the command writes, and an existing
    directory there is an error (:func:`atomic_path` would replace it, and so delete what it
    holds). Either way no part of the path above it may be a file, or making the directories
    fails half-way with ``FileExistsError``/``NotADirectoryError``. Returns ``path``.
    """
    p = Path(path)
    if p.exists():
        if directory and not p.is_dir():
            raise DataeffError(
                "is a file, not a directory",
                file=str(p),
                field=field,
                fix=f"name a directory for the command's files instead, e.g. {field} {p.with_name(p.stem + '_work')}, "
                "which is made if missing",
            )
        if not directory and p.is_dir():
            raise DataeffError(
                "is a directory, not a file",
                file=str(p),
                field=field,
                fix=f"name the file to write, not a directory: {field} never replaces a directory",
            )
    for parent in p.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise DataeffError(
                    f"is a file, so {p} cannot be made under it",
                    file=str(parent),
                    field=field,
                    fix=f"give {field} a path whose parent is a directory or does not exist yet",
                )
            break
    return p


def read_text(path: str | os.PathLike[str]) -> str:
    """Read a UTF-8 text file, with clear errors for missing, empty or non-UTF-8 files."""
    p = Path(path)
    if not p.is_file():
        raise DataeffError("file not found", file=str(p), fix="check the path")
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        line = p.read_bytes()[: exc.start].count(b"\n") + 1
        raise DataeffError(f"line {line}: not valid UTF-8", file=str(p), fix="re-save the file as UTF-8") from None
    if not text.strip():
        raise DataeffError("file is empty", file=str(p), fix="add at least one example")
    return text


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file; a syntax error names the file and line."""
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataeffError(
            f"line {exc.lineno}: not valid JSON ({exc.msg})", file=str(path), fix="fix the JSON syntax"
        ) from None


def read_yaml(path: str | os.PathLike[str]) -> Any:
    """Read a YAML file; a syntax error names the file and line."""
    text = read_text(path)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise DataeffError(f"{where}not valid YAML", file=str(path), fix="fix the YAML syntax") from None


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a JSONL file of objects; a bad line is reported with its line number."""
    rows: list[dict[str, Any]] = []
    for lineno, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataeffError(
                f"line {lineno}: not valid JSON ({exc.msg})", file=str(path), fix="write one JSON object per line"
            ) from None
        if not isinstance(obj, dict):
            raise DataeffError(
                f"line {lineno}: expected a JSON object", file=str(path), fix="write one JSON object per line"
            ) from None
        obj.setdefault("_line", lineno)
        rows.append(obj)
    return rows


def read_table(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read examples from a .jsonl or .csv file (rows carry their 1-based ``_line``)."""
    p = Path(path)
    if p.suffix.lower() == ".csv":
        text = read_text(p)
        # A stream, not split lines: a quoted cell may hold newlines (a multi-line prompt).
        reader = csv.DictReader(io.StringIO(text, newline=""))
        rows = []
        start = reader.line_num + 1 if reader.fieldnames is not None else 2  # where the next record begins
        for row in reader:
            row = dict(row)
            row["_line"] = start
            start = reader.line_num + 1
            rows.append(row)
        return rows
    if p.suffix.lower() in {".jsonl", ".json"}:
        return read_jsonl(p)
    raise DataeffError(f"unsupported file type '{p.suffix}'", file=str(p), fix="use .jsonl or .csv")


def strip_private(row: dict[str, Any]) -> dict[str, Any]:
    """Drop bookkeeping keys (those starting with '_') before writing a row out."""
    return {k: v for k, v in row.items() if not k.startswith("_")}
