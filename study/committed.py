"""What the study's analyses share: which tasks are committed, and their command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from dataeff.efficiency.results import result_filename  # noqa: E402
from dataeff.pipeline.config import load_config  # noqa: E402


def committed_tasks(root: Path, config: dict) -> list[str]:
    """The config's tasks whose result file is committed under ``root``, in the config's order
    (every analysis lists them in that order, whichever script writes it)."""
    (family,) = list(config["families"])
    return [t for t in config["tasks"] if (root / result_filename(family, t)).is_file()]


def run_on_committed(
    doc: str, write: Callable[[Path, list[str], Path], Any], summary: str, argv: list[str] | None = None
) -> int:
    """``write(root, tasks, out)`` over the committed tasks of ``--results`` into its
    ``analysis/``, then print ``analysis/{summary}``."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--results", default="study/results/smollm2")
    ap.add_argument("--config", default="config/study.yaml")
    args = ap.parse_args(argv)
    root = REPO / args.results
    out = root / "analysis"
    out.mkdir(parents=True, exist_ok=True)
    write(root, committed_tasks(root, load_config(REPO / args.config)), out)
    print((out / summary).read_text())
    return 0
