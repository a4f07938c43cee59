#!/usr/bin/env bash
# GPU set-up (run as `bash scripts/setup.sh --gpu`, on a machine with network and the CUDA toolkit
# or at least the NVIDIA driver): the pinned stack of requirements.lock with the CUDA build of its
# torch version, then flash-attn from requirements-gpu.lock built against that torch.
#
#   bash scripts/setup.sh --gpu                  # .venv with CUDA torch + flash-attn
#   TORCH_CUDA=cu126 bash scripts/setup.sh --gpu # another CUDA build of the same torch version
#   bash scripts/setup_gpu.sh --print            # print the install commands, change nothing
#
# Order matters, and is the only one that works: (1) torch==VERSION+TORCH_CUDA from the PyTorch
# index, (2) the rest of requirements.lock (its torch==VERSION pin is then already satisfied, so the
# CUDA build stays), (3) ninja and packaging, (4) flash-attn with --no-build-isolation, so its build
# sees the installed torch (`pip install -e .[gpu]` builds it in isolation: "No module named torch",
# and resolves around the lock). flash-attn's build first looks for a prebuilt wheel matching torch,
# CUDA and the C++ ABI; without one it compiles (nvcc needed; MAX_JOBS limits its memory).
# How to check that flash-attention is then really used: docs/GPU.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cuda=${TORCH_CUDA:-cu128}
torch_version=$(sed -n 's/^torch==\([^[:space:]#]*\).*/\1/p' requirements.lock)
[ -n "$torch_version" ] || { echo "setup --gpu: no torch==VERSION line in requirements.lock" >&2; exit 2; }
pin() { sed -n "s/^\($1==[^[:space:]#]*\).*/\1/p" requirements-gpu.lock; }
steps=(
    "python -m pip install torch==${torch_version}+${cuda} --index-url https://download.pytorch.org/whl/${cuda}"
    "bash scripts/setup.sh"
    "python -m pip install $(pin ninja) $(pin packaging)"
    "python -m pip install $(pin flash-attn) --no-build-isolation"
    "python -m pip install --no-deps -e ."
)
if [ "${1:-}" = "--print" ]; then
    printf '%s\n' "${steps[@]}"
    exit 0
fi
PY=${PYTHON:-python3}
if ! "$PY" -c "import venv, ensurepip" >/dev/null 2>&1; then
    echo "setup --gpu: installing python3-venv (apt-get)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
for step in "${steps[@]}"; do
    echo "setup --gpu: $step"
    $step
done
python - <<'PY'
import torch

from dataeff.modeling.loading import flash_attention_usable

print(f"setup --gpu: torch {torch.__version__}, CUDA {torch.version.cuda}, GPU visible: {torch.cuda.is_available()}")
print(f"setup --gpu: flash-attention usable: {flash_attention_usable()}")
PY
