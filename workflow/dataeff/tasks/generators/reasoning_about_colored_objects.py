"""Reasoning about colored objects: a scene of colored items and a question about it.

Questions: the color of an item; the color of the item directly left/right of an item in a
row; how many items have a given color. Options are the 18 BBH colors (A)-(R) or the counts
zero-eight (A)-(I); label is the option letter, e.g. ``"(C)"``. Difficulty: easy 3 items and
color look-up only; medium 4-5 items, all question types; hard 6-8 items, all types.
"""

from __future__ import annotations

import random
from typing import Any

from dataeff.tasks.generators import Record, check_difficulty, collect, letter, options_block

COLORS = (
    "red",
    "orange",
    "yellow",
    "green",
    "blue",
    "brown",
    "magenta",
    "fuchsia",
    "mauve",
    "teal",
    "turquoise",
    "burgundy",
    "silver",
    "gold",
    "black",
    "grey",
    "purple",
    "pink",
)
OBJECTS = (
    "pencil",
    "mug",
    "keychain",
    "teddy bear",
    "plate",
    "stress ball",
    "notebook",
    "pen",
    "booklet",
    "sheet of paper",
    "envelope",
    "cup",
    "crayon",
    "phone charger",
    "fidget spinner",
    "paperclip",
    "dog leash",
    "jug",
    "bracelet",
    "necklace",
    "scrunchie",
)
SURFACES = ("desk", "table", "floor", "nightstand")
COUNTS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight")
_SETTINGS = {
    "easy": (3, 3, ("color",)),
    "medium": (4, 5, ("color", "neighbor", "count")),
    "hard": (6, 8, ("color", "neighbor", "count")),
}


def _a(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def _sample(rng: random.Random, target: Any, difficulty: str) -> Record:
    lo, hi, kinds = _SETTINGS[difficulty]
    k = rng.randint(lo, hi)
    objects = rng.sample(OBJECTS, k)
    kind = rng.choice(kinds)
    if kind == "count":  # repeat colors so counts vary
        palette = rng.sample(COLORS, rng.randint(2, 3))
        colors = [rng.choice(palette) for _ in objects]
    else:
        colors = rng.sample(COLORS, k)
    surface = rng.choice(SURFACES)
    items = [_a(f"{c} {o}") for c, o in zip(colors, objects, strict=True)]
    listing = f"{', '.join(items[:-1])}, and {items[-1]}"
    if kind == "color":
        i = rng.randrange(k)
        scene = f"On the {surface}, I see {listing}."
        question = f"What color is the {objects[i]}?"
        options, answer = COLORS, COLORS.index(colors[i])
    elif kind == "neighbor":
        scene = f"On the {surface}, you see the following items arranged in a row: {listing}."
        if rng.random() < 0.5:
            i = rng.randrange(k - 1)
            question = f"What is the color of the item directly to the right of the {objects[i]}?"
            j = i + 1
        else:
            i = rng.randrange(1, k)
            question = f"What is the color of the item directly to the left of the {objects[i]}?"
            j = i - 1
        options, answer = COLORS, COLORS.index(colors[j])
    else:
        scene = f"On the {surface}, I see {listing}."
        color = rng.choice(colors) if rng.random() < 0.85 else rng.choice(COLORS)
        question = f"How many {color} items do you see?"
        options, answer = COUNTS, colors.count(color)
    return {"question": f"{scene} {question}\n{options_block(options)}", "label": letter(answer)}


def generate(n: int, seed: int, difficulty: str = "medium") -> list[Record]:
    """``n`` distinct scenes; label is the letter of the correct option."""
    check_difficulty(difficulty)
    return collect(n, seed, lambda rng, t: _sample(rng, t, difficulty))
