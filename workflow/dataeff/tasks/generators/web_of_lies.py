"""Web of lies: a chain of people asserting that the previous one lies or tells the truth.

Label: ``"True"`` if the last person tells the truth, ``"False"`` otherwise (balanced).
Difficulty sets the chain length: easy 3, medium 5, hard 7 people (hard also shuffles the
order of the statements).
"""

from __future__ import annotations

import random
from typing import Any

from dataeff.tasks.generators import Record, check_difficulty, collect

NAMES = (
    "Alejandro",
    "Amberly",
    "Andree",
    "Ashley",
    "Audrie",
    "Bernita",
    "Christie",
    "Conception",
    "Crista",
    "Delbert",
    "Delfina",
    "Dallas",
    "Elanor",
    "Ellis",
    "Fidel",
    "Fletcher",
    "Gwenn",
    "Helene",
    "Inga",
    "Jamey",
    "Jaymie",
    "Jerry",
    "Jim",
    "Kandi",
    "Kristian",
    "Leda",
    "Lorine",
    "Millicent",
    "Michaela",
    "Millie",
    "Osvaldo",
    "Phoebe",
    "Raymond",
    "Rashida",
    "Sal",
    "Shalonda",
    "Sherrie",
    "Shenna",
    "Sima",
    "Tamika",
    "Teressa",
    "Ryan",
    "Vernell",
    "Vina",
    "Willian",
    "Yoland",
    "Yoland",
    "Alexis",
    "Antwan",
    "Bennie",
    "Gwyneth",
    "Kristian",
    "Lorrie",
    "Maybelle",
    "Rick",
)
_NAMES = tuple(dict.fromkeys(NAMES))
_LENGTH = {"easy": 3, "medium": 5, "hard": 7}


def _verb(truthful: bool) -> str:
    return "tells the truth" if truthful else "lies"


def _sample(rng: random.Random, target: Any, difficulty: str) -> Record:
    people = rng.sample(_NAMES, _LENGTH[difficulty])
    truth = rng.random() < 0.5
    statements = [f"{people[0]} {_verb(truth)}."]
    claims = []
    for _ in people[1:]:
        claims.append(rng.random() < 0.5)
    # steer the last claim so the answer hits the target label (value stays computed)
    if target is not None:
        value = truth
        for c in claims[:-1]:
            value = value == c
        claims[-1] = (target == "True") == value
    value = truth
    for speaker, prev, claim in zip(people[1:], people[:-1], claims, strict=True):
        statements.append(f"{speaker} says {prev} {_verb(claim)}.")
        value = value == claim  # the speaker is truthful iff their claim is right
    if difficulty == "hard":
        rng.shuffle(statements)
    question = f"Question: {' '.join(statements)} Does {people[-1]} tell the truth?"
    return {"question": question, "label": str(value)}


def generate(n: int, seed: int, difficulty: str = "medium") -> list[Record]:
    """``n`` distinct chains with balanced True/False labels."""
    check_difficulty(difficulty)
    return collect(n, seed, lambda rng, t: _sample(rng, t, difficulty), balance=("True", "False"))
