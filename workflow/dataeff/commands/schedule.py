"""``dataeff schedule``: what every budget of a configuration's fine-tunes will do, before any runs.

Prints, per budget, the training and validation rows, the updates the step cap allows and the
earliest step early stopping can end at, the examples drawn and the distinct examples seen, then
any reason the schedule would not measure data efficiency (a larger budget that sees no more
distinct examples than a smaller one, a run early stopping can never end). Exit code 1 when there
is such a problem, so a configuration can be checked in a script.
"""

from __future__ import annotations

import argparse

from dataeff.commands._common import add_config_arg, config_from
from dataeff.training.schedule import budget_plans, early_stop_overlaps, format_table, schedule_problems


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "schedule",
        help="what each budget's fine-tune will do (updates, epochs, distinct examples)",
        description=__doc__.splitlines()[0],
    )
    add_config_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    plans = budget_plans(config_from(args))
    print(format_table(plans))
    problems = schedule_problems(plans)
    for line in problems:
        print(f"problem: {line}")
    for b in early_stop_overlaps(plans):
        print(
            f"note: early stopping may end budget {b} before it sees more distinct examples than "
            "the next smaller budget"
        )
    return 1 if problems else 0
