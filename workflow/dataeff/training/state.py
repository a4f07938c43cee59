"""The training-state record: everything besides weights, optimizer and RNG that a resumed run
needs to continue exactly where a killed one stopped, and the early-stopping decision.

Every rank holds the same record: it changes only through values reduced across ranks (the
step's loss, the validation loss), so every decision taken from it (keep a new best, stop
early, save) is taken by all ranks together and no collective is left waiting.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from dataeff.core.provenance import stable_hash
from dataeff.core.settings import FamilySettings, TrainSettings, to_dict

#: Family keys that describe the cluster, not the training run: changing them keeps a checkpoint.
NOT_FINGERPRINTED_FAMILY_KEYS = ("coefficients", "mem_mb", "runtime")
#: Train keys that do not change the result (threads, how long ranks wait for each other).
NOT_FINGERPRINTED_TRAIN_KEYS = ("threads", "process_group_timeout_minutes")


def fingerprint(
    *,
    train: TrainSettings,
    family: FamilySettings,
    seed: int,
    train_rows: list[dict[str, Any]],
    val_rows: list[dict[str, Any]],
    precision: str,
) -> str:
    """Identity of a run: a checkpoint is resumed only by the run that wrote it (same settings,
    seed, data and precision used). Threads and the process-group timeout do not change the
    result, so changing them keeps it. The settings are hashed in their dict form
    (:func:`dataeff.core.settings.to_dict`), as the validated config holds them."""
    return stable_hash(
        {
            "train": {k: v for k, v in to_dict(train).items() if k not in NOT_FINGERPRINTED_TRAIN_KEYS},
            "family": {k: v for k, v in to_dict(family).items() if k not in NOT_FINGERPRINTED_FAMILY_KEYS},
            "seed": seed,
            "train_rows": train_rows,
            "val_rows": val_rows,
            "precision": precision,
        }
    )


@dataclass
class TrainState:
    """Progress of one fine-tune (JSON-serialisable, written into every checkpoint)."""

    fingerprint: str
    step: int = 0
    best_loss: float = math.inf
    best_step: int = 0
    bad_evals: int = 0
    evaluations: int = 0
    tokens: int = 0
    answer_tokens: int = 0
    train_seconds: float = 0.0
    resumed_from: int | None = None
    stop_reason: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def observe_validation(self, loss: float) -> bool:
        """Record a validation loss after ``self.step``; True when it is a new best."""
        self.evaluations += 1
        if loss < self.best_loss:
            self.best_loss, self.best_step, self.bad_evals = loss, self.step, 0
            return True
        self.bad_evals += 1
        return False

    def should_stop(self, patience: int) -> bool:
        """Early stopping: ``patience`` evaluations in a row without improvement."""
        if self.bad_evals >= patience:
            self.stop_reason = "early_stopping"
            return True
        return False

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> TrainState:
        return cls(**json.loads(text))
