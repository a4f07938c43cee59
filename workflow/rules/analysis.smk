# Prediction stage: per family, fit AUC on CoS-Low across tasks (with leave-one-task-out
# validation and every predictor's correlation), then draw the paper's prediction figures.
# With analysis.reference_results, the fit and figures read this run's tasks (marked '*') placed
# among the reference run's (rules reference_efficiency and combine_reference).
# Both rules take seconds, so they run locally, never on a cluster node.
#
# analysis_targets(family) expands the outputs of `fit` and `prediction_figures` for one family;
# common.smk's all_targets() calls it for every family. The figure outputs are built from
# dataeff.core.names, the stems the plotting code writes.


rule reference_efficiency:
    input:
        curves=lambda w: [
            os.path.join(reference_root(), f"{w.family}_{t}_full_result_v2.json")
            for t in reference_task_list(w.family)
        ],
        ceilings=lambda w: os.path.join(reference_root(), "ceilings.json"),
        settings=settings_file("reference_efficiency"),
    output:
        "results/{family}/reference/efficiency.json",
    log:
        "logs/{family}/reference_efficiency.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        results=lambda w: reference_root(),
        tasks=lambda w: ",".join(reference_task_list(w.family)),
        curve=curve_args(),
        floor=config["analysis"]["floor"],
    shell:
        "python -m dataeff auc --config {input.settings} --results {params.results} --family {wildcards.family} "
        "--tasks {params.tasks} --ceilings {input.ceilings} {params.curve} --floor {params.floor} --out {output} "
        "> {log} 2>&1"


rule combine_reference:
    input:
        efficiency="results/{family}/efficiency.json",
        predictors=predictors_file,
        ref_efficiency="results/{family}/reference/efficiency.json",
        ref_predictors=lambda w: os.path.join(reference_root(), f"{w.family}_predictors.tsv"),
    output:
        efficiency="results/{family}/combined/efficiency.json",
        predictors="results/{family}/combined/predictors.tsv",
    log:
        "logs/{family}/combine_reference.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        reference=lambda w: reference_root(),
    shell:
        "python -m dataeff combine-reference --efficiency {input.efficiency} --predictors {input.predictors} "
        "--ref-efficiency {input.ref_efficiency} --ref-predictors {input.ref_predictors} "
        "--reference {params.reference} --out-efficiency {output.efficiency} "
        "--out-predictors {output.predictors} > {log} 2>&1"


rule fit:
    input:
        efficiency=analysis_input("efficiency.json"),
        predictors=analysis_input("predictors.tsv"),
        settings=settings_file("fit"),
    output:
        coefficients="results/{family}/coefficients.json",
        loto=_prediction_report("results/{family}/loto.tsv", "loto_table"),
        correlations=_prediction_report("results/{family}/correlations.tsv", "correlations_table"),
    log:
        "logs/{family}/fit.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        max_budget=N_MAX,
    shell:
        "python -m dataeff fit --config {input.settings} --family {wildcards.family} --efficiency {input.efficiency} "
        "--predictors {input.predictors} --max-budget {params.max_budget} "
        "--out-dir results/{wildcards.family} > {log} 2>&1"


rule prediction_figures:
    input:
        efficiency=analysis_input("efficiency.json"),
        predictors=analysis_input("predictors.tsv"),
        coefficients=rules.fit.output.coefficients,
        loto=rules.fit.output.loto,
        correlations=rules.fit.output.correlations,
        settings=settings_file("prediction_figures"),
    output:
        **figure_outputs(PREDICTION_FIGURES, _prediction_report),
        **table_outputs(PREDICTION_TABLES, _prediction_report),
    log:
        "logs/{family}/prediction_figures.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        out_dir=lambda w, output: os.path.dirname(output.coefficients),
    shell:
        "python -m dataeff figures --config {input.settings} --family {wildcards.family} "
        "--efficiency {input.efficiency} --predictors {input.predictors} "
        "--coefficients {input.coefficients} --loto {input.loto} --correlations {input.correlations} "
        "--compare-published "
        "--out-dir {params.out_dir} > {log} 2>&1"


# Calibration of the budget intervals, leave-one-task-out (dataeff.prediction.calibration): on a family's
# own results (4 or more tasks, see calibration_targets) and on the paper's published curves
# shipped with the package. Seconds to a minute; local. It reads what the fit reads: committed
# (published) curves and predictors when the config names them, so no CoS-Low is recomputed.
rule calibration:
    input:
        efficiency=analysis_input("efficiency.json"),
        predictors=analysis_input("predictors.tsv"),
        settings=settings_file("calibration"),
    output:
        **calibration_outputs(
            "results/{family}/calibration",
            tsv=lambda path: _prediction_report(path, "calibration_table"),
            png=lambda path: _prediction_report(path, "calibration"),
        ),
    log:
        "logs/{family}/calibration.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        out_dir=lambda w, output: os.path.dirname(output.tsv),
    shell:
        "python -m dataeff calibrate --config {input.settings} --family {wildcards.family} "
        "--efficiency {input.efficiency} --predictors {input.predictors} --out-dir {params.out_dir} > {log} 2>&1"


rule paper_calibration:
    input:
        PAPER_RESULT_FILES,
        settings=settings_file("paper_calibration"),
    output:
        **calibration_outputs(
            "results/paper/calibration",
            tsv=lambda path: report(
                path, caption="../report/calibration_table.rst", category="Prediction", subcategory="paper"
            ),
            png=lambda path: report(
                path, caption="../report/paper_calibration.rst", category="Prediction", subcategory="paper"
            ),
        ),
    log:
        "logs/paper/calibration.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        families=" ".join(config["analysis"]["calibration"]["families"]),
        out_dir=lambda w, output: os.path.dirname(output.tsv),
    shell:
        "python -m dataeff calibrate --config {input.settings} --paper {params.families} --out-dir {params.out_dir} "
        "> {log} 2>&1"
