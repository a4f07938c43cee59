"""What produced a result: configuration hash, seed, model, data hash, package versions.

Every results file embeds :func:`provenance` so that a number found months later can be
traced to the exact configuration, data and software that produced it.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

_PACKAGES = (
    "dataeff",
    "torch",
    "transformers",
    "peft",
    "accelerate",
    "datasets",
    "numpy",
    "pandas",
    "statsmodels",
    "snakemake",
)


def stable_hash(obj: Any) -> str:
    """SHA-256 (first 16 hex digits) of ``obj`` serialised as canonical JSON."""
    blob = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def file_hash(*paths: str | os.PathLike[str]) -> str:
    """SHA-256 (first 16 hex digits) over the bytes of the given files, in order."""
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:16]


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that can change a result."""
    out = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def provenance(
    *,
    config: Any = None,
    seed: int | None = None,
    model: str | None = None,
    model_revision: str | None = None,
    data_hash: str | None = None,
) -> dict[str, Any]:
    """Block of traceability fields to embed in a results file."""
    return {
        "config_hash": stable_hash(config) if config is not None else None,
        "seed": seed,
        "model": model,
        "model_revision": model_revision,
        "data_hash": data_hash,
        "packages": package_versions(),
    }
