"""``dataeff hub-pins``: turn the Hub commits that prepared tasks recorded into config pins.

``dataeff hub-pins data/tasks`` reads every ``data/tasks/*/meta.json`` (or the task directories
or meta.json files given) and prints a ``data.hub_revisions`` block: one entry per Hub dataset,
the commit its load resolved (``hub_load.resolved_revision``). Pasted into the config, it pins
those datasets to exactly the data the prepared tasks were made from.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from dataeff.tasks.hub import pins_from_meta, pins_yaml


def register(subparsers: Any) -> None:
    """Add the ``hub-pins`` parser."""
    p = subparsers.add_parser(
        "hub-pins",
        help="print data.hub_revisions pins from prepared tasks' recorded Hub commits",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("paths", nargs="*", default=["data/tasks"], help="data/tasks, task directories or meta.json files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the pins (stdout) and a one-line summary (stderr)."""

    pins = pins_from_meta(args.paths)
    if not pins:
        print("no Hub load with a recorded commit under " + ", ".join(args.paths), file=sys.stderr)
        return 1
    sys.stdout.write(pins_yaml(pins))
    unpinned = sum(not e["pinned"] for e in pins.values())
    print(f"{len(pins)} Hub datasets, {unpinned} of them loaded unpinned", file=sys.stderr)
    return 0
