# Cost of the grid: per family, GPU-hours (benchmark seconds x GPUs requested / 3600) of every
# fine-tune, evaluation and CoS-Low job, as a task x budget table with totals. A local rule: it
# reads the benchmark files the compute jobs wrote (results/benchmarks/...).
#
# cost_targets(family) expands its outputs; all_targets() in common.smk requests them for every family
# that trains.


rule gpu_hours:
    input:
        cost_inputs,
        settings=settings_file("gpu_hours"),
    output:
        tsv="results/{family}/gpu_hours.tsv",
        json="results/{family}/gpu_hours.json",
    log:
        "logs/{family}/gpu_hours.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    shell:
        "python -m dataeff cost --config {input.settings} --family {wildcards.family} --benchmarks results/benchmarks "
        "--out {output.tsv} --json {output.json} > {log} 2>&1"
