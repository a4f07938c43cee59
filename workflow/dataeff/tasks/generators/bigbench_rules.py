"""BIG-bench's own generation rules, for topping up a real BIG-bench copy to the authors' sizes.

The sibling modules of this package are dataeff's procedural families, graded by difficulty, that
stand in for a task when no BIG-bench copy exists (``bigbench_paper_tasks: generators``). This
module instead follows each task's published rule and vocabulary, so the examples it adds to a
real ``task.json`` (``data.bigbench_checkout`` or ``data.bigbench_sdist``) are drawn as the task's
authors drew theirs: the two answer different questions and are kept apart on purpose.

Written from each task's described rule (dataeff's own code); the vocabularies come from the
task's own files in the sdist (``vocab.json``, ``generate_task.py``'s ``DATA``, ``task.py``'s
``_names``), read with :mod:`ast`/:mod:`json`, never executed.

* sports_understanding: an athlete and an action (optionally "in the <game>", the game of the
  action's sport) are plausible exactly when athlete and action belong to the same sport.
* object_counting: "I have <items>. How many <kind> do I have?" with 2-10 distinct items of one
  kind, each counted 1-5 times (weights 80/10/6/3/1), and in a quarter of the non-"objects"
  questions 1-3 decoy items of another kind; the answer counts only the asked kind.
* web_of_lies: a chain "A lies. B says A tells the truth. ..." of 1, 2, 4 or 8 statements about
  shuffled names; the question asks whether the last person tells the truth.
* boolean_expressions: expressions over True/False/and/or/not/parentheses of 1..10 tokens,
  drawn without replacement, about equally many of each length while a length has unused
  expressions; the answer is the expression's value under Python's precedence.

Every generator takes a ``random.Random`` and an ``exclude`` set of inputs (the task's real
examples), and returns distinct records ``{"input", "label"}`` not in ``exclude``.
"""

from __future__ import annotations

import ast
import itertools
import random
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from dataeff.core.errors import DataeffError

Record = dict[str, Any]

#: Patience of the rejection loops: draws in a row that may all be duplicates.
_PATIENCE = 10_000


def _draw_distinct(n: int, rng: random.Random, exclude: set[str], draw: Any, what: str) -> list[Record]:
    """``n`` records from ``draw(rng, i)`` whose inputs are distinct and not in ``exclude``."""
    out: list[Record] = []
    seen = set(exclude)
    misses = 0
    while len(out) < n:
        rec = draw(rng, len(out))
        if rec["input"] in seen:
            misses += 1
            if misses > _PATIENCE:
                raise DataeffError(
                    f"{what}: only {len(out)} distinct examples could be generated, {n} were asked for",
                    field="examples",
                    fix="ask for fewer examples",
                )
            continue
        misses = 0
        seen.add(rec["input"])
        out.append(rec)
    return out


def _balanced(n: int, rng: random.Random, labels: Sequence[str]) -> list[str]:
    targets = [labels[i % len(labels)] for i in range(n)]
    rng.shuffle(targets)
    return targets


def python_literal(source: str, name: str) -> Any:
    """The literal value assigned to ``name`` (module or class level) in Python ``source``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise DataeffError(
        f"no literal '{name}' in the BIG-bench source file",
        field=name,
        fix="check data.bigbench_sha256: the sdist is not bigbench 1.0.0",
    )


# --------------------------------------------------------------------------- sports_understanding


def sports_sentences(
    vocab: Mapping[str, Any], n: int, rng: random.Random, exclude: set[str], game_fraction: float
) -> list[Record]:
    """Sentences "<athlete> <action>[ in the <game>]", label "1" (plausible) or "0", 50/50."""
    sports = list(vocab["sports"])
    players, actions, games = vocab["players"], vocab["player_actions"], vocab["games"]
    targets = _balanced(n, rng, ("1", "0"))

    def draw(r: random.Random, i: int) -> Record:
        sport = r.choice(sports)
        player = r.choice(players[sport])
        act_sport = sport if targets[i] == "1" else r.choice([s for s in sports if s != sport])
        text = f"{player} {r.choice(actions[act_sport])}"
        if r.random() < game_fraction:
            text += f" in the {r.choice(games[act_sport])}"
        return {"input": text, "label": targets[i]}

    return _draw_distinct(n, rng, exclude, draw, "sports_understanding")


def sports_label(vocab: Mapping[str, Any], sentence: str) -> str | None:
    """ "1"/"0" for a sentence built from ``vocab`` (athlete's sport == action's sport), else None."""
    sport_of_player = {p: s for s, ps in vocab["players"].items() for p in ps}
    sport_of_action = {a: s for s, acts in vocab["player_actions"].items() for a in acts}
    games = {g for gs in vocab["games"].values() for g in gs}
    for player, sport in sport_of_player.items():
        if not sentence.startswith(player + " "):
            continue
        rest = sentence[len(player) + 1 :]
        for action, act_sport in sport_of_action.items():
            if rest == action or (rest.startswith(action + " in the ") and rest[len(action) + 8 :] in games):
                return "1" if sport == act_sport else "0"
    return None


# --------------------------------------------------------------------------- object_counting

_IRREGULAR = {"mouse": "mice", "fish": "fish", "potato": "potatoes"}
_COUNT_WORDS = ("two", "three", "four", "five")
_COUNT_WEIGHTS = (80, 10, 6, 3, 1)  # counts 1..5, as the task's generator describes


def plural(noun: str) -> str:
    """English plural of the task's nouns ("head of broccoli" -> "heads of broccoli")."""
    head, sep, tail = noun.partition(" of ")
    if sep:
        return f"{plural(head)} of {tail}"
    if noun in _IRREGULAR:
        return _IRREGULAR[noun]
    if noun.endswith("y") and noun[-2:-1] not in set("aeiou"):
        return noun[:-1] + "ies"
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    return noun + "s"


def _counted(noun: str, count: int) -> str:
    if count == 1:
        return ("an " if noun[0] in "aeiou" else "a ") + noun
    return f"{_COUNT_WORDS[count - 2]} {plural(noun)}"


def counting_questions(
    kinds: Mapping[str, Sequence[str]], n: int, rng: random.Random, exclude: set[str]
) -> list[Record]:
    """Object-counting questions; label = the number of items of the asked kind, in digits."""
    names = list(kinds)

    def draw(r: random.Random, _i: int) -> Record:
        kind = r.choice(names)
        k = r.randint(2, 10)
        nouns = r.sample(list(kinds[kind]), min(k, len(kinds[kind])))
        counts = r.choices(range(1, 6), weights=_COUNT_WEIGHTS, k=len(nouns))
        items = [_counted(w, c) for w, c in zip(nouns, counts, strict=True)]
        if kind != "objects" and r.random() < 0.25:
            other = r.choice([x for x in names if x != kind])
            decoys = r.sample(list(kinds[other]), r.randint(1, 3))
            items += [
                _counted(w, c)
                for w, c in zip(decoys, r.choices(range(1, 6), weights=_COUNT_WEIGHTS, k=len(decoys)), strict=True)
            ]
            r.shuffle(items)
        items[-1] = "and " + items[-1]
        return {"input": f"I have {', '.join(items)}. How many {kind} do I have?", "label": str(sum(counts))}

    return _draw_distinct(n, rng, exclude, draw, "object_counting")


# --------------------------------------------------------------------------- web_of_lies

WEB_OF_LIES_LENGTHS = (1, 2, 4, 8)  # task.py's default numbers of statements


def web_of_lies(names: Sequence[str], n: int, rng: random.Random, exclude: set[str]) -> list[Record]:
    """Chains of truth-tellers and liars; label "True" when the last person tells the truth."""
    targets = _balanced(n, rng, ("True", "False"))

    def draw(r: random.Random, i: int) -> Record:
        length = r.choice(WEB_OF_LIES_LENGTHS)
        people = r.sample(list(names), length)
        truthful = [r.random() < 0.5 for _ in people]
        # Make the last person's truthfulness the balanced target.
        truthful[-1] = targets[i] == "True"
        sentences = [f"{people[0]} {'tells the truth' if truthful[0] else 'lies'}."]
        for j in range(1, length):
            # j tells the truth iff j's claim about j-1 is right.
            claim = truthful[j - 1] if truthful[j] else not truthful[j - 1]
            sentences.append(f"{people[j]} says {people[j - 1]} {'tells the truth' if claim else 'lies'}.")
        question = " ".join(sentences) + f" Does {people[-1]} tell the truth?"
        return {"input": question, "label": targets[i]}

    return _draw_distinct(n, rng, exclude, draw, "web_of_lies")


# --------------------------------------------------------------------------- boolean_expressions

BOOLEAN_MAX_TOKENS = 10
_CONSTANTS = ("False", "True")
_AFTER = {  # which tokens may follow which (start: anything that can begin an operand)
    "start": ("(", "False", "True", "not"),
    "not": ("(", "False", "True", "not"),
    "and": ("(", "False", "True", "not"),
    "or": ("(", "False", "True", "not"),
    "(": ("(", "False", "True", "not"),
    "False": (")", "and", "or"),
    "True": (")", "and", "or"),
    ")": (")", "and", "or"),
}


def boolean_expressions_of_length(length: int) -> Iterator[tuple[str, ...]]:
    """Every well-formed expression of exactly ``length`` tokens, in a fixed order."""

    def grow(prefix: tuple[str, ...], last: str, depth: int) -> Iterator[tuple[str, ...]]:
        if len(prefix) == length:
            if depth == 0 and last in (*_CONSTANTS, ")"):
                yield prefix
            return
        for tok in _AFTER[last]:
            d = depth + (tok == "(") - (tok == ")")
            if d < 0 or d > length - len(prefix) - 1:
                continue
            yield from grow(prefix + (tok,), tok, d)

    yield from grow((), "start", 0)


def evaluate_boolean(tokens: Sequence[str]) -> bool:
    """Value of a token sequence with ``not`` > ``and`` > ``or`` (recursive descent)."""
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take(expected: str | None = None) -> str:
        nonlocal pos
        tok = tokens[pos]
        if expected is not None and tok != expected:
            raise ValueError(f"expected {expected}, got {tok}")
        pos += 1
        return tok

    def disjunction() -> bool:
        value = conjunction()
        while peek() == "or":
            take()
            right = conjunction()
            value = value or right
        return value

    def conjunction() -> bool:
        value = negation()
        while peek() == "and":
            take()
            right = negation()
            value = value and right
        return value

    def negation() -> bool:
        if peek() == "not":
            take()
            return not negation()
        if peek() == "(":
            take()
            value = disjunction()
            take(")")
            return value
        return take() == "True"

    result = disjunction()
    if pos != len(tokens):
        raise ValueError("trailing tokens")
    return result


def boolean_expressions(n: int, rng: random.Random, exclude: set[str]) -> list[Record]:
    """``n`` distinct expressions, lengths as even as the space allows; label "True"/"False"."""
    pools = []
    for length in range(1, BOOLEAN_MAX_TOKENS + 1):
        exprs = [" ".join(t) for t in boolean_expressions_of_length(length)]
        exprs = [e for e in exprs if e not in exclude]
        rng.shuffle(exprs)
        pools.append(exprs)
    total = sum(len(p) for p in pools)
    if n > total:
        raise DataeffError(
            f"boolean_expressions: only {total} distinct expressions of up to "
            f"{BOOLEAN_MAX_TOKENS} tokens, {n} were asked for",
            field="examples",
            fix="ask for fewer examples",
        )
    # Equal quota per length; what short lengths cannot fill goes to the longer ones.
    quota = [0] * len(pools)
    left = n
    open_ = [i for i in range(len(pools))]
    while left:
        share = max(1, left // len(open_))
        for i in list(open_):
            take = min(share, len(pools[i]) - quota[i], left)
            quota[i] += take
            left -= take
            if quota[i] == len(pools[i]):
                open_.remove(i)
            if not left:
                break
    chosen = list(itertools.chain.from_iterable(p[:q] for p, q in zip(pools, quota, strict=True)))
    rng.shuffle(chosen)
    return [{"input": e, "label": str(evaluate_boolean(e.split()))} for e in chosen]
