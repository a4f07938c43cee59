"""Resolve what a user or a rule calls "the model" (a family name, a model directory or
``model.json``, or a Hub id) and load it, so selection, CoS-Low and prediction agree on it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dataeff.config import REPO_ROOT
from dataeff.errors import DataeffError
from dataeff.models import family_load_kwargs, load_model


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


def load_model_ref(
    model: str,
    config: dict[str, Any] | None = None,
    *,
    family: str | None = None,
    threads: int | None = None,
    device: str | None = None,
):
    """Load ``(model, tokenizer, info)`` from a family name, a model dir/model.json or a Hub id.

    A pipeline rule passes the ``model.json`` it declared as input together with ``family``, so
    the family's load settings (dtype, attention) apply without searching the working directory.
    """
    kwargs: dict[str, Any] = {}
    ref: str = model
    families = (config or {}).get("families") or {}
    if family is not None:
        kwargs = family_load_kwargs(families.get(family) or {})
    elif model in families:
        found = family_model_json(model)
        if found is None:
            raise DataeffError(
                f"family '{model}' is not prepared (no results/models/{model}/model.json)",
                fix=f"run: snakemake results/models/{model}/model.json",
            )
        ref = str(found)
        kwargs = family_load_kwargs(families[model])
    elif not Path(model).exists() and "/" not in model and family_model_json(model) is not None:
        ref = str(family_model_json(model))
    return load_model(ref, threads=threads, device=device, **kwargs)
