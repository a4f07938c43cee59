# Data-efficiency stage: eval JSONs -> per-task curves in the paper's layout -> AUC per task ->
# figures. All three rules are cheap (seconds), so they run locally, never on a cluster node.
#
# Published results: when config key `analysis.published_results` names a directory in the
# paper's layout ({family}_{task}_full_result_v2.json), a family that has a file there for
# EVERY configured task takes its curves from that directory instead of the pipeline's own
# evaluations (so fits and figures can be regenerated from the paper's numbers without any
# fine-tuning). Families with files missing there use the pipeline's evaluations as usual.


rule aggregate:
    input:
        evals=lambda w: [f for task in TASKS for f in eval_files(w.family, task)],
        # the gold answers the majority-answer floor is computed from (dataeff.efficiency.chance)
        predictions=lambda w: [
            f.removesuffix(".json") + ".predictions.jsonl" for task in TASKS for f in eval_files(w.family, task)
        ],
    output:
        expand("results/{{family}}/finetune_results/{{family}}_{task}_full_result_v2.json", task=TASKS),
    log:
        "logs/{family}/aggregate.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        out_dir=lambda w, output: os.path.dirname(output[0]),
    shell:
        "python -m dataeff aggregate --family {wildcards.family} --evals {input.evals} "
        "--out-dir {params.out_dir} > {log} 2>&1"


rule efficiency:
    input:
        curves=curve_files,
        settings=settings_file("efficiency"),
    output:
        json="results/{family}/efficiency.json",
        tsv=_efficiency_report("results/{family}/efficiency.tsv", "efficiency"),
    log:
        "logs/{family}/efficiency.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        results=lambda w: curve_dir(w.family),
        tasks=",".join(TASKS),
        curve=curve_args(),
        floor=config["analysis"]["floor"],
    shell:
        "python -m dataeff auc --config {input.settings} --results {params.results} --family {wildcards.family} "
        "--tasks {params.tasks} {params.curve} --floor {params.floor} --out {output.json} --tsv {output.tsv} "
        "> {log} 2>&1"


rule curves:
    input:
        efficiency="results/{family}/efficiency.json",
        curves=curve_files,
    output:
        **figure_outputs(CURVE_FIGURES, _efficiency_report),
    log:
        "logs/{family}/curves.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        results=lambda w: curve_dir(w.family),
        curve=curve_args(),
        out_dir=lambda w, output: os.path.dirname(output.overlay_pdf),
    shell:
        "python -m dataeff curves --efficiency {input.efficiency} --results {params.results} "
        "--family {wildcards.family} {params.curve} --out-dir {params.out_dir} "
        "> {log} 2>&1"
