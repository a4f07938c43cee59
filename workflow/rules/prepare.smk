# Models and tasks. Both are local rules: on a cluster they run on the login node, where the
# network is, and fill the Hugging Face cache that offline compute jobs read.


rule prepare_model:
    input:
        settings=settings_file("prepare_model"),
    output:
        "results/models/{family}/model.json",
    log:
        "logs/{family}/prepare_model.log",
    localrule: True
    conda:
        "../../envs/train.yaml"
    shell:
        "python -m dataeff prepare-model --config {input.settings} --family {wildcards.family} "
        "--out-dir results/models/{wildcards.family} > {log} 2>&1"


rule prepare_task:
    input:
        task_data_files,
        settings=settings_file("prepare_task"),
    output:
        task_files("{task}"),
    log:
        "logs/tasks/{task}.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        out_dir="data/tasks/{task}",
    shell:
        "python -m dataeff prepare-task --config {input.settings} --task {wildcards.task} "
        "--out-dir {params.out_dir} > {log} 2>&1"
