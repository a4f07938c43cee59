"""Tracking shuffled objects: people swap objects in pairs; who holds what at the end?

Label: the option letter ``"(A)"``... of the final object; options list the objects in their
initial order. Difficulty: easy 3 people / 3 swaps, medium 5 / 5, hard 7 / 7 (as in BBH).
"""

from __future__ import annotations

import random
from typing import Any

from dataeff.tasks.generators import Record, check_difficulty, collect, letter, options_block

PEOPLE = (
    "Alice",
    "Bob",
    "Claire",
    "Dave",
    "Eve",
    "Fred",
    "Gertrude",
    "Helga",
    "Ivan",
    "Jamal",
    "Karl",
    "Lola",
    "Mona",
    "Nadia",
    "Omar",
    "Priya",
)
#: scenario -> (intro, holding clause, swap verb phrase, ending question, item format, items)
SCENARIOS: dict[str, tuple[str, str, str, str, str, tuple[str, ...]]] = {
    "ball": (
        "are playing a game. At the start of the game, they are each holding a ball",
        "{p} has {ax} ball",
        "swap balls",
        "At the end of the game, {p} has the",
        "{x} ball",
        ("red", "blue", "green", "yellow", "pink", "orange", "purple", "white", "black", "brown"),
    ),
    "present": (
        "are holding a white elephant gift exchange. At the start of the event, they are "
        "each holding a present of a different color",
        "{p} has {ax} present",
        "swap their gifts",
        "At the end of the event, {p} has the",
        "{x} present",
        ("red", "blue", "green", "yellow", "pink", "orange", "purple", "white", "black", "brown"),
    ),
    "book": (
        "are friends and avid readers who occasionally trade books. At the start of the "
        "semester, they each buy one new book",
        "{p} gets {x}",
        "swap books",
        "At the end of the semester, {p} has",
        "{x}",
        (
            "Frankenstein",
            "Moby Dick",
            "Ulysses",
            "Hamlet",
            "Catch-22",
            "Lolita",
            "The Odyssey",
            "The Pearl",
            "The Fellowship of the Ring",
            "The Great Gatsby",
        ),
    ),
}
_SIZE = {"easy": 3, "medium": 5, "hard": 7}


def _a(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def _join(parts: list[str]) -> str:
    return f"{', '.join(parts[:-1])}, and {parts[-1]}"


def _sample(rng: random.Random, target: Any, difficulty: str) -> Record:
    k = _SIZE[difficulty]
    intro, hold, swap, ask, item_fmt, pool = SCENARIOS[rng.choice(list(SCENARIOS))]
    people = rng.sample(PEOPLE, k)
    items = rng.sample(pool, k)
    holding = dict(zip(people, items, strict=True))
    swaps = []
    for _ in range(k):
        a, b = rng.sample(people, 2)
        swaps.append((a, b))
        holding[a], holding[b] = holding[b], holding[a]
    asked = rng.choice(people)
    steps = []
    for i, (a, b) in enumerate(swaps):
        lead = "First" if i == 0 else ("Finally" if i == k - 1 else "Then")
        steps.append(f"{lead}, {a} and {b} {swap}.")
    text = (
        f"{_join(people)} {intro}: "
        f"{_join([hold.format(p=p, x=x, ax=_a(x)) for p, x in zip(people, items, strict=True)])}.\n"
        f"As the event goes on, pairs of them trade. {' '.join(steps)} {ask.format(p=asked)}\n"
        f"{options_block([item_fmt.format(x=x) for x in items])}"
    )
    return {"question": text, "label": letter(items.index(holding[asked]))}


def generate(n: int, seed: int, difficulty: str = "medium") -> list[Record]:
    """``n`` distinct swap stories; label is the letter of the asked person's final object."""
    check_difficulty(difficulty)
    return collect(n, seed, lambda rng, t: _sample(rng, t, difficulty))
