"""The typed settings declare exactly the schema's keys, take every default from it, and cannot
be changed once built."""

from __future__ import annotations

import dataclasses

import pytest

from dataeff.core.config import REPO_ROOT
from dataeff.core.schema import schema
from dataeff.core.settings import (
    SECTIONS,
    AnalysisSettings,
    CalibrationSettings,
    FamilySettings,
    LoraSettings,
    family_settings,
    settings_of,
    train_settings,
)
from dataeff.pipeline.config import load_config


def _properties(node: dict) -> set[str]:
    root = schema()
    if "$ref" in node:
        for part in node["$ref"].lstrip("#/").split("/"):
            root = root[part]
        node = root
    return set(node["properties"])


def _names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


@pytest.mark.parametrize("name", sorted(SECTIONS))
def test_each_section_class_declares_the_schema_keys(name: str) -> None:
    assert _names(SECTIONS[name]) == _properties(schema()["properties"][name])


def test_nested_classes_declare_the_schema_keys() -> None:
    props = schema()["properties"]
    assert _names(FamilySettings) == _properties(props["families"]["additionalProperties"])
    assert _names(LoraSettings) == _properties(schema()["definitions"]["lora"])
    assert _names(CalibrationSettings) == _properties(props["analysis"]["properties"]["calibration"])
    assert _names(AnalysisSettings) == _properties(props["analysis"])


def test_defaults_come_from_the_schema_alone() -> None:
    train = settings_of(None, "train")
    node = schema()["properties"]["train"]["properties"]
    assert train.learning_rate == node["learning_rate"]["default"]
    assert train.max_steps == node["max_steps"]["default"]
    assert train.lora.r == schema()["definitions"]["lora"]["properties"]["r"]["default"]
    assert settings_of(None, "analysis").calibration.level == 0.8


def test_a_config_file_reaches_the_attributes() -> None:
    cfg = load_config(REPO_ROOT / "config" / "config.yaml")
    train = train_settings(cfg)
    assert train.max_steps == cfg["train"]["max_steps"] and train.batch_size == cfg["train"]["batch_size"]
    fam = family_settings(cfg["families"]["smollm2"])
    assert fam.model.startswith("gguf:") and fam.precision == cfg["families"]["smollm2"]["precision"]
    assert settings_of(cfg, "coslow").low_fraction_by_task["hyperbaton"] == 0.4


def test_settings_are_frozen_all_the_way_down() -> None:
    cfg = load_config(REPO_ROOT / "config" / "config.yaml")
    train = train_settings(cfg)
    with pytest.raises(dataclasses.FrozenInstanceError):
        train.max_steps = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings_of(cfg, "coslow").low_fraction_by_task["hyperbaton"] = 0.5  # type: ignore[index]
    assert isinstance(settings_of(cfg, "coslow").seeds, tuple)
    # changing a copy (as a test or a sweep does) leaves the original alone
    shorter = dataclasses.replace(train, max_steps=3)
    assert shorter.max_steps == 3 and train.max_steps == cfg["train"]["max_steps"]


def test_to_dict_gives_back_the_validated_section() -> None:
    from dataeff.core.settings import to_dict

    cfg = load_config(REPO_ROOT / "config" / "config.yaml")
    for name in SECTIONS:
        assert to_dict(settings_of(cfg, name)) == {k: v for k, v in cfg[name].items()}
