#!/usr/bin/env bash
# First-GPU check of dataeff's training and CoS-Low code: at most 8 minutes on one 80 GB GPU
# (H100), no internet, no model hub (random-weight models built from configs, one of them
# Llama-3.1-8B-shaped). Writes a JSON-lines report; exits non-zero if a check failed.
#
#   bash scripts/gpu_check.sh [REPORT.jsonl]          # on a GPU node, from the repository root
#   bash scripts/gpu_check.sh REPORT.jsonl --cpu --tiny   # the same code on tiny shapes, CPU only
#
# What each check does and what passing means: scripts/gpu_check.py and docs/GPU.md.
set -euo pipefail
cd "$(dirname "$0")/.."
report="${1:-results/gpu_check.jsonl}"
shift || true
mkdir -p "$(dirname "$report")"
python="${PYTHON:-python}"
[ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && python=.venv/bin/python
export PYTHONPATH="$PWD/workflow${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
# 8 minutes in all: a hang (a collective left waiting) ends here instead of holding the GPU
status=0
timeout --signal=TERM --kill-after=15 "${GPU_CHECK_TIMEOUT:-480}" "$python" scripts/gpu_check.py --out "$report" "$@" \
  || status=$?
echo "report: $report"
if [ "$status" -eq 124 ]; then
  echo "gpu_check: stopped at the time limit; the report holds the checks that finished" >&2
fi
exit "$status"
