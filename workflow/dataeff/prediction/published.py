"""The paper's published per-family coefficients and baseline correlations.

These numbers let ``dataeff budget --family llama`` answer before a user has run any
fine-tuning of their own, and let the figures compare a fresh fit with the paper's. They are
the fit AUC = slope * CoS-Low + intercept reported by Je & Raffel for each model family. Only
the coefficients' ± is published, not the residual scatter or the CoS-Low spread of the fitted
tasks, so an interval built from them covers coefficient uncertainty only (see
:func:`dataeff.prediction.budget.predict_auc`).
"""

from __future__ import annotations

import copy
from typing import Any

SOURCE = (
    "Je & Raffel 2025, arXiv 2512.24991, section 'From CoS-Low to a label budget': per-family OLS of AUC on CoS-Low"
)

#: family -> coefficients in the layout of the config schema's ``coefficients`` definition.
PUBLISHED_COEFFICIENTS: dict[str, dict[str, Any]] = {
    "llama": {
        "slope": 0.545,
        "slope_se": 0.005,
        "intercept": 0.310,
        "intercept_se": 0.002,
        "resid_std": None,
        "n_tasks": 30,
        "mean_x": None,
        "sxx": None,
        "max_budget": 5000,
        "source": f"{SOURCE} (Llama-3.1-8B-Instruct)",
    },
    "mistral": {
        "slope": 0.797,
        "slope_se": 0.012,
        "intercept": 0.357,
        "intercept_se": 0.002,
        "resid_std": None,
        "n_tasks": 30,
        "mean_x": None,
        "sxx": None,
        "max_budget": 5000,
        "source": f"{SOURCE} (Mistral-7B-Instruct-v0.3)",
    },
    "qwen": {
        "slope": 0.526,
        "slope_se": 0.025,
        "intercept": 0.305,
        "intercept_se": 0.003,
        "resid_std": None,
        "n_tasks": 30,
        "mean_x": None,
        "sxx": None,
        "max_budget": 5000,
        "source": f"{SOURCE} (Qwen2.5-14B-Instruct)",
    },
}

#: Pearson r with AUC across 30 Llama tasks (mean ± spread as published).
PUBLISHED_PEARSON_LLAMA: dict[str, tuple[float, float]] = {
    "coslow": (0.675, 0.05),
    "cos_sim_k": (0.29, 0.061),
    "grad_norm_k": (0.152, 0.03),
    "conf_avg_k": (-0.024, 0.029),
}


def published_coefficients(family: str) -> dict[str, Any] | None:
    """A copy of the paper's coefficients for ``family`` (llama, mistral, qwen), else None."""
    entry = PUBLISHED_COEFFICIENTS.get(family.lower())
    return copy.deepcopy(entry) if entry is not None else None
