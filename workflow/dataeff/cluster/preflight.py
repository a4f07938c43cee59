"""Pre-flight checks for running the pipeline on a SLURM cluster.

A misconfigured cluster run fails late and obscurely: sbatch rejects a job without an account
after the first hour of local preparation, a fine-tune sits on a CPU partition until its time
limit, or an offline compute node cannot find a model that was downloaded into a cache it does
not see. These checks ask SLURM (``scontrol show config``, ``sinfo``) and the prepared model
files before anything is submitted, and turn each problem into one line naming the setting to
change. They run from ``dataeff check-cluster`` and from the workflow's ``onstart`` handler
when Snakemake runs with the slurm executor.

Everything that talks to SLURM goes through a ``runner`` callable so the checks are testable
without a cluster.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dataeff.core.errors import DataeffError
from dataeff.core.io import read_yaml
from dataeff.core.settings import data_settings, family_settings
from dataeff.modeling.memory import check_memory

#: Rules that run as SLURM jobs and may need a GPU (the others are local rules).
GPU_RULES = ("finetune", "evaluate", "confidence", "coslow")
#: The profile file that the messages point at.
DEFAULT_PROFILE = "profiles/slurm/config.yaml"

Runner = Callable[[list[str]], "str | None"]


def run_command(args: list[str], timeout: float = 30) -> str | None:
    """stdout of ``args``, or None when the command is missing, fails or hangs."""
    if shutil.which(args[0]) is None:
        return None
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def cluster_up(runner: Runner = run_command) -> bool:
    """Whether SLURM answers and has at least one node that can take jobs."""
    out = runner(["sinfo", "-h", "-o", "%t"])
    if not out:
        return False
    return any(s.strip().rstrip("*~#!%$@^-") in {"idle", "mix", "alloc", "comp", "plnd"} for s in out.split())


def slurm_config(runner: Runner = run_command) -> dict[str, str]:
    """``scontrol show config`` as a dict (empty when scontrol is unavailable)."""
    out = runner(["scontrol", "show", "config"]) or ""
    conf = {}
    for line in out.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            conf[key.strip()] = value.strip()
    return conf


def accounts_required(conf: Mapping[str, str]) -> bool:
    """Whether jobs must run under an account association.

    ``AccountingStorageEnforce`` values ``associations``, ``limits``, ``qos``, ``safe`` and
    ``wckeys`` all imply associations (slurm.conf(5)); ``nojobs``/``nosteps`` alone do not.
    """
    value = conf.get("AccountingStorageEnforce", "").lower()
    if value in ("", "none", "0", "(null)"):
        return False
    flags = {f.strip() for f in value.split(",")}
    return bool(flags & {"associations", "limits", "qos", "safe", "wckeys", "all"})


def partitions(runner: Runner = run_command) -> tuple[list[str], str | None]:
    """Partition names and the default partition (marked ``*`` by sinfo)."""
    out = runner(["sinfo", "-h", "-o", "%P"]) or ""
    names, default = [], None
    for raw in out.split():
        name = raw.rstrip("*")
        if raw.endswith("*"):
            default = name
        if name not in names:
            names.append(name)
    return names, default


def partition_has_gpus(partition: str, runner: Runner = run_command) -> bool:
    """Whether any node of ``partition`` offers ``gres/gpu`` (``sinfo -p PART -o %G``)."""
    out = runner(["sinfo", "-h", "-p", partition, "-o", "%G"]) or ""
    return any(g.strip().startswith("gpu") or ",gpu" in g for g in out.split())


# -- profile and resources ------------------------------------------------------------------------


def _resource_items(value: Any) -> dict[str, Any]:
    """``default-resources`` as written in a profile: a mapping or a list of ``key=value``."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, str):
        value = value.split()
    out: dict[str, Any] = {}
    for item in value:
        key, _, val = str(item).partition("=")
        out[key.strip()] = val.strip().strip("'\"")
    return out


def _set_resources(value: Any) -> dict[str, dict[str, Any]]:
    """``set-resources``: ``{rule: {key: value}}`` or a list of ``rule:key=value``."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(rule): _resource_items(res) for rule, res in value.items()}
    out: dict[str, dict[str, Any]] = {}
    for item in value if not isinstance(value, str) else value.split():
        rule, _, rest = str(item).partition(":")
        out.setdefault(rule, {}).update(_resource_items([rest]))
    return out


def load_profile(path: str | os.PathLike[str]) -> tuple[dict[str, Any], str]:
    """A Snakemake profile (directory with config.yaml/profile.yaml, or the file) and its file."""

    p = Path(path)
    if p.is_dir():
        for name in ("profile.yaml", "config.yaml"):
            if (p / name).is_file():
                p = p / name
                break
        else:
            raise DataeffError(
                "no config.yaml or profile.yaml in the profile directory",
                file=str(path),
                fix="give the profile directory, e.g. --profile profiles/slurm",
            )
    data = read_yaml(p)
    if not isinstance(data, dict):
        raise DataeffError("a profile must be a YAML mapping", file=str(p))
    return data, str(p)


def profile_resources(profile: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(default-resources, set-resources) of a parsed profile."""
    return (_resource_items(profile.get("default-resources")), _set_resources(profile.get("set-resources")))


def workflow_resources(workflow: Any) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(default-resources, set-resources) of a running Snakemake workflow (its parsed CLI and
    profiles), in the same form as :func:`profile_resources`."""
    settings = workflow.resource_settings
    defaults: dict[str, Any] = {}
    if settings.default_resources is not None:
        defaults = _resource_items(list(settings.default_resources.args))
    per_rule: dict[str, dict[str, Any]] = {}
    for rule, res in (settings.overwrite_resources or {}).items():
        per_rule[rule] = {name: getattr(r, "raw", r) for name, r in res.items()}
    return defaults, per_rule


def rule_gpus(config: Mapping[str, Any]) -> dict[str, int]:
    """GPUs each compute rule asks for at most: fine-tuning uses the family's ``gpus``,
    evaluation, the confidence pass and CoS-Low one GPU when the family has any
    (``config`` validated)."""
    most = max((int(family_settings(f).gpus) for f in config["families"].values()), default=0)
    return {"finetune": most, **{rule: min(1, most) for rule in GPU_RULES if rule != "finetune"}}


# -- checks -------------------------------------------------------------------------------------------


def check_slurm(
    config: Mapping[str, Any],
    defaults: Mapping[str, Any],
    per_rule: Mapping[str, Mapping[str, Any]],
    *,
    profile_file: str = DEFAULT_PROFILE,
    no_account: bool = False,
    runner: Runner = run_command,
) -> list[DataeffError]:
    """Account and partition problems of a SLURM run, one :class:`DataeffError` each."""
    problems: list[DataeffError] = []
    if runner(["sinfo", "--version"]) is None:
        return [
            DataeffError(
                "SLURM commands (sinfo) are not available on this machine",
                fix="run on the cluster's login node, or use --profile profiles/local",
            )
        ]
    conf = slurm_config(runner)
    account = str(defaults.get("slurm_account") or "").strip()
    rule_accounts = {r: str(res.get("slurm_account") or "").strip() for r, res in per_rule.items()}
    if accounts_required(conf) and not no_account and not account and not all(rule_accounts.get(r) for r in GPU_RULES):
        problems.append(
            DataeffError(
                f"SLURM enforces accounts (AccountingStorageEnforce={conf['AccountingStorageEnforce']}) "
                "but no account is set",
                file=profile_file,
                field="default-resources: slurm_account",
                fix="set slurm_account to your project account (sacctmgr show assoc user=$USER format=account)",
            )
        )
    names, default_partition = partitions(runner)
    gpus = rule_gpus(config)
    seen: set[str] = set()
    for rule in GPU_RULES:
        res = per_rule.get(rule, {})
        partition = str(res.get("slurm_partition") or defaults.get("slurm_partition") or "").strip()
        where = (
            f"set-resources: {rule}: slurm_partition"
            if res.get("slurm_partition")
            else "default-resources: slurm_partition"
        )
        if partition and names and partition not in names:
            if partition not in seen:
                problems.append(
                    DataeffError(
                        f"partition '{partition}' does not exist (sinfo lists {', '.join(names)})",
                        file=profile_file,
                        field=where,
                        fix="set it to one of the partitions sinfo lists",
                    )
                )
            seen.add(partition)
            continue
        partition = partition or default_partition or ""
        if gpus[rule] > 0 and partition and not partition_has_gpus(partition, runner):
            problems.append(
                DataeffError(
                    f"rule {rule} asks for gpu={gpus[rule]} but partition '{partition}' has no GPUs "
                    f"(sinfo -p {partition} -o %G shows no gres/gpu)",
                    file=profile_file,
                    field=f"set-resources: {rule}: slurm_partition",
                    fix="set it to a GPU partition, or set gpus: 0 for CPU-only families in config",
                )
            )
    return problems


def check_models(
    config: Mapping[str, Any], *, results: str | os.PathLike[str] = "results", hf_home: str | None = None
) -> list[DataeffError]:
    """Prepared models that an offline compute node could not load.

    A family whose ``model.json`` does not exist yet is fine: the local prepare rule makes it
    before any compute job starts. One whose ``model.json`` points at a path this node cannot
    see (a Hub snapshot in another cache, a local directory not on a shared file system) fails.
    """
    problems: list[DataeffError] = []
    home = hf_home or data_settings(config).hf_home or os.environ.get("HF_HOME")
    for family in config["families"]:
        ref = Path(results) / "models" / family / "model.json"
        if not ref.is_file():
            continue
        try:
            info = json.loads(ref.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            problems.append(
                DataeffError(
                    "unreadable prepared-model file",
                    file=str(ref),
                    fix=f"delete it and re-run the prepare step (snakemake --forcerun prepare_model {ref})",
                )
            )
            continue
        path = Path(str(info.get("path", "")))
        if not path.is_absolute():
            path = ref.parent / path
        if not (path / "config.json").is_file():
            cache = f"HF_HOME={home}" if home else "HF_HOME (unset: ~/.cache/huggingface)"
            problems.append(
                DataeffError(
                    f"family {family}: model files not found at {path} on this node (offline compute "
                    f"jobs cannot download them; {cache})",
                    file=str(ref),
                    field="data.hf_home",
                    fix="set data.hf_home (HF_HOME) to a cache on a file system shared with the compute "
                    f"nodes, then re-run the prepare step: snakemake --forcerun prepare_model {ref}",
                )
            )
    return problems


def preflight(config: Mapping[str, Any], workflow: Any, *, results: str = "results") -> None:
    """Raise the first problem of a slurm-executor run (called from the workflow's onstart)."""
    defaults, per_rule = workflow_resources(workflow)
    no_account = bool(getattr(getattr(workflow, "executor_settings", None), "no_account", False))
    problems = check_slurm(
        config, defaults, per_rule, no_account=no_account, profile_file=f"your SLURM profile ({DEFAULT_PROFILE})"
    )
    problems += check_models(config, results=results)

    problems += check_memory(config, results=results)
    if problems:
        raise problems[0]
