#!/usr/bin/env bash
# The real task data ships in the repository (data/bbh): with nothing but the repository and the
# pinned packages, the embedded default must dry-run and every BIG-bench or BBH task that a
# shipped configuration would prepare must prepare (the study's 20 BIG-bench tasks are served by
# their committed results and never prepared; tests/test_shipped_data.py checks that too).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/snakemake -n --cores 2 >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for cfg in config/config.yaml config/paper.yaml config/study.yaml; do
    tasks=$(.venv/bin/python - "$cfg" <<'PY'
import sys
from dataeff.pipeline.config import load_config
from dataeff.efficiency.published_curves import resolve_results_dir
from dataeff.efficiency.results import result_filename
from dataeff.tasks.registry import BIGBENCH_PAPER, get_task
from pathlib import Path

config = load_config(sys.argv[1])
published = resolve_results_dir(config["analysis"].get("published_results"))
for task in config["tasks"]:
    spec = get_task(task, config)
    if spec.source not in ("bigbench", "bbh") and task not in BIGBENCH_PAPER:
        continue
    if published and all((Path(published) / result_filename(f, task)).is_file() for f in config["families"]):
        continue  # served by committed results
    print(task)
PY
)
    for task in $tasks; do
        .venv/bin/python -m dataeff prepare-task --config "$cfg" --task "$task" \
            --out-dir "$out/$(basename "$cfg" .yaml)/$task" 2>&1 | tail -1
    done
done
echo "ci: every task the shipped configs prepare comes from the repository's own data"
