"""Typed settings: the validated configuration as frozen dataclasses, one per section.

A stage reads ``settings.train.learning_rate``, not ``config["train"]["learning_rate"]``: a typo is
an AttributeError at the line that makes it (and a type checker sees it), not a KeyError deep in a
job, and nothing downstream can change a setting another stage reads. The classes declare names
and types only. Every default stays in the schema (``workflow/schemas/config.schema.yaml``): a
section is built from the mapping :func:`dataeff.core.schema.section` returns, which the schema has
filled, and ``tests/test_settings.py`` fails if a class and its schema section name different keys.

The dict form stays where a configuration is stored or hashed (a pipeline job's settings file,
provenance's configuration hash); :func:`build` turns a validated section into its class once, at
the edge of a stage.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from dataeff.core.schema import fill_defaults, schema, section

T = TypeVar("T")


@dataclass(frozen=True)
class LoraSettings:
    """LoRA adapters (CoS-Low's gradients; training with ``method: lora``)."""

    r: int
    alpha: float
    dropout: float
    target_modules: tuple[str, ...]


@dataclass(frozen=True)
class TrainSettings:
    """``train``: one fine-tune per (task, budget)."""

    method: str
    lora: LoraSettings | None
    learning_rate: float
    lr_scheduler: str
    warmup_ratio: float
    max_steps: int
    max_epochs: float | None
    batch_size: int
    micro_batch_size: int
    max_seq_len: int
    eval_every: int
    patience: int
    checkpoint_every: int
    keep_models: bool
    weight_decay: float
    max_grad_norm: float
    threads: int
    process_group_timeout_minutes: float


@dataclass(frozen=True)
class EvalSettings:
    """``eval``: greedy decoding of every test split."""

    batch_size: int
    max_new_tokens: int
    max_new_tokens_by_task: Mapping[str, int]
    threads: int
    group: int


@dataclass(frozen=True)
class DataSettings:
    """``data``: splits, generated examples and where task data comes from."""

    generated_examples: int
    difficulty: str
    validation_fraction: float
    test_max: int
    split_seed: int
    hf_home: str | None
    hub_revisions: Mapping[str, Any]
    bbh_dir: str | None
    bigbench_checkout: str | None
    bigbench_sdist: str | None
    bigbench_sha256: str
    bigbench_cache: str
    bigbench_max_target_words: int
    bigbench_paper_tasks: str


@dataclass(frozen=True)
class CoslowSettings:
    """``coslow``: the predictor's pool, picks, gradient pass and spread checks."""

    k: int
    pool_size: int
    low_fraction: float
    low_fraction_by_task: Mapping[str, float]
    seeds: tuple[int, ...]
    max_new_tokens: int
    confidence: str
    batch_size: int
    grad_batch_size: int
    max_seq_len: int
    lora: LoraSettings | None
    spread_resamples: int
    dominant_answer_share: float
    same_output_share: float
    unstable_budget_factor: float


@dataclass(frozen=True)
class CalibrationSettings:
    """``analysis.calibration``: leave-one-task-out coverage of the budget intervals."""

    level: float
    measured: tuple[int, ...]
    neighbours: int
    seed: int
    families: tuple[str, ...]


@dataclass(frozen=True)
class AnalysisSettings:
    """``analysis``: curves, floors, the fit's bootstrap and the budget intervals."""

    published_results: str | None
    reference_results: str | None
    ceilings: str | None
    floor: str
    bootstrap: int
    level: float
    targets: tuple[float, ...]
    coslow_sd: float
    update_sigma: float
    shape_bandwidth: float
    library_sigma: float
    library_jitter: float
    calibration: CalibrationSettings


@dataclass(frozen=True)
class FamilySettings:
    """One entry of ``families``: a model and how to load, train and schedule it."""

    model: str
    revision: str | None
    dtype: str
    attn_implementation: str
    pad_token: str | None
    chat_template: str | None
    gpus: int
    mem_mb: int
    runtime: int
    gpu_mem_gb: float
    precision: str
    coefficients: Mapping[str, Any] | None


#: Section name -> its class (the sections a stage reads through :func:`settings_of`).
SECTIONS: dict[str, type] = {
    "train": TrainSettings,
    "eval": EvalSettings,
    "data": DataSettings,
    "coslow": CoslowSettings,
    "analysis": AnalysisSettings,
}


def _convert(value: Any, hint: Any) -> Any:
    """``value`` as the annotation ``hint`` wants it: a nested settings class, a tuple for a
    list, a read-only mapping for a dict (so a frozen instance is frozen all the way down)."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return _convert(value, inner[0]) if len(inner) == 1 else value
    if dataclasses.is_dataclass(hint):
        return build(hint, value)
    if origin is tuple:
        return tuple(value)
    if origin is Mapping:
        return types.MappingProxyType(dict(value))
    return value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """The resolved annotations of a settings class (resolving them is most of a build's cost,
    and the Snakefile builds sections once per task and rule)."""
    return typing.get_type_hints(cls)


def build(cls: type[T], values: Mapping[str, Any]) -> T:
    """An instance of the settings class ``cls`` from a validated, default-filled mapping.

    Keys the class does not declare are ignored (a job's settings may carry more); a declared
    key that is missing is an error naming it, since the schema fills every default."""
    hints = _hints(cls)
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in values and "None" not in str(hints[f.name])]
    if missing:
        raise KeyError(f"{cls.__name__}: no value for {', '.join(missing)} (validate the config first)")
    return cls(**{f.name: _convert(values.get(f.name), hints[f.name]) for f in dataclasses.fields(cls)})


def settings_of(config: Mapping[str, Any] | None, name: str) -> Any:
    """The typed ``name`` section of ``config`` (or of no config: the schema's defaults)."""
    return build(SECTIONS[name], section(dict(config) if config else None, name))


def train_settings(config: Mapping[str, Any] | None) -> TrainSettings:
    """``train`` of ``config``, typed."""
    return settings_of(config, "train")


def eval_settings(config: Mapping[str, Any] | None) -> EvalSettings:
    """``eval`` of ``config``, typed."""
    return settings_of(config, "eval")


def data_settings(config: Mapping[str, Any] | None) -> DataSettings:
    """``data`` of ``config``, typed."""
    return settings_of(config, "data")


def coslow_settings(config: Mapping[str, Any] | None) -> CoslowSettings:
    """``coslow`` of ``config``, typed."""
    return settings_of(config, "coslow")


def analysis_settings(config: Mapping[str, Any] | None) -> AnalysisSettings:
    """``analysis`` of ``config``, typed."""
    return settings_of(config, "analysis")


def family_settings(entry: Mapping[str, Any]) -> FamilySettings:
    """One ``families`` entry, typed, with the schema's defaults filled in (an entry of a
    validated configuration already has them; a bare ``{"model": ...}`` gets them here)."""
    root = schema()
    node = root["properties"]["families"]["additionalProperties"]
    return build(FamilySettings, fill_defaults(dict(entry), node, root))


def to_dict(settings: Any) -> dict[str, Any]:
    """A settings instance as the plain mapping it was built from (lists for tuples, dicts for
    read-only mappings), for the places that store or hash settings as JSON."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, Mapping):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        return value

    return plain(settings)
