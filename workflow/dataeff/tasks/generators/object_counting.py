"""Object counting: "I have a flute, two pianos and a cat. How many musical instruments do I have?"

Label: the count as a decimal string (``"3"``); open-ended, so the registry has no label list.
Difficulty: easy 2-4 items of the asked category only, 1-2 of each; medium 3-6 items with
distractors, 1-3 of each; hard 5-9 items with distractors from several categories, 1-5 of each.
"""

from __future__ import annotations

import random
from typing import Any

from dataeff.tasks.generators import Record, check_difficulty, collect

#: category (as asked) -> [(singular, plural)]
CATEGORIES: dict[str, list[tuple[str, str]]] = {
    "fruits": [
        ("apple", "apples"),
        ("banana", "bananas"),
        ("peach", "peaches"),
        ("plum", "plums"),
        ("grape", "grapes"),
        ("strawberry", "strawberries"),
        ("orange", "oranges"),
        ("nectarine", "nectarines"),
        ("raspberry", "raspberries"),
        ("blackberry", "blackberries"),
    ],
    "vegetables": [
        ("carrot", "carrots"),
        ("potato", "potatoes"),
        ("onion", "onions"),
        ("yam", "yams"),
        ("stalk of celery", "stalks of celery"),
        ("head of broccoli", "heads of broccoli"),
        ("cabbage", "cabbages"),
        ("head of garlic", "heads of garlic"),
        ("lettuce head", "lettuce heads"),
        ("cauliflower", "cauliflowers"),
    ],
    "musical instruments": [
        ("piano", "pianos"),
        ("flute", "flutes"),
        ("trombone", "trombones"),
        ("violin", "violins"),
        ("drum", "drums"),
        ("clarinet", "clarinets"),
        ("accordion", "accordions"),
        ("trumpet", "trumpets"),
    ],
    "animals": [
        ("cat", "cats"),
        ("dog", "dogs"),
        ("rabbit", "rabbits"),
        ("snake", "snakes"),
        ("goat", "goats"),
        ("cow", "cows"),
        ("pig", "pigs"),
        ("mouse", "mice"),
        ("donkey", "donkeys"),
        ("frog", "frogs"),
        ("bear", "bears"),
        ("chicken", "chickens"),
        ("duck", "ducks"),
        ("snail", "snails"),
    ],
}
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five")
_SETTINGS = {  # (min items, max items, max count each, distractor categories)
    "easy": (2, 4, 2, 0),
    "medium": (3, 6, 3, 1),
    "hard": (5, 9, 5, 3),
}


def _phrase(count: int, noun: tuple[str, str]) -> str:
    if count == 1:
        article = "an" if noun[0][0] in "aeiou" else "a"
        return f"{article} {noun[0]}"
    return f"{NUMBER_WORDS[count]} {noun[1]}"


def _sample(rng: random.Random, target: Any, difficulty: str) -> Record:
    lo, hi, max_count, n_distract = _SETTINGS[difficulty]
    cats = list(CATEGORIES)
    asked = rng.choice(cats)
    others = rng.sample([c for c in cats if c != asked], n_distract)
    n_items = rng.randint(lo, hi)
    pool = [(asked, noun) for noun in CATEGORIES[asked]]
    n_asked = min(len(pool), n_items if not others else rng.randint(max(1, n_items // 2), n_items))
    chosen = rng.sample(pool, n_asked)
    if others:
        pool_o = [(c, noun) for c in others for noun in CATEGORIES[c]]
        chosen += rng.sample(pool_o, min(len(pool_o), n_items - n_asked))
    rng.shuffle(chosen)
    items, total = [], 0
    for cat, noun in chosen:
        count = rng.randint(1, max_count)
        items.append(_phrase(count, noun))
        if cat == asked:
            total += count
    listing = items[0] if len(items) == 1 else f"{', '.join(items[:-1])}, and {items[-1]}"
    return {"question": f"I have {listing}. How many {asked} do I have?", "label": str(total)}


def generate(n: int, seed: int, difficulty: str = "medium") -> list[Record]:
    """``n`` distinct inventories; label is the number of objects of the asked category."""
    check_difficulty(difficulty)
    return collect(n, seed, lambda rng, t: _sample(rng, t, difficulty))
