# dataeff: how many labeled examples will a fine-tuning task need?
# Pipeline: prepare models and tasks -> fine-tune every family x task x budget -> evaluate every
# checkpoint (budget 0 = zero-shot) -> data-efficiency AUC -> CoS-Low -> per-family fits and figures.
# Rules are thin wrappers around `dataeff <command>`; see docs/ARCHITECTURE.md.
from snakemake.utils import min_version

min_version("9.0")


# `snakemake --report report.zip` after a run: this page, then every output marked report(...)
# in the rules with its caption from workflow/report/.
report: "workflow/report/workflow.rst"


# The configuration is config/config.yaml (the embedded default) unless --configfile names
# another, which then replaces it rather than being merged into it (see common.smk).


wildcard_constraints:
    family=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    task=r"[A-Za-z0-9_]+",
    budget=r"\d+",
    seed=r"\d+",


include: "workflow/rules/common.smk"
include: "workflow/rules/settings.smk"
include: "workflow/rules/prepare.smk"
include: "workflow/rules/finetune.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/efficiency.smk"
include: "workflow/rules/coslow.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/cost.smk"


onstart:
    preflight_check()


rule all:
    default_target: True
    input:
        all_targets(),
