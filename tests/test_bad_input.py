"""Bad input gets a clear answer: one line naming the file, the field and the fix.

Every case drives the real command line (``dataeff.cli.main`` in-process, or ``python -m dataeff``
/ ``snakemake`` in a subprocess where a clean process matters) and checks four things: a non-zero
exit code, exactly one ``dataeff: error:`` line that names the file, the field and the fix, no
traceback (unless ``--debug``), and that nothing was written where the output would have gone.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from dataeff.cli import main

REPO = Path(__file__).resolve().parents[1]
PREFIX = "dataeff: error: "


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run each case in its own directory and undo any logging handlers a command installs
    (they would keep pointing at this test's captured stderr)."""
    monkeypatch.chdir(tmp_path)
    handlers = list(logging.root.handlers)
    yield
    logging.root.handlers[:] = handlers


def base_config(**overrides: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "seed": 1,
        "families": {"tiny": {"model": "some/model"}},
        "tasks": ["boolean_expressions"],
        "budgets": [8, 16],
        "data": {"generated_examples": 60, "test_max": 10},
    }
    cfg.update(overrides)
    return cfg


def write_config(path: Path, cfg: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def run_cli(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(
    code: int,
    err: str,
    *,
    file: str | Path | None,
    field: str,
    fix: str,
    absent: tuple[Path, ...] = (),
    single: bool = True,
) -> str:
    """The contract of every user error; returns the message line."""
    assert code != 0, err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(PREFIX)]
    assert len(errors) == 1, err
    if single:
        assert lines == errors, f"stderr should be the error line only:\n{err}"
    else:
        assert lines[-1] == errors[0], err
    message = errors[0]
    if file is not None:
        assert str(file) in message, message
    assert field in message, message
    assert fix in message, message
    for path in absent:
        assert not path.exists(), f"{path} was written although the command failed"
        if path.parent.is_dir():
            leftovers = [p.name for p in path.parent.iterdir() if p.name.startswith(f".{path.name}.")]
            assert not leftovers, f"temporary files left next to {path}: {leftovers}"
    return message


# --------------------------------------------------------------------------- configuration


def _prepare_with(tmp_path: Path, capsys, cfg: dict[str, Any] | str, task: str = "boolean_expressions"):
    cfg_path = tmp_path / "bad.yaml"
    if isinstance(cfg, str):
        cfg_path.write_text(cfg, encoding="utf-8")
    else:
        write_config(cfg_path, cfg)
    out = tmp_path / "out" / task
    code, _, err = run_cli(capsys, ["prepare-task", "--config", str(cfg_path), "--task", task, "--out-dir", str(out)])
    return cfg_path, out, code, err


CONFIG_CASES: dict[str, tuple[Callable[[], dict[str, Any] | str], str, str]] = {
    # name: (config, field named in the message, fix named in the message)
    "unknown_top_level_key": (lambda: base_config(budgetz=[8]), "budgetz", "allowed keys"),
    "unknown_nested_key": (
        lambda: base_config(train={"learning_rat": 1e-4}),
        "learning_rat",
        "allowed keys: batch_size",
    ),
    "wrong_type": (lambda: base_config(train={"max_steps": "ten"}), "train.max_steps", "integer"),
    "wrong_enum": (lambda: base_config(train={"method": "qlora"}), "train.method", "full"),
    "unknown_task": (lambda: base_config(tasks=["no_such_task"]), "tasks", "user_tasks"),
    "empty_budget_list": (lambda: base_config(budgets=[]), "budgets", "at least 1"),
    "duplicate_budgets": (lambda: base_config(budgets=[8, 8]), "budgets", "list each value once"),
    "zero_budget": (lambda: base_config(budgets=[0, 8]), "budgets", "at least 1"),
    "no_families": (lambda: {k: v for k, v in base_config().items() if k != "families"}, "families", "add"),
    "yaml_syntax": (lambda: "seed: 1\nfamilies: {tiny: {model: x}\ntasks: [a]\n", "line", "YAML syntax"),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_config_errors(case: str, tmp_path: Path, capsys) -> None:
    make, field, fix = CONFIG_CASES[case]
    cfg_path, out, code, err = _prepare_with(tmp_path, capsys, make())
    assert_one_line_error(code, err, file=cfg_path, field=field, fix=fix, absent=(out,))


def test_config_file_missing(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nope.yaml"
    out = tmp_path / "out" / "boolean_expressions"
    code, _, err = run_cli(
        capsys, ["prepare-task", "--config", str(missing), "--task", "boolean_expressions", "--out-dir", str(out)]
    )
    assert_one_line_error(code, err, file=missing, field="not found", fix="check the path", absent=(out,))


def test_unknown_family(tmp_path: Path, capsys) -> None:
    cfg_path = write_config(tmp_path / "c.yaml", base_config())
    out = tmp_path / "results" / "nope" / "boolean_expressions" / "train" / "n8"
    code, _, err = run_cli(
        capsys,
        [
            "finetune",
            "--config",
            str(cfg_path),
            "--family",
            "nope",
            "--task",
            "boolean_expressions",
            "--budget",
            "8",
            "--model",
            "m.json",
            "--task-dir",
            str(tmp_path / "data"),
            "--out-dir",
            str(out),
        ],
    )
    msg = assert_one_line_error(
        code, err, file=cfg_path, field="families", fix="known families: tiny", absent=(out, out.with_name("n8.ckpt"))
    )
    assert "'nope'" in msg


def test_unknown_task_on_command_line(tmp_path: Path, capsys) -> None:
    cfg_path = write_config(tmp_path / "c.yaml", base_config())
    out = tmp_path / "out" / "nope"
    code, _, err = run_cli(capsys, ["prepare-task", "--config", str(cfg_path), "--task", "nope", "--out-dir", str(out)])
    assert_one_line_error(code, err, file=None, field="nope", fix="prepare-task --list", absent=(out,))


# --------------------------------------------------------------------------- user task files


def _user_config(tmp_path: Path, data_file: Path, budgets: list[int] | None = None) -> Path:
    cfg = base_config(
        tasks=["mine"], budgets=budgets or [8], user_tasks={"mine": {"file": str(data_file), "labels": ["yes", "no"]}}
    )
    return write_config(tmp_path / "user.yaml", cfg)


def _rows(n: int) -> list[dict[str, Any]]:
    return [{"id": f"r{i}", "prompt": f"Is {i} even?", "label": "yes" if i % 2 == 0 else "no"} for i in range(n)]


def _jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


TASK_FILE_CASES: dict[str, tuple[Callable[[Path], None] | None, str, str]] = {
    # name: (writer of the file, or None for a missing file; field; fix)
    "missing": (None, "not found", "check the path"),
    "empty": (lambda p: p.write_text("\n  \n", encoding="utf-8"), "empty", "add at least one example"),
    "not_utf8": (
        lambda p: p.write_bytes(_jsonl(_rows(3)).encode() + b'{"prompt": "caf\xe9", "label": "yes"}\n'),
        "line 4",
        "UTF-8",
    ),
    "bad_jsonl_line": (
        lambda p: p.write_text(_jsonl(_rows(2)) + '{"prompt": "x", "label": \n' + _jsonl(_rows(20)), encoding="utf-8"),
        "line 3",
        "one JSON object per line",
    ),
    "missing_prompt": (
        lambda p: p.write_text(_jsonl(_rows(4) + [{"id": "x", "label": "yes"}] + _rows(20)), encoding="utf-8"),
        "field 'prompt'",
        "give every example",
    ),
    "missing_label": (
        lambda p: p.write_text(_jsonl(_rows(1) + [{"id": "x", "prompt": "hi"}] + _rows(20)), encoding="utf-8"),
        "field 'label'",
        "give every example",
    ),
    "label_outside_set": (
        lambda p: p.write_text(
            _jsonl(_rows(5) + [{"id": "x", "prompt": "hi", "label": "maybe"}] + _rows(20)), encoding="utf-8"
        ),
        "field 'label'",
        "user_tasks.mine.labels",
    ),
    "too_few_examples": (
        lambda p: p.write_text(_jsonl(_rows(9)), encoding="utf-8"),
        "field 'budgets'",
        "add examples or lower the largest budget",
    ),
    "duplicate_ids": (lambda p: p.write_text(_jsonl(_rows(20) + _rows(1)), encoding="utf-8"), "field 'id'", "unique"),
}


@pytest.mark.parametrize("case", sorted(TASK_FILE_CASES))
def test_user_task_file_errors(case: str, tmp_path: Path, capsys) -> None:
    writer, field, fix = TASK_FILE_CASES[case]
    data = tmp_path / "mine.jsonl"
    if writer is not None:
        writer(data)
    cfg_path = _user_config(tmp_path, data)
    out = tmp_path / "out" / "mine"
    code, _, err = run_cli(capsys, ["prepare-task", "--config", str(cfg_path), "--task", "mine", "--out-dir", str(out)])
    msg = assert_one_line_error(code, err, file=data, field=field, fix=fix, absent=(out,))
    if case in {"missing_prompt", "missing_label", "label_outside_set"}:
        line = {"missing_prompt": 5, "missing_label": 2, "label_outside_set": 6}[case]
        assert f"line {line}:" in msg, msg


def test_user_task_csv_without_label_column(tmp_path: Path, capsys) -> None:
    data = tmp_path / "mine.csv"
    data.write_text("prompt,answer\n" + "".join(f"q{i},yes\n" for i in range(20)), encoding="utf-8")
    cfg_path = _user_config(tmp_path, data)
    out = tmp_path / "out" / "mine"
    code, _, err = run_cli(capsys, ["prepare-task", "--config", str(cfg_path), "--task", "mine", "--out-dir", str(out)])
    msg = assert_one_line_error(code, err, file=data, field="field 'label'", fix="label_field", absent=(out,))
    assert "line 2:" in msg


def test_valid_user_task_is_accepted(tmp_path: Path, capsys) -> None:
    """The smallest file the largest budget allows passes (the error above is not spurious)."""
    data = tmp_path / "mine.jsonl"
    data.write_text(_jsonl(_rows(10)), encoding="utf-8")
    cfg_path = _user_config(tmp_path, data)
    out = tmp_path / "out" / "mine"
    code, _, err = run_cli(capsys, ["prepare-task", "--config", str(cfg_path), "--task", "mine", "--out-dir", str(out)])
    assert code == 0, err
    assert json.loads((out / "meta.json").read_text())["sizes"]["train"] == 8


# --------------------------------------------------------------------------- prediction


@pytest.mark.parametrize(
    "args, field, fix",
    [
        (["--coslow", "0.2", "--target", "1.5"], "--target", "("),
        (["--coslow", "0.2", "--target", "0"], "--target", "("),
        (["--coslow", "nan", "--target", "0.5"], "--coslow", "("),
        (["--coslow", "inf", "--target", "0.5"], "--coslow", "("),
        (["--coslow=-inf", "--target", "0.5"], "--coslow", "("),
    ],
    ids=["target_above_1", "target_0", "coslow_nan", "coslow_inf", "coslow_minus_inf"],
)
def test_budget_bad_numbers(args: list[str], field: str, fix: str, tmp_path: Path, capsys) -> None:
    plot = tmp_path / "curve.png"
    code, out, err = run_cli(capsys, ["budget", "--family", "llama", *args, "--plot", str(plot)])
    msg = assert_one_line_error(code, err, file=None, field=field, fix=fix, absent=(plot,))
    assert msg.rstrip().endswith(")"), f"no fix in {msg!r}"
    assert out == ""


def test_budget_family_without_coefficients(tmp_path: Path, capsys) -> None:
    plot = tmp_path / "curve.png"
    code, _, err = run_cli(
        capsys,
        [
            "budget",
            "--family",
            "nope",
            "--coslow",
            "0.2",
            "--target",
            "0.5",
            "--results-dir",
            str(tmp_path / "results"),
            "--plot",
            str(plot),
        ],
    )
    assert_one_line_error(code, err, file=None, field="--family", fix="dataeff fit", absent=(plot,))


def _predict(capsys, workdir: Path, family: str = "llama") -> tuple[int, str, str]:
    """``predict``'s second run on a hand-written to_annotate.jsonl (with the record of its inputs
    that the first run would have left)."""
    args = [
        "predict",
        "--model",
        "unused-model",
        "--prompts",
        str(workdir / "prompts.jsonl"),
        "--family",
        family,
        "--force",
        "--target",
        "0.5",
        "--workdir",
        str(workdir),
        "--results-dir",
        str(workdir / "results"),
    ]
    if (workdir / "to_annotate.jsonl").is_file():
        from dataeff.cli import build_parser
        from dataeff.commands.predict import selection_inputs
        from dataeff.core.provenance import stable_hash
        from dataeff.core.settings import coslow_settings
        from dataeff.pipeline.config import load_optional_config

        (workdir / "prompts.jsonl").write_text(_jsonl([{"prompt": "p1"}, {"prompt": "p2"}]), encoding="utf-8")
        config = load_optional_config(None)
        settings = coslow_settings(config)
        inputs = selection_inputs(build_parser().parse_args(args), settings.k, config["seed"], settings)
        (workdir / "inputs.json").write_text(json.dumps({"hash": stable_hash(inputs), "inputs": inputs}))
    return run_cli(capsys, args)


def test_predict_with_empty_answers(tmp_path: Path, capsys) -> None:
    wd = tmp_path / "wd"
    wd.mkdir()
    annotate = wd / "to_annotate.jsonl"
    annotate.write_text(
        _jsonl([{"id": "a", "prompt": "p1", "answer": "yes"}, {"id": "b", "prompt": "p2", "answer": ""}]),
        encoding="utf-8",
    )
    code, _, err = _predict(capsys, wd)
    msg = assert_one_line_error(
        code,
        err,
        file=annotate,
        field="answer",
        fix="run the same command again",
        absent=(wd / "prediction.json", wd / "coslow.json"),
    )
    assert "line 2:" in msg


def test_predict_with_fewer_than_two_examples(tmp_path: Path, capsys) -> None:
    wd = tmp_path / "wd"
    wd.mkdir()
    annotate = wd / "to_annotate.jsonl"
    annotate.write_text(_jsonl([{"id": "a", "prompt": "p1", "answer": "yes"}]), encoding="utf-8")
    code, _, err = _predict(capsys, wd)
    assert_one_line_error(
        code,
        err,
        file=annotate,
        field="1 example",
        fix="at least 2 labeled examples",
        absent=(wd / "prediction.json", wd / "coslow.json"),
    )


def test_predict_family_without_coefficients(tmp_path: Path, capsys) -> None:
    wd = tmp_path / "wd"
    code, _, err = _predict(capsys, wd, family="nope")
    assert_one_line_error(
        code,
        err,
        file=None,
        field="--family",
        fix="dataeff fit",
        absent=(wd / "to_annotate.jsonl", wd / "prediction.json"),
    )


@pytest.mark.parametrize("below", [False, True], ids=["workdir_is_a_file", "workdir_under_a_file"])
def test_predict_workdir_naming_a_file(below: bool, tmp_path: Path, capsys) -> None:
    """``--workdir`` naming an existing file (or a path under one) used to end in FileExistsError:
    one line naming the file and the fix, the file untouched, nothing written beside it."""
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(_jsonl([{"prompt": f"p{i}"} for i in range(40)]), encoding="utf-8")
    taken = tmp_path / "notes.txt"
    taken.write_text("mine\n", encoding="utf-8")
    workdir = taken / "run" if below else taken
    code, out, err = run_cli(
        capsys,
        ["predict", "--model", "unused-model", "--prompts", str(prompts), "--family", "llama", "--force",
         "--target", "0.5", "--workdir", str(workdir)],
    )  # fmt: skip
    fix = "whose parent is a directory" if below else f"e.g. --workdir {tmp_path / 'notes_work'}"
    msg = assert_one_line_error(code, err, file=taken, field="field '--workdir'", fix=fix)
    assert ("cannot be made under it" if below else "is a file, not a directory") in msg
    assert taken.read_text(encoding="utf-8") == "mine\n" and sorted(p.name for p in tmp_path.iterdir()) == [
        "notes.txt",
        "prompts.jsonl",
    ]
    assert out == ""


@pytest.mark.parametrize(
    "edit, field, needle",
    [
        ({"prompt": "p2, reworded"}, "field 'prompt'", "the prompt text was edited since it was picked"),
        ({"id": "line9"}, "field 'id'", "is not one of the examples picked"),
    ],
    ids=["edited_prompt", "unknown_id"],
)
def test_predict_edited_pick(edit: dict[str, str], field: str, needle: str, tmp_path: Path, capsys) -> None:
    """A picked example changed in to_annotate.jsonl (same id, other prompt text; or an id that
    was not picked) is refused before the model loads: CoS-Low would be that of other text."""
    wd = tmp_path / "wd"
    wd.mkdir()
    annotate = wd / "to_annotate.jsonl"
    rows = [{"id": "line1", "prompt": "p1", "answer": "yes"}, {"id": "line2", "prompt": "p2", "answer": "no"}]
    annotate.write_text(_jsonl([rows[0], dict(rows[1], **edit)]), encoding="utf-8")
    code, _, err = _predict(capsys, wd)
    msg = assert_one_line_error(
        code,
        err,
        file=annotate,
        field=field,
        fix="or pass --redo to select again",
        absent=(wd / "prediction.json", wd / "coslow.json"),
    )
    assert needle in msg and "line 2 (id 'line" in msg and str(wd / "prompts.jsonl") in msg

    # the same rows as picked pass this check (the model, which does not exist here, is next)
    from dataeff.commands.predict import check_picks

    check_picks([dict(r, _line=i + 1) for i, r in enumerate(rows)], annotate, str(wd / "prompts.jsonl"), "prompt")


@pytest.mark.parametrize(
    "rows, field, fix",
    [
        ([{"prompt": "p1", "answer": "yes"}, {"prompt": "p2", "answer": " "}], "field 'answer'", "non-empty 'answer'"),
        ([{"prompt": "p1", "answer": "yes"}], "at least 2", "label more examples"),
    ],
    ids=["empty_answer", "one_example"],
)
def test_coslow_bad_annotations(rows, field: str, fix: str, tmp_path: Path, capsys) -> None:
    annotated = tmp_path / "labeled.jsonl"
    annotated.write_text(_jsonl(rows), encoding="utf-8")
    out = tmp_path / "coslow.json"
    code, _, err = run_cli(
        capsys, ["coslow", "--model", "unused-model", "--annotated", str(annotated), "--seed", "0", "--out", str(out)]
    )
    assert_one_line_error(code, err, file=annotated, field=field, fix=fix, absent=(out,))


# --------------------------------------------------------------------------- results files


def _auc(capsys, results: Path, out: Path) -> tuple[int, str, str]:
    return run_cli(
        capsys,
        [
            "auc",
            "--results",
            str(results),
            "--family",
            "fam",
            "--ceilings",
            str(results / "ceilings.json"),
            "--out",
            str(out),
            "--tsv",
            str(out.with_suffix(".tsv")),
        ],
    )


def test_results_file_not_json(tmp_path: Path, capsys) -> None:
    results = tmp_path / "res"
    results.mkdir()
    (results / "ceilings.json").write_text('{"t": {"score": 1.0}}')
    bad = results / "fam_t_full_result_v2.json"
    bad.write_text('{"0": {"accuracy": 0.4},\n "50": {"accuracy": 0.6}\n', encoding="utf-8")
    out = tmp_path / "eff" / "efficiency.json"
    code, _, err = _auc(capsys, results, out)
    assert_one_line_error(
        code, err, file=bad, field="line", fix="fix the JSON syntax", absent=(out, out.with_suffix(".tsv"))
    )


def test_results_budget_key_not_integer(tmp_path: Path, capsys) -> None:
    results = tmp_path / "res"
    results.mkdir()
    (results / "ceilings.json").write_text('{"t": {"score": 1.0}}')
    bad = results / "fam_t_full_result_v2.json"
    bad.write_text('{"0": {"accuracy": 0.4}, "fifty": {"accuracy": 0.6}}', encoding="utf-8")
    out = tmp_path / "eff" / "efficiency.json"
    code, _, err = _auc(capsys, results, out)
    assert_one_line_error(
        code, err, file=bad, field="field 'fifty'", fix="as the key", absent=(out, out.with_suffix(".tsv"))
    )


def test_aggregate_eval_file_missing_key(tmp_path: Path, capsys) -> None:
    ev = tmp_path / "n0.json"
    ev.write_text(json.dumps({"family": "fam", "task": "t", "budget": 0}))
    out_dir = tmp_path / "finetune_results"
    code, _, err = run_cli(capsys, ["aggregate", "--family", "fam", "--evals", str(ev), "--out-dir", str(out_dir)])
    assert_one_line_error(
        code,
        err,
        file=ev,
        field="field 'accuracy'",
        fix="re-run dataeff evaluate",
        absent=(out_dir / "fam_t_full_result_v2.json",),
    )


# --------------------------------------------------------------------------- subprocesses


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "workflow") + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    """``--debug`` is the one way to see where an error came from."""
    plot = tmp_path / "curve.png"
    args = [
        sys.executable,
        "-m",
        "dataeff",
        "budget",
        "--family",
        "llama",
        "--coslow",
        "nan",
        "--target",
        "0.5",
        "--plot",
        str(plot),
    ]
    plain = subprocess.run(args, capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=120)
    assert_one_line_error(plain.returncode, plain.stderr, file=None, field="--coslow", fix="(", absent=(plot,))
    debug = subprocess.run(
        [args[0], "-m", "dataeff", "--debug", *args[3:]],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=tmp_path,
        timeout=120,
    )
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr
    assert "DataeffError" in debug.stderr and "--coslow" in debug.stderr
    assert not plot.exists()


@pytest.mark.slow
def test_diverging_loss_stops_training(tmp_path: Path, tiny_model_dir: Path) -> None:
    """A learning rate that blows the weights up ends the job with a NaN/inf-loss error and
    leaves no metrics.json (so the pipeline never evaluates a diverged model)."""
    from dataeff.pipeline.config import validate_config
    from dataeff.tasks.prepare import prepare_task
    from dataeff.tasks.registry import get_task

    cfg = base_config(
        families={"tiny": {"model": str(tiny_model_dir)}},
        budgets=[8],
        train={
            "learning_rate": 1e30,
            "max_steps": 4,
            "batch_size": 4,
            "micro_batch_size": 4,
            "max_seq_len": 128,
            "eval_every": 2,
            "checkpoint_every": 100,
            "threads": 1,
            "warmup_ratio": 0.0,
            "lr_scheduler": "constant",
        },
    )
    validate_config(cfg)
    cfg_path = write_config(tmp_path / "diverge.yaml", cfg)
    task_dir = tmp_path / "data" / "boolean_expressions"
    prepare_task(get_task("boolean_expressions", cfg), cfg, task_dir)
    out = tmp_path / "results" / "tiny" / "boolean_expressions" / "train" / "n8"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dataeff",
            "finetune",
            "--config",
            str(cfg_path),
            "--family",
            "tiny",
            "--task",
            "boolean_expressions",
            "--budget",
            "8",
            "--model",
            str(tiny_model_dir),
            "--task-dir",
            str(task_dir),
            "--out-dir",
            str(out),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=tmp_path,
        timeout=300,
    )
    # Training logs INFO lines to stderr before the error; the error is the last line.
    msg = assert_one_line_error(
        proc.returncode,
        proc.stderr,
        file="train.jsonl",
        field="train.learning_rate",
        fix="lower the learning rate",
        absent=(out / "metrics.json", out / "model"),
        single=False,
    )
    assert "training loss became" in msg and ("nan" in msg or "inf" in msg), msg


def test_snakemake_rejects_unknown_key(tmp_path: Path) -> None:
    """The Snakefile validates the config with the same one-line message before building a DAG."""
    snakemake = shutil.which("snakemake") or str(Path(sys.executable).with_name("snakemake"))
    work = tmp_path / "wf"
    work.mkdir()
    shutil.copy(REPO / "Snakefile", work / "Snakefile")
    shutil.copytree(REPO / "workflow" / "rules", work / "workflow" / "rules")
    shutil.copytree(REPO / "workflow" / "schemas", work / "workflow" / "schemas")
    shutil.copytree(REPO / "config", work / "config")
    if (REPO / "workflow" / "report").is_dir():
        shutil.copytree(REPO / "workflow" / "report", work / "workflow" / "report")
    bad = write_config(work / "bad.yaml", base_config(trian={"max_steps": 3}))
    proc = subprocess.run(
        [snakemake, "-n", "--cores", "1", "--configfile", str(bad)],
        cwd=work,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    errors = [line for line in (proc.stderr + proc.stdout).splitlines() if line.startswith(PREFIX)]
    assert len(errors) == 1, proc.stderr
    assert "unknown key 'trian'" in errors[0] and "allowed keys" in errors[0], errors[0]
    assert not (work / "results").exists()
