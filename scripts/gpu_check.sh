#!/usr/bin/env bash
# First-GPU check of dataeff's training, evaluation and CoS-Low code: at most 8 minutes on one
# 80 GB GPU (H100), no internet, no model hub (random-weight models built from configs, one of
# them Llama-3.1-8B-shaped). The fine-tune runs through the finetune rule's own `accelerate
# launch` line on every GPU of the node (`nvidia-smi -L`, at most 2). Writes a JSON-lines report
# (one line per check: name, ok, measured values); exits non-zero if a check failed.
#
#   bash scripts/gpu_check.sh [REPORT.jsonl]              # on a GPU node, from the repository root
#   bash scripts/gpu_check.sh REPORT.jsonl --cpu --tiny   # the same code on tiny shapes, CPU only
#   bash scripts/gpu_check.sh REPORT.jsonl --plan         # print what each check would run
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
gpus=()
case " $* " in
  *" --cpu "* | *" --gpus "*) ;;
  *)
    # every GPU of the node, at most 2 (the paper's families use 2); none found: the Python side says so
    n=$(nvidia-smi -L 2>/dev/null | wc -l || true)
    [ "${n:-0}" -gt 2 ] && n=2
    [ "${n:-0}" -ge 1 ] && gpus=(--gpus "$n")
    ;;
esac
case " $* " in
  *" --plan "*)
    exec "$python" scripts/gpu_check.py --out "$report" "${gpus[@]}" "$@"
    ;;
esac
# 8 minutes in all: a hang (a collective left waiting) ends here instead of holding the GPU
status=0
timeout --signal=TERM --kill-after=15 "${GPU_CHECK_TIMEOUT:-480}" "$python" scripts/gpu_check.py --out "$report" \
  "${gpus[@]}" "$@" || status=$?
echo "report: $report"
if [ "$status" -eq 124 ]; then
  echo "gpu_check: stopped at the time limit; the report holds the checks that finished" >&2
fi
exit "$status"
