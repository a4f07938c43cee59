# Models and tasks. Both are local rules: on a cluster they run on the login node, where the
# network is, and fill the Hugging Face cache that offline compute jobs read.


rule prepare_model:
    output:
        "results/models/{family}/model.json",
    log:
        "logs/{family}/prepare_model.log",
    localrule: True
    conda:
        "../../envs/train.yaml"
    params:
        cfg=CONFIG_JSON,
        spec=lambda w: section_hash(family=w.family),
    shell:
        "python -m dataeff prepare-model --config {params.cfg} --family {wildcards.family} "
        "--out-dir results/models/{wildcards.family} > {log} 2>&1"


rule prepare_task:
    input:
        task_data_files,
    output:
        task_files("{task}"),
    log:
        "logs/tasks/{task}.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        cfg=CONFIG_JSON,
        spec=lambda w: section_hash("data", "user_tasks", "bigbench_tasks", "bbh_tasks"),
        out_dir="data/tasks/{task}",
    shell:
        "python -m dataeff prepare-task --config {params.cfg} --task {wildcards.task} "
        "--out-dir {params.out_dir} > {log} 2>&1"
