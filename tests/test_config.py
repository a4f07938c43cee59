"""Configuration validation: the schema rejects typos with a one-line message naming the key."""

from __future__ import annotations

import copy

import pytest

from dataeff.config import DEFAULT_CONFIG, REPO_ROOT, load_config, max_budget, validate_config
from dataeff.errors import DataeffError
from dataeff.io import read_yaml


@pytest.fixture()
def base() -> dict:
    return read_yaml(DEFAULT_CONFIG)


def test_default_and_paper_configs_are_valid() -> None:
    default = load_config(DEFAULT_CONFIG)
    assert default["train"]["micro_batch_size"] >= 1
    assert default["coslow"]["lora"]["r"] == 64  # schema default filled in
    paper = load_config(REPO_ROOT / "config" / "paper.yaml")
    assert sorted(paper["families"]) == ["llama", "mistral", "qwen"]
    assert len(paper["tasks"]) == 30
    assert paper["budgets"] == [50, 100, 200, 500, 1000, 2500, 5000]
    assert max_budget(paper) == 5000
    assert paper["train"]["learning_rate"] == 1e-5 and paper["train"]["max_steps"] == 500
    assert paper["train"]["batch_size"] == 32 and paper["train"]["patience"] == 10
    assert paper["families"]["llama"]["coefficients"]["slope"] == 0.545


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: c.update(learning_rate=1), "unknown key 'learning_rate' in config"),
        (lambda c: c["train"].update(lr=1), "unknown key 'lr' in train"),
        (lambda c: c["train"].update(max_steps="ten"), "key 'train.max_steps': expected integer"),
        (lambda c: c["train"].update(method="qlora"), "key 'train.method': 'qlora' is not allowed"),
        (lambda c: c.update(budgets=[]), "key 'budgets': list is empty"),
        (lambda c: c.update(budgets=[16, 16]), "key 'budgets': duplicate entries"),
        (lambda c: c.update(tasks=["no_such_task"]), "unknown task 'no_such_task'"),
        (lambda c: c.pop("families"), "missing required key 'families'"),
    ],
)
def test_bad_config_gives_one_line(base: dict, mutate, expected: str) -> None:
    cfg = copy.deepcopy(base)
    mutate(cfg)
    with pytest.raises(DataeffError) as err:
        validate_config(cfg, "my.yaml")
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("my.yaml")
    assert expected in msg
