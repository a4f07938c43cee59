# Shared helpers for every rule file: validated config, target lists, wildcard constraints,
# per-family resources. Nothing here imports torch, so `snakemake -n` stays fast.
import json
import sys

from dataeff.config import DEFAULT_CONFIG, deep_merge, max_budget, validate_config
from dataeff.errors import DataeffError
from dataeff.io import atomic_write_json
from dataeff.provenance import stable_hash

if not workflow.overwrite_configfiles:
    # No --configfile: the embedded default, with any --config KEY=VALUE overrides on top.
    import yaml

    _merged = deep_merge(yaml.safe_load(open(DEFAULT_CONFIG, encoding="utf-8")), dict(config))
    config.clear()
    config.update(_merged)

try:
    validate_config(config, source="config (config/config.yaml and --configfile/--config overrides)")
except DataeffError as _err:
    sys.exit(f"dataeff: error: {_err}")

FAMILIES = list(config["families"])
TASKS = list(config["tasks"])
BUDGETS = sorted(config["budgets"])
EVAL_BUDGETS = [0] + BUDGETS
N_MAX = max_budget(config)

# The validated configuration, content-addressed so every job (local or on a cluster node)
# reads exactly what this invocation resolved, overrides included.
CONFIG_HASH = stable_hash(config)
CONFIG_JSON = f".snakemake/dataeff/config-{CONFIG_HASH}.json"
if not os.path.exists(CONFIG_JSON):
    atomic_write_json(CONFIG_JSON, config)


wildcard_constraints:
    family=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    task=r"[A-Za-z0-9_]+",
    budget=r"\d+",
    seed=r"\d+",


def section_hash(*keys, family=None):
    """Hash of the config sections a rule depends on, passed as a param so that changing
    them (and only them) re-runs the rule."""
    parts = {k: config.get(k) for k in keys}
    if family is not None:
        parts["family"] = {k: v for k, v in config["families"][family].items() if k != "coefficients"}
    return stable_hash(parts)


def family_resource(key, default):
    """Resource callable reading a per-family value (gpus, mem_mb, runtime)."""
    return lambda wildcards, attempt: config["families"][wildcards.family].get(key, default)


def scaled_resource(key, default):
    """Like family_resource but growing with each retry (runtime and memory on a cluster)."""
    return lambda wildcards, attempt: int(config["families"][wildcards.family].get(key, default) * attempt)


def model_ref(family):
    return f"results/models/{family}/model.json"


def task_files(task):
    return multiext(f"data/tasks/{task}/", "train.jsonl", "validation.jsonl", "test.jsonl", "meta.json")


def eval_model_input(wildcards):
    """Budget 0 evaluates the untuned model; other budgets their fine-tuned checkpoint."""
    if int(wildcards.budget) == 0:
        return model_ref(wildcards.family)
    return f"results/{wildcards.family}/{wildcards.task}/train/n{wildcards.budget}/metrics.json"


def eval_files(family, task):
    return expand("results/{family}/{task}/eval/n{budget}.json", family=family, task=task,
                  budget=EVAL_BUDGETS)


def all_targets():
    targets = []
    for family in FAMILIES:
        targets += analysis_targets(family)
    return targets


def launcher(wildcards, resources):
    """`dataeff` for one process; `accelerate launch` with FSDP for multi-GPU families."""
    if int(resources.gpu) > 1:
        return f"accelerate launch --config_file config/fsdp.yaml --num_processes {resources.gpu} -m dataeff.cli"
    return "dataeff"
