"""The study's finding from its committed results, for however many tasks have finished.

    python study/analyze.py [--results study/results/smollm2] [--config config/study.yaml]

Reads only the committed directory (curves, predictors, ceilings, raw/*/picks.json) and writes
``{results}/analysis/``: ``efficiency.json`` (AUC per task, the project's ``dataeff auc``),
``coefficients.json``, ``correlations.tsv``, ``loto.tsv`` (``dataeff fit``: Pearson and Spearman r
of CoS-Low and of each baseline with AUC, bootstrap intervals, leave-one-task-out error) and
``majority_share.tsv`` (and the figure ``confound.png``): per task and seed, CoS-Low against the
share of the 32 low-confidence picks whose gold answer is the most common among them (answer
gradients cluster by label, so a CoS-Low that tracks label balance measures the picks' labels,
not the task), and ``picks.tsv``/``picks.md`` (``study/picks.py``: the picks against random
examples of the same pool, as the untuned model answers them) and ``timing.tsv``/``timing.md``
(``study/timing.py``: CPU and wall time of every job), ``noise.json``/``noise.md``
(``study/noise.py``: the correlation's interval with the measurement noise added). Prints a summary.
The full pipeline (``snakemake --configfile config/study.yaml``) gives the same fit and the
figures once every task is committed; this script answers before that.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from collections import Counter
from itertools import combinations
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from dataeff.core.settings import analysis_settings  # noqa: E402
from dataeff.efficiency.results import result_filename  # noqa: E402
from dataeff.pipeline.config import load_config  # noqa: E402
from dataeff.prediction.published import PUBLISHED_PEARSON_LLAMA  # noqa: E402

sys.path.insert(0, str(REPO / "study"))
from committed import committed_tasks  # noqa: E402
from floor import write_floors  # noqa: E402
from noise import write_noise  # noqa: E402
from picks import write_picks  # noqa: E402
from robustness import NO_PREDICTOR, PICK_PREDICTORS, ci_text, write_robustness  # noqa: E402
from timing import write_timing  # noqa: E402

#: The floor rules the AUC is computed under (docs/METHOD.md section 1): the config's in
#: ``analysis/``, each other one in ``analysis/{rule}/``.
FLOOR_RULES = ("fair", "majority", "zero_shot")
FLOOR_WORDS = {"fair": "fair floor", "majority": "majority floor", "zero_shot": "paper: zero-shot"}


def split_by_answer(pair_cosines: list[float], labels: list[str]) -> tuple[float, float]:
    """Median cosine of the same-answer pairs and of the different-answer pairs (NaN where there
    are none). ``pair_cosines`` are in the CoS-Low record's order: (i, j), i < j, row-major."""
    import numpy as np

    same, diff = [], []
    for c, (i, j) in zip(pair_cosines, combinations(range(len(labels)), 2), strict=True):
        (same if labels[i] == labels[j] else diff).append(c)
    return tuple(float(np.median(v)) if v else float("nan") for v in (same, diff))


def majority_rows(root: Path, tasks: list[str]) -> list[dict]:
    """(task, seed, coslow, picks, majority share, share of same-answer pairs) from
    raw/{task}/coslow_seed*.json and picks.json. CoS-Low is the median cosine over the k(k-1)/2
    pairs; answer gradients cluster by answer, so when more than half of the pairs share an answer
    the median falls in the same-answer cluster. Records that carry every pair's cosine (those
    written since the pair cosines were recorded) also give the median of the same-answer and of
    the different-answer pairs (``cos_same``, ``cos_diff``; NaN otherwise): CoS-Low with the answer
    structure held out of it."""
    rows = []
    for task in tasks:
        picks_path = root / "raw" / task / "picks.json"
        if not picks_path.is_file():
            continue
        picks = json.loads(picks_path.read_text())
        for seed, labels in sorted(picks["selected"].items()):
            rec = json.loads((root / "raw" / task / f"coslow_seed{seed}.json").read_text())
            counts = Counter(labels)
            top = counts.most_common(1)[0][1]
            k = len(labels)
            same = sum(c * (c - 1) for c in counts.values()) / (k * (k - 1))
            pairs = rec["coslow_details"].get("pair_cosines")
            cos_same, cos_diff = split_by_answer(pairs, labels) if pairs else (float("nan"), float("nan"))
            rows.append(
                {
                    "task": task,
                    "seed": int(seed),
                    "coslow": float(rec["coslow"]),
                    "k": len(labels),
                    "distinct_answers": len(set(labels)),
                    "majority_share": top / len(labels),
                    "same_answer_pairs": same,
                    "cos_q1": float(rec["coslow_details"]["cosine_quartiles"]["q1"]),
                    "cos_q3": float(rec["coslow_details"]["cosine_quartiles"]["q3"]),
                    "cos_same": cos_same,
                    "cos_diff": cos_diff,
                }
            )
    return rows


def _partial_r(x, y, z):
    """Pearson r of x and y after removing from each its least-squares line on z."""
    import numpy as np
    from scipy import stats

    design = np.column_stack([np.ones_like(z), z])
    rx = x - design @ np.linalg.lstsq(design, x, rcond=None)[0]
    ry = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    return float(stats.pearsonr(rx, ry)[0])


def _has(rows: list[dict], key: str) -> bool:
    return any(r[key] == r[key] for r in rows)  # some value is not NaN


def write_confound(rows: list[dict], efficiency: dict, path: Path) -> None:
    """Does CoS-Low say more about AUC than the answer structure of its picks does? Per task: the
    mean CoS-Low and the mean share of same-answer pairs among the picks over the seeds, and the
    AUC; then r(CoS-Low, same-answer share) over (task, seed), r(CoS-Low, AUC) over tasks, the
    same with the same-answer share partialled out, and r(same-answer share, AUC)."""
    import numpy as np
    from scipy import stats

    tasks = sorted({r["task"] for r in rows if r["task"] in efficiency})
    lines = ["measure\tn\tpearson_r\tnote"]
    per = {t: [r for r in rows if r["task"] == t] for t in tasks}
    cos = np.array([np.mean([r["coslow"] for r in per[t]]) for t in tasks])
    same = np.array([np.mean([r["same_answer_pairs"] for r in per[t]]) for t in tasks])
    auc = np.array([efficiency[t]["auc"] for t in tasks])
    xs = np.array([r["same_answer_pairs"] for r in rows])
    ys = np.array([r["coslow"] for r in rows])
    if len(rows) >= 3 and np.ptp(xs) > 0:
        r = stats.pearsonr(xs, ys)[0]
        lines.append(f"coslow~same_answer_pairs\t{len(rows)}\t{r:.4f}\t(task, seed) pairs")
    if len(tasks) >= 4 and np.ptp(same) > 0:
        lines.append(f"auc~coslow\t{len(tasks)}\t{stats.pearsonr(cos, auc)[0]:.4f}\ttasks")
        lines.append(f"auc~same_answer_pairs\t{len(tasks)}\t{stats.pearsonr(same, auc)[0]:.4f}\ttasks")
        note = "tasks; both residualised on the same-answer share"
        lines.append(f"auc~coslow|same_answer_pairs\t{len(tasks)}\t{_partial_r(cos, auc, same):.4f}\t{note}")
    # CoS-Low of the different-answer pairs only, on the tasks whose records carry every pair
    diff = np.array(
        [np.nanmean([r["cos_diff"] for r in per[t]]) if _has(per[t], "cos_diff") else np.nan for t in tasks]
    )
    ok = np.isfinite(diff)
    if ok.sum() >= 4 and np.ptp(diff[ok]) > 0:
        r = stats.pearsonr(diff[ok], auc[ok])[0]
        lines.append(f"auc~coslow_different_answer_pairs\t{int(ok.sum())}\t{r:.4f}\ttasks with pair cosines")
    path.write_text("\n".join(lines) + "\n")
    print(path.read_text())


def _label_heights(xs, ys, widths, gap: float) -> list[float]:
    """Heights for point labels that do not overlap: from the lowest point up, a label (from just
    right of its marker to its width further) moves up past any marker or label already placed that it would
    cover within ``gap`` of its height."""
    dot = 0.01 * (max(xs) - min(xs) + 0.15) / 0.75  # half a marker's width in x units
    placed: list[tuple[float, float, float]] = [
        (float(x) - dot, float(x) + dot, float(y)) for x, y in zip(xs, ys, strict=True)
    ]
    heights = [0.0] * len(xs)
    for i in sorted(range(len(xs)), key=lambda i: (ys[i], xs[i])):
        x0, x1, h = float(xs[i]) + 1.2 * dot, float(xs[i]) + 1.2 * dot + widths[i], float(ys[i])
        for p0, p1, ph in sorted(placed, key=lambda p: p[2]):
            if x0 < p1 and p0 < x1 and abs(h - ph) < gap:
                h = ph + gap
        placed.append((x0, x1, h))
        heights[i] = h
    return heights


def plot_confound(rows: list[dict], efficiency: dict, stem: Path, floor_rule: str = "fair") -> None:
    """The finding in one figure. Left: per task, mean CoS-Low over the seeds against the AUC,
    coloured by how many different answers the 32 picks had (mean over seeds), with the fitted
    line. Right: per (task, seed), CoS-Low against the share of the 496 pairs whose two picks
    share an answer. Written as ``stem.png`` and ``stem.pdf``."""
    import matplotlib.pyplot as plt
    import numpy as np

    from dataeff.plots.style import save_figure

    tasks = sorted({r["task"] for r in rows if r["task"] in efficiency})
    per = {t: [r for r in rows if r["task"] == t] for t in tasks}
    cos = np.array([np.mean([r["coslow"] for r in per[t]]) for t in tasks])
    auc = np.array([efficiency[t]["auc"] for t in tasks])
    answers = np.array([np.mean([r["distinct_answers"] for r in per[t]]) for t in tasks])
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.6))
    colour = np.log2(answers)
    sc = left.scatter(cos, auc, c=colour, cmap="viridis", vmin=1, vmax=5, s=45, zorder=3)
    span = float(np.ptp(auc)) or 1.0
    char = 0.0118 * (cos.max() - cos.min() + 0.15) / 0.75  # x units per character at font size 7
    widths = [char * len(t) for t in tasks]
    for t, x, y, y_text in zip(tasks, cos, auc, _label_heights(cos, auc, widths, 0.045 * span), strict=True):
        moved = abs(y_text - y) > 1e-9
        left.annotate(
            t,
            (x, y),
            xytext=(x + 0.013 * (cos.max() - cos.min() + 0.15) / 0.75, y_text - 0.012 * span),
            fontsize=7,
            arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.5} if moved else None,
        )
    if len(tasks) >= 3:
        slope, intercept = np.polyfit(cos, auc, 1)
        xs = np.linspace(cos.min(), cos.max(), 50)
        left.plot(xs, slope * xs + intercept, color="#888888", lw=1, zorder=2)
    bar = fig.colorbar(sc, ax=left, ticks=[1, 2, 3, 4, 5])
    bar.ax.set_yticklabels(["2", "4", "8", "16", "32"])
    bar.set_label("different answers among the 32 picks")
    left.set_xlim(cos.min() - 0.03, cos.max() + 0.12)  # room for the labels of the right-most tasks
    left.set_xlabel("CoS-Low (mean of 3 seeds)")
    left.set_ylabel(f"AUC above the {FLOOR_WORDS[floor_rule]}")
    left.set_title(f"{len(tasks)} tasks")
    same = np.array([r["same_answer_pairs"] for r in rows])
    draws = np.array([r["coslow"] for r in rows])
    right.scatter(same, draws, c=np.log2([r["distinct_answers"] for r in rows]), cmap="viridis", vmin=1, vmax=5, s=25)
    right.set_xlabel("share of pick pairs with the same answer")
    right.set_ylabel("CoS-Low of one draw")
    right.set_title(f"{len(rows)} (task, seed) draws")
    fig.suptitle("SmolLM2-135M: CoS-Low against AUC and against the answer structure of its picks")
    save_figure(fig, stem)


def _paper_r(predictor: str) -> str:
    """The paper's Pearson r of ``predictor`` with AUC on Llama-3.1-8B (mean ± sd), or -."""
    if predictor not in PUBLISHED_PEARSON_LLAMA:
        return "-"
    mean, sd = PUBLISHED_PEARSON_LLAMA[predictor]
    return f"{mean:.3f} ± {sd:.3f}"


def write_finding(out: Path, others: list[str], rec: dict, path: Path) -> None:
    """The finding as Markdown, from :func:`robustness.write_robustness`'s record: per predictor
    Pearson and Spearman r with bootstrap 95% intervals, leave-one-task-out MAE and RMSE with
    theirs and the MAE's difference from no predictor's, r inside the many-answer and the other
    tasks, and Pearson r under the other floor rules; then CoS-Low's leave-two-tasks-out range."""
    import pandas as pd

    other_r = {}
    for rule in others:
        table = pd.read_csv(out / rule / "correlations.tsv", sep="\t").set_index("predictor")
        other_r[rule] = table["pearson"].to_dict()
    what = {"coslow": "CoS-Low (the paper's)", **PICK_PREDICTORS, NO_PREDICTOR: NO_PREDICTOR}
    head = "| predictor | Pearson r [95% CI] | Spearman ρ [95% CI] | LOTO MAE [95% CI] | LOTO RMSE [95% CI] "
    head += "| MAE minus no predictor's [95% CI] | r, many-answer tasks | r, other tasks "
    head += "".join(
        f"| r, {'zero-shot floor (paper)' if rule == 'zero_shot' else FLOOR_WORDS[rule]} " for rule in others
    )
    head += "| the paper's Llama-3.1-8B r |"
    lines = [head, "|" + "---|" * (9 + len(others))]
    many = few = None
    for name, r in rec["predictors"].items():
        loto = r["loto"]
        within = r.get("within") or {}
        many = many or (within.get("many_answers") or {}).get("n")
        few = few or (within.get("few_answers") or {}).get("n")
        cells = [
            what.get(name, name),
            ci_text(r.get("pearson")),
            ci_text(r.get("spearman")),
            ci_text(loto["mae"], "{:.3f}"),
            ci_text(loto["rmse"], "{:.3f}"),
            "-" if name == NO_PREDICTOR else ci_text(loto["mae_minus_baseline"], "{:+.3f}"),
            ci_text((within.get("many_answers") or {}).get("pearson")),
            ci_text((within.get("few_answers") or {}).get("pearson")),
            *[f"{other_r[rule][name]:.2f}" if name in other_r[rule] else "-" for rule in others],
            _paper_r(name),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    two = rec["leave_two_out"]
    boot = rec["bootstrap"]
    lines += [
        "",
        f"{rec['predictors']['coslow']['tasks']} tasks, AUC under the {FLOOR_WORDS[rec['floor_rule']]}; "
        f"intervals: {boot['n']} bootstrap resamples of the tasks (seed {boot['seed']}), the same draws for "
        f"every predictor; many-answer tasks: more than {rec['many_answers_threshold']} different answers among "
        f"the 32 picks ({many} tasks), the others {few}.",
        f"Leave two tasks out (all {two['pairs']} pairs): r(CoS-Low, AUC) from {two['min']:.2f} (without "
        f"{' and '.join(two['min_dropped'])}) to {two['max']:.2f} (without {' and '.join(two['max_dropped'])}), "
        f"median {two['median']:.2f}, negative for {two['share_negative']:.0%} of the pairs.",
    ]
    mean, sd = PUBLISHED_PEARSON_LLAMA["coslow"]
    lines.append(f"The paper's Llama-3.1-8B: CoS-Low Pearson r = {mean} ± {sd} (30 tasks, its zero-shot floor).")
    path.write_text("\n".join(lines) + "\n")


def write_status(root: Path, done: list[str], config: dict, family: str, path: Path) -> None:
    """A Markdown table: per task the accuracy at every budget, the chance floor and the AUC
    under each floor rule (the config's first), CoS-Low (mean over seeds) and each fine-tune's
    optimizer updates (best step / steps run)."""
    budgets = sorted(config["budgets"])
    floor = analysis_settings(config).floor
    rules = [floor, *[r for r in FLOOR_RULES if r != floor]]
    effs = {}
    for rule in rules:
        here = path.parent if floor == rule else path.parent / rule
        effs[rule] = json.loads((here / "efficiency.json").read_text())
    coslow = {}
    pred = root / f"{family}_predictors.tsv"
    if pred.is_file():
        lines = pred.read_text().splitlines()
        head = lines[0].split("\t")
        for line in lines[1:]:
            cells = dict(zip(head, line.split("\t"), strict=True))
            coslow[cells["task"]] = float(cells["coslow_mean"])
    head = [
        "task",
        *[f"acc n={b}" for b in [0, *budgets]],
        "majority answer",
        "options guess",
        *[f"AUC ({FLOOR_WORDS[rule]})" for rule in rules],
        "CoS-Low",
        "updates: best / run at " + ", ".join(str(b) for b in budgets),
    ]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for task in done:
        curve = json.loads((root / result_filename(family, task)).read_text())
        accs = [curve.get(str(b), {}).get("accuracy") for b in [0, *budgets]]
        steps = []
        for b in budgets:
            m = root / "raw" / task / f"train_n{b}.metrics.json"
            rec = json.loads(m.read_text()) if m.is_file() else {}
            steps.append(f"{rec.get('best_step', '?')}/{rec.get('steps_run', '?')}")
        aucs = [effs[rule].get(task, {}).get("auc") for rule in rules]
        chance = curve.get("chance") or {}
        number = lambda v, f="{:.2f}": "-" if v is None else f.format(v)  # noqa: E731
        out.append(
            "| "
            + " | ".join(
                [
                    task,
                    *[number(a) for a in accs],
                    number(chance.get("score")),
                    number(chance.get("options_guess")),
                    *[number(a, "{:.3f}") for a in aucs],
                    number(coslow.get(task), "{:.3f}"),
                    ", ".join(steps),
                ]
            )
            + " |"
        )
    path.write_text("\n".join(out) + "\n")


def fit_one(config: dict, family: str, root: Path, done: list[str], floor: str, out: Path, args) -> None:
    """``dataeff auc`` under one floor rule, then (3+ tasks) ``dataeff fit``, into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    py = [sys.executable, "-m", "dataeff"]
    grid = ",".join(str(b) for b in sorted(config["budgets"]))
    auc = [*py, "auc", "--results", str(root), "--family", family, "--tasks", ",".join(done)]
    auc += ["--ceilings", str(root / "ceilings.json"), "--grid", grid, "--max-budget", str(config["max_budget"])]
    auc += ["--floor", floor, "--out", str(out / "efficiency.json"), "--tsv", str(out / "efficiency.tsv")]
    subprocess.run(auc, cwd=REPO, check=True)
    if len(done) < 3:
        return
    boot = args.bootstrap if args.bootstrap is not None else analysis_settings(config).bootstrap
    fit = [*py, "fit", "--config", str(REPO / args.config), "--family", family]
    fit += ["--efficiency", str(out / "efficiency.json"), "--predictors", str(root / f"{family}_predictors.tsv")]
    fit += ["--bootstrap", str(boot), "--max-budget", str(config["max_budget"]), "--out-dir", str(out)]
    subprocess.run(fit, cwd=REPO, check=True)
    print(f"floor {floor}:")
    print((out / "correlations.tsv").read_text())


#: Fewer fitted tasks than this and the coefficients are not shipped: a slope from a handful of
#: tasks is the noise of those tasks (the paper fitted 24-30 per family).
MIN_SHIPPED_TASKS = 10


def out_of_sample_record(robust: dict) -> dict:
    """Whether the fitted line predicts a held-out task's AUC better than the other tasks' mean
    does (leave-one-task-out MAE and RMSE both lower), with both errors and, when it does not,
    the ``note`` that ``dataeff budget`` and ``dataeff predict`` put in their headline."""
    fit, mean = robust["predictors"]["coslow"]["loto"], robust["predictors"][NO_PREDICTOR]["loto"]
    diff = fit["mae_minus_baseline"]
    beats = fit["mae"]["value"] < mean["mae"]["value"] and fit["rmse"]["value"] < mean["rmse"]["value"]
    level = robust["bootstrap"]["level"]
    rec = {
        "beats_mean": bool(beats),
        "loto_mae": fit["mae"]["value"],
        "loto_rmse": fit["rmse"]["value"],
        "mean_loto_mae": mean["mae"]["value"],
        "mean_loto_rmse": mean["rmse"]["value"],
        "mae_difference": diff,
        "rule": "leave-one-task-out MAE and RMSE of the fitted line both below those of the other tasks' mean AUC",
        "tasks": robust["predictors"]["coslow"]["tasks"],
    }
    if not beats:
        rec["note"] = (
            f"CoS-Low predicts this model's AUC no better than the mean AUC of its {rec['tasks']} fitted tasks: "
            f"held-out RMSE {rec['loto_rmse']:.3f} against {rec['mean_loto_rmse']:.3f} for the mean, MAE "
            f"{rec['loto_mae']:.3f} against {rec['mean_loto_mae']:.3f} (difference {diff['value']:+.3f}, "
            f"{level:.0%} interval {diff['lo']:+.3f} to {diff['hi']:+.3f})"
        )
    return rec


def ship_coefficients(config: dict, family: str, analysis: Path, dest: Path) -> Path:
    """Write the shipped coefficients (``dataeff/resources/coefficients/{family}.json``, the
    format :mod:`dataeff.prediction.coefficients` documents) from the study's fit, with the model it was
    fitted on, the floor rule its AUCs used, its leave-one-task-out error and CoS-Low range."""
    import numpy as np

    from dataeff.core.io import atomic_write_json

    fit = json.loads((analysis / "coefficients.json").read_text())
    eff = json.loads((analysis / "efficiency.json").read_text())
    predictors = [r for r in csv.DictReader((analysis.parent / f"{family}_predictors.tsv").open(), delimiter="\t")]
    sds = [
        float(r["coslow_std"]) for r in predictors if r["task"] in fit["tasks"] and r["coslow_std"] not in ("", "nan")
    ]
    keep = ("slope", "intercept", "slope_se", "intercept_se", "resid_std", "n_tasks", "mean_x", "sxx")
    record = {k: fit[k] for k in (*keep, "x_min", "x_max", "max_budget", "tasks", "pearson", "spearman")}
    record.update(
        family=family,
        model=config["families"][family]["model"],
        floor_rule=analysis_settings(config).floor,
        loto={k: fit["loto"][k] for k in ("mae", "rmse", "max_abs_error", "n_folds")},
        grid=sorted(config["budgets"]),
        source=f"the CPU study (docs/STUDY.md, config/study.yaml): {fit['source']}",
        provenance=fit.get("provenance"),
        # the single-draw CoS-Low spread on this model: root mean square of the 3-seed sds
        coslow_sd=float(np.sqrt(np.mean(np.square(sds)))),
        coslow_sd_source=f"root mean square of the seed-to-seed CoS-Low sd over the {len(sds)} fitted tasks",
        # the fitted tasks' normalised curves: the shape error of this model's own curves
        curves={t: {k: eff[t]["curve"][k] for k in ("x", "y")} | {"auc": eff[t]["auc"]} for t in fit["tasks"]},
    )
    robust = analysis / "robustness.json"
    if robust.is_file():
        record["out_of_sample"] = out_of_sample_record(json.loads(robust.read_text()))
    path = dest / f"{family}.json"
    atomic_write_json(path, record)
    return path


def run_pipeline(config_path: Path, root: Path, done: list[str], dest: Path) -> None:
    """The pipeline's own analysis of the committed tasks: the default target of the study config
    restricted to ``done`` (curves and predictors from ``analysis.published_results``, so no
    model, fine-tune or evaluation runs), in a scratch directory; its figures, fit tables and
    calibration are copied to ``dest`` (``analysis/pipeline/``)."""
    import shutil
    import tempfile

    import yaml

    cfg = yaml.safe_load(config_path.read_text())
    cfg["tasks"] = list(done)
    cfg.setdefault("analysis", {}).update(published_results=str(root), ceilings=str(root / "ceilings.json"))
    (family,) = list(cfg["families"])
    with tempfile.TemporaryDirectory(prefix="dataeff-study-") as tmp:
        work = Path(tmp)
        (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        snakemake = str(Path(sys.executable).with_name("snakemake"))
        cmd = [snakemake, "-s", str(REPO / "Snakefile"), "--directory", str(work)]
        cmd += ["--configfile", str(work / "config.yaml"), "--cores", "2"]
        with open(work / "run.log", "w") as log:
            proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=False)
        if proc.returncode != 0:
            print((work / "run.log").read_text()[-3000:])
            raise SystemExit(f"the pipeline failed on the committed tasks (exit {proc.returncode})")
        if dest.exists():
            shutil.rmtree(dest)
        results = work / "results" / family
        shutil.copytree(results, dest, ignore=shutil.ignore_patterns("*.pdf", "reference", "finetune_results"))
    print(f"pipeline analysis of {len(done)} tasks -> {dest}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", default="study/results/smollm2")
    ap.add_argument("--config", default="config/study.yaml")
    ap.add_argument("--bootstrap", type=int, default=None)
    ap.add_argument(
        "--ship",
        action="store_true",
        help=f"also write the fit to workflow/dataeff/resources/coefficients/ (at least {MIN_SHIPPED_TASKS} tasks)",
    )
    ap.add_argument(
        "--pipeline",
        action="store_true",
        help="also run the pipeline's analysis (figures, fit, calibration) on the committed tasks "
        "into {results}/analysis/pipeline/ (about two minutes; no training)",
    )
    args = ap.parse_args(argv)
    import numpy as np
    from scipy import stats

    config = load_config(REPO / args.config)
    (family,) = list(config["families"])
    root = REPO / args.results
    done = committed_tasks(root, config)
    out = root / "analysis"
    out.mkdir(parents=True, exist_ok=True)
    print(f"{len(done)} of {len(config['tasks'])} tasks committed: {', '.join(done)}")
    floor = analysis_settings(config).floor
    # Each task's chance floor (majority score, options guess) into its curve file first.
    write_floors(root, done, out, family)
    # The config's floor rule (fair: the study's) in analysis/, each other one beside it in
    # analysis/{rule}/, so the finding can be read under every normalisation.
    others = [rule for rule in FLOOR_RULES if rule != floor]
    for rule, dest in ((floor, out), *((rule, out / rule) for rule in others)):
        fit_one(config, family, root, done, rule, dest, args)
    if len(done) >= 4:
        rec = write_robustness(root, config, done, out)
        write_finding(out, others, rec, out / "finding.md")
        print((out / "finding.md").read_text())
    if args.ship:
        if len(done) < MIN_SHIPPED_TASKS:
            print(f"not shipped: {len(done)} tasks, fewer than {MIN_SHIPPED_TASKS}")
        else:
            dest = REPO / "workflow" / "dataeff" / "resources" / "coefficients"
            print(f"shipped {ship_coefficients(config, family, out, dest)}")
    if args.pipeline and len(done) >= 4:
        run_pipeline(REPO / args.config, root, done, out / "pipeline")
    write_status(root, done, config, family, out / "status.md")
    print((out / "status.md").read_text())
    write_picks(root, done, out)  # what the low-confidence picks look like (picks.tsv, picks.md)
    write_timing(root, done, out)  # what the jobs cost (timing.tsv, timing.md)
    if len(done) >= 3:
        write_noise(root, config, done, out)  # r with the measurement noise added (noise.json, noise.md)
        print((out / "noise.md").read_text())
    print((out / "timing.md").read_text())
    rows = majority_rows(root, done)
    if rows:
        cols = ["task", "seed", "coslow", "k", "distinct_answers", "majority_share", "same_answer_pairs"]
        cols += ["cos_q1", "cos_q3", "cos_same", "cos_diff"]
        lines = ["\t".join(cols)]
        lines += ["\t".join(repr(r[c]) if isinstance(r[c], float) else str(r[c]) for c in cols) for r in rows]
        (out / "majority_share.tsv").write_text("\n".join(lines) + "\n")
        x = np.array([r["majority_share"] for r in rows])
        y = np.array([r["coslow"] for r in rows])
        if len(rows) >= 3 and np.ptp(x) > 0:
            print(
                f"CoS-Low vs majority-label share of the picks over {len(rows)} (task, seed): "
                f"Pearson r {stats.pearsonr(x, y)[0]:.3f}, Spearman {stats.spearmanr(x, y)[0]:.3f}"
            )
        efficiency = json.loads((out / "efficiency.json").read_text())
        write_confound(rows, efficiency, out / "confound.tsv")
        plot_confound(rows, efficiency, out / "confound", floor)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
