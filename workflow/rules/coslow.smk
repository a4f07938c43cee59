# CoS-Low and its baselines (Je & Raffel section 2): per family x task x seed, the unlabeled pool is
# drawn from the task's train split, the least-confident decile is found by greedy decoding, k of it
# are labeled with the gold answers and the median pairwise LoRA-gradient cosine is computed.


rule confidence:
    input:
        model="results/models/{family}/model.json",
        task=task_files("{task}"),
        settings=settings_file("confidence"),
    output:
        "results/{family}/{task}/coslow/confidence.json",
    log:
        "logs/{family}/{task}/confidence.log",
    benchmark:
        "results/benchmarks/{family}/{task}/confidence.tsv"
    conda:
        "../../envs/train.yaml"
    threads: config["eval"]["threads"]
    resources:
        gpu=lambda w: min(1, config["families"][w.family].get("gpus", 0)),
        mem_mb=scaled_resource("mem_mb"),
        runtime=scaled_resource("runtime"),
    shell:
        "python -m dataeff coslow-task --score --config {input.settings} --family {wildcards.family} "
        "--task {wildcards.task} --train {input.task[0]} --model {input.model} --threads {threads} "
        "--out {output} > {log} 2>&1"


rule coslow:
    input:
        scores="results/{family}/{task}/coslow/confidence.json",
        model="results/models/{family}/model.json",
        task=task_files("{task}"),
        settings=settings_file("coslow"),
    output:
        "results/{family}/{task}/coslow/seed{seed}.json",
    log:
        "logs/{family}/{task}/coslow_seed{seed}.log",
    benchmark:
        "results/benchmarks/{family}/{task}/coslow_seed{seed}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: config["eval"]["threads"]
    resources:
        gpu=lambda w: min(1, config["families"][w.family].get("gpus", 0)),
        mem_mb=scaled_resource("mem_mb"),
        runtime=scaled_resource("runtime"),
    shell:
        "python -m dataeff coslow-task --config {input.settings} --family {wildcards.family} --task {wildcards.task}"
        " --seed {wildcards.seed} --scores {input.scores} --train {input.task[0]} --model {input.model}"
        " --threads {threads} --out {output} > {log} 2>&1"


rule predictors_table:
    input:
        lambda w: expand(
            "results/{family}/{task}/coslow/seed{seed}.json",
            family=w.family,
            task=TASKS,
            seed=config["coslow"]["seeds"],
        ),
    output:
        report("results/{family}/predictors.tsv", caption="../report/predictors.rst", category="Prediction"),
    log:
        "logs/{family}/predictors.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    shell:
        "python -m dataeff coslow-task --summarize --family {wildcards.family} --inputs {input} --out {output} > {log} 2>&1"
