"""The configuration every entry point loads: the schema's checks, then the task catalog's.

:mod:`dataeff.core.config` checks a file against the schema and fills its defaults; whether the
tasks it names exist (the registry, ``user_tasks``, ``bigbench_tasks``, ``bbh_tasks``) and whether
the BBH files it names ship in the data folder needs :mod:`dataeff.tasks`, a layer up, so those
checks live here. The Snakefile, the commands and the study's scripts all load through this
module, so a typo stops every entry point with the same one line.

:func:`load_optional_config` is the one settings resolution of the command line: an explicit
``--config`` file, else the packaged default.
"""

from __future__ import annotations

import os
from typing import Any

from dataeff.core.config import read_config, validate_schema
from dataeff.core.errors import DataeffError
from dataeff.core.schema import DEFAULT_CONFIG
from dataeff.core.settings import data_settings
from dataeff.tasks.bbh import shipped_tasks
from dataeff.tasks.registry import known_task_names


def validate_config(config: dict[str, Any], source: str = "config", *, partial: bool = False) -> dict[str, Any]:
    """Validate ``config`` (in place, filling defaults) and check the rules that cross fields.

    ``partial``: a pipeline job's settings file, which holds only the settings its rule reads
    (see :data:`dataeff.core.config.JOB_SETTINGS_KEY`)."""
    validate_schema(config, source, partial=partial)
    known = (
        set(known_task_names()) | set(config["user_tasks"]) | set(config["bigbench_tasks"]) | set(config["bbh_tasks"])
    )
    for task in config.get("tasks", []):
        if task not in known:
            raise DataeffError(
                f"unknown task '{task}'",
                file=source,
                field="tasks",
                fix="use a registry task (dataeff prepare-task --list) or define it in user_tasks, "
                "bigbench_tasks or bbh_tasks",
            )
    _check_bbh_files(config, source)
    return config


def _check_bbh_files(config: dict[str, Any], source: str) -> None:
    """Every ``bbh_tasks`` entry names a task whose file the data folder holds (one line if not)."""
    if not config["bbh_tasks"]:
        return
    shipped = shipped_tasks(data_settings(config))
    for name, entry in config["bbh_tasks"].items():
        if entry["task"] not in shipped:
            raise DataeffError(
                f"BBH task '{entry['task']}' is not in the data folder",
                file=source,
                field=f"bbh_tasks.{name}.task",
                fix=f"use one of {', '.join(shipped)} (data/bbh/PROVENANCE.json)",
            )


def load_config(path: str | os.PathLike[str] | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read, merge ``overrides`` into, and validate a YAML configuration file (or a pipeline job's
    settings file)."""
    config, source, partial = read_config(path, overrides)
    return validate_config(config, source, partial=partial)


def load_optional_config(path: str | os.PathLike[str] | None, *, default: bool = True) -> dict[str, Any] | None:
    """The validated ``--config`` file (YAML, or the pipeline's resolved JSON); without one,
    the packaged default configuration when ``default`` is true, else None.

    Never reads anything relative to the working directory, so a command behaves the same
    wherever it is run. Commands whose defaults come from elsewhere when no config is named
    (``auc`` and ``curves`` use the paper's grid) pass ``default=False``.
    """
    if path:
        return load_config(path)
    return load_config(DEFAULT_CONFIG) if default else None
