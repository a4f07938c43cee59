"""The BIG-bench task source: streaming the sdist, the cache, JSON tasks -> rows.

The streaming logic is tested on a small synthetic tarball laid out like the sdist. Tests
marked by the ``real_data`` fixture use the real ``bigbench-1.0.0.tar.gz`` at the configured
``data.bigbench_sdist`` (or ``$DATAEFF_BIGBENCH_SDIST``) and skip cleanly when it is absent.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from dataeff.config import load_config
from dataeff.errors import DataeffError
from dataeff.tasks import bigbench
from dataeff.tasks.bigbench import BigbenchSource, example_row, load_bigbench_task, task_files

REPO = Path(__file__).resolve().parents[1]
ROOT = "bigbench-1.0.0/bigbench/benchmark_tasks"


def _data(**overrides: Any) -> dict[str, Any]:
    data = dict(load_config(REPO / "config" / "paper.yaml")["data"])
    data.update(overrides)
    return data


def _add(tf: tarfile.TarFile, name: str, payload: bytes | None = None) -> None:
    info = tarfile.TarInfo(name)
    if payload is None:
        info.type = tarfile.DIRTYPE
        tf.addfile(info)
    else:
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))


def _task(examples: list[dict[str, Any]], **extra: Any) -> bytes:
    return json.dumps({"name": "t", "description": "d", "keywords": ["k"], "examples": examples,
                       **extra}).encode()


@pytest.fixture()
def fake_sdist(tmp_path: Path) -> dict[str, Any]:
    """A gzip tarball laid out like the sdist: MC task, exact-match task, subtasks, a program."""
    path = tmp_path / "bigbench-1.0.0.tar.gz"
    mc = [{"input": f"q{i}", "target_scores": {"yes": int(i % 2 == 0), "no": int(i % 2 == 1)}}
          for i in range(6)]
    mc.append({"input": "two right", "target_scores": {"x": 1, "y": 1}})  # unusable: 2 correct
    em = [{"input": "2+2", "target": ["four", "4"]}, {"input": "long", "target": "a b c d e f g h"},
          {"input": "3+3", "target": "6"}]
    with tarfile.open(path, "w:gz") as tf:
        _add(tf, "bigbench-1.0.0/PKG-INFO", b"Name: bigbench\n")
        _add(tf, f"{ROOT}/alpha")
        _add(tf, f"{ROOT}/alpha/README.md", b"# alpha\n")
        _add(tf, f"{ROOT}/alpha/task.json", _task(mc))
        _add(tf, f"{ROOT}/beta/task.json", _task(em))
        _add(tf, f"{ROOT}/beta/vocab.json", b'{"w": [1]}')
        _add(tf, f"{ROOT}/gamma/task.json", _task([]))
        _add(tf, f"{ROOT}/gamma/one/task.json", _task([{"input": "g1", "target": "1"}]))
        _add(tf, f"{ROOT}/gamma/two/task.json", _task([{"input": "g2", "target_scores": {"a": 0, "b": 1}}]))
        _add(tf, f"{ROOT}/prog/task.py", b"print('program')\n")
        _add(tf, "bigbench-1.0.0/bigbench/api/task.py", b"# api\n")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    data = _data(bigbench_sdist=str(path), bigbench_sha256=digest, bigbench_cache=str(tmp_path / "cache"))
    return {"path": path, "data": data, "source": BigbenchSource.from_data(data)}


def test_rows_of_multiple_choice_and_exact_match(fake_sdist):
    rows = load_bigbench_task("alpha", data=fake_sdist["data"])
    assert len(rows) == 6  # the two-correct example is dropped
    assert rows[0] == {"id": "alpha:0", "input": "q0", "target": "yes", "options": ["yes", "no"]}
    assert [r["target"] for r in rows] == ["yes", "no"] * 3
    rows = load_bigbench_task("beta", data=fake_sdist["data"])
    assert rows == [{"id": "beta:0", "input": "2+2", "target": "four"},
                    {"id": "beta:2", "input": "3+3", "target": "6"}]  # 8-word target dropped
    both = load_bigbench_task("gamma", data=fake_sdist["data"])
    assert [r["id"] for r in both] == ["gamma/one:0", "gamma/two:0"]
    assert load_bigbench_task("gamma", "two", data=fake_sdist["data"]) == [
        {"id": "gamma/two:0", "input": "g2", "target": "b", "options": ["a", "b"]}]


def test_cache_is_used_offline_and_verified(fake_sdist):
    data, source = fake_sdist["data"], fake_sdist["source"]
    first = load_bigbench_task("beta", data=data)
    folder = source.task_root / "beta"
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    assert manifest["sdist_sha256"] == source.sha256
    assert set(manifest["files"]) == {"task.json", "vocab.json"}  # README and others not kept
    assert manifest["files"]["vocab.json"] == hashlib.sha256(b'{"w": [1]}').hexdigest()
    fake_sdist["path"].unlink()  # offline: the cache alone serves the task
    assert load_bigbench_task("beta", data=data) == first
    (folder / "task.json").write_text("{}")  # damaged cache: re-extraction needs the sdist
    with pytest.raises(DataeffError, match="BIG-bench sdist not found"):
        load_bigbench_task("beta", data=data)


def test_one_pass_stops_after_the_last_wanted_folder(fake_sdist, monkeypatch):
    seen: list[str] = []
    real_open = tarfile.open

    def spy_open(*args: Any, **kwargs: Any) -> Any:
        assert kwargs.get("mode", args[1] if len(args) > 1 else None) == "r|gz"  # streaming only
        tf = real_open(*args, **kwargs)
        members = iter(tf)

        class Spy:
            def __enter__(self) -> Any:
                return self

            def __exit__(self, *exc: Any) -> None:
                tf.close()

            def __iter__(self) -> Any:
                for m in members:
                    seen.append(m.name)
                    yield m

            def extractfile(self, m: Any) -> Any:
                return tf.extractfile(m)

        return Spy()

    monkeypatch.setattr(bigbench.tarfile, "open", spy_open)
    files = task_files(["beta", "alpha"], fake_sdist["source"])
    assert sorted(files) == ["alpha", "beta"]
    assert not any("/gamma/two/" in n or "/prog/" in n for n in seen)  # stopped after beta
    seen.clear()
    task_files(["alpha", "beta"], fake_sdist["source"])
    assert seen == []  # second call: cache only


def test_unsupported_and_unknown_tasks_are_one_line(fake_sdist):
    data = fake_sdist["data"]
    with pytest.raises(DataeffError, match="'prog' is a program") as err:
        load_bigbench_task("prog", data=data)
    assert "\n" not in str(err.value)
    with pytest.raises(DataeffError, match="no BIG-bench task named 'nosuch'"):
        load_bigbench_task("nosuch", data=data)
    with pytest.raises(DataeffError, match="has no subtask 'three'.*one, two"):
        load_bigbench_task("gamma", "three", data=data)
    with pytest.raises(DataeffError, match="invalid BIG-bench task name"):
        load_bigbench_task("../etc", data=data)
    with pytest.raises(DataeffError, match="differs from the pinned"):
        load_bigbench_task("alpha", data={**data, "bigbench_sha256": "0" * 64})


def test_example_row_rules():
    assert example_row({"input": "x", "target_scores": {"a": 0.5, "b": 0.5}}, 5) is None
    assert example_row({"input": "x", "target_scores": {"a": 0, "b": 0}}, 5) is None
    assert example_row({"input": "x", "target": []}, 5) is None
    assert example_row({"input": "x", "target": "one two three"}, 2) is None
    assert example_row({"input": "x", "target": " ok "}, 2) == {"input": "x", "target": "ok"}


# --------------------------------------------------------------------------- the real sdist

@pytest.fixture(scope="module")
def real_data(tmp_path_factory) -> dict[str, Any]:
    """Config data for the real sdist (skip when absent); cache under DATAEFF_TEST_CACHE."""
    data = _data()
    path = Path(os.environ.get("DATAEFF_BIGBENCH_SDIST") or data["bigbench_sdist"])
    if not path.is_absolute():
        path = REPO / path
    if not path.is_file():
        pytest.skip(f"BIG-bench sdist not at {path} (run `snakemake fetch_bigbench`)")
    base = os.environ.get("DATAEFF_TEST_CACHE")
    cache = Path(base) / "bigbench" if base else tmp_path_factory.mktemp("bigbench")
    return {**data, "bigbench_sdist": str(path), "bigbench_cache": str(cache)}


def test_real_sdist_json_tasks(real_data):
    hyper = load_bigbench_task("hyperbaton", data=real_data)
    assert len(hyper) == 50000 and {r["target"] for r in hyper} == {"a", "b"}
    tracking = load_bigbench_task("tracking_shuffled_objects", data=real_data)
    assert len(tracking) == 750 + 1250 + 1750
    assert len(load_bigbench_task("tracking_shuffled_objects", "three_objects", data=real_data)) == 750
    assert all(r["target"] in r["options"] for r in tracking)
    counting = load_bigbench_task("object_counting", data=real_data)
    assert len(counting) == 1000 and "options" not in counting[0]
    t0 = time.perf_counter()
    again = load_bigbench_task("object_counting", data=real_data)
    assert again == counting and time.perf_counter() - t0 < 1.0  # from the cache
    with pytest.raises(DataeffError, match="'web_of_lies' is a program"):
        load_bigbench_task("web_of_lies", data=real_data)
