"""Crashes lose nothing; results are reproducible and traceable.

A tiny-model family and one generated task go through the real pipeline (``snakemake --cores 2``
in a working copy under tmp_path) up to ``results/{family}/efficiency.json``:

* ``reference``: one uninterrupted run.
* ``test_crash_and_resume``: the same configuration, with the whole Snakemake process group
  SIGKILLed (a) while a fine-tune is past its first checkpoint, (b) while an evaluation is
  generating, (c) while the aggregation is inside its atomic write. Each time the run is
  unlocked and re-run with ``--rerun-incomplete``. The end result must equal the reference
  byte for byte (eval JSONs, predictions, curve files, efficiency.json; same best validation
  loss), every JSON must parse, no temporary may be left next to an output, and the killed
  fine-tune must report that it resumed from its checkpoint.
* ``test_results_files_are_traceable``: every results file records the configuration hash,
  seed, model and revision, data hash and package versions.

To make the kills land where they should, jobs run with a ``sitecustomize`` hook (test only;
it changes timing, never numbers) that slows down training steps and generation a little and
drops a marker file when an evaluation starts or the aggregation is about to rename its output.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
FAMILY = "tiny"
TASK = "boolean_expressions"
BUDGETS = [8, 16]
TARGET = f"results/{FAMILY}/efficiency.json"
PHASE_TIMEOUT = 420  # seconds; generous because CI machines are slow and shared

HOOK = r'''
"""Test-only timing hook for `dataeff` jobs (see tests/test_crash_resume.py)."""
import os
import sys
import time
from pathlib import Path

# Active in every process of the run (rules may call `dataeff` or `python -m dataeff`); the
# patches only touch dataeff functions, so they are inert in Snakemake itself.
_MARKERS = os.environ.get("DATAEFF_TEST_MARKERS")
if _MARKERS:
    _STEP = float(os.environ.get("DATAEFF_TEST_STEP_DELAY", "0"))
    _EVAL = float(os.environ.get("DATAEFF_TEST_EVAL_DELAY", "0"))
    _AGG = float(os.environ.get("DATAEFF_TEST_AGG_DELAY", "0"))

    def _mark(name):
        d = Path(os.environ["DATAEFF_TEST_MARKERS"])
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{name}.{os.getpid()}").touch()

    import dataeff.inference.evaluate as _ev
    import dataeff.core.io as _io
    import dataeff.training.finetune as _tr

    _loss = _tr.answer_loss_sum

    def answer_loss_sum(*a, **k):
        time.sleep(_STEP)
        return _loss(*a, **k)

    _tr.answer_loss_sum = answer_loss_sum
    _predict = _ev.predict

    def predict(*a, **k):
        _mark("evaluate")
        time.sleep(_EVAL)
        return _predict(*a, **k)

    _ev.predict = predict

    class _Os:
        def __getattr__(self, name):
            return getattr(os, name)

        def replace(self, src, dst):
            if "aggregate" in sys.argv and str(dst).endswith("_full_result_v2.json"):
                _mark("aggregate")
                time.sleep(_AGG)
            return os.replace(src, dst)

    _io.os = _Os()
'''


def _config(model_dir: Path) -> dict:
    return {
        "seed": 7,
        "families": {FAMILY: {"model": str(model_dir)}},
        "tasks": [TASK],
        "budgets": BUDGETS,
        "data": {"generated_examples": 80, "difficulty": "easy", "test_max": 8, "split_seed": 3},
        "train": {
            "method": "full",
            "learning_rate": 1.0e-3,
            "max_steps": 12,
            "batch_size": 4,
            "micro_batch_size": 4,
            "max_seq_len": 128,
            "eval_every": 2,
            "patience": 100,
            "checkpoint_every": 2,
            "threads": 1,
        },
        "eval": {"batch_size": 8, "max_new_tokens": 4, "threads": 1},
        "analysis": {"bootstrap": 0, "floor": "majority"},
    }


def _workdir(root: Path, model_dir: Path, config: dict | None = None) -> Path:
    """A working copy of the pipeline (Snakefile, rules, schemas, config, prompts, envs) with
    ``config`` (default: this module's) as config/test.yaml; tests/test_rerun.py uses it too."""
    root.mkdir(parents=True)
    shutil.copy(REPO / "Snakefile", root / "Snakefile")
    for sub in ("config", "prompts", "envs"):
        shutil.copytree(REPO / sub, root / sub)
    for sub in ("rules", "schemas", "report"):
        if (REPO / "workflow" / sub).is_dir():
            shutil.copytree(REPO / "workflow" / sub, root / "workflow" / sub)
    (root / "config" / "test.yaml").write_text(yaml.safe_dump(config or _config(model_dir)), encoding="utf-8")
    return root


def _env(work: Path, markers: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(REPO / "workflow")]
    if markers is not None:
        hooks = work / ".hooks"
        hooks.mkdir(exist_ok=True)
        (hooks / "sitecustomize.py").write_text(HOOK, encoding="utf-8")
        paths.insert(0, str(hooks))
        env.update(
            DATAEFF_TEST_MARKERS=str(markers),
            DATAEFF_TEST_STEP_DELAY="0.25",
            DATAEFF_TEST_EVAL_DELAY="3",
            DATAEFF_TEST_AGG_DELAY="5",
        )
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")])
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return env


def _snakemake(*extra: str) -> list[str]:
    exe = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or "snakemake"
    return [exe, TARGET, "--cores", "2", "--configfile", "config/test.yaml", *extra]


def _run(work: Path, env: dict[str, str], *extra: str) -> None:
    proc = subprocess.run(_snakemake(*extra), cwd=work, env=env, capture_output=True, text=True, timeout=PHASE_TIMEOUT)
    assert proc.returncode == 0, _diagnose(work, proc.stdout + proc.stderr)


def _diagnose(work: Path, output: str) -> str:
    logs = "\n".join(
        f"--- {p}\n{p.read_text(errors='replace')[-2000:]}" for p in sorted((work / "logs").rglob("*.log"))
    )
    return f"{output[-4000:]}\n{logs}"


def _run_until(work: Path, env: dict[str, str], ready: Callable[[], bool], what: str) -> None:
    """Start the pipeline, SIGKILL its whole process group as soon as ``ready()``, then unlock."""
    proc = subprocess.Popen(
        _snakemake("--rerun-incomplete"),
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + PHASE_TIMEOUT
    try:
        while not ready():
            if proc.poll() is not None:
                out = proc.stdout.read() if proc.stdout else ""
                pytest.fail(
                    f"the pipeline ended (rc {proc.returncode}) before {what}; "
                    f"the kill window was missed\n{_diagnose(work, out)}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}")
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        if proc.stdout:
            proc.stdout.close()
    # Jobs were killed with their parent; wait until none of this run's processes is left.
    time.sleep(1)
    subprocess.run(_snakemake("--unlock"), cwd=work, env=env, capture_output=True, timeout=PHASE_TIMEOUT, check=True)


def _checkpoints(work: Path) -> dict[str, int]:
    out = {}
    for latest in (work / "results" / FAMILY / TASK / "train").glob("n*.ckpt/latest.json"):
        try:
            out[latest.parent.name] = json.loads(latest.read_text())["step"]
        except (OSError, ValueError, KeyError):
            continue
    return out


def _results_files(work: Path) -> list[Path]:
    res = work / "results"
    return sorted(
        [p for p in res.glob(f"{FAMILY}/{TASK}/eval/n*.json") if p.name.count(".") == 1]
        + [
            *res.glob(f"{FAMILY}/{TASK}/train/n*/metrics.json"),
            *res.glob(f"{FAMILY}/finetune_results/*.json"),
            res / FAMILY / "efficiency.json",
        ]
    )


@pytest.fixture(scope="module")
def model_dir(tiny_model_dir: Path) -> Path:
    return tiny_model_dir


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Path:
    """One uninterrupted run (no hooks)."""
    work = _workdir(tmp_path_factory.mktemp("pipeline") / "reference", model_dir)
    start = time.monotonic()
    _run(work, _env(work))
    print(f"reference run: {time.monotonic() - start:.0f} s")
    return work


def test_crash_and_resume(reference: Path, model_dir: Path, tmp_path: Path) -> None:
    work = _workdir(tmp_path / "crashed", model_dir)
    start = time.monotonic()

    # (a) kill while a fine-tune is past its first checkpoint
    env = _env(work, tmp_path / "markers-a")
    _run_until(work, env, lambda: bool(_checkpoints(work)), "a fine-tuning checkpoint")
    killed = _checkpoints(work)
    assert killed, "no checkpoint survived the kill"
    train_dir = work / "results" / FAMILY / TASK / "train"
    for name in killed:
        assert not (train_dir / name.removesuffix(".ckpt") / "metrics.json").exists()

    # (b) kill while an evaluation is generating
    markers_b = tmp_path / "markers-b"
    env = _env(work, markers_b)
    _run_until(work, env, lambda: markers_b.is_dir() and any(markers_b.glob("evaluate.*")), "an evaluation")

    # (c) kill while the aggregation is writing its curve file
    markers_c = tmp_path / "markers-c"
    env = _env(work, markers_c)
    _run_until(work, env, lambda: markers_c.is_dir() and any(markers_c.glob("aggregate.*")), "the aggregation")
    curve = work / "results" / FAMILY / "finetune_results" / f"{FAMILY}_{TASK}_full_result_v2.json"
    assert not curve.exists(), "the curve file appeared although its writer was killed before the rename"

    # finish
    _run(work, _env(work), "--rerun-incomplete")
    print(f"crashed run (3 kills + resume): {time.monotonic() - start:.0f} s")

    # every JSON parses; no temporaries or checkpoints left behind; fine-tuned models are temporary
    assert not list(train_dir.glob("n*/model")), "fine-tuned model directories kept (train.keep_models is off)"
    for path in (work / "results").rglob("*"):
        assert ".tmp" not in path.name, f"temporary left behind: {path}"
        assert not path.name.endswith(".ckpt"), f"checkpoint left behind: {path}"
        if path.suffix == ".json":
            json.loads(path.read_text())
        if path.suffix == ".jsonl":
            [json.loads(line) for line in path.read_text().splitlines()]

    # the killed fine-tunes resumed from their checkpoint
    for name, step in killed.items():
        metrics = json.loads((train_dir / name.removesuffix(".ckpt") / "metrics.json").read_text())
        assert metrics["resumed_from_step"] is not None and metrics["resumed_from_step"] >= step, metrics
        assert metrics["steps_run"] == metrics["steps_planned"]

    # same results as the uninterrupted run, byte for byte
    ref_files = [p.relative_to(reference) for p in _results_files(reference)]
    assert ref_files == [p.relative_to(work) for p in _results_files(work)]
    for rel in ref_files:
        if rel.name == "metrics.json":  # a training log: timings and resumed_from_step differ
            a, b = (json.loads((root / rel).read_text()) for root in (reference, work))
            for key in ("best_val_loss", "best_step", "steps_run", "train_tokens", "answer_tokens", "provenance"):
                assert a[key] == b[key], (rel, key)
            continue
        assert (reference / rel).read_bytes() == (work / rel).read_bytes(), f"{rel} differs after the crashes"
    for budget in [0, *BUDGETS]:
        rel = Path("results", FAMILY, TASK, "eval", f"n{budget}.predictions.jsonl")
        assert (reference / rel).read_bytes() == (work / rel).read_bytes(), rel
    aucs = {root: json.loads((root / TARGET).read_text())[TASK]["auc"] for root in (reference, work)}
    assert aucs[reference] == aucs[work]


def test_results_files_are_traceable(reference: Path, model_dir: Path) -> None:
    files = _results_files(reference)
    kinds = {p.name if p.parent.name != "eval" else "eval" for p in files}
    assert {"eval", "metrics.json", "efficiency.json", f"{FAMILY}_{TASK}_full_result_v2.json"} <= kinds, files
    import dataeff

    for path in files:
        data = json.loads(path.read_text())
        records = list(data.values()) if path.name == "efficiency.json" else [data]
        for record in records:
            prov = record["provenance"]
            assert isinstance(prov["config_hash"], str) and len(prov["config_hash"]) == 16, path
            assert prov["seed"] == 7, path
            assert prov["model"] == str(model_dir), path
            # a local model directory has no Hub revision: it is recorded by content hash
            assert str(prov["model_revision"]).startswith("sha256:"), (path, prov["model_revision"])
            assert isinstance(prov["data_hash"], str) and len(prov["data_hash"]) == 16, path
            assert prov["packages"].get("torch") and prov["packages"].get("transformers"), path
            assert prov["packages"].get("dataeff") == dataeff.__version__, path
        if path.parent.name == "eval":
            assert data["seed"] == 7
            assert "eval_seconds" not in data and "examples_per_second" not in data, (
                "timings in a results file break reproducibility"
            )
            assert json.loads(path.with_suffix(".timing.json").read_text())["eval_seconds"] >= 0
    # the data hash of an evaluation is the hash of the test split it scored
    from dataeff.core.provenance import file_hash

    ev = json.loads((reference / "results" / FAMILY / TASK / "eval" / "n0.json").read_text())
    assert ev["provenance"]["data_hash"] == file_hash(reference / "data" / "tasks" / TASK / "test.jsonl")
    # ...and fine-tuned models carry the revision of the base model they started from
    revisions = {
        json.loads(p.read_text())["provenance"]["model_revision"] for p in files if p.name != "efficiency.json"
    }
    assert len(revisions) == 1, revisions


def test_majority_floor_comes_from_the_test_split(reference: Path) -> None:
    """With ``analysis.floor: majority`` the AUC's floor is the score of always giving the most
    common answer of the test split the evaluations scored, carried through aggregate and auc."""
    from collections import Counter

    from dataeff.inference.evaluate import normalize

    rows = [json.loads(line) for line in (reference / "data" / "tasks" / TASK / "test.jsonl").read_text().splitlines()]
    counts = Counter(normalize(r["answer"]) for r in rows)
    share = max(counts.values()) / len(rows)
    curve = json.loads(
        (reference / "results" / FAMILY / "finetune_results" / f"{FAMILY}_{TASK}_full_result_v2.json").read_text()
    )
    assert curve["chance"]["score"] == share and curve["chance"]["n_test"] == len(rows)
    eff = json.loads((reference / TARGET).read_text())[TASK]
    assert eff["floor_rule"] == "majority" and eff["floor"] == share
    assert eff["min_acc"] == max(share, eff["zero_shot"])


def test_stale_temporaries_are_removed(tmp_path: Path) -> None:
    """A writer killed inside ``atomic_path`` leaves its temporary; the next write of the same
    output removes it, but never the temporary of a writer that is still alive."""
    from dataeff.core.io import _HOST, atomic_write_json

    dest = tmp_path / "out.json"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    ).stdout.strip()
    stale = tmp_path / f".out.json.{_HOST}.{dead}.abc123.tmp"
    live = tmp_path / f".out.json.{_HOST}.{os.getpid()}.def456.tmp"
    other = tmp_path / ".other.json.x.1.tmp"
    for d in (stale, live, other):
        d.mkdir()
        (d / "out.json").write_text("{half")
    atomic_write_json(dest, {"ok": True})
    assert json.loads(dest.read_text()) == {"ok": True}
    assert not stale.exists() and live.exists() and other.exists()


def test_checkpoint_of_other_settings_is_not_resumed(tmp_path: Path, model_dir: Path) -> None:
    """A checkpoint left by a killed job is resumed only by the same settings and data: after a
    config change the re-run starts over instead of continuing someone else's training."""
    from dataeff.core.config import validate_schema
    from dataeff.core.settings import family_settings, train_settings
    from dataeff.training.finetune import finetune

    ckpt = tmp_path / "n4.ckpt"
    ckpt.mkdir()
    (ckpt / "trainer_state.json").write_text(json.dumps({"step": 1, "fingerprint": "other-settings"}))
    rows = [{"id": str(i), "prompt": f"Is {i} even?", "answer": "yes" if i % 2 == 0 else "no"} for i in range(6)]
    train = {
        **_config(model_dir)["train"],
        "max_steps": 2,
        "weight_decay": 0.0,
        "lr_scheduler": "constant",
        "warmup_ratio": 0.0,
        "max_grad_norm": 1.0,
        "checkpoint_every": 1,
        "max_epochs": None,
    }
    settings = validate_schema({"families": {FAMILY: {"model": str(model_dir)}}, "train": train}, partial=True)
    metrics = finetune(
        model_ref=str(model_dir),
        family=family_settings(settings["families"][FAMILY]),
        train=train_settings(settings),
        train_rows=rows[:4],
        val_rows=rows[4:],
        out_dir=tmp_path / "n4",
        ckpt_dir=ckpt,
        seed=1,
        progress=False,
    )
    assert metrics["resumed_from_step"] is None
    assert metrics["steps_run"] == 2
