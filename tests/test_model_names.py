"""One way to name a model (issue 27): ``select``, ``coslow``, ``predict`` and ``budget`` resolve
``--model`` and ``--family`` through :mod:`dataeff.modeling.resolve`, so ``--model smollm2`` works in each
of them from a fresh checkout, preparing the packaged family once on first use.

The preparation (converting SmolLM2's GGUF file, 20-60 s) is swapped for the tiny model, and the
checkout is made to look fresh: no ``results/models`` in the working directory or the repository,
and an empty model cache.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from dataeff.cli import main
from dataeff.core.settings import FamilySettings, family_settings


@pytest.fixture()
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path) -> dict[str, list[Any]]:
    """An empty working directory in a fresh checkout; returns the preparations and the model
    loads the commands make (``prepared``: family spec and directory; ``loaded``: what was loaded
    and with which settings)."""
    import dataeff.modeling.resolve as model_ref
    from dataeff.modeling.loading import load_model, prepare_model

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.chdir(home)
    monkeypatch.setattr(model_ref, "REPO_ROOT", tmp_path / "checkout")
    monkeypatch.setenv("DATAEFF_CACHE", str(tmp_path / "cache"))
    seen: dict[str, list[Any]] = {"prepared": [], "loaded": []}

    def prepare_tiny(family: FamilySettings, out: Path) -> dict[str, Any]:
        seen["prepared"].append((family.model, Path(out)))
        return prepare_model(dataclasses.replace(family, model=str(tiny_model_dir), revision=None), out)

    def load_recorded(ref: str, **kwargs: Any) -> Any:
        seen["loaded"].append((ref, {k: v for k, v in kwargs.items() if k not in ("threads", "device")}))
        return load_model(ref, **kwargs)

    monkeypatch.setattr(model_ref, "prepare_model", prepare_tiny)
    monkeypatch.setattr(model_ref, "load_model", load_recorded)
    return seen


def write_prompts(path: Path, n: int) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "question"])
        for i in range(n):
            w.writerow([f"q{i}", f"Is {i * 7 % 13} larger than {i % 5}? Answer yes or no."])
    return path


def write_labeled(path: Path, k: int = 4) -> Path:
    rows = [
        {"id": f"q{i}", "prompt": f"Is {i} odd? Answer yes or no.", "answer": "yes" if i % 2 else "no"}
        for i in range(k)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def command(name: str, tmp_path: Path) -> list[str]:
    """``name`` with ``--model smollm2`` and nothing else about the model (k = 4 keeps it quick)."""
    if name == "select":
        prompts = write_prompts(tmp_path / "prompts.csv", 40)
        return ["select", "--model", "smollm2", "--prompts", str(prompts), "--prompt-field", "question",
                "--k", "4", "--seed", "1", "--out", str(tmp_path / "picked.jsonl")]  # fmt: skip
    if name == "coslow":
        labeled = write_labeled(tmp_path / "labeled.jsonl")
        return ["coslow", "--model", "smollm2", "--annotated", str(labeled), "--seed", "0",
                "--out", str(tmp_path / "coslow.json")]  # fmt: skip
    prompts = write_prompts(tmp_path / "prompts.csv", 40)
    return ["predict", "--model", "smollm2", "--prompts", str(prompts), "--prompt-field", "question",
            "--k", "4", "--seed", "1", "--workdir", str(tmp_path / "work"), "--target", "0.7",
            "--majority", "0.5"]  # fmt: skip


@pytest.mark.parametrize("first", ["select", "coslow", "predict"])
def test_each_command_prepares_a_packaged_family_on_first_use(first, fresh, tmp_path, capsys) -> None:
    """Whichever command a new user runs first, ``--model smollm2`` is prepared once into the model
    cache (``coslow`` used to stop with "family 'smollm2' is not prepared"), loaded with the
    family's settings, and the next command loads the same model without preparing it again."""
    from dataeff.modeling.loading import family_load_kwargs
    from dataeff.pipeline.config import load_optional_config

    assert main(command(first, tmp_path)) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    cache = tmp_path / "cache" / "models" / "smollm2"
    spec = load_optional_config(None)["families"]["smollm2"]
    assert fresh["prepared"] == [(spec["model"], cache)]
    assert f"dataeff: preparing model 'smollm2' ({spec['model']}) once into {cache}" in err
    assert "Traceback" not in err and "not prepared" not in err
    expected = (str(cache / "model.json"), family_load_kwargs(family_settings(spec)))
    assert fresh["loaded"] == [expected]

    again = tmp_path / "again"
    again.mkdir()
    assert main(command("coslow", again)) == 0, capsys.readouterr().err
    assert "preparing model" not in capsys.readouterr().err
    assert len(fresh["prepared"]) == 1 and fresh["loaded"] == [expected, expected]


def test_budget_resolves_model_and_family_as_predict_does(fresh, tmp_path, capsys) -> None:
    """``budget --model smollm2`` takes the family's coefficients as ``predict --model smollm2``
    does (``--family`` defaults to a config family named by ``--model``), checks that they were
    fitted on that model, and needs no model weights (nothing is prepared)."""
    base = ["budget", "--coslow", "0.5", "--target", "0.7", "--majority", "0.5", "--json"]
    assert main([*base, "--model", "smollm2"]) == 0
    by_model = json.loads(capsys.readouterr().out)
    assert main([*base, "--family", "smollm2"]) == 0
    by_family = json.loads(capsys.readouterr().out)
    assert by_model.pop("model") == "smollm2" and by_family.pop("model") is None
    assert by_model == by_family and by_model["family"] == "smollm2"
    assert "smollm2.json" in by_model["coefficients_source"] and not by_model["warnings"]
    assert fresh["prepared"] == [] and fresh["loaded"] == []

    # another model's coefficients are refused as in predict, and accepted with --force
    assert main([*base, "--model", "smollm2", "--family", "llama"]) == 2
    err = capsys.readouterr().err
    assert err.count("dataeff: error:") == 1 and "fitted on meta-llama/Llama-3.1-8B-Instruct" in err
    assert "--force" in err and "Traceback" not in err
    assert main([*base, "--model", "smollm2", "--family", "llama", "--force"]) == 0
    out = capsys.readouterr()
    assert (
        "not on smollm2" in out.err and json.loads(out.out)["coefficients_model"] == "meta-llama/Llama-3.1-8B-Instruct"
    )


def test_predict_without_a_family_says_so(fresh, tmp_path, capsys) -> None:
    """A model that is no config family gives no coefficients by itself, in predict and budget alike."""
    prompts = write_prompts(tmp_path / "p.csv", 40)
    rc = main(["predict", "--model", "org/some-model", "--prompts", str(prompts), "--workdir", str(tmp_path / "w"),
               "--target", "0.7"])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and err.count("dataeff: error:") == 1 and "field '--family'" in err
    assert main(["budget", "--model", "org/some-model", "--coslow", "0.5", "--target", "0.7"]) == 2
    err = capsys.readouterr().err
    assert err.count("dataeff: error:") == 1 and "field '--family'" in err
    assert fresh["prepared"] == [] and not (tmp_path / "w").exists()
