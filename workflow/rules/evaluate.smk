# One evaluation job per family x task x budget, budget 0 (zero-shot) included. Evaluations are
# short, so on a cluster they are grouped (see profiles/slurm) instead of flooding the queue.


rule evaluate:
    input:
        base="results/models/{family}/model.json",
        model=eval_model_input,
        task=task_files("{task}"),
        settings=settings_file("evaluate"),
    output:
        result="results/{family}/{task}/eval/n{budget}.json",
        predictions="results/{family}/{task}/eval/n{budget}.predictions.jsonl",
        timing="results/{family}/{task}/eval/n{budget}.timing.json",
    log:
        "logs/{family}/{task}/evaluate_n{budget}.log",
    benchmark:
        "results/benchmarks/{family}/{task}/evaluate_n{budget}.tsv"
    group:
        "evaluate"
    conda:
        "../../envs/train.yaml"
    threads: config["eval"]["threads"]
    resources:
        gpu=lambda w: min(1, config["families"][w.family].get("gpus", 0)),
        mem_mb=scaled_resource("mem_mb"),
        runtime=lambda w, attempt: 30 * attempt,
    params:
        model_arg=lambda w: "" if int(w.budget) == 0 else f"--model results/{w.family}/{w.task}/train/n{w.budget}/model",
    shell:
        "python -m dataeff evaluate --config {input.settings} --family {wildcards.family} --task {wildcards.task} "
        "--budget {wildcards.budget} --base-model {input.base} {params.model_arg} "
        "--task-dir data/tasks/{wildcards.task} --out {output.result} --no-progress > {log} 2>&1"
