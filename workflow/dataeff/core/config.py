"""Load and validate the pipeline configuration against its JSON schema.

The schema (``workflow/schemas/config.schema.yaml``) is the single source of truth for
keys, types and defaults. This module reads a file and checks it against the schema; the
loaders every entry point uses (:mod:`dataeff.pipeline.config`) add the checks that need the
task catalog, so a typo stops every entry point with the same one-line message naming the key
and what is allowed.

The schema and the embedded default configuration (``config/config.yaml``) ship inside the
package as ``dataeff/resources/`` (links to those two files in a source checkout, copies in a
wheel), so the commands find them wherever the package is installed, whatever the working
directory.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import jsonschema

from dataeff.core.errors import DataeffError
from dataeff.core.io import read_json, read_yaml
from dataeff.core.schema import DEFAULT_CONFIG, SCHEMA_HINT, fill_defaults, schema

#: The source checkout (meaningful only when the package runs from one, as the pipeline does).
REPO_ROOT = Path(__file__).resolve().parents[3]

#: Top-level key that marks a pipeline job's settings file (written by the workflow from
#: :func:`dataeff.pipeline.job_settings.job_settings`, value ``{"rule": NAME}``): the resolved settings that
#: job's rule reads and nothing else, so that changing any other setting leaves the job's input
#: unchanged. The key is removed on loading; the rest validates as a partial configuration.
JOB_SETTINGS_KEY = "job_settings"


def _describe(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        where = path if path != "(top level)" else "config"
        hint = f"allowed keys: {', '.join(allowed)}" if allowed else "remove it"
        return f"unknown key '{'.'.join(extra) or '?'}' in {where} ({hint})"
    if error.validator == "enum":
        return f"key '{path}': {error.instance!r} is not allowed (choose one of {error.validator_value})"
    if error.validator == "type":
        return (
            f"key '{path}': expected {error.validator_value}, got {type(error.instance).__name__} "
            f"{error.instance!r} (write a value of type {error.validator_value})"
        )
    if error.validator == "uniqueItems":
        return f"key '{path}': duplicate entries in {error.instance!r} (list each value once)"
    if error.validator == "minItems":
        return f"key '{path}': list is empty (give at least {error.validator_value} entries)"
    if error.validator == "required":
        return (
            f"missing required key {error.message.split()[0]} in {path} (add it; every key is "
            f"documented in {SCHEMA_HINT})"
        )
    if error.validator in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        bound = {
            "minimum": "at least",
            "exclusiveMinimum": "greater than",
            "maximum": "at most",
            "exclusiveMaximum": "less than",
        }[error.validator]
        return f"key '{path}': {error.instance!r} is out of range (use a value {bound} {error.validator_value})"
    return f"key '{path}': {error.message} (see {SCHEMA_HINT} for what is allowed)"


def validate_schema(config: dict[str, Any], source: str = "config", *, partial: bool = False) -> dict[str, Any]:
    """Validate ``config`` against the schema (in place, filling defaults).

    The checks that need the task catalog (task names, shipped BBH files) are
    :func:`dataeff.pipeline.config.validate_config`'s, one layer up.

    ``partial``: a pipeline job's settings file (:data:`JOB_SETTINGS_KEY`), which holds only the
    settings its rule reads, so the keys the schema requires of a whole configuration (families,
    tasks, budgets) may be absent; whatever it holds is checked as usual."""
    if not isinstance(config, dict):
        raise DataeffError("expected a mapping of keys at the top level", file=source)
    root = schema()
    validator = jsonschema.Draft202012Validator({**root, "required": []} if partial else root)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), e.path))
    if errors:
        raise DataeffError(_describe(errors[0]), file=source)
    fill_defaults(config, root, root)

    return config


def read_config(
    path: str | os.PathLike[str] | None = None, overrides: dict[str, Any] | None = None
) -> tuple[dict[str, Any], str, bool]:
    """Read a YAML configuration file (or a pipeline job's settings file, see
    :data:`JOB_SETTINGS_KEY`) and merge ``overrides`` into it, unvalidated.

    Returns the mapping, its source (for error lines) and whether it is a job's partial settings."""
    path = Path(path) if path else DEFAULT_CONFIG
    config = (read_json(path) if path.suffix == ".json" else read_yaml(path)) or {}
    partial = isinstance(config, dict) and config.pop(JOB_SETTINGS_KEY, None) is not None
    if overrides:
        config = deep_merge(config, overrides)
    return config, str(path), partial


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Return ``base`` updated recursively with ``extra`` (dicts merged, other values replaced)."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def family(config: dict[str, Any], name: str, source: str = "config") -> dict[str, Any]:
    """The family entry ``name``, or a one-line error listing the known families."""
    try:
        return config["families"][name]
    except KeyError:
        known = ", ".join(sorted(config["families"]))
        raise DataeffError(
            f"unknown family '{name}'", file=source, field="families", fix=f"known families: {known}"
        ) from None


def max_budget(config: dict[str, Any]) -> int:
    """N_max of the AUC: ``max_budget`` when set, else the largest budget."""
    return int(config.get("max_budget") or max(config["budgets"]))
