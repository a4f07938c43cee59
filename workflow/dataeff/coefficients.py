"""Where a family's CoS-Low -> AUC coefficients come from.

Moved out of :mod:`dataeff.budget` so that the budget arithmetic and the search for
coefficients evolve separately.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dataeff.budget import _num
from dataeff.errors import DataeffError


def _coefficients_from_file(path: str | os.PathLike[str], family: str | None) -> dict[str, Any]:
    from dataeff.io import read_json, read_yaml

    p = Path(path)
    data = read_json(p) if p.suffix.lower() == ".json" else read_yaml(p)
    if isinstance(data, dict) and "slope" not in data and family and isinstance(data.get(family), dict):
        data = data[family]  # a file mapping family -> coefficients
    if isinstance(data, dict) and "slope" not in data and isinstance(data.get("coefficients"), dict):
        data = data["coefficients"]  # a family's config entry
    if not isinstance(data, dict) or "slope" not in data or "intercept" not in data:
        raise DataeffError("no 'slope' and 'intercept' found", file=str(p), field="slope",
                           fix="give a coefficients.json written by `dataeff fit`")
    for key in ("slope", "intercept"):
        if _num(data, key) is None:
            raise DataeffError(f"'{key}' is not a finite number", file=str(p), field=key,
                               fix="give a coefficients.json written by `dataeff fit`")
    data = dict(data)
    data.setdefault("source", str(p))
    return data


def lookup_coefficients(family: str, coefficients_file: str | None = None,
                        results_dir: str | os.PathLike[str] = "results",
                        config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Coefficients for ``family``: explicit file, the fit's output, the config, the paper.

    Order: ``coefficients_file``; ``results/{family}/coefficients.json``; the family's
    ``coefficients`` entry in ``config``; the published table (llama, mistral, qwen).
    """
    from dataeff.published import published_coefficients

    if coefficients_file:
        return _coefficients_from_file(coefficients_file, family)
    fitted = Path(results_dir) / family / "coefficients.json"
    if fitted.is_file():
        return _coefficients_from_file(fitted, family)
    entry = ((config or {}).get("families") or {}).get(family) or {}
    if isinstance(entry.get("coefficients"), dict):
        coefs = dict(entry["coefficients"])
        coefs.setdefault("source", f"config families.{family}.coefficients")
        return coefs
    published = published_coefficients(family)
    if published is not None:
        return published
    raise DataeffError(f"no coefficients known for family '{family}'", field="--family",
                       fix=f"pass --slope and --intercept, or run `dataeff fit` to write {fitted}, "
                           "or use a published family (llama, mistral, qwen)")
