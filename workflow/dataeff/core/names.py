"""The names of the files the figure writers produce, stated once.

The plotting code writes exactly these stems, and the rules build their declared outputs from
them (workflow/rules/common.smk), from which ``rule all`` and the target lists are expanded. A
figure added here is therefore written, declared and requested together. Nothing here imports
matplotlib, so the Snakefile can read it without slowing ``snakemake -n``.
"""

from __future__ import annotations

#: Formats of every figure (``stem.png`` and ``stem.pdf``).
FIGURE_FORMATS: tuple[str, ...] = ("png", "pdf")
#: Stems written by :func:`dataeff.plots.curves.write_curve_figures` (rule ``curves``).
CURVE_FIGURES: tuple[str, ...] = ("curves", "overlay")
#: Stems written by :func:`dataeff.plots.analysis.write_all` (rule ``prediction_figures``).
PREDICTION_FIGURES: tuple[str, ...] = (
    "correlations",
    "loto",
    "predicted_curves",
    "zero_shot_vs_best",
    "zero_shot_vs_auc",
    "savings",
)
#: ``stem.csv`` tables written beside the prediction figures.
PREDICTION_TABLES: tuple[str, ...] = ("coefficients", "savings")
#: Files written by :func:`dataeff.plots.calibration.write_calibration` (rules ``calibration`` and
#: ``paper_calibration``), by output keyword; its figure is ``CALIBRATION_FIGURE.{png,pdf}``.
CALIBRATION_FILES: dict[str, str] = {
    "tasks": "tasks.tsv",
    "tsv": "calibration.tsv",
    "md": "calibration.md",
    "json": "calibration.json",
}
CALIBRATION_FIGURE = "calibration"
