"""``dataeff prepare-model``: make a family's model loadable offline (GGUF conversion or Hub download)."""

from __future__ import annotations

import argparse

from dataeff.commands._common import add_config_arg, config_from
from dataeff.core.config import family
from dataeff.core.settings import family_settings
from dataeff.modeling.loading import prepare_model


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare-model", help="convert or download a family's model into results/models/FAMILY")
    add_config_arg(p)
    p.add_argument("--family", required=True)
    p.add_argument("--out-dir", required=True, help="e.g. results/models/smollm2")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    info = prepare_model(family_settings(family(config, args.family, args.config or "config")), args.out_dir)
    print(f"prepared {args.family}: {info['source']} {info.get('revision') or ''}".strip())
    return 0
