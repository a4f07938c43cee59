"""The ``dataeff`` command line.

Each subcommand lives in its own module under :mod:`dataeff.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a callable taking the
parsed arguments and returning an exit code. Errors the user can fix are printed as one
line (``dataeff: error: ...``) with exit code 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence

from dataeff.core.errors import DataeffError

#: Subcommand modules, in the order ``dataeff --help`` lists them.
COMMANDS = (
    "prepare_model",
    "prepare_task",
    "hub_pins",
    "schedule",
    "finetune",
    "evaluate",
    "aggregate",
    "auc",
    "curves",
    "select",
    "coslow",
    "coslow_task",
    "combine_reference",
    "fit",
    "budget",
    "predict",
    "figures",
    "calibrate",
    "cost",
    "check_cluster",
)


def build_parser() -> argparse.ArgumentParser:
    """Parser with every available subcommand registered."""
    parser = argparse.ArgumentParser(prog="dataeff", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"dataeff.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, dispatch, and turn user errors into one-line messages."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    warnings.filterwarnings("ignore", category=FutureWarning)
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except DataeffError as exc:
        if debug:
            raise
        print(f"dataeff: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dataeff: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
