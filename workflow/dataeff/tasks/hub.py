"""Hub loads that record what they got, and pins made from those records.

A Hub dataset loaded without a pinned commit follows the repository's ``main`` branch, so a
later conversion or deletion upstream silently changes the data. Every Hub load therefore
goes through the library's own builder (the three calls :func:`datasets.load_dataset` makes)
so that the commit the library resolved (``builder.hash``: the repository commit for a Hub
load, online or from the offline cache), the data files it read and each split's fingerprint
end up in the prepared task's ``meta.json`` (:func:`load_hub`). An unpinned load is then at
least reproducible after the fact, and :func:`pins_from_meta` turns those records into
``data.hub_revisions`` entries for the config (``dataeff hub-pins``).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dataeff.core.errors import DataeffError
from dataeff.core.settings import DataSettings
from dataeff.tasks.registry import TaskSpec

log = logging.getLogger("dataeff")

_SHA = re.compile(r"^[0-9a-f]{40}$")
_warned: set[str] = set()  # Hub ids already warned about in this process


def is_commit(revision: str | None) -> bool:
    """Whether ``revision`` is a full commit SHA (a branch or tag name is not a pin)."""
    return bool(revision and _SHA.match(revision))


def _local_dir(spec: TaskSpec) -> Path | None:
    path = Path(spec.hub_id or "")
    return path if spec.hub_id and path.is_dir() else None


def load_hub(spec: TaskSpec, data: DataSettings) -> tuple[Any, dict[str, Any]]:
    """Load the spec's dataset; return it and the record of what was loaded (for meta.json).

    ``hub_id`` may also be a local directory (a ``save_to_disk`` copy or data files), which is
    how tests and offline users exercise this code path; such loads have no Hub commit.
    A pinned commit that differs from the one the library resolved (an offline cache built
    from another commit) is an error: the data would not be what the pin says.
    """
    hf_home = data.hf_home
    if hf_home:
        os.environ["HF_HOME"] = str(hf_home)
    local = _local_dir(spec)
    try:
        import datasets

        if local is not None and ((local / "dataset_dict.json").is_file() or (local / "state.json").is_file()):
            ds = datasets.load_from_disk(str(local))
            return ds, _record(spec, ds, builder=None, local=True)
        kwargs: dict[str, Any] = {}
        if hf_home:
            kwargs["cache_dir"] = str(Path(hf_home) / "datasets")
        if spec.revision and local is None:
            kwargs["revision"] = spec.revision
        if spec.data_files:  # named files: the repo's default patterns would merge or over-fetch
            kwargs["data_files"] = dict(spec.data_files)
        # what datasets.load_dataset does, keeping the builder to read the resolved commit
        builder = datasets.load_dataset_builder(spec.hub_id, spec.hub_config, **kwargs)
        builder.download_and_prepare()
        ds = builder.as_dataset()
    except DataeffError:
        raise
    except Exception as exc:  # network, offline cache miss, bad id: one clear line
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        where = f"{spec.hub_id}" + (f" (config {spec.hub_config})" if spec.hub_config else "")
        raise DataeffError(
            f"cannot load dataset {where} for task '{spec.name}': {reason}",
            field="tasks",
            fix="run `dataeff prepare-task` where the Hugging Face Hub is reachable, or set "
            "data.hf_home / HF_HOME to a cache that holds the dataset",
        ) from None
    record = _record(spec, ds, builder=builder, local=local is not None)
    _check_pin(spec, record)
    return ds, record


def _record(spec: TaskSpec, ds: Any, *, builder: Any, local: bool) -> dict[str, Any]:
    """What a load got: requested and resolved revision, data files, split fingerprints."""
    import datasets

    resolved = None
    data_files = None
    builder_name = "load_from_disk"
    if builder is not None:
        builder_name = type(builder).__name__
        commit = str(getattr(builder, "hash", "") or "")
        resolved = commit if not local and is_commit(commit) else None
        files = getattr(builder.config, "data_files", None)
        if files:
            data_files = {str(split): [str(f) for f in files[split]] for split in files}
    splits = ds.items() if hasattr(ds, "items") else [("train", ds)]
    return {
        "requested_revision": spec.revision,
        "resolved_revision": resolved,
        "pinned": is_commit(spec.revision) and spec.revision == resolved,
        "local": local,
        "builder": builder_name,
        "data_files": data_files,
        "fingerprints": {str(name): getattr(split, "_fingerprint", None) for name, split in splits},
        "datasets_version": datasets.__version__,
    }


def _check_pin(spec: TaskSpec, record: Mapping[str, Any]) -> None:
    """Refuse a pinned load that got another commit; warn once about an unpinned one."""
    resolved = record["resolved_revision"]
    if is_commit(spec.revision) and resolved and resolved != spec.revision:
        raise DataeffError(
            f"dataset {spec.hub_id} for task '{spec.name}' is pinned to {spec.revision} "
            f"but the library loaded commit {resolved} (an offline cache of another commit?)",
            field="revision",
            fix="load it where the Hub is reachable, or point data.hf_home at a cache built from the pinned commit",
        )
    if record["local"] or is_commit(spec.revision) or spec.hub_id in _warned:
        return
    _warned.add(str(spec.hub_id))
    got = f"commit {resolved}" if resolved else "an unrecorded commit"
    follows = f"'{spec.revision}'" if spec.revision else "main"
    log.warning(
        "dataset %s (task %s) has no pinned revision: it follows %s and loaded %s; pin it with "
        "data.hub_revisions: {%s: %s} (`dataeff hub-pins data/tasks` prints these entries)",
        spec.hub_id,
        spec.name,
        follows,
        got,
        spec.hub_id,
        resolved or "COMMIT",
    )


def _meta_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """meta.json files named directly, or found under the given directories."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_file():
            out.append(p)
        elif (p / "meta.json").is_file():
            out.append(p / "meta.json")
        elif p.is_dir():
            out.extend(sorted(p.glob("*/meta.json")))
        else:
            raise DataeffError(
                f"no prepared task at {p}", file=str(p), fix="give data/tasks or a task directory with a meta.json"
            )
    return out


def pins_from_meta(paths: Iterable[str | os.PathLike[str]]) -> dict[str, dict[str, Any]]:
    """Hub id -> {revision, tasks, pinned} from the loads recorded in prepared tasks' meta.json.

    Two tasks of one repository that recorded different commits are an error (a pin must be
    one commit); tasks loaded from local directories or without a recorded commit are skipped.
    """
    pins: dict[str, dict[str, Any]] = {}
    for meta_path in _meta_files(paths):
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataeffError(
                f"unreadable meta.json ({type(exc).__name__})", file=str(meta_path), fix="prepare the task again"
            ) from None
        load = meta.get("hub_load") or {}
        commit = load.get("resolved_revision")
        if meta.get("source") != "hub" or not is_commit(commit):
            continue
        hub_id = meta["hub_id"]
        entry = pins.setdefault(hub_id, {"revision": commit, "tasks": [], "pinned": True, "meta": str(meta_path)})
        if entry["revision"] != commit:
            raise DataeffError(
                f"dataset {hub_id} was loaded at two commits: {entry['revision']} ({entry['meta']}) and {commit}",
                file=str(meta_path),
                field="hub_load.resolved_revision",
                fix="prepare both tasks again from one snapshot before pinning",
            )
        entry["tasks"].append(meta.get("task"))
        entry["pinned"] = entry["pinned"] and bool(load.get("pinned"))
    return pins


def pins_yaml(pins: Mapping[str, Mapping[str, Any]]) -> str:
    """The ``data.hub_revisions`` block of a config, one commented entry per repository."""
    lines = ["data:", "  hub_revisions:"]
    for hub_id in sorted(pins):
        entry = pins[hub_id]
        state = "already pinned" if entry["pinned"] else "loaded unpinned"
        lines.append(f"    {hub_id}: {entry['revision']}  # {', '.join(entry['tasks'])} ({state})")
    return "\n".join(lines) + "\n"
