"""Formal fallacies with syllogisms and negation: is a stated argument deductively valid?

Premises and conclusion are universal statements over 2-4 monadic predicates ("Every
schoolmate of Sondra is a fan of FC Porto", "Nobody is neither A nor B", ...) and, for some
arguments, statements about one named person. Validity is decided exactly by enumerating the
2^k truth assignments of the predicates (monadic logic: a universal argument is valid iff the
propositional implication holds for every type; with a named person, iff every type of that
person allowed by the premises satisfies the conclusion). Label ``"valid"`` or ``"invalid"``
(balanced 50/50). Conclusions that merely restate a premise are excluded. Difficulty: easy 3
predicates and 2 premises of two-predicate forms; medium 3 predicates and 2-3 premises that may
use three-predicate forms ("Every A who is a B is also a C"); hard 4 predicates and 3-4 premises.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from functools import cache
from typing import Any

from dataeff.tasks.generators import Record, check_difficulty, collect

RELATIONS = (
    "schoolmate",
    "classmate",
    "close friend",
    "workmate",
    "neighbor",
    "cousin",
    "ancestor",
    "admirer",
    "critic",
    "half-sibling",
    "great-grandchild",
    "stepsibling",
    "grandchild",
)
PEOPLE = (
    "Sondra",
    "Pricilla",
    "Fernando",
    "Lesley",
    "Kenneth",
    "Tracy",
    "Leroy",
    "Jasper",
    "Carmen",
    "Ida",
    "Rosa",
    "Owen",
    "Marisa",
    "Dorothy",
    "Gene",
    "Hugo",
    "Ruby",
    "Theo",
    "Wanda",
    "Zelda",
)
CLUBS = (
    "FC Porto",
    "Real Betis",
    "AS Roma",
    "Celtic FC",
    "Ajax Amsterdam",
    "Olympique Lyon",
    "SL Benfica",
    "Everton FC",
    "Hertha BSC",
    "FC Basel",
)
CLUB_ROLES = ("fan", "supporter", "devotee", "follower", "critic", "expert", "member")
INDIVIDUALS = ("Lesley", "Ernest", "Nadia", "Oliver", "Bianca", "Quentin", "Yvonne", "Maurice")

Fn = Callable[..., bool]
#: (text template, function of the predicate truth values); {A}/{aA} = bare/with article
FORMS2: tuple[tuple[str, Fn], ...] = (
    ("Every {A} is {aB}.", lambda a, b: (not a) or b),
    ("No {A} is {aB}.", lambda a, b: not (a and b)),
    ("Whoever is {aA} is not {aB}.", lambda a, b: not (a and b)),
    ("Being {aB} is necessary for being {aA}.", lambda a, b: (not a) or b),
    ("Being {aA} is sufficient for being {aB}.", lambda a, b: (not a) or b),
    ("Whoever is not {aA} is {aB}.", lambda a, b: a or b),
    ("Nobody is neither {aA} nor {aB}.", lambda a, b: a or b),
    ("Whoever is not {aA} is not {aB}.", lambda a, b: a or not b),
)
FORMS3: tuple[tuple[str, Fn], ...] = (
    ("Every {A} is either {aB} or {aC}, or both.", lambda a, b, c: (not a) or b or c),
    ("Every {A} who is {aB} is also {aC}.", lambda a, b, c: not (a and b) or c),
    ("Whoever is neither {aA} nor {aB} is {aC}.", lambda a, b, c: a or b or c),
    ("Every {A} is {aB} and {aC}.", lambda a, b, c: (not a) or (b and c)),
)
INDIV: tuple[tuple[str, Fn], ...] = (
    ("{N} is {aA}.", lambda a: a),
    ("{N} is not {aA}.", lambda a: not a),
)
INDIV2: tuple[tuple[str, Fn], ...] = (
    ("{N} is {aA} or {aB}.", lambda a, b: a or b),
    ("{N} is neither {aA} nor {aB}.", lambda a, b: not (a or b)),
)
OPENERS = (
    "Consider the following argument.",
    "Here is an argument.",
    "Someone argues as follows.",
    "Read the argument below.",
)
_SETTINGS = {  # predicates, (min, max) premises, 3-place forms allowed
    "easy": (3, (2, 2), False),
    "medium": (3, (2, 3), True),
    "hard": (4, (3, 4), True),
}


def _article(phrase: str) -> str:
    return f"{'an' if phrase[0] in 'aeiou' else 'a'} {phrase}"


def _predicate(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"{rng.choice(RELATIONS)} of {rng.choice(PEOPLE)}"
    return f"{rng.choice(CLUB_ROLES)} of {rng.choice(CLUBS)}"


@cache
def _perms(k: int, arity: int) -> list[tuple[int, ...]]:
    return list(itertools.permutations(range(k), arity))


@cache
def _mask(fn: Fn, idx: tuple[int, ...], k: int) -> int:
    """Truth-table bitmask of ``fn`` applied to predicates ``idx`` over all 2^k assignments."""
    mask = 0
    for t, bits in enumerate(itertools.product((False, True), repeat=k)):
        if fn(*(bits[i] for i in idx)):
            mask |= 1 << t
    return mask


def _text(form: tuple[str, Fn], preds: list[str], idx: tuple[int, ...], name: str = "") -> str:
    slots = dict(zip("ABC", idx, strict=False))
    return form[0].format(
        N=name, **{x: preds[i] for x, i in slots.items()}, **{f"a{x}": _article(preds[i]) for x, i in slots.items()}
    )


def _instantiate(
    form: tuple[str, Fn], preds: list[str], idx: tuple[int, ...], k: int, name: str = ""
) -> tuple[str, int]:
    """(sentence, truth-table bitmask over the 2^k predicate assignments)."""
    return _text(form, preds, idx, name), _mask(form[1], idx, k)


def _sample(rng: random.Random, target: Any, difficulty: str) -> Record:
    k, (pmin, pmax), allow3 = _SETTINGS[difficulty]
    preds: list[str] = []
    while len(preds) < k:
        p = _predicate(rng)
        if p not in preds:
            preds.append(p)
    full = (1 << (1 << k)) - 1
    forms = FORMS2 + (FORMS3 if allow3 else ())

    def random_universal() -> tuple[str, int]:
        form = rng.choice(forms)
        arity = 3 if form in FORMS3 else 2
        return _instantiate(form, preds, rng.choice(_perms(k, arity)), k)

    premises = [random_universal() for _ in range(rng.randint(pmin, pmax))]
    universal = full
    for _, m in premises:
        universal &= m
    individual = rng.random() < 0.35
    name = rng.choice(INDIVIDUALS)
    if individual:
        form = rng.choice(INDIV + INDIV2)
        arity = 1 if form in INDIV else 2
        premises.append(_instantiate(form, preds, rng.choice(_perms(k, arity)), k, name))
        allowed = universal & premises[-1][1]
        pool = [(f, 1) for f in INDIV] + [(f, 2) for f in INDIV2]
    else:
        allowed = universal
        pool = [(f, 2) for f in FORMS2] + ([(f, 3) for f in FORMS3] if allow3 else [])
    masks = {m for _, m in premises}
    chosen = None
    for _ in range(40):
        form, arity = rng.choice(pool)
        idx = rng.choice(_perms(k, arity))
        mask = _mask(form[1], idx, k)
        if mask in masks or mask == full:
            continue  # restates a premise, or true whatever the premises
        label = "valid" if (allowed & ~mask & full) == 0 else "invalid"
        chosen = (form, idx, label)
        if target is None or label == target:
            break
    if chosen is None:  # every draw restated a premise: redraw the whole argument
        return {"argument": "", "label": None}
    conclusion, label = _text(chosen[0], preds, chosen[1], name), chosen[2]
    rng.shuffle(premises)
    ordinals = ("First", "Second", "Third", "Fourth", "Fifth")
    body = "\n".join(f"{ordinals[i]} premise: {t}" for i, (t, _) in enumerate(premises))
    argument = f"{rng.choice(OPENERS)}\n{body}\nConclusion: {conclusion}"
    return {"argument": argument, "label": label}


def generate(n: int, seed: int, difficulty: str = "medium") -> list[Record]:
    """``n`` distinct arguments with balanced valid/invalid labels."""
    check_difficulty(difficulty)
    return collect(n, seed, lambda rng, t: _sample(rng, t, difficulty), balance=("valid", "invalid"))
