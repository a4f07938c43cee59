"""Procedural generators for the BIG-bench-style task families of the paper.

Each module exposes ``generate(n, seed, difficulty="medium") -> list[dict]``: ``n`` raw
records (input fields plus ``"label"``), deterministic given ``seed``, labels correct by
construction, without duplicates where the family's space allows it. ``difficulty``
(``easy``/``medium``/``hard``) sets the size of each instance (operands, chain length,
number of objects or swaps, noise).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from dataeff.core.errors import DataeffError

DIFFICULTIES = ("easy", "medium", "hard")

Record = dict[str, Any]


def check_difficulty(difficulty: str) -> str:
    """Return ``difficulty`` or raise a one-line error listing the allowed values."""
    if difficulty not in DIFFICULTIES:
        raise DataeffError(
            f"unknown difficulty '{difficulty}'",
            field="data.difficulty",
            fix=f"choose one of {', '.join(DIFFICULTIES)}",
        )
    return difficulty


def letter(i: int) -> str:
    """Option label ``(A)``, ``(B)``, ... for index ``i``."""
    return f"({chr(ord('A') + i)})"


def options_block(options: Sequence[str]) -> str:
    """``Options:`` followed by one ``(A) text`` line per option."""
    return "Options:\n" + "\n".join(f"{letter(i)} {o}" for i, o in enumerate(options))


def collect(
    n: int,
    seed: int,
    sample: Callable[[random.Random, Any], Record],
    *,
    balance: Sequence[Any] | None = None,
    key: Callable[[Record], Hashable] | None = None,
) -> list[Record]:
    """Draw ``n`` distinct records from ``sample(rng, target_label)``.

    With ``balance``, the target labels cycle through it (shuffled), so binary tasks are
    50/50; ``sample`` may use the target to steer generation, and records with another label
    are redrawn. When the family's space is exhausted (tiny ``easy`` spaces), duplicates or
    off-target labels are accepted after many tries so that ``n`` records always come back.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    rng = random.Random(seed)
    targets: list[Any] | None = None
    if balance:
        targets = [balance[i % len(balance)] for i in range(n)]
        rng.shuffle(targets)
    key = key or (lambda r: tuple(sorted((k, str(v)) for k, v in r.items())))
    out: list[Record] = []
    seen: set[Hashable] = set()
    patience = 200
    misses = 0
    dedup = True  # switched off once the space looks exhausted
    while len(out) < n:
        target = targets[len(out)] if targets is not None else None
        rec = sample(rng, target)
        k = key(rec)
        ok = (target is None or rec["label"] == target) and not (dedup and k in seen)
        if not ok and misses < patience:
            misses += 1
            continue
        if not ok:
            dedup = False
        misses = 0
        seen.add(k)
        out.append(rec)
    return out
