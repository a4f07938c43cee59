"""Argument helpers shared by subcommands."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from dataeff.pipeline.config import load_config


def add_config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        default=None,
        help="configuration file (YAML or the pipeline's resolved JSON); default config/config.yaml",
    )


def config_from(args: argparse.Namespace) -> dict[str, Any]:
    return load_config(args.config)


def setup_logging(verbose: bool = True) -> None:
    """Log to stderr, which the pipeline redirects into the rule's file under logs/."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
