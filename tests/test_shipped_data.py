"""The real task data ships with the repository and is read offline, checked, or refused.

The BIG-bench sdist the project used to download was withdrawn from the package index, so the
data every shipped configuration needs lives in ``data/``: the BIG-Bench Hard files, each with
the sha256 of the upstream file in ``data/bbh/PROVENANCE.json``. These tests fail when a shipped
configuration names a BIG-bench task whose data the repository does not hold, when a shipped
file no longer matches its recorded hash, or when a damaged file gets through.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dataeff.cli import main
from dataeff.core.config import REPO_ROOT
from dataeff.efficiency.published_curves import resolve_results_dir
from dataeff.efficiency.results import result_filename
from dataeff.pipeline.config import load_config
from dataeff.tasks.bbh import SHIPPED_DIR, read_bbh, shipped_tasks
from dataeff.tasks.registry import BIGBENCH_PAPER, get_task

CONFIGS = sorted((REPO_ROOT / "config").glob("*.yaml"))
SHIPPED = [c for c in CONFIGS if c.name != "fsdp.yaml"]


def test_every_shipped_file_matches_its_provenance():
    info = json.loads((SHIPPED_DIR / "PROVENANCE.json").read_text())
    assert info["repository"] == "https://github.com/suzgunmirac/BIG-Bench-Hard"
    assert len(info["commit"]) == 40
    assert (SHIPPED_DIR / "LICENSE").read_text().startswith("MIT License")
    on_disk = sorted(p.name for p in SHIPPED_DIR.glob("*.json.gz"))
    assert on_disk == sorted(info["files"])  # nothing unlisted, nothing missing
    for name, entry in info["files"].items():
        raw = gzip.decompress((SHIPPED_DIR / name).read_bytes())
        assert hashlib.sha256(raw).hexdigest() == entry["sha256"], name
        assert len(json.loads(raw)["examples"]) == entry["examples"], name
        assert entry["upstream_path"] == f"bbh/{name.removesuffix('.gz')}"


def test_the_shipped_data_stays_small():
    total = sum(p.stat().st_size for p in SHIPPED_DIR.iterdir())
    assert total < 100_000  # bytes: only the tasks the configs and tests use, compressed


def _tasks_that_need_data(config: dict) -> dict[str, str]:
    """Task -> source, for every BIG-bench or BBH task of ``config`` that the workflow would have
    to prepare (a task whose curve the config takes from committed results is never prepared)."""
    published = resolve_results_dir((config.get("analysis") or {}).get("published_results"))
    out = {}
    for task in config["tasks"]:
        spec = get_task(task, config)
        if spec.source not in ("bigbench", "bbh") and task not in BIGBENCH_PAPER:
            continue
        committed = published is not None and all(
            (REPO_ROOT / published / result_filename(family, task)).is_file() for family in config["families"]
        )
        if not committed:
            out[task] = spec.source
    return out


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_no_shipped_config_needs_task_data_the_repository_lacks(path):
    config = load_config(path)
    for task, source in _tasks_that_need_data(config).items():
        assert source in ("bbh", "generated"), f"{path.name}: {task} needs BIG-bench data from {source}"
        if source == "bbh":
            spec = get_task(task, config)
            assert spec.bbh["task"] in shipped_tasks(), f"{path.name}: {task}"
            assert read_bbh(spec.bbh["task"])  # hash-checked read


def test_the_study_schedules_no_preparation():
    """Its 20 BIG-bench tasks went with the sdist: the committed results stand in for them."""
    config = load_config(REPO_ROOT / "config" / "study.yaml")
    assert _tasks_that_need_data(config) == {}
    assert sum(get_task(t, config).source == "bigbench" for t in config["tasks"]) == 20


def _prepare(config: Path, task: str, out: Path) -> dict:
    assert main(["prepare-task", "--config", str(config), "--task", task, "--out-dir", str(out)]) == 0
    return json.loads((out / "meta.json").read_text())


def test_the_default_tasks_prepare_offline_and_deterministically(tmp_path):
    path = REPO_ROOT / "config" / "config.yaml"
    config = load_config(path)
    for task in config["tasks"]:
        meta = _prepare(path, task, tmp_path / task)
        assert (
            meta["source"] == "bbh"
            and meta["bbh"]["commit"] == json.loads((SHIPPED_DIR / "PROVENANCE.json").read_text())["commit"]
        )
        assert meta["sizes"]["train"] >= max(config["budgets"]), task  # the largest budget fits
        rows = {s: (tmp_path / task / f"{s}.jsonl").read_text().splitlines() for s in ("train", "validation", "test")}
        prompts = {s: {json.loads(r)["prompt"] for r in rows[s]} for s in rows}
        assert not prompts["test"] & (prompts["train"] | prompts["validation"]), task
    again = _prepare(path, "hyperbaton", tmp_path / "again")
    assert again["data_hash"] == json.loads((tmp_path / "hyperbaton" / "meta.json").read_text())["data_hash"]


@pytest.mark.parametrize("task", sorted(BIGBENCH_PAPER))
def test_every_paper_bigbench_task_prepares_offline(task, tmp_path):
    meta = _prepare(REPO_ROOT / "config" / "paper.yaml", task, tmp_path / task)
    assert meta["source"] in ("generated", "bbh")
    assert meta["sizes"]["train"] > 0 and meta["sizes"]["test"] > 0


def _cli_error(args: list[str]) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "dataeff", *args], capture_output=True, text=True, check=False, cwd=REPO_ROOT
    )
    assert proc.returncode != 0
    return proc.stderr.strip().splitlines()


@pytest.mark.parametrize("damage", ["altered", "missing", "truncated"])
def test_a_damaged_shipped_file_is_one_line_and_writes_nothing(damage, tmp_path):
    folder = tmp_path / "bbh"
    shutil.copytree(SHIPPED_DIR, folder)
    target = folder / "hyperbaton.json.gz"
    if damage == "altered":
        raw = gzip.decompress(target.read_bytes()).replace(b"(A)", b"(B)", 1)
        target.write_bytes(gzip.compress(raw))
    elif damage == "missing":
        target.unlink()
    else:
        target.write_bytes(target.read_bytes()[:200])
    config = load_config(REPO_ROOT / "config" / "config.yaml")
    config["data"]["bbh_dir"] = str(folder)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    out = tmp_path / "task"
    lines = _cli_error(["prepare-task", "--config", str(path), "--task", "hyperbaton", "--out-dir", str(out)])
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    assert str(target) in lines[0] and "git checkout -- data/bbh" in lines[0]
    assert not out.exists()


def test_a_config_naming_an_unshipped_bbh_task_is_one_line(tmp_path):
    import yaml

    config = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())
    config["bbh_tasks"]["hyperbaton"]["task"] = "word_sorting"
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    lines = _cli_error(["prepare-task", "--config", str(path), "--task", "hyperbaton"])
    assert len(lines) == 1 and "bbh_tasks.hyperbaton.task" in lines[0] and str(path) in lines[0]
