#!/usr/bin/env bash
# CI: a `snakemake --report` build. tests/configs/report.yaml takes one family's curves and
# predictors from published results (study/results/smollm2), so the default target runs the AUC,
# fit, figures and paper calibration in under a minute with no model or fine-tune. It runs in a
# scratch directory (the checkout's results/ is never touched) and checks that the report holds
# the workflow description and every figure the rules declare for the report.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ln -s "$repo/study" "$work/study"
smk=(.venv/bin/snakemake -s "$repo/Snakefile" --directory "$work" --configfile "$repo/tests/configs/report.yaml")
start=$SECONDS
if ! "${smk[@]}" --cores 2 >"$work/run.log" 2>&1; then
    tail -40 "$work/run.log"
    exit 1
fi
if ! "${smk[@]}" --report "$work/report.zip" >"$work/report.log" 2>&1; then
    tail -40 "$work/report.log"
    exit 1
fi
PYTHONPATH="$repo/workflow" .venv/bin/python - "$work/report.zip" <<'PY'
import sys
import zipfile
from pathlib import PurePosixPath

from dataeff.core.names import CURVE_FIGURES, PREDICTION_FIGURES

with zipfile.ZipFile(sys.argv[1]) as z:
    names = {PurePosixPath(n).name for n in z.namelist()}
    html = z.read("report/report.html").decode("utf-8")
missing = [f"{s}.png" for s in CURVE_FIGURES + PREDICTION_FIGURES + ("calibration",) if f"{s}.png" not in names]
if missing or "arXiv 2512.24991" not in html:
    sys.exit(f"ci: report.zip lacks {', '.join(missing) or 'the workflow description'}")
PY
echo "ci: report built in $((SECONDS - start)) s"
