"""What a fine-tuning configuration will do at each budget, computed before anything runs.

The paper gives every budget the same step cap (500 steps x batch 32, 3.2 epochs of its largest
budget) and stops early on validation loss (every 4 steps, patience 10). Whether a configuration
measures data efficiency follows from a few numbers per budget: the optimizer updates it may run,
the distinct examples those updates see, how often validation runs, and whether early stopping
can end the run at all. This module derives them from the training loop's own rules
(:mod:`dataeff.training.schedule`: ``planned_steps``, ``validation_steps``, and ``batch_indices``,
whose epochs are permutations, so a batch never repeats an example within an epoch) and
:mod:`dataeff.tasks.prepare` (nested budget subsets, validation capped at a fraction of the budget),
so a test or a reader can check a configuration without training.

Standard library only: the Snakefile and ``snakemake -n`` may import it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dataeff.config import load_config

# The training loop's own rules (standard library at import time), so this plan cannot drift from them.
from dataeff.training.schedule import planned_steps, validation_steps


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


def validation_size(budget: int, fraction: float, pool: int | None = None) -> int:
    """Validation rows of a budget: ``ceil(fraction * budget)``, at least 1, at most the pool
    (the rule of :func:`dataeff.tasks.prepare.validation_subset`)."""
    k = max(1, math.ceil(fraction * budget))
    return min(k, pool) if pool is not None else k


def earliest_stop(steps: int, train_cfg: Mapping[str, Any]) -> int | None:
    """The first step at which early stopping can end a run of ``steps`` steps, or None when
    it never can: the first validation always improves (on infinity), so it takes ``patience``
    more validations without improvement, all before the last step."""
    checks = validation_steps(steps, train_cfg)
    need = int(train_cfg["patience"]) + 1
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


def budget_plan(budget: int, config: Mapping[str, Any], pool: int | None = None) -> BudgetPlan:
    """The :class:`BudgetPlan` of ``budget`` under a validated ``config``; ``pool`` is the
    task's training-set size when known (a larger budget trains on the whole pool)."""
    train_cfg = config["train"]
    data_cfg = config.get("data") or {}
    batch = int(train_cfg["batch_size"])
    n = min(int(budget), pool) if pool is not None else int(budget)
    steps = planned_steps(n, train_cfg)
    stop = earliest_stop(steps, train_cfg)
    first = stop if stop is not None else steps
    return BudgetPlan(
        budget=int(budget),
        train_examples=n,
        validation_examples=validation_size(int(budget), float(data_cfg.get("validation_fraction", 0.2))),
        max_updates=steps,
        min_updates=first,
        max_examples_drawn=examples_drawn(n, batch, steps),
        max_distinct=distinct_seen(n, batch, steps),
        min_distinct=distinct_seen(n, batch, first),
        max_epochs=round(examples_drawn(n, batch, steps) / n, 3),
        validations=len(validation_steps(steps, train_cfg)),
        early_stopping_possible=stop is not None,
    )


def schedule(config: Mapping[str, Any], pool: int | None = None) -> list[BudgetPlan]:
    """Plans of every configured budget, smallest first."""
    return [budget_plan(b, config, pool) for b in sorted(config["budgets"])]


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
    """A Markdown table of the plans (for docs and ``python -m dataeff.schedule CONFIG``)."""
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


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dataeff.schedule [CONFIG]``: print the schedule table and any problems."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    config = load_config(args[0] if args else None)
    plans = schedule(config)
    print(format_table(plans))
    problems = schedule_problems(plans)
    for line in problems:
        print(f"problem: {line}")
    for b in early_stop_overlaps(plans):
        print(
            f"note: early stopping may end budget {b} before it sees more distinct examples than "
            "the next smaller budget"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
