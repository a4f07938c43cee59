"""The data schedule of a fine-tune: which examples each step draws, how many steps run, when
validation runs, and what that covers. Pure functions of (pool size, ``train`` settings, seed), so a resumed
run sees the same batches, and the plan of every budget (:func:`budget_plans`) can be checked
before anything trains.

The paper gives every budget the same step cap (500 steps x batch 32, 3.2 epochs of its largest
budget) and stops early on validation loss (every 4 steps, patience 10); whether a configuration
measures data efficiency follows from a few numbers per budget, computed here from the same rules
the loop runs."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dataeff.core.settings import DataSettings, TrainSettings, data_settings, train_settings
from dataeff.tasks.prepare import validation_size


def batch_indices(n: int, batch_size: int, step: int, seed: int) -> list[int]:
    """Indices of the effective batch for ``step``: epochs are seeded permutations, so the
    data order depends only on (seed, step) and a resumed run sees the same batches."""
    import torch

    per_epoch = max(1, math.ceil(n / batch_size))
    epoch, pos = divmod(step, per_epoch)
    g = torch.Generator().manual_seed(seed * 100003 + epoch)
    perm = torch.randperm(n, generator=g).tolist()
    return perm[pos * batch_size : (pos + 1) * batch_size]


def planned_steps(n: int, train: TrainSettings) -> int:
    """Optimizer steps: ``max_steps``, or fewer when ``max_epochs`` over ``n`` examples ends first."""
    steps = int(train.max_steps)
    if train.max_epochs:
        steps = min(steps, math.ceil(train.max_epochs * n / train.batch_size))
    return max(1, steps)


def data_coverage(n: int, batch_size: int, steps: int, seed: int) -> tuple[int, int]:
    """(examples drawn, distinct examples seen) by ``steps`` optimizer steps over ``n`` examples,
    from the same schedule as training (:func:`batch_indices`)."""
    seen: set[int] = set()
    drawn = 0
    for step in range(steps):
        idx = batch_indices(n, batch_size, step, seed)
        drawn += len(idx)
        if len(seen) < n:
            seen.update(idx)
    return drawn, len(seen)


def validation_steps(steps: int, train: TrainSettings) -> list[int]:
    """The steps after which validation loss is computed: every ``eval_every`` and the last."""
    every = int(train.eval_every)
    return sorted(set(range(every, steps + 1, every)) | {steps})


def early_stopping_possible(steps: int, train: TrainSettings) -> bool:
    """Whether early stopping can end a run of ``steps`` steps before its end: it needs more than
    ``patience`` evaluations after the first (which always improves on infinity)."""
    return earliest_stop(steps, train) is not None


# --------------------------------------------------------------------------- the plan per budget
# What a configuration will do at each budget, derived from the rules above before anything runs,
# so a test, ``dataeff schedule`` or a reader can check that it measures data efficiency: a
# larger budget must see more distinct examples and run at least as many updates, every budget
# must see all its examples, and early stopping must be able to end a run. The closed forms below
# follow from :func:`batch_indices` (an epoch is a permutation; tests/test_schedule.py checks them
# against it).


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Steps of one epoch over ``n`` examples (the last batch of an epoch may be short)."""
    return max(1, math.ceil(n / batch_size))


def examples_drawn(n: int, batch_size: int, steps: int) -> int:
    """Examples (with repeats) that ``steps`` updates train on: every epoch draws all ``n``."""
    per_epoch = steps_per_epoch(n, batch_size)
    epochs, rest = divmod(steps, per_epoch)
    return epochs * n + min(rest * batch_size, n)


def distinct_seen(n: int, batch_size: int, steps: int) -> int:
    """Distinct examples ``steps`` updates have seen: an epoch is a permutation, so every new
    step of the first epoch brings ``batch_size`` unseen examples, and one epoch sees all."""
    return min(n, steps * batch_size)


def earliest_stop(steps: int, train: TrainSettings) -> int | None:
    """The first step at which early stopping can end a run of ``steps`` steps, or None when
    it never can: the first validation always improves (on infinity), so it takes ``patience``
    more validations without improvement, all before the last step."""
    checks = validation_steps(steps, train)
    need = int(train.patience) + 1
    if len(checks) <= need:
        return None
    stop = checks[need - 1]
    return stop if stop < steps else None


@dataclass(frozen=True)
class BudgetPlan:
    """What one budget's fine-tune will do (``min_*``: if early stopping ends it at the first
    possible moment; ``max_*``: if it runs to the step cap)."""

    budget: int
    train_examples: int
    validation_examples: int
    max_updates: int
    min_updates: int
    max_examples_drawn: int
    max_distinct: int
    min_distinct: int
    max_epochs: float
    validations: int
    early_stopping_possible: bool


def budget_plan(budget: int, train: TrainSettings, data: DataSettings, pool: int | None = None) -> BudgetPlan:
    """The :class:`BudgetPlan` of ``budget`` under the ``train`` and ``data`` settings; ``pool`` is
    the task's training-set size when known (a larger budget trains on the whole pool)."""
    batch = int(train.batch_size)
    n = min(int(budget), pool) if pool is not None else int(budget)
    steps = planned_steps(n, train)
    stop = earliest_stop(steps, train)
    first = stop if stop is not None else steps
    return BudgetPlan(
        budget=int(budget),
        train_examples=n,
        validation_examples=validation_size(int(budget), float(data.validation_fraction)),
        max_updates=steps,
        min_updates=first,
        max_examples_drawn=examples_drawn(n, batch, steps),
        max_distinct=distinct_seen(n, batch, steps),
        min_distinct=distinct_seen(n, batch, first),
        max_epochs=round(examples_drawn(n, batch, steps) / n, 3),
        validations=len(validation_steps(steps, train)),
        early_stopping_possible=stop is not None,
    )


def budget_plans(config: Mapping[str, Any], pool: int | None = None) -> list[BudgetPlan]:
    """Plans of every budget of a validated ``config``, smallest first."""
    train, data = train_settings(config), data_settings(config)
    return [budget_plan(b, train, data, pool) for b in sorted(config["budgets"])]


def schedule_problems(plans: Sequence[BudgetPlan]) -> list[str]:
    """Why a schedule would not measure data efficiency (empty when it does): a larger budget
    that sees no more distinct examples, or may run fewer updates, than a smaller one; a budget
    that never sees all of its examples; a run that early stopping can never end."""
    out = []
    for small, big in zip(plans, plans[1:], strict=False):
        if big.max_distinct <= small.max_distinct and big.train_examples > small.train_examples:
            out.append(
                f"budget {big.budget} sees {big.max_distinct} distinct examples, no more than "
                f"budget {small.budget} ({small.max_distinct})"
            )
        if big.max_updates < small.max_updates:
            out.append(
                f"budget {big.budget} runs fewer updates ({big.max_updates}) than budget "
                f"{small.budget} ({small.max_updates})"
            )
    for p in plans:
        if p.max_distinct < p.train_examples:
            out.append(
                f"budget {p.budget} never sees all its {p.train_examples} examples "
                f"({p.max_distinct} in {p.max_updates} updates)"
            )
        if not p.early_stopping_possible:
            out.append(f"budget {p.budget}: early stopping can never end its {p.max_updates}-step run")
    return out


def early_stop_overlaps(plans: Sequence[BudgetPlan]) -> list[int]:
    """Budgets that early stopping may end before they have seen more distinct examples than
    the next smaller budget trains on (the stricter guarantee: with none, a larger budget sees
    more distinct examples however early validation stops it)."""
    return [
        big.budget
        for small, big in zip(plans, plans[1:], strict=False)
        if big.train_examples > small.train_examples and big.min_distinct <= small.max_distinct
    ]


def format_table(plans: Sequence[BudgetPlan]) -> str:
    """A Markdown table of the plans (for docs and ``dataeff schedule``)."""
    head = (
        "| budget | train | validation | updates (cap) | earliest stop | examples drawn (cap) "
        "| epochs (cap) | distinct (earliest stop / cap) | validations |"
    )
    rows = [head, "|" + "---|" * 9]
    for p in plans:
        rows.append(
            f"| {p.budget} | {p.train_examples} | {p.validation_examples} | {p.max_updates} "
            f"| {p.min_updates if p.early_stopping_possible else '-'} | {p.max_examples_drawn} "
            f"| {p.max_epochs:g} | {p.min_distinct} / {p.max_distinct} | {p.validations} |"
        )
    return "\n".join(rows)
