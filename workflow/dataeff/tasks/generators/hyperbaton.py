"""Hyperbaton: which of two phrases has the correct English adjective order?

Standard order: opinion, size, age, shape, color, origin, material, purpose. Options
``(A)``/``(B)``; label ``"(A)"`` or ``"(B)"`` (balanced 50/50). Difficulty sets the number of
adjectives: easy 2, medium 3, hard 4.
"""

from __future__ import annotations

import random
from typing import Any

from dataeff.tasks.generators import Record, check_difficulty, collect, options_block

ORDER = ("opinion", "size", "age", "shape", "color", "origin", "material", "purpose")
ADJECTIVES: dict[str, tuple[str, ...]] = {
    "opinion": (
        "lovely",
        "terrible",
        "good",
        "nice",
        "obnoxious",
        "silly",
        "wonderful",
        "ridiculous",
        "awful",
        "mysterious",
        "repulsive",
        "adorable",
    ),
    "size": ("big", "small", "tiny", "enormous", "huge", "little", "massive", "large", "midsize"),
    "age": ("old", "new", "ancient", "old-fashioned", "brand-new", "archaic"),
    "shape": ("square", "circular", "triangular", "rectangular", "spherical", "prismlike", "pyramidal"),
    "color": ("red", "blue", "green", "white", "black", "gray", "brown", "pink", "purple", "yellow"),
    "origin": (
        "American",
        "Chinese",
        "Japanese",
        "Mexican",
        "Brazilian",
        "Indian",
        "German",
        "Russian",
        "Egyptian",
        "Turkish",
        "Ethiopian",
        "Nigerian",
        "Thai",
        "Vietnamese",
        "Filipino",
    ),
    "material": (
        "wool",
        "leather",
        "plastic",
        "glass",
        "paper",
        "cloth",
        "rubber",
        "steel",
        "wooden",
        "iron",
        "gold",
        "silver",
        "cardboard",
        "fiberglass",
    ),
    "purpose": ("smoking", "hiking", "walking", "drinking", "exercise", "eating", "snorkeling", "whittling"),
}
NOUNS = (
    "ship",
    "knife",
    "sweater",
    "car",
    "box",
    "shoe",
    "bag",
    "table",
    "chair",
    "cat",
    "dog",
    "house",
    "monkey",
    "bottle",
    "hat",
    "canoe",
    "pen",
    "watch",
    "umbrella",
    "lamp",
)
_COUNT = {"easy": 2, "medium": 3, "hard": 4}


def _sample(rng: random.Random, target: Any, difficulty: str) -> Record:
    cats = sorted(rng.sample(ORDER, _COUNT[difficulty]), key=ORDER.index)
    correct = [rng.choice(ADJECTIVES[c]) for c in cats]
    wrong = correct[:]
    while wrong == correct:
        rng.shuffle(wrong)
    noun = rng.choice(NOUNS)
    good, bad = " ".join([*correct, noun]), " ".join([*wrong, noun])
    first_correct = target == "(A)" if target is not None else rng.random() < 0.5
    options = [good, bad] if first_correct else [bad, good]
    return {
        "question": f"Which sentence has the correct adjective order:\n{options_block(options)}",
        "label": "(A)" if first_correct else "(B)",
    }


def generate(n: int, seed: int, difficulty: str = "medium") -> list[Record]:
    """``n`` distinct pairs; label is the letter of the correctly ordered phrase."""
    check_difficulty(difficulty)
    return collect(n, seed, lambda rng, t: _sample(rng, t, difficulty), balance=("(A)", "(B)"))
