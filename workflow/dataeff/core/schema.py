"""The config schema and its defaults, for code that may run without a config.

The schema (``workflow/schemas/config.schema.yaml``) is the only place a default lives: a command
run without ``--config`` (the practitioner's ``select``, ``coslow``, ``predict``), a module-level
default (an interval level) and a pipeline job with a full config all read a section through
:func:`section`, so they see the same values. This module imports nothing else of the package, so
any module (the task registry included) can read a default without an import cycle;
:mod:`dataeff.core.config` validates against the same schema.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml

#: Package data: ``config.schema.yaml`` and ``default_config.yaml`` (links to the source files in a
#: checkout, copies in a wheel; see dataeff.core.config).
RESOURCES = Path(__file__).resolve().parents[1] / "resources"
SCHEMA_PATH = RESOURCES / "config.schema.yaml"
DEFAULT_CONFIG = RESOURCES / "default_config.yaml"
SCHEMA_HINT = "workflow/schemas/config.schema.yaml"


@cache
def schema() -> dict[str, Any]:
    """The configuration JSON schema."""
    return yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref:
        for part in ref.lstrip("#/").split("/"):
            root = root[part]
        return root
    return node


def fill_defaults(instance: Any, node: dict[str, Any], root: dict[str, Any]) -> Any:
    """Recursively insert schema defaults for missing keys (objects only)."""
    node = _resolve(node, root)
    if not isinstance(instance, dict):
        return instance
    for key, sub in node.get("properties", {}).items():
        sub_r = _resolve(sub, root)
        if key not in instance and "default" in sub_r:
            instance[key] = copy.deepcopy(sub_r["default"])
        if key in instance:
            instance[key] = fill_defaults(instance[key], sub_r, root)
        elif sub_r.get("type") == "object" and "properties" in sub_r and key in {"lora"}:
            instance[key] = fill_defaults({}, sub_r, root)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        for key, value in instance.items():
            if key not in node.get("properties", {}):
                instance[key] = fill_defaults(value, extra, root)
    return instance


def section(config: dict[str, Any] | None, name: str) -> dict[str, Any]:
    """The ``name`` section of ``config`` (or of no config) with every schema default filled in."""
    root = schema()
    node = root["properties"][name]
    return fill_defaults(dict((config or {}).get(name) or {}), node, root)


def top_level(config: dict[str, Any] | None, key: str) -> Any:
    """A top-level key of ``config`` (e.g. ``seed``), else its schema default."""
    if config and key in config:
        return config[key]
    return schema()["properties"][key]["default"]
