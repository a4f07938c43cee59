"""Configuration validation: the schema rejects typos with a one-line message naming the key."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from dataeff.core.config import DEFAULT_CONFIG, REPO_ROOT, max_budget
from dataeff.core.errors import DataeffError
from dataeff.core.io import read_yaml
from dataeff.pipeline.config import load_config, validate_config
from dataeff.prediction.budget import predict_budget
from dataeff.prediction.published import PUBLISHED_COEFFICIENTS


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


# --------------------------------------------------------------------------- packaged settings


def test_packaged_default_and_schema_are_the_repository_files() -> None:
    import dataeff
    from dataeff.core.schema import SCHEMA_PATH

    package = Path(dataeff.__file__).parent
    assert DEFAULT_CONFIG.parent == SCHEMA_PATH.parent == package / "resources"
    assert DEFAULT_CONFIG.read_bytes() == (REPO_ROOT / "config" / "config.yaml").read_bytes()
    assert SCHEMA_PATH.read_bytes() == (REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml").read_bytes()


def test_settings_do_not_depend_on_the_working_directory(tmp_path, monkeypatch) -> None:
    from dataeff.pipeline.config import load_optional_config

    packaged = load_config(DEFAULT_CONFIG)
    decoy = read_yaml(DEFAULT_CONFIG)
    decoy["coslow"] = {"k": 5, "max_new_tokens": 3}
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(decoy))
    monkeypatch.chdir(tmp_path)
    assert load_optional_config(None) == packaged
    assert load_optional_config(None, default=False) is None
    mine = load_optional_config("config/config.yaml")
    assert mine["coslow"]["k"] == 5 and mine["coslow"]["lora"]["r"] == 64
    (tmp_path / "resolved.json").write_text(json.dumps(decoy))
    assert load_optional_config(str(tmp_path / "resolved.json"))["coslow"]["max_new_tokens"] == 3


def test_a_wheel_ships_the_settings_and_works_outside_the_repository(tmp_path) -> None:
    """A non-editable install (the wheel unpacked, nothing of the source tree on the path) finds
    its schema and default config and answers `dataeff budget` from an unrelated directory."""
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "dist"),
            str(REPO_ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if build.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {build.stderr.strip().splitlines()[-1:]}")
    site = tmp_path / "site"
    with zipfile.ZipFile(next((tmp_path / "dist").glob("dataeff-*.whl"))) as whl:
        whl.extractall(site)
    assert not (site / "dataeff" / "resources" / "default_config.yaml").is_symlink()
    work = tmp_path / "anywhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(site)}
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import dataeff, dataeff.pipeline.config as c; print(dataeff.__file__); "
            "print(c.load_optional_config(None)['coslow']['k'])",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    where, k = probe.stdout.split()
    assert where.startswith(str(site)) and int(k) == load_config(DEFAULT_CONFIG)["coslow"]["k"]
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "dataeff",
            "budget",
            "--coslow",
            "0.3",
            "--family",
            "llama",
            "--target",
            "0.7",
            "--json",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    pred = json.loads(run.stdout)
    assert pred["predicted_auc_raw"] == pytest.approx(0.545 * 0.3 + 0.31)  # the paper's llama line
    assert pred["budget"] == predict_budget(0.3, PUBLISHED_COEFFICIENTS["llama"], 0.7)["budget"]  # as in-process
    assert sorted(p.name for p in work.iterdir()) == []
