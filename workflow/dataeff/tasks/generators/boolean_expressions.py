"""Boolean expressions over True/False with not/and/or and parentheses (BBH style).

Label: ``"True"`` or ``"False"`` (balanced 50/50), the value Python gives the expression.
Difficulty sets the number of operands: easy 2-3, medium 3-5, hard 5-8.
"""

from __future__ import annotations

import random
from typing import Any

from dataeff.tasks.generators import Record, check_difficulty, collect

_LEAVES = {"easy": (2, 3), "medium": (3, 5), "hard": (5, 8)}


def _tree(rng: random.Random, leaves: int) -> tuple[str, bool]:
    """Random expression with ``leaves`` operands; returns (text, value)."""
    if leaves == 1:
        value = rng.random() < 0.5
        text = "True" if value else "False"
        for _ in range(rng.choice((0, 0, 0, 1, 1, 2))):
            text, value = f"not {text}", not value
        return text, value
    k = rng.randint(1, leaves - 1)
    left, lv = _tree(rng, k)
    right, rv = _tree(rng, leaves - k)
    if k > 1:
        left = f"( {left} )"
    if leaves - k > 1:
        right = f"( {right} )"
    if rng.random() < 0.5:
        text, value = f"{left} and {right}", lv and rv
    else:
        text, value = f"{left} or {right}", lv or rv
    return text, value


def _sample(rng: random.Random, target: Any, difficulty: str) -> Record:
    lo, hi = _LEAVES[difficulty]
    text, value = _tree(rng, rng.randint(lo, hi))
    if rng.random() < 0.15:
        text, value = f"not ( {text} )", not value
    return {"expression": text, "label": str(value)}


def generate(n: int, seed: int, difficulty: str = "medium") -> list[Record]:
    """``n`` distinct expressions with balanced True/False labels."""
    check_difficulty(difficulty)
    return collect(n, seed, lambda rng, t: _sample(rng, t, difficulty), balance=("True", "False"))
