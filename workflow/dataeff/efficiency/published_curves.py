"""The paper's published per-budget results, shipped as package data (see data/README.md).

The interval of a budget prediction needs real data-efficiency curves to measure how far real
curves fall from the x**p model, and the calibration needs held-out curves. Shipping the
authors' 100 small result files with the package makes both work without any other checkout.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from dataeff.efficiency.auc import PAPER_GRID, PAPER_MAX_BUDGET, Curve, family_curves
from dataeff.efficiency.results import read_ceilings, read_family

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
PAPER_RESULTS_DIR = DATA_DIR / "paper_results"
PAPER_CEILINGS = DATA_DIR / "human_ceilings.json"
#: Value of ``analysis.published_results`` that names the shipped copy.
BUNDLED = "bundled"
PAPER_FAMILIES = ("llama", "mistral", "qwen")


def resolve_results_dir(value: str | os.PathLike[str] | None) -> str | None:
    """``analysis.published_results`` as a directory: ``"bundled"`` is the shipped copy."""
    if value is None or str(value) == "":
        return None
    if str(value) == BUNDLED:
        return str(PAPER_RESULTS_DIR)
    return str(value)


@cache
def paper_curves(family: str) -> dict[str, Curve]:
    """Task -> cleaned curve (docs/METHOD.md section 1) of one published family, every task shipped.

    Tasks whose human ceiling is unknown take their best accuracy as ceiling, as the paper did.
    """

    points, _ = read_family(PAPER_RESULTS_DIR, family)
    return family_curves(
        points,
        read_ceilings(PAPER_CEILINGS),
        PAPER_GRID,
        PAPER_MAX_BUDGET,
        ceilings_source=str(PAPER_CEILINGS),
        unknown_ceiling_ok=True,
    )
