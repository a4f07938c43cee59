# Shared helpers for all the rule files (validated config, target lists, resources, the settings
# each job reads). Nothing here imports torch, so `snakemake -n` stays fast. Parsing only declares:
# it writes no file, sets no environment variable and prints nothing (what a job needs comes from a
# rule, settings.smk, or from the shell prefix below; notes are printed when a run starts).
import functools
import json
import os
import shlex
import sys

from snakemake.exceptions import WorkflowError

from dataeff.core.config import DEFAULT_CONFIG, deep_merge, max_budget

from dataeff.pipeline.config import validate_config
from dataeff.core.errors import DataeffError
from dataeff.core.names import (
    CALIBRATION_FIGURE,
    CALIBRATION_FILES,
    CURVE_FIGURES,
    FIGURE_FORMATS,
    PREDICTION_FIGURES,
    PREDICTION_TABLES,
)
from dataeff.pipeline.job_settings import RULES as SETTINGS_RULES
from dataeff.pipeline.job_settings import job_settings
from dataeff.efficiency.published_curves import PAPER_FAMILIES, PAPER_RESULTS_DIR, resolve_results_dir
from dataeff.core.provenance import stable_hash
from dataeff.core.settings import data_settings
from dataeff.tasks.bbh import bbh_dir
from dataeff.tasks.registry import get_task, pool_size

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


def job_environment():
    """The shell prefix of every job (exports, not this process's environment, so parsing changes
    nothing; a SLURM job re-parses the workflow and gets the same prefix).

    Rules call `python -m dataeff`: the directory of the interpreter running Snakemake (e.g.
    .venv/bin) goes first on PATH, so no virtual environment has to be activated, except with
    --sdm conda, where the rule's activated environment comes first. PYTHONPATH lets either find
    the package in workflow/ even where it is not installed. data.hf_home becomes HF_HOME (and its
    datasets/ folder HF_DATASETS_CACHE, where tasks/hub.py would put it): one Hugging Face cache for
    the local prepare rules, which download, and the SLURM jobs, which run offline (profiles/slurm
    precommand). It is a location, not a setting any result depends on, so no job's settings file
    holds it and moving the cache re-runs nothing."""
    from snakemake.settings.types import DeploymentMethod

    exports = []
    if DeploymentMethod.CONDA not in workflow.deployment_settings.deployment_method:
        exports.append(f'PATH={shlex.quote(os.path.dirname(sys.executable))}:"$PATH"')
    package = shlex.quote(os.path.join(workflow.basedir, "workflow"))
    exports.append(f"PYTHONPATH={package}${{PYTHONPATH:+:$PYTHONPATH}}")
    if config["data"].get("hf_home"):
        home = os.path.abspath(os.path.expanduser(config["data"]["hf_home"]))
        exports += [f"HF_HOME={shlex.quote(home)}", f"HF_DATASETS_CACHE={shlex.quote(os.path.join(home, 'datasets'))}"]
    # Snakemake's own prefix under bash, which shell.prefix replaces
    strict = ["set -euo pipefail"] if os.path.basename(shell.get_executable() or "bash") == "bash" else []
    return "".join(f"{command}; " for command in [*strict, *(f"export {e}" for e in exports)])


# shell.prefix formats its argument like a rule's shell command: braces are doubled to stay literal.
shell.prefix(job_environment().replace("{", "{{").replace("}", "}}"))

FAMILIES = list(config["families"])
TASKS = list(config["tasks"])
BUDGETS = sorted(config["budgets"])
N_MAX = max_budget(config)

# ---- the settings each job reads (dataeff.pipeline.job_settings; written by rule job_settings) ----
# A job reads the resolved settings (overrides included) its rule depends on, and nothing else,
# from results/settings/RULE-HASH.json, named by the hash of its content. Its input path changes
# exactly when those settings change, which is what re-runs it; other settings leave it alone.
SETTINGS_DIR = "results/settings"
_SETTINGS = {}  # file name (RULE-HASH) -> settings, filled as jobs ask for their files


@functools.lru_cache(maxsize=None)
def _settings_name(rule, family, task):
    settings = job_settings(config, rule, family, task)
    name = f"{rule}-{stable_hash(settings)}"
    _SETTINGS[name] = settings
    return name


def settings_file(rule):
    """Input function: the settings file of a job of `rule`. `ancient`: the file's content is
    fixed by its name, so its age must not re-run anything (the workflow writes it when a job
    first asks for it, after the outputs of an earlier run that had the same settings)."""

    def pick(wildcards):
        name = _settings_name(rule, wildcards.get("family"), wildcards.get("task"))
        return ancient(f"{SETTINGS_DIR}/{name}.json")

    return pick


def settings_text(name):
    """The JSON text of settings file `name` (RULE-HASH). Jobs ask for their files while the DAG is
    built, before rule job_settings needs one; a file asked for directly is searched among every
    rule, family and task of the configuration."""
    if name not in _SETTINGS:
        for rule_name in SETTINGS_RULES:
            wildcards = workflow.get_rule(rule_name).wildcard_names
            for family in FAMILIES if "family" in wildcards else [None]:
                for task in TASKS if "task" in wildcards else [None]:
                    _settings_name(rule_name, family, task)
    if name not in _SETTINGS:
        raise WorkflowError(f"{SETTINGS_DIR}/{name}.json is not the settings of any job of this configuration")
    return json.dumps(_SETTINGS[name], indent=1, sort_keys=True)


def family_resource(key):
    """Resource callable reading a per-family value (gpus, mem_mb, runtime); the validated
    config holds it, with the schema's default where the family leaves it out."""
    return lambda wildcards, attempt: config["families"][wildcards.family][key]


def scaled_resource(key):
    """Like family_resource but growing with each retry (runtime and memory on a cluster)."""
    return lambda wildcards, attempt: int(config["families"][wildcards.family][key] * attempt)


def model_ref(family):
    return f"results/models/{family}/model.json"


def task_files(task):
    return multiext(f"data/tasks/{task}/", "train.jsonl", "validation.jsonl", "test.jsonl", "meta.json")


def finetuned_model_output(path):
    """A fine-tuned model directory: temporary (removed once its evaluation is written) unless
    train.keep_models asks to keep them all."""
    return directory(path) if config["train"]["keep_models"] else temp(directory(path))


def eval_model_input(wildcards):
    """Budget 0 evaluates the untuned model; other budgets their fine-tuned model (a temporary
    output of finetune unless train.keep_models: it is removed once its evaluation is written)."""
    if int(wildcards.budget) == 0:
        return model_ref(wildcards.family)
    run = f"results/{wildcards.family}/{wildcards.task}/train/n{wildcards.budget}"
    return [f"{run}/metrics.json", f"{run}/model"]


def _training_pool(task):
    """A task's training pool, known without preparing it: the registry's recorded sizes (or
    data.generated_examples), else a prepared task's meta.json; None when unknown."""
    n = pool_size(get_task(task, config), config)
    meta = f"data/tasks/{task}/meta.json"
    if n is None and os.path.isfile(meta):
        try:
            with open(meta, encoding="utf-8") as fh:
                n = int(json.load(fh)["sizes"]["train"])
        except (OSError, ValueError, KeyError, TypeError):
            n = None
    return n


try:
    TASK_POOL = {task: _training_pool(task) for task in TASKS}
except DataeffError as _err:
    sys.exit(f"dataeff: error: {_err}")


def task_budgets(task):
    """Positive budgets of a task: the grid, where every budget above the training pool becomes
    one fine-tune on the whole pool, recorded at the pool size (an off-grid point, as the authors
    did; METHOD.md section 4). No duplicate fine-tunes; the AUC uses the real n."""
    pool = TASK_POOL.get(task)
    return BUDGETS if pool is None else sorted({min(b, pool) for b in BUDGETS})


def eval_files(family, task):
    return expand(
        "results/{family}/{task}/eval/n{budget}.json", family=family, task=task, budget=[0] + task_budgets(task)
    )


def all_targets():
    """Every family's final files. A family whose curves come from published results trains and
    evaluates nothing, so it has no cost table (and, with published predictors, no job needs a
    model at all)."""
    targets = []
    for family in FAMILIES:
        targets += efficiency_targets(family) + analysis_targets(family)
        if published_dir(family) is None:
            targets += cost_targets(family)
    return targets + calibration_targets()


def launcher(wildcards, resources):
    """`dataeff` for one process; `accelerate launch` with FSDP for multi-GPU families."""
    if int(resources.gpu) > 1:
        # --main_process_port 0: accelerate takes a free port when the job starts, so two jobs on
        # one node do not both bind 29500.
        return (
            f"accelerate launch --config_file config/fsdp.yaml --num_processes {resources.gpu} "
            "--main_process_port 0 -m dataeff.cli"
        )
    return "python -m dataeff"


def preflight_check():
    """When a run starts (onstart: not while parsing, not in a dry run): a note on the tasks whose
    training pool is unknown; before anything is submitted to SLURM: account, GPU partitions and
    prepared models."""
    unknown = [t for t in TASKS if TASK_POOL[t] is None]
    if unknown:
        print(
            f"dataeff: note: training pool not known before preparation for {', '.join(unknown)}; "
            "a budget above a pool fails at evaluation (record the task's split_sizes, or prepare it "
            "and re-run so the budget runs at the pool size)",
            file=sys.stderr,
        )
    if workflow.executor_plugin is not None and workflow.executor_plugin.name == "slurm":
        from dataeff.cluster.preflight import preflight

        try:
            preflight(config, workflow)
        except DataeffError as _err:
            sys.exit(f"dataeff: error: {_err}")


# ---- efficiency stage helpers ----
def published_dir(family):
    """The published-results directory if it covers every task of `family`, else None."""
    root = resolve_results_dir((config.get("analysis") or {}).get("published_results"))
    if not root:
        return None
    paths = [os.path.join(root, f"{family}_{task}_full_result_v2.json") for task in TASKS]
    return root if all(os.path.isfile(p) for p in paths) else None


def published_predictors(family):
    """`{published_results}/{family}_predictors.tsv` if the family's curves are published and that
    table has a row for every task, else None (CoS-Low is then computed by the pipeline)."""
    root = published_dir(family)
    path = os.path.join(root, f"{family}_predictors.tsv") if root else None
    if path is None or not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as fh:
        rows = [line.split("\t", 1)[0] for line in fh.read().splitlines()[1:] if line.strip()]
    return path if set(TASKS) <= set(rows) else None


def predictors_file(wildcards):
    """The predictors table the fit and figures read: published or computed."""
    return published_predictors(wildcards.family) or f"results/{wildcards.family}/predictors.tsv"


def reference_root():
    """analysis.reference_results: another run's results whose tasks join the fit (dataeff.efficiency.reference)."""
    return (config.get("analysis") or {}).get("reference_results")


@functools.lru_cache(maxsize=None)
def reference_task_list(family):
    """The reference's tasks for `family` (this run's own excluded); [] without a reference."""
    root = reference_root()
    if not root:
        return []
    from dataeff.efficiency.reference import reference_tasks

    return reference_tasks(root, family, exclude=TASKS)


def analysis_input(name):
    """Input function for efficiency.json / predictors.tsv of the fit and figures: this run's
    own, or combined with the reference's tasks (rule combine_reference) when there is one."""

    def pick(wildcards):
        if reference_task_list(wildcards.family):
            return f"results/{wildcards.family}/combined/{name}"
        if name == "predictors.tsv":
            return predictors_file(wildcards)
        return f"results/{wildcards.family}/{name}"

    return pick


def curve_dir(family):
    """Directory of the family's per-task curve files (published or aggregated)."""
    return published_dir(family) or f"results/{family}/finetune_results"


def curve_files(wildcards):
    return [
        os.path.join(curve_dir(wildcards.family), f"{wildcards.family}_{task}_full_result_v2.json") for task in TASKS
    ]


def curve_args():
    """--grid and --max-budget of the AUC: the configured budgets and N_max."""
    return f"--grid {','.join(str(b) for b in BUDGETS)} --max-budget {N_MAX}"


# ---- target lists: expanded from the rules' declared outputs, never restated ----
def rule_outputs(name, **wildcards):
    """The declared outputs of rule `name` with its wildcards filled in (every combination of the
    values given). Called once all rules are defined (from `rule all`)."""
    return expand([str(f) for f in getattr(rules, name).output], **wildcards)


def figure_outputs(stems, report_png):
    """Output keywords `{stem}_{format}` of a figure rule, one per stem of dataeff.core.names
    (the stems the plotting code writes) and format; `report_png(path, stem)` puts the PNG in the
    report."""
    outputs = {}
    for stem in stems:
        for fmt in FIGURE_FORMATS:
            path = f"results/{{family}}/figures/{stem}.{fmt}"
            outputs[f"{stem}_{fmt}"] = report_png(path, stem) if fmt == "png" else path
    return outputs


def table_outputs(stems, report_table):
    """Output keywords `{stem}` of the `{stem}.csv` tables written beside a rule's figures, each
    in the report with the caption `{stem}_table`."""
    return {stem: report_table(f"results/{{family}}/figures/{stem}.csv", f"{stem}_table") for stem in stems}


def efficiency_targets(family):
    """Final files of the data-efficiency stage for one family: the AUC tables and curve figures."""
    return rule_outputs("efficiency", family=family) + rule_outputs("curves", family=family)


def analysis_targets(family):
    """Final files of the prediction stage for one family (fit outputs, figures, tables)."""
    return rule_outputs("fit", family=family) + rule_outputs("prediction_figures", family=family)


def _efficiency_report(path, caption):
    return report(path, caption=f"../report/{caption}.rst", category="Data efficiency", subcategory="{family}")


# ---- calibration helpers ----
PAPER_RESULT_FILES = sorted(
    str(p) for fam in PAPER_FAMILIES for p in PAPER_RESULTS_DIR.glob(f"{fam}_*_full_result_v2.json")
)


def calibration_targets():
    """The budget-interval calibration on the published curves, and on every family with at
    least 4 tasks (a leave-one-task-out fit needs 3 others)."""
    targets = rule_outputs("paper_calibration")
    if len(TASKS) >= 4:
        targets += rule_outputs("calibration", family=FAMILIES)
    return targets


def calibration_outputs(folder, **wrap):
    """Output keywords of a calibration rule: dataeff.core.names.CALIBRATION_FILES and the
    figure in every format, under `folder`; `wrap[key](path)` puts an output in the report."""
    outputs = {key: f"{folder}/{name}" for key, name in CALIBRATION_FILES.items()}
    outputs |= {fmt: f"{folder}/{CALIBRATION_FIGURE}.{fmt}" for fmt in FIGURE_FORMATS}
    return {key: wrap[key](path) if key in wrap else path for key, path in outputs.items()}


def _prediction_report(path, caption):
    return report(path, caption=f"../report/{caption}.rst", category="Prediction", subcategory="{family}")


# ---- cost stage helpers ----
def cost_targets(family):
    """Final files of the cost table for one family."""
    return rule_outputs("gpu_hours", family=family)


def cost_inputs(wildcards):
    """Every compute job of the family must have run (its benchmark file is then written)."""
    files = [f for task in TASKS for f in eval_files(wildcards.family, task)]
    if "coslow" in config:
        files += expand(
            "results/{family}/{task}/coslow/seed{seed}.json",
            family=wildcards.family,
            task=TASKS,
            seed=config["coslow"]["seeds"],
        )
    return files


def task_data_files(wildcards):
    """Files in the repository or a user's copy that a task's data is read from, so a changed
    file re-prepares the task: the shipped BBH file, or a user's BIG-bench sdist (none for a
    checkout, read in place, or for other sources)."""
    spec = get_task(wildcards.task, config)
    data = data_settings(config)
    if spec.source == "bbh":
        return [str(bbh_dir(data) / f"{spec.bbh['task']}.json.gz")]
    if spec.source == "bigbench" and data.bigbench_sdist and not data.bigbench_checkout:
        return [data.bigbench_sdist]
    return []
