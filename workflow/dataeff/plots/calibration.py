"""The calibration figure and the files of a calibration run (rules ``calibration`` and
``paper_calibration``).

The numbers come from :mod:`dataeff.prediction.calibration`; drawing and writing them lives here,
with the other figures, so the prediction layer never imports matplotlib's styling.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from dataeff.core.errors import DataeffError
from dataeff.core.io import atomic_write_json, atomic_write_text
from dataeff.core.names import CALIBRATION_FIGURE, CALIBRATION_FILES
from dataeff.prediction.calibration import markdown_table, summarise


def plot_calibration(summary: pd.DataFrame, title: str):
    """Coverage (left) and median absolute budget error (right) against measured budgets."""
    from dataeff.plots.style import PALETTE  # (Agg backend + style)

    import matplotlib.pyplot as plt  # isort: skip

    level = float(summary["level"].iloc[0])
    sources = list(dict.fromkeys(summary["source"]))
    targets = sorted(summary["target"].unique())
    fig, axes = plt.subplots(len(sources), 2, figsize=(9.0, 2.9 * len(sources) + 0.6), squeeze=False)
    styles = {"bayes": "-", "bayes_xp": "--", "measured_only": ":", "library": "-."}
    for i, src in enumerate(sources):
        s = summary[summary["source"] == src]
        ax_c, ax_e = axes[i]
        ax_c.axhspan(0.7, 0.9, color="0.9", zorder=0)
        ax_c.axhline(level, color="0.5", lw=0.8, ls="--")
        for j, tau in enumerate(targets):
            for method, ls in styles.items():
                g = s[(s["target"] == tau) & (s["method"] == method)].sort_values("measured")
                if g.empty:
                    continue
                label = f"tau {tau:g}, {method}"
                ax_c.plot(g["measured"], g["coverage"], ls=ls, marker="o", ms=3.5, color=PALETTE[j], label=label)
                ax_e.plot(
                    g["measured"], g["median_abs_error"], ls=ls, marker="o", ms=3.5, color=PALETTE[j], label=label
                )
        ax_c.set_ylim(0, 1.02)
        ax_c.set_ylabel(f"{src}\ncoverage of {level:.0%} interval", fontsize=8)
        ax_e.set_ylabel("median |budget error| (labels)", fontsize=8)
        for ax in (ax_c, ax_e):
            ax.set_xticks(sorted(s["measured"].unique()))
            ax.set_xlabel("measured budgets used" if i == len(sources) - 1 else "")
    handles, labels = axes[0, 1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.55 / (2.9 * len(sources) + 0.6), 1, 1))
    return fig


def write_calibration(
    tasks: pd.DataFrame,
    out_dir: str | os.PathLike[str],
    *,
    title: str,
    level: float,
    provenance: Mapping[str, Any],
    pooled: str | None = None,
) -> list[Path]:
    """Write tasks.tsv, calibration.tsv, calibration.md, calibration.json, calibration.png/.pdf
    (the names in :data:`dataeff.core.names.CALIBRATION_FILES`, which the rules declare).

    Everything is computed (and the figure drawn) before the first file is written.
    """
    from dataeff.plots.style import save_figure
    from dataeff.prediction.fit import json_safe, tsv_text

    if tasks.empty:
        raise DataeffError(
            "no held-out task could be evaluated",
            field="tasks",
            fix="calibrate a family with curves that have a gap between zero-shot and ceiling",
        )
    summary = summarise(tasks, level, pooled)
    md = markdown_table(summary, title)
    fig = plot_calibration(summary, title)
    out = Path(out_dir)
    written = [out / CALIBRATION_FILES[key] for key in ("tasks", "tsv", "md", "json")]
    atomic_write_text(written[0], tsv_text(tasks))
    atomic_write_text(written[1], tsv_text(summary))
    atomic_write_text(written[2], md)
    atomic_write_json(
        written[3],
        json_safe(
            {
                "title": title,
                "level": level,
                "summary": summary.to_dict(orient="records"),
                "provenance": dict(provenance),
            }
        ),
    )
    written += save_figure(fig, out / CALIBRATION_FIGURE)
    return written
