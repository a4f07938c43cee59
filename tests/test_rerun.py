"""Changing a setting re-runs the jobs whose results depend on it, and only those.

Every job reads its settings from ``results/settings/RULE-HASH.json``, the slice of the resolved
configuration its rule's command reads (:mod:`dataeff.pipeline.job_settings`), so its input changes exactly
when that slice changes. Checked twice:

* fast: which rules' settings change when one key changes, for every family and task of a small
  configuration with a task of each source (the table docs/SLURM.md shows);
* slow (``test_dry_run_after_a_change``): a finished tiny pipeline (tests/test_crash_resume.py's
  working copy and environment, the tiny model, one generated task, one budget, CoS-Low with one
  seed, fitted among the committed study's tasks as a reference) and ``snakemake -n`` after
  changing one key: the scheduled jobs, rule by rule, must be exactly those that depend on it.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from dataeff.core.config import REPO_ROOT
from dataeff.core.errors import DataeffError
from dataeff.core.provenance import stable_hash
from dataeff.pipeline.config import load_config, validate_config
from dataeff.pipeline.job_settings import RULES, job_settings
from dataeff.tasks.registry import get_task
from test_crash_resume import _diagnose, _env, _workdir

FAMILY = "tiny"
#: A generated task, a Hub task, a shipped BIG-Bench Hard task and a user's file.
TASKS = ["boolean_expressions", "sst2", "hyperbaton", "mine"]
#: Rules whose jobs have a family / task wildcard (the scopes their settings are cut for).
FAMILY_RULES = set(RULES) - {"prepare_task", "paper_calibration"}
TASK_RULES = {"prepare_task", "finetune", "evaluate", "confidence", "coslow"}


def _base() -> dict[str, Any]:
    return {
        "seed": 7,
        "families": {FAMILY: {"model": "/models/tiny", "runtime": 30, "coefficients": {"slope": 1, "intercept": 0}}},
        "tasks": TASKS,
        "budgets": [8, 16],
        "bbh_tasks": {"hyperbaton": {"task": "hyperbaton", "ceiling": 1.0}},
        "user_tasks": {"mine": {"file": "mine.jsonl", "labels": ["yes", "no"]}},
        "analysis": {"calibration": {"families": ["llama"]}},
    }


def _set(config: dict, path: str, value: Any) -> dict:
    """A copy of ``config`` with the dotted key ``path`` set to ``value``."""
    out = copy.deepcopy(config)
    node = out
    *parents, last = path.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return out


def _slices(config: dict) -> dict[tuple[str, str | None, str | None], str]:
    """(rule, family, task) -> hash of that job's settings, for every job scope of ``config``."""
    cfg = validate_config(copy.deepcopy(config))
    out = {}
    for rule in RULES:
        for family in cfg["families"] if rule in FAMILY_RULES else [None]:
            for task in cfg["tasks"] if rule in TASK_RULES else [None]:
                out[rule, family, task] = stable_hash(job_settings(cfg, rule, family, task))
    return out


def _changed(path: str, value: Any) -> set[tuple[str, str | None, str | None]]:
    before, after = _slices(_base()), _slices(_set(_base(), path, value))
    return {scope for scope in before if before[scope] != after.get(scope)}


SST2_HUB = get_task("sst2").hub_id

# (dotted key, new value, the rules whose settings change). Keys a rule takes on its command line
# (analysis.floor, budgets as the AUC's grid) re-run it through its params instead.
CHANGES = [
    ("analysis.bootstrap", 10, {"fit"}),
    ("analysis.level", 0.9, {"fit"}),
    ("analysis.targets", [0.5, 0.8], {"prediction_figures", "calibration", "paper_calibration"}),
    ("analysis.calibration.neighbours", 5, {"calibration", "paper_calibration"}),
    ("analysis.ceilings", "ceilings.json", {"efficiency"}),
    ("analysis.floor", "majority", set()),
    ("eval.max_new_tokens", 5, {"evaluate"}),
    ("eval.group", 5, set()),
    ("train.learning_rate", 2e-3, {"finetune"}),
    ("train.keep_models", True, set()),
    ("data.validation_fraction", 0.3, {"finetune"}),
    ("data.generated_examples", 100, {"prepare_task", "efficiency", "gpu_hours"}),
    ("data.hub_revisions", {"someone/else": "0" * 40}, set()),
    ("data.hub_revisions", {SST2_HUB: "0" * 40}, {"prepare_task", "efficiency", "gpu_hours"}),
    ("data.hf_home", "/elsewhere/hf", set()),
    ("coslow.pool_size", 50, {"confidence"}),
    ("coslow.lora.r", 4, {"coslow"}),
    ("coslow.k", 8, {"confidence", "coslow"}),
    ("coslow.seeds", [0], set()),
    ("coslow.unstable_budget_factor", 3, set()),
    ("seed", 8, {"finetune", "evaluate", "confidence", "efficiency", "reference_efficiency", "fit", "gpu_hours"}),
    (f"families.{FAMILY}.runtime", 60, set()),
    (f"families.{FAMILY}.mem_mb", 4000, set()),
    (f"families.{FAMILY}.gpu_mem_gb", 40, set()),
    (f"families.{FAMILY}.coefficients", {"slope": 2, "intercept": 0}, set()),
    (f"families.{FAMILY}.precision", "fp32", {"finetune"}),
    (f"families.{FAMILY}.dtype", "float32", {"finetune", "evaluate", "confidence", "coslow"}),
    (f"families.{FAMILY}.gpus", 1, {"finetune", "evaluate", "confidence", "coslow", "gpu_hours"}),
    (
        f"families.{FAMILY}.revision",
        "abc",
        {"prepare_model", "finetune", "evaluate", "confidence", "coslow", "efficiency", "reference_efficiency"}
        | {"gpu_hours"},
    ),
    ("budgets", [8, 16, 32], {"gpu_hours"}),
]


@pytest.mark.parametrize(("path", "value", "rules"), CHANGES, ids=[f"{c[0]}={c[1]}" for c in CHANGES])
def test_a_setting_changes_the_settings_of_the_rules_that_read_it(path: str, value: Any, rules: set[str]) -> None:
    assert {rule for rule, _, _ in _changed(path, value)} == rules


def test_task_settings_change_that_task_only() -> None:
    """A task's own entries (its answer length, its Hub pin, its definition) re-run its jobs, not
    other tasks' (the AUC and cost tables list every task, so they change too)."""
    changed = _changed("eval.max_new_tokens_by_task", {"sst2": 40})
    assert changed == {("evaluate", FAMILY, "sst2"), ("confidence", FAMILY, "sst2")}
    changed = _changed("data.hub_revisions", {SST2_HUB: "0" * 40})
    assert {s for s in changed if s[0] == "prepare_task"} == {("prepare_task", None, "sst2")}
    changed = _changed("bbh_tasks.hyperbaton.test", 40)
    assert changed == {("prepare_task", None, "hyperbaton"), ("efficiency", FAMILY, None), ("gpu_hours", FAMILY, None)}


def test_a_settings_file_is_a_partial_configuration(tmp_path: Path) -> None:
    """The commands load a settings file like a configuration: what it holds, validated, with the
    schema's defaults for the rest; the keys a whole configuration requires may be absent."""
    cfg = validate_config(_set(_base(), "analysis.bootstrap", 10))
    path = tmp_path / "fit.json"
    path.write_text(json.dumps(job_settings(cfg, "fit", FAMILY)))
    loaded = load_config(path)
    assert loaded["analysis"]["bootstrap"] == 10 and loaded["seed"] == 7
    assert "families" not in loaded and "tasks" not in loaded and "job_settings" not in loaded
    assert loaded["analysis"]["targets"] == [0.5, 0.7, 0.9]  # not read by the fit: the default
    path.write_text(json.dumps(job_settings(cfg, "efficiency", FAMILY)))
    assert load_config(path)["tasks"] == TASKS
    # what it holds is validated as usual; without the mark a whole configuration is required
    bad = {**job_settings(cfg, "fit", FAMILY), "analysis": {"bootstrap": -1}}
    path.write_text(json.dumps(bad))
    with pytest.raises(DataeffError, match="analysis.bootstrap"):
        load_config(path)
    path.write_text(json.dumps({k: v for k, v in job_settings(cfg, "fit", FAMILY).items() if k != "job_settings"}))
    with pytest.raises(DataeffError, match="missing required key 'families'"):
        load_config(path)


# ---- the pipeline ----------------------------------------------------------------------------

PIPELINE_FAMILY = "smollm2"  # the family of the committed study run the fit takes as its reference
PIPELINE_TASK = "boolean_expressions"
#: What the finished run made: the AUC, curves, fit, prediction figures and cost table (not the
#: calibration on the paper's curves, a minute of its own that depends on nothing here).
TARGETS = [
    f"results/{PIPELINE_FAMILY}/efficiency.json",
    f"results/{PIPELINE_FAMILY}/figures/curves.png",
    f"results/{PIPELINE_FAMILY}/coefficients.json",
    f"results/{PIPELINE_FAMILY}/figures/loto.png",
    f"results/{PIPELINE_FAMILY}/gpu_hours.json",
]


def _pipeline_config(model_dir: Path) -> dict[str, Any]:
    return {
        "seed": 7,
        "families": {PIPELINE_FAMILY: {"model": str(model_dir), "runtime": 30}},
        "tasks": [PIPELINE_TASK],
        "budgets": [8],
        "data": {"generated_examples": 80, "difficulty": "easy", "test_max": 8, "split_seed": 3},
        "train": {
            "learning_rate": 1.0e-3,
            "max_steps": 2,
            "batch_size": 4,
            "micro_batch_size": 4,
            "max_seq_len": 128,
            "eval_every": 1,
            "checkpoint_every": 100,
            "threads": 1,
        },
        "eval": {"batch_size": 8, "max_new_tokens": 4, "threads": 1},
        "coslow": {
            "k": 4,
            "pool_size": 16,
            "low_fraction": 0.5,
            "seeds": [0],
            "max_new_tokens": 4,
            "batch_size": 16,
            "spread_resamples": 0,
            "lora": {"r": 2, "alpha": 4, "target_modules": ["q_proj", "v_proj"]},
        },
        "analysis": {"bootstrap": 0, "reference_results": str(REPO_ROOT / "study" / "results" / "smollm2")},
    }


def _snakemake(
    work: Path, config: str, *extra: str, targets: list[str] = TARGETS, timeout: float = 600
) -> subprocess.CompletedProcess:
    exe = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or "snakemake"
    cmd = [exe, *targets, "--cores", "2", "--configfile", config, *extra]
    return subprocess.run(cmd, cwd=work, env=_env(work), capture_output=True, text=True, timeout=timeout)


def _scheduled(output: str) -> dict[str, int]:
    """Rule -> number of jobs, from the "Job stats" table of a dry run ({} when nothing is to do)."""
    lines = output.splitlines()
    if not any(line.startswith("Job stats:") for line in lines):
        assert "Nothing to be done" in output, output[-3000:]
        return {}
    table = lines[lines.index("Job stats:") + 3 :]  # after the header and its rule
    counts = {}
    for line in table:
        name, count = line.split()
        if name == "total":
            return counts
        counts[name] = int(count)
    raise AssertionError(f"no total row in the job stats:\n{output[-3000:]}")


def test_a_settings_file_is_made_from_its_name_alone(tmp_path: Path) -> None:
    """Jobs name their settings files while the DAG is built; one asked for directly (as a target)
    is found among every rule, family and task of the configuration, and a name no job of it
    has is refused."""
    model = Path("/models/tiny")  # a dry run loads no model
    work = _workdir(tmp_path / "work", model, _pipeline_config(model))
    cfg = load_config(work / "config" / "test.yaml")
    settings = job_settings(cfg, "evaluate", PIPELINE_FAMILY, PIPELINE_TASK)
    proc = _snakemake(
        work, "config/test.yaml", "-n", targets=[f"results/settings/evaluate-{stable_hash(settings)}.json"]
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert _scheduled(proc.stdout) == {"job_settings": 1}
    proc = _snakemake(work, "config/test.yaml", "-n", targets=["results/settings/fit-0123456789abcdef.json"])
    assert proc.returncode != 0 and "is not the settings of any job" in proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """A finished run of the tiny pipeline (about 2 minutes on 2 cores)."""
    root = tmp_path_factory.mktemp("rerun") / "work"
    work = _workdir(root, tiny_model_dir, _pipeline_config(tiny_model_dir))
    start = time.monotonic()
    proc = _snakemake(work, "config/test.yaml")
    assert proc.returncode == 0, _diagnose(work, proc.stdout + proc.stderr)
    print(f"tiny pipeline: {time.monotonic() - start:.0f} s")
    return work


#: After the (re-made) job's settings file: what follows from each rule by the files it writes.
AFTER_EVALUATE = {"aggregate": 1, "efficiency": 1, "curves": 1, "combine_reference": 1, "fit": 1}
AFTER_EVALUATE |= {"prediction_figures": 1, "gpu_hours": 1}

# (dotted key, new value, rule -> jobs a dry run schedules)
PIPELINE_CHANGES = [
    # the fit's bootstrap: the fit and the figures drawn from it
    ("analysis.bootstrap", 10, {"job_settings": 1, "fit": 1, "prediction_figures": 1}),
    # a figure setting: the figures alone
    ("analysis.targets", [0.5, 0.8], {"job_settings": 1, "prediction_figures": 1}),
    # evaluation: both evaluations and all that follows; the fine-tuned model was temporary
    # (train.keep_models is off), so the fine-tune runs again to give it back
    ("eval.max_new_tokens", 5, {"job_settings": 1, "finetune": 1, "evaluate": 2, **AFTER_EVALUATE}),
    # training: the fine-tune and all that follows, but not the zero-shot evaluation
    ("train.learning_rate", 2.0e-3, {"job_settings": 1, "finetune": 1, "evaluate": 1, **AFTER_EVALUATE}),
    # where jobs run, the model cache and the SLURM grouping: nothing
    (f"families.{PIPELINE_FAMILY}.runtime", 90, {}),
    ("data.hf_home", "/elsewhere/hf", {}),
    ("eval.group", 5, {}),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "value", "expected"), PIPELINE_CHANGES, ids=[f"{c[0]}={c[1]}" for c in PIPELINE_CHANGES]
)
def test_dry_run_after_a_change(finished: Path, path: str, value: Any, expected: dict[str, int]) -> None:
    config = yaml.safe_load((finished / "config" / "test.yaml").read_text())
    name = f"config/changed-{path}.yaml"
    (finished / name).write_text(yaml.safe_dump(_set(config, path, value)), encoding="utf-8")
    proc = _snakemake(finished, name, "-n")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert _scheduled(proc.stdout) == expected
