"""The command line shared by the study's analyses that read only the committed results."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def run_on_committed(
    doc: str, write: Callable[[Path, list[str], Path], Any], summary: str, argv: list[str] | None = None
) -> int:
    """``write(root, tasks, out)`` over every committed task of ``--results`` into its
    ``analysis/``, then print ``analysis/{summary}``."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--results", default="study/results/smollm2")
    args = ap.parse_args(argv)
    root = REPO / args.results
    tasks = sorted(p.name for p in (root / "raw").iterdir() if p.is_dir())
    out = root / "analysis"
    out.mkdir(parents=True, exist_ok=True)
    write(root, tasks, out)
    print((out / summary).read_text())
    return 0
