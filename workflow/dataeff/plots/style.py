"""The one shared matplotlib style of the project.

Every figure module imports this first: it forces the Agg backend (pipelines run headless,
on cluster nodes without a display), applies one set of fonts, sizes and colours, and saves
figures as PNG (for the Snakemake report and quick viewing) plus PDF (for papers) through
:func:`dataeff.core.io.atomic_path`, so an interrupted run never leaves half a figure.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=True)

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from dataeff.core.io import atomic_path  # noqa: E402
from dataeff.core.names import FIGURE_FORMATS  # noqa: E402

#: Colormap for continuous values (AUC): perceptually uniform and colour-blind safe.
CMAP = "viridis"
#: Discrete colours (Okabe-Ito, colour-blind safe) for categories such as model families.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
#: Colour of the cleaned curve, of measured points and of clamped (dropped) measurements.
LINE_COLOR = PALETTE[0]
POINT_COLOR = "#222222"
CLAMPED_COLOR = PALETTE[1]
#: PNG resolution.
DPI = 150

RC = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 8,
    "figure.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "lines.linewidth": 1.5,
    "lines.markersize": 4,
    "image.cmap": CMAP,
    "axes.prop_cycle": matplotlib.cycler(color=list(PALETTE)),
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.05,
    "pdf.fonttype": 42,  # embed TrueType so PDFs stay editable
    "svg.fonttype": "none",
}


def apply_style() -> None:
    """Apply the project style globally (idempotent)."""
    plt.rcParams.update(RC)


def save_figure(
    fig: Figure, stem: str | os.PathLike[str], *, dpi: int = DPI, formats: tuple[str, ...] = FIGURE_FORMATS
) -> list[Path]:
    """Write ``stem.png`` and ``stem.pdf`` (:data:`~dataeff.core.names.FIGURE_FORMATS`) atomically,
    close ``fig``, return the paths.

    ``stem`` is the path without extension (an extension given by mistake is replaced). A PDF
    carries no creation date, so the same figure gives the same bytes on every run (a rerun's
    outputs can be compared byte for byte; a date would differ each time).
    """
    stem = Path(stem)
    if stem.suffix.lower() in {".png", ".pdf", ".svg"}:
        stem = stem.with_suffix("")
    paths = []
    try:
        for fmt in formats:
            dest = stem.parent / f"{stem.name}.{fmt}"
            with atomic_path(dest) as tmp:
                metadata = {"CreationDate": None} if fmt == "pdf" else None
                fig.savefig(tmp, format=fmt, dpi=dpi, metadata=metadata)
            paths.append(dest)
    finally:
        plt.close(fig)
    return paths


apply_style()
