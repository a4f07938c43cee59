"""Generated task families: labels checked by independent solvers, determinism, size, balance."""

from __future__ import annotations

import importlib
import itertools
import re
from collections import Counter

import pytest

from dataeff.core.errors import DataeffError

FAMILIES = (
    "boolean_expressions",
    "web_of_lies",
    "object_counting",
    "tracking_shuffled_objects",
    "reasoning_about_colored_objects",
    "hyperbaton",
    "formal_fallacies_syllogisms_negation",
    "temporal_sequences",
    "mnist_ascii",
)
BINARY = {
    "boolean_expressions": ("True", "False"),
    "web_of_lies": ("True", "False"),
    "hyperbaton": ("(A)", "(B)"),
    "formal_fallacies_syllogisms_negation": ("valid", "invalid"),
}
DIFFS = ("easy", "medium", "hard")


def gen(name: str):
    return importlib.import_module(f"dataeff.tasks.generators.{name}")


def letter_index(label: str) -> int:
    assert re.fullmatch(r"\([A-Z]\)", label), label
    return ord(label[1]) - ord("A")


def parse_options(text: str) -> list[str]:
    return re.findall(r"^\([A-Z]\) (.+)$", text.split("Options:\n", 1)[1], flags=re.M)


# ----------------------------------------------------------------- generic properties


@pytest.mark.parametrize("name", FAMILIES)
def test_deterministic_and_seed_sensitive(name):
    a = gen(name).generate(50, seed=7, difficulty="medium")
    b = gen(name).generate(50, seed=7, difficulty="medium")
    c = gen(name).generate(50, seed=8, difficulty="medium")
    assert a == b
    assert a != c


@pytest.mark.parametrize("name", FAMILIES)
def test_six_thousand_distinct(name):
    recs = gen(name).generate(6000, seed=123, difficulty="medium")
    assert len(recs) == 6000
    keys = {tuple(sorted((k, str(v)) for k, v in r.items() if k != "source_index")) for r in recs}
    assert len(keys) == 6000
    assert all(isinstance(r["label"], str) and r["label"] and "\n" not in r["label"] for r in recs)
    if name in BINARY:
        counts = Counter(r["label"] for r in recs)
        assert set(counts) == set(BINARY[name])
        assert counts[BINARY[name][0]] == 3000


@pytest.mark.parametrize("name", FAMILIES)
def test_bad_difficulty(name):
    with pytest.raises(DataeffError, match="difficulty"):
        gen(name).generate(5, seed=1, difficulty="impossible")


@pytest.mark.parametrize("name", FAMILIES)
def test_zero_and_small(name):
    assert gen(name).generate(0, seed=1) == []
    assert len(gen(name).generate(3, seed=1, difficulty="easy")) == 3


def test_difficulty_changes_size():
    be = gen("boolean_expressions")
    lengths = {d: sum(len(r["expression"]) for r in be.generate(200, 1, d)) for d in DIFFS}
    assert lengths["easy"] < lengths["medium"] < lengths["hard"]
    tso = gen("tracking_shuffled_objects")
    n_opts = {d: len(parse_options(tso.generate(1, 1, d)[0]["question"])) for d in DIFFS}
    assert n_opts == {"easy": 3, "medium": 5, "hard": 7}


# ----------------------------------------------------------------- independent solvers


@pytest.mark.parametrize("difficulty", DIFFS)
def test_boolean_expressions_solver(difficulty):
    for r in gen("boolean_expressions").generate(300, 3, difficulty):
        tokens = r["expression"].split()
        assert set(tokens) <= {"True", "False", "not", "and", "or", "(", ")"}
        assert str(eval(r["expression"], {"__builtins__": {}})) == r["label"]  # noqa: S307


@pytest.mark.parametrize("difficulty", DIFFS)
def test_web_of_lies_solver(difficulty):
    for r in gen("web_of_lies").generate(300, 3, difficulty):
        text = r["question"].removeprefix("Question: ")
        body, asked = text.rsplit(" Does ", 1)
        asked = asked.removesuffix(" tell the truth?")
        truth, claims = {}, {}
        for sentence in re.findall(r"[^.]+\.", body):
            s = sentence.strip().rstrip(".")
            m = re.fullmatch(r"(\w+) says (\w+) (lies|tells the truth)", s)
            if m:
                claims[m[1]] = (m[2], m[3] == "tells the truth")
            else:
                m = re.fullmatch(r"(\w+) (lies|tells the truth)", s)
                truth[m[1]] = m[2] == "tells the truth"
        while asked not in truth:
            for speaker, (about, says_truthful) in claims.items():
                if speaker not in truth and about in truth:
                    truth[speaker] = truth[about] == says_truthful
        assert str(truth[asked]) == r["label"]


_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}


@pytest.mark.parametrize("difficulty", DIFFS)
def test_object_counting_solver(difficulty):
    cats = gen("object_counting").CATEGORIES
    noun_cat = {form: cat for cat, nouns in cats.items() for pair in nouns for form in pair}
    for r in gen("object_counting").generate(300, 3, difficulty):
        m = re.fullmatch(r"I have (.+)\. How many (.+) do I have\?", r["question"])
        listing, asked = m[1], m[2]
        parts = [p.strip() for p in re.split(r",(?: and)? ", listing)]
        total = 0
        for part in parts:
            qty, noun = part.split(" ", 1)
            if noun_cat[noun] == asked:
                total += _WORDS[qty]
        assert str(total) == r["label"]


@pytest.mark.parametrize("difficulty", DIFFS)
def test_tracking_shuffled_objects_solver(difficulty):
    for r in gen("tracking_shuffled_objects").generate(300, 3, difficulty):
        text = r["question"]
        options = parse_options(text)
        first_line = text.split("\n", 1)[0]
        holdings = re.findall(
            r"(\w+) (?:has an?|gets) (.+?)(?:,| present| ball|\.$)(?: and)?", first_line.split(": ", 1)[1]
        )
        holding = {p: x for p, x in holdings}
        for a, b in re.findall(r"(?:First|Then|Finally), (\w+) and (\w+) swap", text):
            holding[a], holding[b] = holding[b], holding[a]
        asked = re.search(r"At the end of the \w+, (\w+) has", text)[1]
        answer = options[letter_index(r["label"])]
        assert answer.split(" ball")[0].split(" present")[0] == holding[asked]


@pytest.mark.parametrize("difficulty", DIFFS)
def test_reasoning_about_colored_objects_solver(difficulty):
    colors = gen("reasoning_about_colored_objects").COLORS
    color_re = "|".join(sorted(colors, key=len, reverse=True))
    for r in gen("reasoning_about_colored_objects").generate(300, 3, difficulty):
        text, _ = r["question"].split("\nOptions:\n")
        options = parse_options(r["question"])
        scene, question = (
            text.split(": ", 1)[-1].rsplit(". ", 1)
            if "arranged" in text
            else text.split(", I see ", 1)[1].rsplit(". ", 1)
        )
        items = [
            (m[1], m[2])
            for m in (re.fullmatch(rf"an? ({color_re}) (.+)", p.strip()) for p in re.split(r",(?: and)? ", scene))
        ]
        answer = options[letter_index(r["label"])]
        if m := re.fullmatch(r"What color is the (.+)\?", question):
            expected = next(c for c, o in items if o == m[1])
        elif m := re.fullmatch(r"What is the color of the item directly to the (right|left) of the (.+)\?", question):
            i = next(j for j, (_, o) in enumerate(items) if o == m[2])
            expected = items[i + 1 if m[1] == "right" else i - 1][0]
        else:
            m = re.fullmatch(r"How many (\w+) items do you see\?", question)
            count = sum(c == m[1] for c, _ in items)
            expected = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight")[count]
        assert answer == expected, (r, expected)


_ORDER = ["opinion", "size", "age", "shape", "color", "origin", "material", "purpose"]


@pytest.mark.parametrize("difficulty", DIFFS)
def test_hyperbaton_solver(difficulty):
    lexicon = {w: cat for cat, words in gen("hyperbaton").ADJECTIVES.items() for w in words}
    for r in gen("hyperbaton").generate(300, 3, difficulty):
        good = []
        for option in parse_options(r["question"]):
            ranks = [_ORDER.index(lexicon[w]) for w in option.split()[:-1]]
            good.append(ranks == sorted(ranks))
        assert sum(good) == 1
        assert letter_index(r["label"]) == good.index(True)


# Formal fallacies: parse every sentence into a truth function and brute-force validity.
_A = r"an? (.+?)"
_UNIV = [
    (rf"Every (.+?) who is {_A} is also {_A}", lambda a, b, c: not (a and b) or c),
    (rf"Every (.+?) is either {_A} or {_A}, or both", lambda a, b, c: (not a) or b or c),
    (rf"Whoever is neither {_A} nor {_A} is {_A}", lambda a, b, c: a or b or c),
    (rf"Every (.+?) is {_A} and {_A}", lambda a, b, c: (not a) or (b and c)),
    (rf"Every (.+?) is {_A}", lambda a, b: (not a) or b),
    (rf"No (.+?) is {_A}", lambda a, b: not (a and b)),
    (rf"Whoever is not {_A} is not {_A}", lambda a, b: a or not b),
    (rf"Whoever is not {_A} is {_A}", lambda a, b: a or b),
    (rf"Whoever is {_A} is not {_A}", lambda a, b: not (a and b)),
    (rf"Being {_A} is necessary for being {_A}", lambda b, a: (not a) or b),
    (rf"Being {_A} is sufficient for being {_A}", lambda a, b: (not a) or b),
    (rf"Nobody is neither {_A} nor {_A}", lambda a, b: a or b),
]
_IND = [
    (rf"(\w+) is neither {_A} nor {_A}", lambda a, b: not (a or b)),
    (rf"(\w+) is not {_A}", lambda a: not a),
    (rf"(\w+) is {_A} or {_A}", lambda a, b: a or b),
    (rf"(\w+) is {_A}", lambda a: a),
]


def _parse(sentence: str):
    s = sentence.rstrip(".")
    for pattern, fn in _UNIV:
        if m := re.fullmatch(pattern, s):
            return "univ", fn, m.groups()
    for pattern, fn in _IND:
        if m := re.fullmatch(pattern, s):
            return "ind", fn, m.groups()[1:]
    raise AssertionError(f"unparsed: {sentence}")


@pytest.mark.parametrize("difficulty", DIFFS)
def test_formal_fallacies_solver(difficulty):
    for r in gen("formal_fallacies_syllogisms_negation").generate(200, 3, difficulty):
        lines = r["argument"].split("\n")[1:]
        premises = [_parse(x.split(": ", 1)[1]) for x in lines[:-1]]
        kind, cfn, cargs = _parse(lines[-1].removeprefix("Conclusion: "))
        preds = sorted({p for _, _, args in [*premises, (kind, cfn, cargs)] for p in args})
        valid = True
        for bits in itertools.product((False, True), repeat=len(preds)):
            v = dict(zip(preds, bits, strict=True))
            if not all(fn(*(v[p] for p in args)) for _, fn, args in premises):
                continue
            if not cfn(*(v[p] for p in cargs)):
                valid = False
                break
        assert ("valid" if valid else "invalid") == r["label"], r["argument"]


def _hour(text: str) -> int:
    h, suffix = int(text[:-2]), text[-2:]
    return h % 12 + (12 if suffix == "pm" else 0)


@pytest.mark.parametrize("difficulty", DIFFS)
def test_temporal_sequences_solver(difficulty):
    for r in gen("temporal_sequences").generate(300, 3, difficulty):
        text = r["question"]
        wake = _hour(re.search(r"woke up at (\d+[ap]m)", text)[1])
        close = _hour(re.search(r"closed after (\d+[ap]m)", text)[1])
        spans = re.findall(r"saw \w+ .+ from (\d+[ap]m) to (\d+[ap]m)\.", text)
        busy = [(_hour(a), _hour(b)) for a, b in spans]
        free = []
        for option in parse_options(text):
            a, b = (_hour(x) for x in option.split(" to "))
            ok = wake <= a < b <= close and all(b <= s or a >= e for s, e in busy)
            free.append(ok)
        assert sum(free) == 1
        assert letter_index(r["label"]) == free.index(True)


@pytest.mark.parametrize("difficulty", DIFFS)
def test_mnist_ascii_labels(difficulty):
    from sklearn.datasets import load_digits

    targets = load_digits().target
    ramp = gen("mnist_ascii").RAMP
    for r in gen("mnist_ascii").generate(300, 3, difficulty):
        assert r["label"] == str(targets[r["source_index"]])
        rows = r["image"].split("\n")
        assert len(rows) == 10 and all(len(x) == 10 and set(x) <= set(ramp) for x in rows)
