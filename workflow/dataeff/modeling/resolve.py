"""Resolve what a user or a rule calls "the model" (a family name, a model directory or
``model.json``, or a Hub id) and load it, so selection, CoS-Low and prediction agree on it.

The practitioner commands (``select``, ``coslow``, ``predict``, ``budget``) name a model and a
coefficient family the same way through this module: a family of the configuration is prepared
once into the user's model cache on first use (:func:`family_model`), wherever the command runs,
and ``--family`` defaults to ``--model`` when that is such a family (:func:`coefficient_family`).
One place decides, so no command refuses a name another one accepts.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dataeff.core.config import REPO_ROOT
from dataeff.core.settings import family_settings
from dataeff.modeling.loading import family_load_kwargs, load_model, prepare_model

#: Where a one-line note goes (``Progress.message`` in ``predict``, stderr elsewhere).
Note = Callable[[str], None]


def model_cache_dir() -> Path:
    """Where the command line prepares a family's model outside a pipeline run:
    ``$DATAEFF_CACHE/models``, else ``$XDG_CACHE_HOME/dataeff/models`` (``~/.cache``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(os.environ.get("DATAEFF_CACHE") or Path(cache) / "dataeff") / "models"


def family_model_json(name: str) -> Path | None:
    """``results/models/NAME/model.json`` (relative to the working directory, else the repo),
    else the user's model cache (:func:`model_cache_dir`)."""
    for base in (Path.cwd() / "results" / "models", REPO_ROOT / "results" / "models", model_cache_dir()):
        p = base / name / "model.json"
        if p.is_file():
            return p
    return None


def _to_stderr(text: str) -> None:
    print(f"dataeff: {text}", file=sys.stderr, flush=True)


def _families(config: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return (config or {}).get("families") or {}


def family_model(name: str, config: Mapping[str, Any] | None, note: Note | None = None) -> Path | None:
    """The ``model.json`` of the configuration's family ``name``, prepared once into the model
    cache when neither a pipeline's ``results/models`` nor the cache has it (a fresh checkout:
    20-60 s for SmolLM2), so ``--model smollm2`` works in every command from any directory.
    None when ``name`` is not a family of ``config``. ``note`` gets the two lines that say a
    preparation starts and how long it took (default: stderr)."""
    families = _families(config)
    if name not in families:
        return None
    found = family_model_json(name)
    if found is not None:
        return found
    say = note or _to_stderr
    out = model_cache_dir() / name
    settings = family_settings(families[name])
    say(f"preparing model '{name}' ({settings.model}) once into {out}")
    start = time.monotonic()
    prepare_model(settings, out)
    say(f"model prepared in {time.monotonic() - start:.0f} s")
    return out / "model.json"


def resolve_model(model: str, config: Mapping[str, Any] | None, note: Note | None = None) -> tuple[str, dict[str, Any]]:
    """What to load for ``--model`` and the family's load settings: a config family's prepared
    ``model.json`` (prepared on first use) with its dtype/attention settings, a family prepared
    by an earlier run that the config no longer lists, else ``model`` itself (a model directory,
    ``model.json`` or Hub id) with the loader's defaults."""
    prepared = family_model(model, config, note)
    if prepared is not None:
        return str(prepared), family_load_kwargs(family_settings(_families(config)[model]))
    if not Path(model).exists() and "/" not in model:
        earlier = family_model_json(model)
        if earlier is not None:
            return str(earlier), {}
    return model, {}


def coefficient_family(model: str | None, family: str | None, config: Mapping[str, Any] | None) -> str | None:
    """The family whose coefficients turn CoS-Low into a budget: ``--family`` when given, else
    ``--model`` when it names a family of the configuration (its coefficients were fitted on
    that model), else None (the caller says what is missing)."""
    if family:
        return family
    if model and model in _families(config):
        return model
    return None


def load_model_ref(
    model: str,
    config: dict[str, Any] | None = None,
    *,
    family: str | None = None,
    threads: int | None = None,
    device: str | None = None,
    note: Note | None = None,
):
    """Load ``(model, tokenizer, info)`` from a family name, a model dir/model.json or a Hub id
    (:func:`resolve_model`: a config family is prepared on first use, ``note`` says so).

    A pipeline rule passes the ``model.json`` it declared as input together with ``family``, so
    the family's load settings (dtype, attention) apply without searching the working directory.
    """
    if family is not None:
        entry = _families(config).get(family)
        # a family the config does not list loads with the loader's own defaults
        ref, kwargs = model, family_load_kwargs(family_settings(entry)) if entry else {}
    else:
        ref, kwargs = resolve_model(model, config, note)
    return load_model(ref, threads=threads, device=device, **kwargs)
