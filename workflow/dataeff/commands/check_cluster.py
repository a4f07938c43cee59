"""``dataeff check-cluster``: check a SLURM profile against the cluster before a run."""

from __future__ import annotations

import argparse
import shlex
import sys

from dataeff.cluster import preflight as cluster
from dataeff.commands._common import add_config_arg, config_from


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "check-cluster",
        help="check a SLURM profile (account, GPU partitions) and the prepared models before a run",
        description="Ask SLURM (scontrol show config, sinfo) whether the profile's account and partitions "
        "can run the configured families, and whether the prepared models are readable. "
        "Prints one line per problem and exits 2 if there is any.",
    )
    add_config_arg(p)
    p.add_argument("--profile", default="profiles/slurm", help="Snakemake profile directory or file")
    p.add_argument("--results", default="results", help="results directory holding models/FAMILY/model.json")
    p.add_argument("--no-account", action="store_true", help="the run uses --slurm-no-account")
    p.add_argument("--models-only", action="store_true", help="only check that prepared models load here")
    p.add_argument(
        "--on-node",
        action="store_true",
        help="also run the model check on a compute node of the GPU partition (srun), "
        "with the offline environment compute jobs get",
    )
    p.set_defaults(func=run)


def _srun_args(defaults: dict, per_rule: dict) -> list[str]:
    res = {**defaults, **{k: v for k, v in per_rule.get("finetune", {}).items() if v not in ("", None)}}
    args = ["srun", "--ntasks=1", "--time=5", "--mem=1000"]
    if res.get("slurm_account"):
        args.append(f"--account={res['slurm_account']}")
    if res.get("slurm_partition"):
        args.append(f"--partition={res['slurm_partition']}")
    return args


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    problems = cluster.check_models(config, results=args.results)
    if not args.models_only:
        profile, profile_file = cluster.load_profile(args.profile)
        defaults, per_rule = cluster.profile_resources(profile)
        problems += cluster.check_slurm(
            config,
            defaults,
            per_rule,
            profile_file=profile_file,
            no_account=args.no_account or bool(profile.get("slurm-no-account")),
        )
        if args.on_node and not problems:
            offline = "HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1"
            inner = (
                f"env {offline} {shlex.quote(sys.executable)} -m dataeff.cli check-cluster "
                f"--models-only --results {shlex.quote(args.results)}"
                + (f" --config {shlex.quote(args.config)}" if args.config else "")
            )
            out = cluster.run_command([*_srun_args(defaults, per_rule), "bash", "-c", inner], timeout=600)
            if out is None:
                problems.append(
                    cluster.DataeffError(
                        "the model check on a compute node failed (models not readable there, or srun refused)",
                        field="data.hf_home",
                        fix="set data.hf_home (HF_HOME) to a cache shared with the compute nodes and re-run "
                        "the prepare step; run `srun ... dataeff check-cluster --models-only` to see why",
                    )
                )
    for problem in problems:
        print(f"dataeff: error: {problem}", file=sys.stderr)
    if problems:
        return 2
    print("check-cluster: ok")
    return 0
