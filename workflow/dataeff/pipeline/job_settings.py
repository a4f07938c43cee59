"""The settings each pipeline job reads: the slice of the resolved configuration its rule needs.

Snakemake re-runs a job when its input files or params change. If every job read one file holding
the whole configuration, any edit (a figure's targets, a family's runtime) would re-run every
fine-tune of the grid. So each job reads a file holding only the settings its result depends on:
:func:`job_settings` cuts that slice for one rule (and one family and task where it differs
between them), and the workflow writes it once under ``results/settings/RULE-HASH.json``, named by
the hash of its content (rule ``job_settings`` in ``workflow/rules/settings.smk``). A job's input
path therefore changes exactly when its slice changes, and an unchanged slice is never rewritten.

A slice is itself a configuration the commands load with ``--config``: the top-level key
:data:`dataeff.core.config.JOB_SETTINGS_KEY` marks it as partial (the schema's required keys may be
absent) and the schema fills every setting it leaves out with its default. So a slice must hold
every setting the rule's command reads, not only those that change its result (``train.threads``
is read, so changing it re-runs the fine-tunes). :data:`RULES` is that table, worked out from
what each ``dataeff`` command reads; docs/SLURM.md lists which settings re-run which rules.

Where a section has a few keys no job of the rule reads, the slice drops those by name and keeps
the rest, so a key added later is a dependency until someone says otherwise: a needless re-run
is cheap to notice, a stale result is not. Nothing heavy is imported: the Snakefile imports this
module while it parses.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from dataeff.core.config import JOB_SETTINGS_KEY
from dataeff.tasks.registry import BIGBENCH_PAPER, get_task

Config = Mapping[str, Any]

#: Family keys no job's result depends on: the cluster requests (mem_mb, runtime), the GPU size
#: the memory planner checks at start-up (gpu_mem_gb) and the published coefficients that
#: ``dataeff predict`` and ``budget`` read.
FAMILY_NOT_READ = ("coefficients", "mem_mb", "runtime", "gpu_mem_gb")

#: The family keys that prepare a model (download or convert it) and name it in a result.
FAMILY_IDENTITY = ("model", "revision")

#: ``data`` keys that only one task source reads; a task of another source leaves them out, so
#: that, for example, pinning one Hub dataset re-prepares that dataset's task alone.
SOURCE_DATA_KEYS = {
    "generated": ("generated_examples", "difficulty"),
    "hub": ("hub_revisions",),
    "bbh": ("bbh_dir",),
    "bigbench": (
        "bigbench_checkout",
        "bigbench_sdist",
        "bigbench_sha256",
        "bigbench_cache",
        "bigbench_max_target_words",
    ),
}

#: ``data`` keys no task preparation reads: the Hugging Face cache (a location, passed to the jobs
#: as HF_HOME by the workflow) and the share of a budget drawn as validation (read by fine-tunes).
DATA_NOT_TASK = ("hf_home", "validation_fraction")

#: Sections that define tasks (a task named in one of them is a configured task).
TASK_SECTIONS = ("user_tasks", "bigbench_tasks", "bbh_tasks")

#: ``train`` keys the workflow reads, not the fine-tune: whether its model directory is temporary.
TRAIN_NOT_READ = ("keep_models",)

#: ``coslow`` keys that only ``dataeff predict`` reads (warnings and the headline's wording).
COSLOW_PREDICT_ONLY = ("dominant_answer_share", "same_output_share", "unstable_budget_factor")
#: ``coslow`` keys of the confidence pass alone (rule confidence): which prompts are scored, how.
COSLOW_CONFIDENCE_PASS = ("pool_size", "max_new_tokens", "batch_size")
#: ``coslow`` keys of the per-seed CoS-Low jobs alone (rule coslow): ranking, LoRA, gradient pass.
COSLOW_PER_SEED = ("confidence", "lora", "spread_resamples", "grad_batch_size", "max_seq_len")

#: ``analysis`` keys the calibration does not read (the AUC's inputs and the fit's own settings).
ANALYSIS_NOT_CALIBRATION = ("published_results", "reference_results", "ceilings", "floor", "bootstrap", "level")


def _without(section: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    drop = set(keys)
    return {k: v for k, v in section.items() if k not in drop}


def _only(section: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    return {k: section[k] for k in keys if k in section}


def _family(config: Config, family: str, keep: Iterable[str] | None = None, drop: Iterable[str] = ()) -> dict:
    """``{"families": {family: entry}}`` with the entry cut to ``keep`` (or all keys but ``drop``
    and :data:`FAMILY_NOT_READ`)."""
    entry = config["families"][family]
    cut = _only(entry, keep) if keep is not None else _without(entry, (*FAMILY_NOT_READ, *drop))
    return {"families": {family: cut}}


def _for_task(section: Mapping[str, Any], task: str | None) -> dict[str, Any]:
    """``section`` with every per-task map (a key ending in ``_by_task``, such as
    ``eval.max_new_tokens_by_task``) cut to ``task``'s entry: the others are other tasks' business."""
    out = dict(section)
    for key, value in section.items():
        if key.endswith("_by_task") and isinstance(value, Mapping):
            out[key] = {t: v for t, v in value.items() if t == task}
    return out


def task_data(config: Config, task: str) -> dict[str, Any]:
    """The ``data`` settings that ``task``'s preparation reads: every key except the cache
    location, the fine-tunes' validation share and the keys of other task sources (Hub pins cut
    to its own dataset; ``bigbench_paper_tasks`` only where it picks this task's source)."""
    spec = get_task(task, config)
    data = config["data"]
    drop = set(DATA_NOT_TASK)
    for source, keys in SOURCE_DATA_KEYS.items():
        if source != spec.source:
            drop.update(keys)
    defined = any(task in (config.get(s) or {}) for s in TASK_SECTIONS)
    if task not in BIGBENCH_PAPER or defined:
        drop.add("bigbench_paper_tasks")
    out = _without(data, drop)
    if "hub_revisions" in out:
        out["hub_revisions"] = {k: v for k, v in out["hub_revisions"].items() if k == spec.hub_id}
    return out


def task_scope(config: Config, tasks: Iterable[str], listed: bool = True) -> dict[str, Any]:
    """The definitions of ``tasks`` (their ``user_tasks``, ``bigbench_tasks`` or ``bbh_tasks``
    entries) and the ``data`` settings they read, merged; with ``listed`` also ``tasks`` itself."""
    tasks = list(tasks)
    out: dict[str, Any] = {"tasks": tasks} if listed else {}
    for name in TASK_SECTIONS:
        out[name] = {t: e for t, e in (config.get(name) or {}).items() if t in tasks}
    data: dict[str, Any] = {}
    for task in tasks:
        for key, value in task_data(config, task).items():
            if key == "hub_revisions":
                data.setdefault(key, {}).update(value)
            else:
                data[key] = value
    out["data"] = data
    return out


# ---- one function per rule: (config, family, task) -> the settings its command reads ----
# Each names the command it feeds; family and task are the job's wildcards (None where it has none).


def _prepare_model(config: Config, family: str, task: str | None) -> dict:
    # prepare-model: the family's model and revision (models.prepare_model); HF_HOME from the shell.
    return _family(config, family, keep=FAMILY_IDENTITY)


def _prepare_task(config: Config, family: str | None, task: str) -> dict:
    # prepare-task: the task's definition and data settings (tasks.prepare.prepare_task). Not the
    # budgets: they would only fill meta.json's budget_sizes and re-prepare every task (and so
    # re-run every fine-tune) when a budget is added.
    return task_scope(config, [task], listed=False)


def _finetune(config: Config, family: str, task: str | None) -> dict:
    # finetune: the family (all it loads and trains with, gpus choosing the launcher), train, the
    # seed and the validation share of a budget; the task's data arrives as its prepared files.
    return {
        **_family(config, family),
        "seed": config["seed"],
        "train": _without(config["train"], TRAIN_NOT_READ),
        "data": {"validation_fraction": config["data"]["validation_fraction"]},
    }


def _evaluate(config: Config, family: str, task: str) -> dict:
    # evaluate: how the family's model loads (not its training precision), eval (not the SLURM
    # grouping; the answer length of this task only) and the seed it records.
    return {
        **_family(config, family, drop=("precision",)),
        "seed": config["seed"],
        "eval": _for_task(_without(config["eval"], ("group",)), task),
    }


def _confidence(config: Config, family: str, task: str) -> dict:
    # coslow-task --score: the pool (drawn with the master seed), the confidence pass, k and
    # low_fraction (checked against the pool) and this task's answer length.
    coslow = _without(config["coslow"], ("seeds", *COSLOW_PREDICT_ONLY, *COSLOW_PER_SEED))
    return {
        **_family(config, family, drop=("precision",)),
        "seed": config["seed"],
        "coslow": _for_task(coslow, task),
        "eval": _for_task(_only(config["eval"], ("max_new_tokens_by_task",)), task),
    }


def _coslow(config: Config, family: str, task: str) -> dict:
    # coslow-task (per seed): selection, LoRA and the gradient pass; the pool comes from the scores.
    coslow = _without(config["coslow"], ("seeds", *COSLOW_PREDICT_ONLY, *COSLOW_CONFIDENCE_PASS))
    return {**_family(config, family, drop=("precision",)), "coslow": _for_task(coslow, task)}


def _efficiency(config: Config, family: str, task: str | None) -> dict:
    # auc: the ceilings (analysis.ceilings, else each task's spec), the family and seed recorded for
    # published curves; grid, N_max, floor and results directory are on its command line.
    return {
        **_family(config, family, keep=FAMILY_IDENTITY),
        "seed": config["seed"],
        **task_scope(config, config["tasks"]),
        "analysis": _only(config["analysis"], ("ceilings",)),
    }


def _reference_efficiency(config: Config, family: str, task: str | None) -> dict:
    # auc on the reference run: ceilings, grid, N_max and floor are on its command line.
    return {**_family(config, family, keep=FAMILY_IDENTITY), "seed": config["seed"]}


def _fit(config: Config, family: str | None, task: str | None) -> dict:
    # fit: bootstrap resamples and their seed, the interval level (N_max is on its command line).
    return {"seed": config["seed"], "analysis": _only(config["analysis"], ("bootstrap", "level"))}


def _prediction_figures(config: Config, family: str | None, task: str | None) -> dict:
    # figures: targets, the CoS-Low spread and the level of the budget intervals it draws.
    analysis = config["analysis"]
    return {
        "analysis": {
            **_only(analysis, ("targets", "coslow_sd")),
            "calibration": _only(analysis["calibration"], ("level",)),
        }
    }


def _calibration(config: Config, family: str | None, task: str | None) -> dict:
    # calibrate: calibration.recorded_settings (and the whole of it is recorded in the output).
    return {"analysis": _without(config["analysis"], ANALYSIS_NOT_CALIBRATION)}


def _gpu_hours(config: Config, family: str, task: str | None) -> dict:
    # cost: the family's GPUs per job, the task x budget table and the provenance's model and seed.
    return {
        **_family(config, family, keep=(*FAMILY_IDENTITY, "gpus")),
        "seed": config["seed"],
        "budgets": config["budgets"],
        **task_scope(config, config["tasks"]),
    }


#: Rule name -> the settings its command reads (rules whose command reads no configuration, such
#: as aggregate, curves, predictors_table and combine_reference, have none).
RULES: dict[str, Callable[[Config, Any, Any], dict]] = {
    "prepare_model": _prepare_model,
    "prepare_task": _prepare_task,
    "finetune": _finetune,
    "evaluate": _evaluate,
    "confidence": _confidence,
    "coslow": _coslow,
    "efficiency": _efficiency,
    "reference_efficiency": _reference_efficiency,
    "fit": _fit,
    "prediction_figures": _prediction_figures,
    "calibration": _calibration,
    "paper_calibration": _calibration,
    "gpu_hours": _gpu_hours,
}


def job_settings(config: Config, rule: str, family: str | None = None, task: str | None = None) -> dict[str, Any]:
    """The settings file of a job of ``rule`` (for ``family`` and ``task`` where it has them), cut
    from the validated ``config``: a partial configuration marked with
    :data:`~dataeff.core.config.JOB_SETTINGS_KEY`, a copy that shares nothing with ``config``."""
    return {JOB_SETTINGS_KEY: {"rule": rule}, **copy.deepcopy(RULES[rule](config, family, task))}
