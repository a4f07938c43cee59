"""Benchmark: fast CoS-Low vs the plain reference, and batched vs per-prompt selection decoding.

    python benchmarks/bench_coslow.py [--model results/models/smollm2] [--n 32] [--repeats 3] [--quick]

Each measurement runs in a fresh process (spawned), with the model loaded first; its *extra*
peak memory is the peak resident set size (sampled every 5 ms by a thread, psutil) minus the
resident size right after loading, so allocator caches of an earlier run never count against a
later one. Time is the median over ``repeats``. The two CoS-Low values must agree within 1e-4.

``bench()`` and ``bench_selection()`` return dicts so an overall benchmark script can call them;
``quick=True`` uses a tiny random model and finishes in seconds.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_MODEL = REPO / "results" / "models" / "smollm2"

_TEXT = (
    "the red box sits left of a tall green lamp while two small cats sleep near the open window and "
    "nobody remembers who painted the old blue door last summer"
)
_WORDS = _TEXT.split(" ")  # noqa: SIM905


def example_rows(n: int, seed: int = 0) -> list[dict[str, str]]:
    """``n`` labeled short-answer examples of varied length (question of 20-60 words)."""
    import random

    rng = random.Random(seed)
    rows = []
    for i in range(n):
        words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(20, 60)))
        a, b = rng.randint(1, 20), rng.randint(1, 20)
        rows.append(
            {
                "id": f"ex{i}",
                "prompt": f"Read this: {words}. How many is {a} plus {b}? Answer with a number.",
                "answer": str(a + b) if i % 3 else f"The answer is {a + b}.",
            }
        )
    return rows


def _tiny_model(dest: Path) -> Path:
    """A 2-layer random Llama with SmolLM2's tokenizer (the quick benchmark's model)."""
    from dataeff.modeling.loading import build_tiny_model

    return build_tiny_model(DEFAULT_MODEL, dest)


class PeakRSS:
    """Peak resident set size of this process while the ``with`` block runs (bytes)."""

    def __init__(self, interval: float = 0.005) -> None:
        import psutil

        self.proc = psutil.Process()
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self) -> PeakRSS:
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def extra(self) -> int:
        return self.peak - self.base


def _worker(kind: str, model_ref: str, payload: dict[str, Any], threads: int, queue: Any) -> None:
    import gc

    import torch

    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    torch.set_num_threads(threads)
    from dataeff.modeling.loading import load_model

    model, tok, _ = load_model(model_ref)
    gc.collect()
    try:
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            if kind == "fast":
                from dataeff.coslow.gradients import coslow_from_rows

                value = coslow_from_rows(model, tok, payload["rows"], seed=payload["seed"])["value"]
            elif kind == "reference":
                from coslow_reference import reference_coslow

                value = reference_coslow(model, tok, payload["rows"], seed=payload["seed"])["value"]
            elif kind in ("batched", "per_prompt"):
                value = _selection_pass(kind, model, tok, payload)
            else:
                raise ValueError(kind)
            seconds = time.perf_counter() - t0
        queue.put({"seconds": seconds, "extra_mb": mem.extra / 2**20, "value": value})
    except Exception as exc:  # report instead of hanging the parent
        queue.put({"error": f"{type(exc).__name__}: {exc}"})


def _selection_pass(kind: str, model: Any, tok: Any, payload: dict[str, Any]) -> list[list[int]]:
    import torch

    from dataeff.inference.generation import greedy_generate
    from dataeff.modeling.chat import prompt_ids, stop_token_ids

    prompts = [prompt_ids(tok, r["prompt"]) for r in payload["rows"]]
    if kind == "batched":
        res = greedy_generate(
            model,
            tok,
            prompts,
            max_new_tokens=payload["max_new_tokens"],
            batch_size=payload["batch_size"],
            return_scores=True,
        )
        return [r.token_ids for r in res]
    out = []
    stops = stop_token_ids(tok)
    for p in prompts:  # one generate call per prompt, scores on: the obvious way
        with torch.inference_mode():
            gen = model.generate(
                torch.tensor([p]),
                max_new_tokens=payload["max_new_tokens"],
                do_sample=False,
                output_scores=True,
                return_dict_in_generate=True,
                eos_token_id=stops,
                pad_token_id=tok.pad_token_id,
            )
        out.append(gen.sequences[0, len(p) :].tolist())
    return out


def _measure(
    kind: str, model_ref: str, payload: dict[str, Any], repeats: int, threads: int, in_process: bool = False
) -> dict[str, Any]:
    """Median time and max extra peak memory over ``repeats`` fresh processes (or in this one:
    the quick mode, where a spawn's imports would cost more than the work)."""
    import queue as queue_mod

    ctx = mp.get_context("spawn")
    runs = []
    for _ in range(repeats):
        if in_process:
            q: Any = queue_mod.Queue()
            _worker(kind, model_ref, payload, threads, q)
            res = q.get()
        else:
            q = ctx.Queue()
            proc = ctx.Process(target=_worker, args=(kind, model_ref, payload, threads, q))
            proc.start()
            res = q.get()
            proc.join()
        if "error" in res:
            raise RuntimeError(f"{kind}: {res['error']}")
        runs.append(res)
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "all_seconds": [r["seconds"] for r in runs],
        "extra_mb": max(r["extra_mb"] for r in runs),
        "value": runs[0]["value"],
    }


def _model_for(model_ref: str | None, quick: bool, tmp: str) -> str:
    if quick:
        return str(_tiny_model(Path(tmp) / "tiny"))
    return str(model_ref or DEFAULT_MODEL)


def bench(
    model_ref: str | None = None,
    n: int = 32,
    repeats: int = 3,
    quick: bool = False,
    threads: int = 2,
    seed: int = 0,
) -> dict[str, Any]:
    """Time and extra peak memory of fast vs reference CoS-Low on ``n`` examples."""
    with tempfile.TemporaryDirectory() as tmp:
        ref = _model_for(model_ref, quick, tmp)
        payload = {"rows": example_rows(n if not quick else min(n, 8)), "seed": seed}
        reps = 1 if quick else repeats
        fast = _measure("fast", ref, payload, reps, threads, in_process=quick)
        slow = _measure("reference", ref, payload, reps, threads, in_process=quick)
    diff = abs(fast["value"] - slow["value"])
    return {
        "model": "tiny-random" if quick else ref,
        "n": len(payload["rows"]),
        "repeats": reps,
        "threads": threads,
        "fast": fast,
        "reference": slow,
        "speedup": slow["seconds"] / fast["seconds"],
        "memory_ratio": fast["extra_mb"] / max(slow["extra_mb"], 1e-9),
        "abs_diff": diff,
        "agree": diff <= 1e-4,
    }


def bench_selection(
    model_ref: str | None = None,
    n: int = 64,
    repeats: int = 3,
    quick: bool = False,
    threads: int = 2,
    batch_size: int = 32,
    max_new_tokens: int = 30,
) -> dict[str, Any]:
    """Time of the batched confidence pass vs one ``generate`` call per prompt on ``n`` prompts."""
    with tempfile.TemporaryDirectory() as tmp:
        ref = _model_for(model_ref, quick, tmp)
        payload = {
            "rows": example_rows(n if not quick else min(n, 16), seed=1),
            "batch_size": batch_size,
            "max_new_tokens": max_new_tokens if not quick else 8,
        }
        reps = 1 if quick else repeats
        batched = _measure("batched", ref, payload, reps, threads, in_process=quick)
        single = _measure("per_prompt", ref, payload, reps, threads, in_process=quick)
    same = sum(a == b for a, b in zip(batched.pop("value"), single.pop("value"), strict=True))
    return {
        "model": "tiny-random" if quick else ref,
        "n": len(payload["rows"]),
        "batch_size": batch_size,
        "max_new_tokens": payload["max_new_tokens"],
        "repeats": reps,
        "batched": batched,
        "per_prompt": single,
        "speedup": single["seconds"] / batched["seconds"],
        "same_tokens": same,
    }


def format_table(cos: dict[str, Any] | None, sel: dict[str, Any] | None) -> str:
    lines = [f"{'measurement':<34}{'median s':>10}{'extra MB':>10}{'  note'}"]
    if cos:
        lines += [
            f"{'CoS-Low fast (n=' + str(cos['n']) + ')':<34}{cos['fast']['seconds']:>10.2f}"
            f"{cos['fast']['extra_mb']:>10.0f}  value {cos['fast']['value']:.6f}",
            f"{'CoS-Low reference':<34}{cos['reference']['seconds']:>10.2f}"
            f"{cos['reference']['extra_mb']:>10.0f}  value {cos['reference']['value']:.6f}",
            f"{'  ratio':<34}{cos['speedup']:>9.2f}x{cos['memory_ratio']:>10.2f}  "
            f"|diff| {cos['abs_diff']:.2e} ({'agree' if cos['agree'] else 'DISAGREE'})",
        ]
    if sel:
        lines += [
            f"{'selection batched (n=' + str(sel['n']) + ')':<34}{sel['batched']['seconds']:>10.2f}"
            f"{sel['batched']['extra_mb']:>10.0f}",
            f"{'selection one generate per prompt':<34}{sel['per_prompt']['seconds']:>10.2f}"
            f"{sel['per_prompt']['extra_mb']:>10.0f}",
            f"{'  ratio':<34}{sel['speedup']:>9.2f}x{'':>10}  same tokens {sel['same_tokens']}/{sel['n']}",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--n-select", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=["coslow", "selection"], default=None)
    args = ap.parse_args(argv)
    cos = sel = None
    if args.only in (None, "coslow"):
        cos = bench(args.model, n=args.n, repeats=args.repeats, quick=args.quick, threads=args.threads)
    if args.only in (None, "selection"):
        sel = bench_selection(args.model, n=args.n_select, repeats=args.repeats, quick=args.quick, threads=args.threads)
    print(format_table(cos, sel))
    return 0 if cos is None or cos["agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
