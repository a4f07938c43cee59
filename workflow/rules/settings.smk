# The settings file each job reads (dataeff.pipeline.job_settings): the resolved settings its rule depends
# on, written once under results/settings/ and named RULE-HASH by the hash of its content, so an
# existing file never changes and a changed setting gives the jobs that read it a new input (which
# re-runs them, and only them). Jobs take it as an `ancient` input (common.smk, settings_file):
# writing it after their outputs re-runs nothing, but a deleted file is written again and re-runs
# every job that reads it. A local rule: the file is tiny, and on a cluster the submit host writes
# it to the shared file system before any job that reads it is submitted.


rule job_settings:
    output:
        f"{SETTINGS_DIR}/{{name}}.json",
    log:
        "logs/settings/{name}.log",
    wildcard_constraints:
        name=r"[a-z_]+-[0-9a-f]{16}",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        text=lambda w: settings_text(w.name),
    shell:
        "printf '%s\\n' {params.text:q} > {output} 2> {log}"
