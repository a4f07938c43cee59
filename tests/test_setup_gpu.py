"""The GPU install path (`bash scripts/setup.sh --gpu`, scripts/setup_gpu.sh): it parses, and the
commands it runs install the CUDA build of requirements.lock's torch version first and flash-attn
pinned from requirements-gpu.lock after it, without build isolation (checked through its
``--print`` mode, which installs nothing; the install itself needs a GPU machine with network)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pin(lock: str, name: str) -> str:
    return re.search(rf"^{re.escape(name)}==(\S+)", (ROOT / lock).read_text(), re.M).group(1)


def test_scripts_parse_and_setup_hands_gpu_over():
    for script in ("setup.sh", "setup_gpu.sh"):
        assert subprocess.run(["bash", "-n", str(ROOT / "scripts" / script)]).returncode == 0, script
    assert (
        'if [ "${1:-}" = "--gpu" ]; then exec bash scripts/setup_gpu.sh; fi'
        in (ROOT / "scripts" / "setup.sh").read_text()
    )


def test_gpu_install_order_and_pins():
    env = dict(os.environ, TORCH_CUDA="cu126")
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "setup_gpu.sh"), "--print"], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    torch = _pin("requirements.lock", "torch")
    assert out[0] == f"python -m pip install torch=={torch}+cu126 --index-url https://download.pytorch.org/whl/cu126"
    assert out[1] == "bash scripts/setup.sh"  # the rest of the lock; its torch pin is then satisfied
    assert out[2] == f"python -m pip install ninja=={_pin('requirements-gpu.lock', 'ninja')} " + (
        f"packaging=={_pin('requirements-gpu.lock', 'packaging')}"
    )
    assert (
        out[3]
        == f"python -m pip install flash-attn=={_pin('requirements-gpu.lock', 'flash-attn')} --no-build-isolation"
    )
    assert out[4] == "python -m pip install --no-deps -e ."  # not .[gpu]: that would rebuild flash-attn isolated
    assert not any("[gpu]" in line for line in out)
