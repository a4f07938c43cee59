# Cost of the grid: per family, GPU-hours (benchmark seconds x GPUs requested / 3600) of every
# fine-tune, evaluation and CoS-Low job, as a task x budget table with totals. A local rule: it
# reads the benchmark files the compute jobs wrote (results/benchmarks/...).
#
# cost_targets(family) lists its outputs; add them to all_targets() in common.smk.


def cost_targets(family):
    """Final files of the cost table for one family."""
    return [f"results/{family}/gpu_hours.tsv", f"results/{family}/gpu_hours.json"]


def cost_inputs(wildcards):
    """Every compute job of the family must have run (its benchmark file is then written)."""
    files = [f for task in TASKS for f in eval_files(wildcards.family, task)]
    if "coslow" in config:
        files += expand("results/{family}/{task}/coslow/seed{seed}.json", family=wildcards.family,
                        task=TASKS, seed=config["coslow"]["seeds"])
    return files


rule gpu_hours:
    input:
        cost_inputs,
    output:
        tsv="results/{family}/gpu_hours.tsv",
        json="results/{family}/gpu_hours.json",
    params:
        cfg=CONFIG_JSON,
    log:
        "logs/{family}/gpu_hours.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    shell:
        "dataeff cost --config {params.cfg} --family {wildcards.family} --benchmarks results/benchmarks "
        "--out {output.tsv} --json {output.json} > {log} 2>&1"
