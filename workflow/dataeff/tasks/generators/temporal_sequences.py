"""Temporal sequences: from sightings during a day, when could someone have gone somewhere?

The day from waking up to closing time is cut into consecutive slots; every slot but one is
covered by a sighting. Four options (A)-(D) list the free slot and three covered ones; label
is the free slot's letter, e.g. ``"(B)"``. Difficulty sets the number of slots: easy 4,
medium 5-6 (sightings shuffled), hard 7-8 (sightings shuffled).
"""

from __future__ import annotations

import random
from typing import Any

from dataeff.tasks.generators import Record, check_difficulty, collect, letter

NAMES = (
    "Emily",
    "Elizabeth",
    "Jessica",
    "Leslie",
    "William",
    "Susan",
    "Sarah",
    "Mark",
    "Michael",
    "Andrew",
    "Ashley",
    "Betty",
    "David",
    "Hannah",
    "James",
    "Jason",
    "John",
    "Kimberly",
    "Linda",
    "Lisa",
    "Mary",
    "Nancy",
    "Richard",
    "Samantha",
    "Sean",
    "Thomas",
    "Tiffany",
    "Anthony",
)
ACTIVITIES = (
    "reading at the library",
    "watching a movie at the theater",
    "waiting at the airport",
    "buying clothes at the mall",
    "playing tennis at the tennis court",
    "taking photos near the Leaning Tower of Pisa",
    "walking in the garden",
    "sitting on a rooftop",
    "working at the office",
    "getting a coffee at the cafe",
    "buying cookies at a bakery",
    "stretching at a yoga studio",
    "buying lunch at the deli",
    "fixing their computer at the electronic store",
    "buying a phone at the electronics store",
    "driving to the water park",
    "attending class at the school",
    "jumping on the trampoline",
)
PLACES = (
    "museum",
    "park",
    "gym",
    "beach",
    "swimming pool",
    "soccer field",
    "art studio",
    "dance studio",
    "clothing store",
    "restaurant",
    "amusement park",
    "bookstore",
    "market",
    "construction site",
    "basketball court",
    "bike shop",
    "coffee shop",
    "football field",
    "orchestra hall",
    "skating rink",
)
_SLOTS = {"easy": (4, 4), "medium": (5, 6), "hard": (7, 8)}


def fmt_hour(h: int) -> str:
    """24-hour clock hour -> '5am', '12pm', '1pm'."""
    suffix = "am" if h < 12 else "pm"
    return f"{(h - 1) % 12 + 1}{suffix}"


def _sample(rng: random.Random, target: Any, difficulty: str) -> Record:
    k = rng.randint(*_SLOTS[difficulty])
    lengths = [rng.randint(1, 2) for _ in range(k)]
    start = rng.randint(5, 22 - sum(lengths))
    bounds = [start]
    for length in lengths:
        bounds.append(bounds[-1] + length)
    slots = list(zip(bounds[:-1], bounds[1:], strict=True))
    free = rng.randrange(k)
    person = rng.choice(NAMES)
    witnesses = rng.sample([n for n in NAMES if n != person], k - 1)
    acts = rng.sample(ACTIVITIES, k - 1)
    place = rng.choice(PLACES)
    seen = [
        f"{w} saw {person} {a} from {fmt_hour(s)} to {fmt_hour(e)}."
        for w, a, (s, e) in zip(witnesses, acts, [x for i, x in enumerate(slots) if i != free], strict=True)
    ]
    if difficulty != "easy":
        rng.shuffle(seen)
    others = rng.sample([i for i in range(k) if i != free], 3)
    order = [free, *others]
    rng.shuffle(order)
    options = "\n".join(f"{letter(j)} {fmt_hour(slots[i][0])} to {fmt_hour(slots[i][1])}" for j, i in enumerate(order))
    text = (
        f"Today, {person} went to the {place}. Between what times could they have gone?\n"
        f"We know that:\n{person} woke up at {fmt_hour(bounds[0])}.\n"
        + "\n".join(seen)
        + f"\nThe {place} was closed after {fmt_hour(bounds[-1])}.\n"
        f"Between what times could {person} have gone to the {place}?\nOptions:\n{options}"
    )
    return {"question": text, "label": letter(order.index(free))}


def generate(n: int, seed: int, difficulty: str = "medium") -> list[Record]:
    """``n`` distinct schedules; label is the letter of the only free time slot."""
    check_difficulty(difficulty)
    return collect(n, seed, lambda rng, t: _sample(rng, t, difficulty))
