"""The conda environments pin what requirements.lock pins, so `--sdm conda` runs the tested stack."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _lock() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.lower()] = version
    return pins


def test_env_files_pin_the_lock_file_versions():
    lock = _lock()
    for env in ("analysis", "train"):
        spec = yaml.safe_load((REPO / "envs" / f"{env}.yaml").read_text(encoding="utf-8"))
        pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
        assert pip, env
        for req in pip:
            name, _, version = req.partition("==")
            assert version == lock[name.lower()], f"envs/{env}.yaml: {req} (lock: {lock.get(name.lower())})"
