"""``dataeff prepare-task``: write a task's train/validation/test JSONL and meta.json.

``dataeff prepare-task --config FILE --task NAME --out-dir data/tasks/NAME`` prepares one
task (generated, Hub, shipped BIG-Bench Hard, a user's BIG-bench copy, or a user file);
``dataeff prepare-task --list`` prints the registry. ``--bigbench-catalog FILE`` writes the
usable-example counts of every BIG-bench JSON task of a user's sdist (``data.bigbench_sdist``).
"""

from __future__ import annotations

import argparse
from typing import Any

from dataeff.core.errors import DataeffError
from dataeff.core.io import atomic_write_json
from dataeff.core.settings import data_settings
from dataeff.pipeline.config import load_config
from dataeff.tasks.bigbench import catalog
from dataeff.tasks.prepare import prepare_task
from dataeff.tasks.registry import REGISTRY, get_task, known_task_names


def register(subparsers: Any) -> None:
    """Add the ``prepare-task`` parser."""
    p = subparsers.add_parser(
        "prepare-task", help="prepare a task's splits (data/tasks/{task}/)", description=__doc__.splitlines()[0]
    )
    p.add_argument("--config", default=None, help="configuration YAML (default config/config.yaml)")
    p.add_argument("--task", help="task name (registry or user_tasks)")
    p.add_argument("--out-dir", help="output directory (default data/tasks/TASK)")
    p.add_argument("--list", action="store_true", help="list the registry tasks and exit")
    p.add_argument(
        "--bigbench-catalog",
        metavar="FILE",
        help="write every BIG-bench JSON task's usable-example counts (JSON) and exit",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Prepare one task, or list the registry."""

    if args.list:
        print(f"{'task':40s} {'source':10s} {'ceiling':>8s}  hub")
        for name in known_task_names():
            s = REGISTRY[name]
            ceiling = "-" if s.ceiling is None else f"{s.ceiling:g}"
            hub = (s.hub_id or "") + (f" ({s.hub_config})" if s.hub_config else "")
            if s.bigbench:
                hub = f"bigbench {s.bigbench['task']} (train {s.bigbench['train_size']})"
            if s.bbh:
                hub = f"BIG-Bench Hard {s.bbh['task']} (data/bbh)"
            print(f"{name:40s} {s.source:10s} {ceiling:>8s}  {hub}")
        return 0
    if args.bigbench_catalog:
        return _bigbench(args)
    if not args.task:
        raise DataeffError(
            "give --task NAME (or --list)", field="--task", fix="see the tasks with `dataeff prepare-task --list`"
        )

    config = load_config(args.config)
    spec = get_task(args.task, config)
    out_dir = args.out_dir or f"data/tasks/{args.task}"
    prepare_task(spec, config, out_dir)
    return 0


def _bigbench(args: argparse.Namespace) -> int:
    """``--bigbench-catalog`` (needs a user's sdist, ``data.bigbench_sdist``)."""
    import sys

    data = data_settings(load_config(args.config))
    entries = catalog(data)
    atomic_write_json(
        args.bigbench_catalog,
        {
            "sdist_sha256": data.bigbench_sha256,
            "max_target_words": data.bigbench_max_target_words,
            "tasks": entries,
        },
    )
    print(f"{len(entries)} BIG-bench task files -> {args.bigbench_catalog}", file=sys.stderr)
    return 0
