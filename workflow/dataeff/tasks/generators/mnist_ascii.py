"""MNIST-style digits rendered as ASCII art (sklearn's 8x8 ``load_digits`` images).

Each image is placed at a random offset on a 10x10 canvas, optionally perturbed with
intensity noise, and each pixel's intensity (0-16) is mapped to a character of
``".,:-=+*#%@"`` (light to dark; no spaces, so no line is blank). 1797 source images x 9
offsets x noise give far more than
6000 distinct renderings. Label: the digit ``"0"``-``"9"`` (sklearn's target); records keep
``source_index`` (index into ``load_digits()``) for verification. Difficulty: easy no noise,
medium light noise, hard heavier noise and random dimming.
"""

from __future__ import annotations

import random
from functools import cache
from typing import Any

import numpy as np

from dataeff.tasks.generators import Record, check_difficulty, collect

RAMP = ".,:-=+*#%@"
CANVAS = 10
_NOISE = {"easy": 0.0, "medium": 1.5, "hard": 3.0}


@cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images.astype(np.float64), d.target.astype(int)


def render(image: np.ndarray) -> str:
    """ASCII art of an intensity image with values in [0, 16]."""
    idx = np.clip(np.rint(image / 16.0 * (len(RAMP) - 1)), 0, len(RAMP) - 1).astype(int)
    return "\n".join("".join(RAMP[i] for i in row) for row in idx)


def _sample(rng: random.Random, target: Any, difficulty: str) -> Record:
    images, labels = _digits()
    i = rng.randrange(len(images))
    canvas = np.zeros((CANVAS, CANVAS))
    dy, dx = rng.randrange(CANVAS - 7), rng.randrange(CANVAS - 7)
    img = images[i].copy()
    sigma = _NOISE[difficulty]
    if sigma:
        nrng = np.random.default_rng(rng.getrandbits(63))
        img = img + nrng.normal(0.0, sigma, img.shape)
        if difficulty == "hard":
            img = img * rng.uniform(0.7, 1.0)
    canvas[dy : dy + 8, dx : dx + 8] = img
    return {"image": render(np.clip(canvas, 0, 16)), "label": str(int(labels[i])), "source_index": i}


def generate(n: int, seed: int, difficulty: str = "medium") -> list[Record]:
    """``n`` distinct ASCII digit images; label is the digit."""
    check_difficulty(difficulty)
    return collect(n, seed, lambda rng, t: _sample(rng, t, difficulty), key=lambda r: (r["image"], r["label"]))
