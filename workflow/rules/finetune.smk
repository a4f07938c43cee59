# One fine-tuning job per family x task x positive budget. Multi-GPU families launch through
# `accelerate launch` with the FSDP2 config in config/fsdp.yaml (on a free port); CPU and
# single-GPU jobs run the same code directly. A killed job leaves results/.../nBUDGET.ckpt behind
# and resumes from it when re-run; a finished one removes it. The model directory is temporary
# (removed once its evaluation is written) unless train.keep_models is set.


rule finetune:
    input:
        model="results/models/{family}/model.json",
        task=task_files("{task}"),
        settings=settings_file("finetune"),
    output:
        metrics="results/{family}/{task}/train/n{budget}/metrics.json",
        model=finetuned_model_output("results/{family}/{task}/train/n{budget}/model"),
        train_log="results/{family}/{task}/train/n{budget}/train_log.jsonl",
    log:
        "logs/{family}/{task}/finetune_n{budget}.log",
    benchmark:
        "results/benchmarks/{family}/{task}/finetune_n{budget}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: config["train"]["threads"]
    resources:
        gpu=family_resource("gpus"),
        mem_mb=scaled_resource("mem_mb"),
        runtime=scaled_resource("runtime"),
    params:
        launch=launcher,
        task_dir=lambda w, input: os.path.dirname(input.task[0]),
        out_dir=lambda w, output: os.path.dirname(output.metrics),
    shell:
        "{params.launch} finetune --config {input.settings} --family {wildcards.family} "
        "--task {wildcards.task} --budget {wildcards.budget} --model {input.model} "
        "--task-dir {params.task_dir} --out-dir {params.out_dir} "
        "--no-progress > {log} 2>&1"
