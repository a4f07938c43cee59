"""Config sections with the schema's defaults filled in, for code that may run without a config.

The schema (``workflow/schemas/config.schema.yaml``) is the only place a default lives: a command
run without ``--config`` (the practitioner's ``select``, ``coslow``, ``predict``) and a pipeline job
with a full config both read a section through :func:`section`, so they see the same values.
"""

from __future__ import annotations

from typing import Any

from dataeff.config import _fill_defaults, schema


def section(config: dict[str, Any] | None, name: str) -> dict[str, Any]:
    """The ``name`` section of ``config`` (or of no config) with every schema default filled in."""
    root = schema()
    node = root["properties"][name]
    return _fill_defaults(dict((config or {}).get(name) or {}), node, root)


def top_level(config: dict[str, Any] | None, key: str) -> Any:
    """A top-level key of ``config`` (e.g. ``seed``), else its schema default."""
    if config and key in config:
        return config[key]
    return schema()["properties"][key]["default"]


def coslow_settings(config: dict[str, Any] | None) -> dict[str, Any]:
    """The ``coslow`` section (k, pool, confidence measure, LoRA) with schema defaults."""
    return section(config, "coslow")
