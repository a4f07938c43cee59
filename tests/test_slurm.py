"""Running the grid on SLURM: pre-flight checks, the GPU-hours table, and proof on a real cluster.

The tests marked ``slurm`` drive the shipped profile (profiles/slurm) through the real
snakemake-executor-plugin-slurm against a running cluster; CI starts a one-node cluster with
``.ci/slurm/setup.sh`` first. Without ``sinfo`` or an idle node they are skipped. The other
tests check ``dataeff.cluster.preflight`` and ``dataeff.cluster.cost`` with a fake SLURM and need nothing.

On the one-node test cluster the only overrides of the profile are what such a cluster needs:
its partition, an account string (accounting is off), small runtime/memory, ``squeue`` as the
status command (no accounting database for ``sacct``), a short first status check, and
``--cores 2`` (the node has 2 CPUs).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from dataeff.cluster import preflight as cluster
from dataeff.cluster.cost import format_table, gpu_hours_table
from dataeff.core.config import validate_schema
from dataeff.core.settings import family_settings

REPO = Path(__file__).resolve().parents[1]
CONFIGS = Path(__file__).resolve().parent / "configs"
BIN = Path(sys.executable).parent
TASK = "boolean_expressions"


# -- pre-flight checks with a fake SLURM --------------------------------------------------------------


def fake_slurm(*, enforce: str = "none", gres: dict[str, str] | None = None, default: str = "cpu"):
    """A runner answering scontrol/sinfo like a cluster with the given partitions -> gres."""
    gres = gres if gres is not None else {"cpu": "(null)", "gpu": "gpu:h100:4(S:0-1)"}

    def run(args: list[str]) -> str | None:
        if args[:2] == ["sinfo", "--version"]:
            return "slurm 23.11.4\n"
        if args[:3] == ["scontrol", "show", "config"]:
            return f"ClusterName = test\nAccountingStorageEnforce = {enforce}\nMinJobAge = 300\n"
        if args[0] == "sinfo" and "-p" in args:
            part = args[args.index("-p") + 1]
            return gres.get(part, "") + "\n"
        if args[0] == "sinfo" and args[-1] == "%P":
            return "".join(f"{p}{'*' if p == default else ''}\n" for p in gres)
        return None

    return run


# validated, so every family setting has its schema default, as the checks receive them
GPU_CONFIG = validate_schema(
    {"families": {"llama8b": {"model": "meta-llama/Llama-3.1-8B-Instruct", "gpus": 2}}}, partial=True
)
CPU_CONFIG = validate_schema({"families": {"tiny": {"model": "/models/tiny", "gpus": 0}}}, partial=True)


def test_account_required_names_slurm_account():
    problems = cluster.check_slurm(
        GPU_CONFIG,
        {"slurm_account": "", "slurm_partition": "gpu"},
        {},
        runner=fake_slurm(enforce="associations,limits,qos"),
    )
    assert len(problems) == 1
    msg = str(problems[0])
    assert "\n" not in msg and "slurm_account" in msg and "profiles/slurm/config.yaml" in msg


def test_account_set_or_not_enforced_is_fine():
    gpu_rules = {r: {"slurm_partition": "gpu"} for r in cluster.GPU_RULES}
    assert (
        cluster.check_slurm(
            GPU_CONFIG, {"slurm_account": "proj1"}, gpu_rules, runner=fake_slurm(enforce="associations")
        )
        == []
    )
    assert cluster.check_slurm(GPU_CONFIG, {}, gpu_rules, runner=fake_slurm(enforce="none")) == []
    assert (
        cluster.check_slurm(GPU_CONFIG, {}, gpu_rules, runner=fake_slurm(enforce="associations"), no_account=True) == []
    )


def test_gpu_rule_on_cpu_partition_names_partition_and_gpu():
    problems = cluster.check_slurm(
        GPU_CONFIG, {"slurm_account": "a", "slurm_partition": "cpu"}, {}, runner=fake_slurm()
    )
    assert {p.field for p in problems} == {f"set-resources: {r}: slurm_partition" for r in cluster.GPU_RULES}
    msg = str(problems[0])
    assert "'cpu'" in msg and "gpu=2" in msg and "\n" not in msg
    # the cluster's default partition counts when none is set
    assert cluster.check_slurm(GPU_CONFIG, {}, {}, runner=fake_slurm(default="cpu"))
    assert cluster.check_slurm(GPU_CONFIG, {}, {}, runner=fake_slurm(default="gpu")) == []
    # CPU families may use any partition
    assert cluster.check_slurm(CPU_CONFIG, {"slurm_partition": "cpu"}, {}, runner=fake_slurm()) == []


def test_unknown_partition_and_no_slurm():
    problems = cluster.check_slurm(CPU_CONFIG, {"slurm_partition": "gpux"}, {}, runner=fake_slurm())
    assert len(problems) == 1 and "gpux" in str(problems[0]) and "does not exist" in str(problems[0])
    problems = cluster.check_slurm(CPU_CONFIG, {}, {}, runner=lambda args: None)
    assert len(problems) == 1 and "sinfo" in str(problems[0])


def test_profile_parsing_reads_shipped_profile():
    profile, path = cluster.load_profile(REPO / "profiles" / "slurm")
    defaults, per_rule = cluster.profile_resources(profile)
    assert path.endswith("config.yaml") and profile["executor"] == "slurm"
    assert {"slurm_account", "slurm_partition", "runtime", "mem_mb"} <= set(defaults)
    assert set(cluster.GPU_RULES) <= set(per_rule)
    assert cluster._set_resources(["finetune:slurm_partition=gpu", "finetune:cpus_per_gpu=8"]) == {
        "finetune": {"slurm_partition": "gpu", "cpus_per_gpu": "8"}
    }


def test_missing_cached_model_names_hf_home(tmp_path):
    ref = tmp_path / "models" / "llama8b" / "model.json"
    ref.parent.mkdir(parents=True)
    ref.write_text(
        json.dumps(
            {
                "spec": "meta-llama/Llama-3.1-8B-Instruct",
                "source": "hub",
                "path": str(tmp_path / "hf" / "hub" / "models--x" / "snapshots" / "abc"),
            }
        )
    )
    problems = cluster.check_models(GPU_CONFIG, results=tmp_path, hf_home="/scratch/hf")
    assert len(problems) == 1
    msg = str(problems[0])
    assert "HF_HOME=/scratch/hf" in msg and "prepare_model" in msg and "data.hf_home" in msg
    assert "\n" not in msg
    # a model that is there, or not prepared yet, is fine
    snap = tmp_path / "hf" / "hub" / "models--x" / "snapshots" / "abc"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}")
    assert cluster.check_models(GPU_CONFIG, results=tmp_path) == []
    assert cluster.check_models({"families": {"other": {"model": "x/y"}}}, results=tmp_path) == []


# -- GPU-hours table ---------------------------------------------------------------------------------


def _bench(path: Path, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:00\t1.0\n")


def test_gpu_hours_table(tmp_path):
    root = tmp_path / "benchmarks"
    for task in ("sst2", "rte"):
        _bench(root / "fam" / task / "evaluate_n0.tsv", 360)
        _bench(root / "fam" / task / "finetune_n16.tsv", 1800)
        _bench(root / "fam" / task / "evaluate_n16.tsv", 360)
        _bench(root / "coslow" / "fam" / task / "seed0.tsv", 720)
    _bench(root / "fam" / "other" / "finetune_n16.tsv", 99999)  # a task not in the config
    fam = validate_schema({"families": {"fam": {"model": "/m", "gpus": 2}}}, partial=True)["families"]["fam"]
    table = gpu_hours_table("fam", family_settings(fam), ["sst2", "rte"], [16, 32], root)
    row = table["rows"]["sst2"]
    assert row["n0"] == pytest.approx(0.1)  # evaluations use one GPU
    assert row["n16"] == pytest.approx(1800 * 2 / 3600 + 0.1)  # fine-tunes use the family's gpus
    assert row["coslow"] == pytest.approx(0.2) and row["n32"] == 0
    assert table["total"] == pytest.approx(2 * (0.1 + 1.1 + 0.2))
    assert ("sst2", "n32") in table["missing"]
    text = format_table(table).splitlines()
    assert text[0].split("\t") == ["task", "n0", "n16", "n32", "coslow", "total"]
    assert text[-1].startswith("total\t") and len(text) == 4


def test_cost_command_writes_tsv(tmp_path, monkeypatch):
    from dataeff.cli import main

    cfg = tmp_path / "config.yaml"
    cfg.write_text("families: {fam: {model: /m, gpus: 1}}\ntasks: [sst2]\nbudgets: [16]\n")
    _bench(tmp_path / "benchmarks" / "fam" / "sst2" / "finetune_n16.tsv", 3600)
    out = tmp_path / "gpu_hours.tsv"
    assert (
        main(
            [
                "cost",
                "--config",
                str(cfg),
                "--family",
                "fam",
                "--benchmarks",
                str(tmp_path / "benchmarks"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert out.read_text().splitlines()[1].split("\t")[:3] == ["sst2", "0.0000", "1.0000"]
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["total"] == pytest.approx(1.0) and "provenance" in summary
    assert main(["cost", "--config", str(cfg), "--family", "nope"]) == 2


# -- a real SLURM cluster -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slurm_partition() -> str:
    """The cluster's default partition; skips when there is no running SLURM cluster."""
    if shutil.which("sinfo") is None:
        pytest.skip("SLURM is not installed (no sinfo); run .ci/slurm/setup.sh as root for a test cluster")
    if not cluster.cluster_up():
        pytest.skip("the SLURM cluster is not up (sinfo shows no idle node); run .ci/slurm/setup.sh as root")
    names, default = cluster.partitions()
    return default or names[0]


def make_workdir(root: Path, name: str, template: str, model_dir: Path) -> Path:
    """A copy of the repository's workflow in ``root/name`` with the test configuration."""
    wd = root / name
    wd.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "dataeff")
    for item in ("Snakefile", "workflow", "config", "profiles", "prompts", "envs"):
        src = REPO / item
        if src.is_dir():
            shutil.copytree(src, wd / item, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, wd / item)
    text = (CONFIGS / template).read_text().replace("TINY_MODEL_DIR", str(model_dir))
    (wd / "config" / "test.yaml").write_text(text)
    return wd


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # `dataeff` inside jobs
    return env


def local_cmd(*targets: str) -> list[str]:
    return [
        str(BIN / "snakemake"),
        *targets,
        "--profile",
        "profiles/local",
        "--cores",
        "2",
        "--configfile",
        "config/test.yaml",
    ]


def slurm_cmd(partition: str, *targets: str) -> list[str]:
    return [
        str(BIN / "snakemake"),
        *targets,
        "--profile",
        "profiles/slurm",
        # what a one-node test cluster needs (the profile's SITE SETTINGS and polling):
        "--default-resources",
        f"slurm_partition={partition}",
        "slurm_account=test",
        "runtime=10",
        "mem_mb=1000",
        "--slurm-status-command",
        "squeue",
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--cores",
        "2",
        "--latency-wait",
        "5",
        "--configfile",
        "config/test.yaml",
    ]


def start(cmd: list[str], wd: Path, log: str) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=wd, env=_env(), stdout=open(wd / log, "w"), stderr=subprocess.STDOUT)


def finish(proc: subprocess.Popen, wd: Path, log: str, timeout: float = 600) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait(30)
        pytest.fail(
            f"snakemake did not finish in {timeout} s; tail of {log}:\n"
            + "\n".join((wd / log).read_text().splitlines()[-40:])
        )


def assert_ok(rc: int, wd: Path, log: str) -> None:
    assert rc == 0, f"snakemake failed (rc={rc}); tail of {wd / log}:\n" + "\n".join(
        (wd / log).read_text().splitlines()[-60:]
    )


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def predictions(path: Path) -> list:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.slurm
def test_grid_on_slurm_equals_local_run(tmp_path, tiny_model_dir, slurm_partition):
    """The small grid through the shipped profile gives exactly what a local run gives."""
    t0 = time.perf_counter()
    wd_slurm = make_workdir(tmp_path, "slurm", "slurm_tiny.yaml", tiny_model_dir)
    wd_local = make_workdir(tmp_path, "local", "slurm_tiny.yaml", tiny_model_dir)

    check = subprocess.run(
        [str(BIN / "dataeff"), "check-cluster", "--profile", "profiles/slurm", "--config", "config/test.yaml"],
        cwd=wd_slurm,
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr

    target = "results/tiny/efficiency.json"
    local = start(local_cmd(target), wd_local, "local.log")
    slurm = start(slurm_cmd(slurm_partition, target), wd_slurm, "slurm.log")
    assert_ok(finish(slurm, wd_slurm, "slurm.log"), wd_slurm, "slurm.log")
    assert_ok(finish(local, wd_local, "local.log"), wd_local, "local.log")
    elapsed = time.perf_counter() - t0

    log = (wd_slurm / "slurm.log").read_text()
    assert "submitted with SLURM jobid" in log
    # the three evaluations ran as one grouped SLURM job
    assert len(list((wd_slurm / "logs" / "slurm").glob("group_evaluate*/*.log"))) == 1
    assert len(list((wd_slurm / "logs" / "slurm" / "rule_finetune").glob("*/*.log"))) == 2

    res_s, res_l = wd_slurm / "results" / "tiny", wd_local / "results" / "tiny"
    for budget in (0, 8, 16):
        rel = Path(TASK) / "eval" / f"n{budget}.json"
        a, b = read(res_s / rel), read(res_l / rel)
        assert a["accuracy"] == b["accuracy"] and a["n_test"] == b["n_test"] == 20
        pa = predictions(res_s / rel.with_suffix(".predictions.jsonl"))
        pb = predictions(res_l / rel.with_suffix(".predictions.jsonl"))
        assert [r.get("prediction") for r in pa] == [r.get("prediction") for r in pb]
        assert (wd_slurm / "results" / "benchmarks" / "tiny" / TASK / f"evaluate_n{budget}.tsv").is_file()
    for budget in (8, 16):
        train = Path(TASK) / "train" / f"n{budget}"
        # the fine-tuned weights are temporary (removed once evaluated); the log and metrics stay
        assert not (res_s / train / "model").exists() and (res_s / train / "train_log.jsonl").is_file()
        ma, mb = read(res_s / train / "metrics.json"), read(res_l / train / "metrics.json")
        assert ma["best_val_loss"] == pytest.approx(mb["best_val_loss"], rel=1e-6)
        assert ma["steps_run"] == mb["steps_run"]
    ea, eb = read(res_s / "efficiency.json"), read(res_l / "efficiency.json")
    assert ea[TASK]["auc"] == pytest.approx(eb[TASK]["auc"], abs=1e-12)
    assert (res_s / "efficiency.tsv").is_file()

    # the cost of the grid from the benchmark files the SLURM jobs wrote
    cost = subprocess.run(
        [str(BIN / "dataeff"), "cost", "--config", "config/test.yaml", "--family", "tiny"],
        cwd=wd_slurm,
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert cost.returncode == 0, cost.stderr
    table = (res_s / "gpu_hours.tsv").read_text().splitlines()
    assert table[0].split("\t") == ["task", "n0", "n8", "n16", "coslow", "total"]
    assert table[-1].startswith("total")
    summary = read(res_s / "gpu_hours.json")
    assert summary["wall_hours"] > 0 and summary["gpus"]["finetune"] == 0
    print(f"SLURM and local runs of the tiny grid: {elapsed:.0f} s")


def _slurm_job_ids(rule: str) -> list[str]:
    out = cluster.run_command(["squeue", "-h", "-o", "%i|%k"]) or ""
    return [line.split("|")[0] for line in out.splitlines() if f"rule_{rule}" in line or rule in line]


@pytest.mark.slurm
def test_cancelled_finetune_resumes_from_checkpoint(tmp_path, tiny_model_dir, slurm_partition):
    """scancel a fine-tune after its first checkpoint; the retry resumes and ends where an
    uninterrupted run ends."""
    wd_slurm = make_workdir(tmp_path, "slurm", "slurm_resume.yaml", tiny_model_dir)
    wd_ref = make_workdir(tmp_path, "ref", "slurm_resume.yaml", tiny_model_dir)
    target = f"results/tiny/{TASK}/eval/n32.json"
    ref = start(local_cmd(target), wd_ref, "ref.log")
    proc = start(slurm_cmd(slurm_partition, target), wd_slurm, "slurm.log")

    ckpt = wd_slurm / "results" / "tiny" / TASK / "train" / "n32.ckpt"
    deadline = time.monotonic() + 300
    while not (ckpt / "latest.json").is_file():  # written once a complete checkpoint is in place
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(
                "no checkpoint appeared; tail of slurm.log:\n"
                + "\n".join((wd_slurm / "slurm.log").read_text().splitlines()[-40:])
            )
        time.sleep(0.5)
    jobs = _slurm_job_ids("finetune")
    assert jobs, "the fine-tuning job is not in squeue"
    subprocess.run(["scancel", *jobs], check=True)
    cancelled_at = read(ckpt / "latest.json")["step"]

    rc = finish(proc, wd_slurm, "slurm.log")
    log = (wd_slurm / "slurm.log").read_text()
    assert "CANCELLED" in log or "failed" in log.lower()
    if rc != 0:  # the profile retries; if the retry was not enough, re-run as a user would
        proc = start(slurm_cmd(slurm_partition, target), wd_slurm, "slurm2.log")
        rc = finish(proc, wd_slurm, "slurm2.log")
        assert_ok(rc, wd_slurm, "slurm2.log")
    assert_ok(finish(ref, wd_ref, "ref.log"), wd_ref, "ref.log")

    train = Path("results") / "tiny" / TASK / "train" / "n32"
    resumed, straight = read(wd_slurm / train / "metrics.json"), read(wd_ref / train / "metrics.json")
    assert resumed["resumed_from_step"] is not None and resumed["resumed_from_step"] >= cancelled_at
    assert straight["resumed_from_step"] is None
    assert resumed["steps_run"] == straight["steps_run"]
    assert resumed["best_step"] == straight["best_step"]
    assert resumed["best_val_loss"] == pytest.approx(straight["best_val_loss"], rel=1e-5)
    ea = read(wd_slurm / "results" / "tiny" / TASK / "eval" / "n32.json")
    eb = read(wd_ref / "results" / "tiny" / TASK / "eval" / "n32.json")
    assert ea["accuracy"] == eb["accuracy"]


def test_gpu_rule_list_matches_the_rules_that_ask_for_gpus():
    """cluster.GPU_RULES (the profile check, docs and cost table) is exactly the set of rules whose
    resources declare ``gpu``: a new GPU rule cannot be missed by the cluster checks."""
    import re

    rules_dir = Path(__file__).resolve().parents[1] / "workflow" / "rules"
    declared = set()
    for smk in rules_dir.glob("*.smk"):
        for name, body in re.findall(r"^rule (\w+):\n(.*?)(?=^rule |\Z)", smk.read_text(), re.S | re.M):
            if re.search(r"^\s+gpu=", body, re.M):
                declared.add(name)
    assert declared == set(cluster.GPU_RULES)
    profile = yaml.safe_load((rules_dir.parents[1] / "profiles" / "slurm" / "config.yaml").read_text())
    assert set(cluster.GPU_RULES) <= set(profile["set-resources"])
