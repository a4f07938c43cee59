"""Helpers shared by the CoS-Low, selection and generation tests (not a test module)."""

from __future__ import annotations

from pathlib import Path

import yaml


def write_config(path: Path, model: str, **coslow) -> Path:
    cfg = {
        "families": {"tiny": {"model": model}},
        "tasks": ["toy"],
        "user_tasks": {"toy": {"file": "toy.jsonl", "labels": ["a", "b"]}},
        "budgets": [4],
        "coslow": {"k": 2, "pool_size": 20, "seeds": [0, 1], "max_new_tokens": 4, "batch_size": 8, **coslow},
    }
    path.write_text(yaml.safe_dump(cfg))
    return path


def labeled_rows(n: int) -> list[dict[str, str]]:
    return [
        {
            "id": f"r{i}",
            "prompt": f"Is {i} an even number? Think of {i * 7 % 11} apples" + " too" * (i % 4),
            "answer": "yes" if i % 2 == 0 else "no, it is odd",
        }
        for i in range(n)
    ]
