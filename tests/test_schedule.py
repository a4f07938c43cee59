"""The training schedule of every shipped config measures data efficiency.

A larger budget must train on more distinct examples and run at least as many updates as a
smaller one, every budget must see all of its examples before the step cap, and validation must
run often enough that early stopping can end a run. The numbers come from
:mod:`dataeff.training.schedule`'s closed forms, checked here against the training loop's own data
order (:func:`dataeff.training.schedule.batch_indices`).
"""

from __future__ import annotations

import dataclasses
import math

import pytest

from dataeff.core.config import REPO_ROOT
from dataeff.core.settings import train_settings
from dataeff.pipeline.config import load_config
from dataeff.tasks.prepare import validation_size
from dataeff.training.schedule import budget_plans as schedule
from dataeff.training.schedule import (
    distinct_seen,
    earliest_stop,
    early_stop_overlaps,
    examples_drawn,
    schedule_problems,
)

SHIPPED = ["config.yaml", "study.yaml", "paper.yaml"]
#: Configs of this project's CPU protocol: early stopping can never end a larger budget before
#: it has seen more distinct examples than the next smaller budget trains on.
CPU_PROTOCOL = ["config.yaml", "study.yaml"]


def _config(name: str) -> dict:
    return load_config(REPO_ROOT / "config" / name)


@pytest.mark.parametrize(
    ("n", "batch", "steps"), [(16, 8, 5), (50, 32, 7), (256, 8, 104), (7, 3, 11), (128, 8, 9), (100, 32, 1)]
)
def test_coverage_matches_the_training_data_order(n: int, batch: int, steps: int) -> None:
    from dataeff.training.schedule import batch_indices

    seen: set[int] = set()
    drawn = 0
    for step in range(steps):
        idx = batch_indices(n, batch, step, seed=123)
        drawn += len(idx)
        seen.update(idx)
    assert distinct_seen(n, batch, steps) == len(seen)
    assert examples_drawn(n, batch, steps) == drawn


@pytest.mark.parametrize("name", SHIPPED)
def test_validation_follows_the_split_code(name: str) -> None:
    from dataeff.tasks.prepare import validation_subset

    cfg = _config(name)
    for b in cfg["budgets"]:
        rows = [{"id": i} for i in range(max(cfg["budgets"]))]
        fraction = cfg["data"]["validation_fraction"]
        assert validation_size(b, fraction) == len(validation_subset(rows, b, fraction))
        assert validation_size(b, fraction) <= max(1, math.ceil(0.2 * b))  # METHOD.md: capped at 20%


def test_early_stopping_needs_patience_validations_after_the_first() -> None:
    def train(eval_every: int, patience: int):
        return dataclasses.replace(train_settings(None), eval_every=eval_every, patience=patience)

    assert earliest_stop(500, train(4, 10)) == 44  # the paper: first check at 4, ten more without improvement
    assert earliest_stop(10, train(5, 3)) is None  # two checks: can never stop
    assert earliest_stop(104, train(8, 3)) == 32


@pytest.mark.parametrize("name", SHIPPED)
def test_larger_budgets_see_more_distinct_examples_and_no_fewer_updates(name: str) -> None:
    plans = schedule(_config(name))
    assert len(plans) >= 2
    assert schedule_problems(plans) == []
    for small, big in zip(plans, plans[1:], strict=False):
        assert big.max_distinct > small.max_distinct
        assert big.max_examples_drawn >= small.max_examples_drawn
        assert big.max_updates >= small.max_updates
    assert all(p.max_distinct == p.train_examples for p in plans)
    assert all(p.early_stopping_possible for p in plans)


@pytest.mark.parametrize("name", CPU_PROTOCOL)
def test_cpu_protocol_keeps_budgets_apart_even_when_stopped_early(name: str) -> None:
    cfg = _config(name)
    plans = schedule(cfg)
    assert early_stop_overlaps(plans) == []
    for small, big in zip(plans, plans[1:], strict=False):
        assert big.min_distinct > small.max_distinct
    # The paper's proportion: one step cap for every budget, about 3.2 epochs of the largest.
    assert len({p.max_updates for p in plans}) == 1
    assert 3.0 <= plans[-1].max_epochs <= 3.5


def test_paper_protocol_can_stop_its_largest_budget_early() -> None:
    """The paper's 44-step earliest stop sees 1 408 distinct examples: fewer than budget 2500
    trains on, which is why the CPU protocol lengthens patience relative to its grid."""
    assert early_stop_overlaps(schedule(_config("paper.yaml"))) == [5000]


def test_the_old_default_schedule_is_caught() -> None:
    """max_steps 10 x batch 4 capped budgets 64 and 128 at the same 40 examples (issue 15)."""
    cfg = _config("config.yaml")
    cfg["budgets"] = [16, 32, 64, 128]
    cfg["train"].update(max_steps=10, max_epochs=2, batch_size=4, eval_every=5, patience=3)
    plans = schedule(cfg)
    assert [p.max_distinct for p in plans] == [16, 32, 40, 40]
    problems = schedule_problems(plans)
    assert any("budget 128 sees 40 distinct examples" in p for p in problems)
    assert any("early stopping can never end" in p for p in problems)
