# One fine-tuning job per family x task x positive budget. Multi-GPU families launch through
# `accelerate launch` with the FSDP config in config/fsdp.yaml; CPU and single-GPU jobs run
# the same code directly. A killed job leaves results/.../nBUDGET.ckpt behind and resumes
# from it when re-run. The fine-tuned weights are temp(): Snakemake deletes them once every
# evaluation that reads them has finished (keep them with --notemp); metrics.json and the
# training log stay.


rule finetune:
    input:
        model="results/models/{family}/model.json",
        task=task_files("{task}"),
    output:
        metrics="results/{family}/{task}/train/n{budget}/metrics.json",
        model=temp(directory("results/{family}/{task}/train/n{budget}/model")),
        train_log="results/{family}/{task}/train/n{budget}/train_log.jsonl",
    params:
        cfg=CONFIG_JSON,
        spec=lambda w: section_hash("train", "seed", "data", family=w.family),
        launch=launcher,
    log:
        "logs/{family}/{task}/finetune_n{budget}.log",
    benchmark:
        "results/benchmarks/{family}/{task}/finetune_n{budget}.tsv"
    threads: config["train"]["threads"]
    resources:
        gpu=family_resource("gpus", 0),
        mem_mb=scaled_resource("mem_mb", 16000),
        runtime=scaled_resource("runtime", 120),
    conda:
        "../../envs/train.yaml"
    shell:
        "{params.launch} finetune --config {params.cfg} --family {wildcards.family} "
        "--task {wildcards.task} --budget {wildcards.budget} --model {input.model} "
        "--task-dir data/tasks/{wildcards.task} --out-dir results/{wildcards.family}/{wildcards.task}/train/n{wildcards.budget} "
        "--no-progress > {log} 2>&1"
