"""The 30 tasks of the paper (METHOD.md section 5) plus user-defined tasks from the config.

Each task is a :class:`TaskSpec`: where its data comes from (a generator, a Hub dataset or a
user file), which fields feed the prompt template, how the raw label maps to the answer text
the model must produce, and the human-level ceiling used by the efficiency metric.

This module is imported by the Snakefile (for ``snakemake -n``) and by
:mod:`dataeff.config`, so it must stay cheap: standard library only, no torch, datasets or
sklearn at module level.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dataeff.errors import DataeffError

#: Repository root (prompt template paths are relative to it).
REPO_ROOT = Path(__file__).resolve().parents[3]

_GEN = "dataeff.tasks.generators."


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """Everything needed to prepare and prompt one task.

    ``splits`` maps ``train``/``validation``/``test`` to the dataset's own split name, or to
    ``None`` when the dataset has no such (labelled) split; missing splits are carved out of
    train by :func:`dataeff.tasks.prepare.prepare_task` (METHOD.md section 4).

    ``label_map`` maps the raw label value (int or str) to the answer text; when it is empty
    the prepare step uses the dataset's ``ClassLabel`` names, else ``str(raw)``. Rows whose
    raw label is missing or unmapped (e.g. GLUE's hidden test labels, ``-1``) are dropped.

    ``options_fields`` names the field(s) holding answer options of multiple-choice tasks: one
    list-valued field (``["choices"]``) or several scalar fields (``["opa", "opb", ...]``).
    They are rendered as ``(A) ...`` lines into the template variable ``{options}``.
    """

    name: str
    source: str  # "generated" | "hub" | "user" | "bigbench"
    hub_id: str | None = None
    hub_config: str | None = None
    splits: Mapping[str, str | None] = dataclasses.field(
        default_factory=lambda: {"train": "train", "validation": "validation", "test": "test"})
    input_fields: tuple[str, ...] = ()
    label_field: str = "label"
    labels: tuple[str, ...] | None = None
    label_map: Mapping[Any, str] = dataclasses.field(default_factory=dict)
    template: str | None = None
    metric: str = "accuracy"
    ceiling: float | None = None
    generator: str | None = None
    system: str | None = None
    options_fields: tuple[str, ...] = ()
    file: str | None = None  # user tasks: the JSONL/CSV file
    bigbench: Mapping[str, Any] | None = None  # bigbench tasks: see dataeff.tasks.bigbench

    @property
    def template_path(self) -> Path | None:
        """Absolute path of the prompt template (``None`` for user tasks: prompt used as is)."""
        return REPO_ROOT / self.template if self.template else None


def _letters(n: int) -> tuple[str, ...]:
    return tuple(f"({chr(ord('A') + i)})" for i in range(n))


def _int_letters(n: int) -> dict[Any, str]:
    return dict(enumerate(_letters(n)))


def _str_letters(n: int) -> dict[Any, str]:
    return {chr(ord("A") + i): f"({chr(ord('A') + i)})" for i in range(n)}


_GLUE_TEST = {"train": "train", "validation": "validation", "test": None}  # test labels hidden
_TRAIN_ONLY = {"train": "train", "validation": None, "test": None}
_TRAIN_TEST = {"train": "train", "validation": None, "test": "test"}
_NLI3 = {0: "entailment", 1: "neutral", 2: "contradiction"}
_NLI2 = {0: "entailment", 1: "not entailment"}
_YES_NO = {0: "no", 1: "yes"}


def _gen(name: str, input_fields: tuple[str, ...], labels: tuple[str, ...] | None,
         ceiling: float) -> TaskSpec:
    return TaskSpec(name=name, source="generated", splits=dict(_TRAIN_ONLY), input_fields=input_fields,
                    label_field="label", labels=labels, template=f"prompts/generated/{name}.txt",
                    ceiling=ceiling, generator=_GEN + name)


def _hub(name: str, hub_id: str, hub_config: str | None, input_fields: tuple[str, ...],
         label_field: str, label_map: dict[Any, str], ceiling: float, *,
         splits: dict[str, str | None] | None = None, labels: tuple[str, ...] | None = None,
         options_fields: tuple[str, ...] = ()) -> TaskSpec:
    if labels is None and label_map:
        labels = tuple(dict.fromkeys(label_map.values()))
    return TaskSpec(name=name, source="hub", hub_id=hub_id, hub_config=hub_config,
                    splits=dict(splits or {"train": "train", "validation": "validation", "test": "test"}),
                    input_fields=input_fields, label_field=label_field, labels=labels,
                    label_map=label_map, template=f"prompts/{name}.txt", ceiling=ceiling,
                    options_fields=options_fields)


_SPECS: tuple[TaskSpec, ...] = (
    _hub("ade_corpus_v2_classification", "ade-benchmark-corpus/ade_corpus_v2",
         "Ade_corpus_v2_classification", ("text",), "label", {0: "not related", 1: "related"}, 0.83,
         splits=_TRAIN_ONLY),
    _hub("anli", "facebook/anli", None, ("premise", "hypothesis"), "label", _NLI3, 0.92,
         splits={"train": "train_r1", "validation": "dev_r1", "test": "test_r1"}),
    # 77 intents: answer texts are the dataset's ClassLabel names (e.g. "card_arrival").
    _hub("banking77", "legacy-datasets/banking77", None, ("text",), "label", {}, 0.607,
         splits=_TRAIN_TEST),
    _gen("boolean_expressions", ("expression",), ("True", "False"), 1.0),
    _hub("boolq", "super_glue", "boolq", ("passage", "question"), "label", _YES_NO, 0.89,
         splits=_GLUE_TEST),
    # goldstandard2: ClassLabel names (Yes / No / In the middle... / Yes, subject to some
    # conditions / Other); -1 (no gold label) rows are dropped.
    _hub("circa", "google-research-datasets/circa", None, ("context", "question-X", "answer-Y"),
         "goldstandard2", {}, 0.923, splits=_TRAIN_ONLY),
    _hub("commonsense_qa", "tau/commonsense_qa", None, ("question",), "answerKey", _str_letters(5), 0.89,
         splits=_GLUE_TEST, options_fields=("choices",)),
    _hub("fig_qa", "nightingal3/fig-qa", None, ("startphrase",), "labels", _int_letters(2), 0.9534,
         splits=_GLUE_TEST, options_fields=("ending1", "ending2")),
    _gen("formal_fallacies_syllogisms_negation", ("argument",), ("valid", "invalid"), 0.8),
    _hub("high", "ehovy/race", "high", ("article", "question"), "answer", _str_letters(4), 0.85,
         options_fields=("options",)),
    _gen("hyperbaton", ("question",), ("(A)", "(B)"), 1.0),
    _hub("medmcqa", "openlifescienceai/medmcqa", None, ("question",), "cop", _int_letters(4), 0.9,
         splits=_GLUE_TEST, options_fields=("opa", "opb", "opc", "opd")),
    _hub("mmlu", "cais/mmlu", "all", ("subject", "question"), "answer", _int_letters(4), 0.898,
         splits={"train": "test", "validation": "validation", "test": "dev"},
         options_fields=("choices",)),
    _gen("mnist_ascii", ("image",), tuple(str(d) for d in range(10)), 0.98),
    _hub("mnli", "nyu-mll/glue", "mnli", ("premise", "hypothesis"), "label", _NLI3, 0.92,
         splits={"train": "train", "validation": "validation_matched", "test": None}),
    _hub("mrpc", "nyu-mll/glue", "mrpc", ("sentence1", "sentence2"), "label",
         {0: "not equivalent", 1: "equivalent"}, 0.808, splits=_GLUE_TEST),
    _gen("object_counting", ("question",), None, 0.95),
    _hub("overruling", "LawInformedAI/overruling", None, ("sentence1",), "label", _YES_NO, 0.937,
         splits=_TRAIN_ONLY),
    _hub("qnli", "nyu-mll/glue", "qnli", ("question", "sentence"), "label", _NLI2, 0.912,
         splits=_GLUE_TEST),
    _hub("qqp", "nyu-mll/glue", "qqp", ("question1", "question2"), "label",
         {0: "not duplicate", 1: "duplicate"}, 0.804, splits=_GLUE_TEST),
    _hub("quail", "textmachinelab/quail", None, ("context", "question"), "correct_answer_id",
         _int_letters(4), 0.6, splits=_GLUE_TEST, options_fields=("answers",)),
    _gen("reasoning_about_colored_objects", ("question",), None, 1.0),
    _hub("rte", "super_glue", "rte", ("premise", "hypothesis"), "label", _NLI2, 0.936,
         splits=_GLUE_TEST),
    _hub("sst2", "nyu-mll/glue", "sst2", ("sentence",), "label", {0: "negative", 1: "positive"}, 0.978,
         splits=_GLUE_TEST),
    _gen("temporal_sequences", ("question",), ("(A)", "(B)", "(C)", "(D)"), 1.0),
    _hub("toxicchat0124", "lmsys/toxic-chat", "toxicchat0124", ("user_input",), "toxicity", _YES_NO, 1.0,
         splits=_TRAIN_TEST),
    _gen("tracking_shuffled_objects", ("question",), None, 1.0),
    _gen("web_of_lies", ("question",), ("True", "False"), 1.0),
    _hub("wic", "super_glue", "wic", ("word", "sentence1", "sentence2"), "label", _YES_NO, 0.8,
         splits=_GLUE_TEST),
)

# ---------------------------------------------------------------- BIG-bench source (real data)
# The paper's 10 BIG-bench tasks from the bigbench 1.0.0 sdist (dataeff.tasks.bigbench), posed as
# the authors posed them (METHOD.md section 5), with ``train_size`` = the authors' training pool
# (their largest budget / off-grid point). The nine that also have a procedural generator above
# use the real data when ``data.bigbench_paper_tasks`` is ``sdist`` (config/paper.yaml);
# sports_understanding has no generator and always uses the real data.

def _bb(name: str, input_fields: tuple[str, ...], labels: tuple[str, ...] | None, ceiling: float,
        train_size: int, subtasks: tuple[str, ...] = ()) -> TaskSpec:
    return TaskSpec(name=name, source="bigbench", splits=dict(_TRAIN_ONLY), input_fields=input_fields,
                    label_field="label", labels=labels, template=f"prompts/{name}.txt", ceiling=ceiling,
                    bigbench={"task": name, "subtasks": subtasks, "paper": True, "train_size": train_size})


_BIT = ("0", "1")
_TF = ("True", "False")
BIGBENCH_PAPER: dict[str, TaskSpec] = {s.name: s for s in (
    _bb("boolean_expressions", ("input",), _TF, 1.0, 8000),
    _bb("formal_fallacies_syllogisms_negation", ("input",), _BIT, 0.8, 10000),
    _bb("hyperbaton", ("input",), ("a", "b"), 1.0, 10000),
    _bb("mnist_ascii", ("input",), tuple(str(d) for d in range(10)), 0.98, 10000),
    _bb("object_counting", ("input",), None, 0.95, 10000),
    # The JSON holds 2 000 examples (a 1 600-example pool); the authors' largest budget was 6 400.
    _bb("reasoning_about_colored_objects", ("question", "options"), None, 1.0, 6400),
    _bb("sports_understanding", ("input",), _BIT, 1.0, 7300),
    _bb("temporal_sequences", ("question", "options"), None, 1.0, 750),
    _bb("tracking_shuffled_objects", ("question", "options"), None, 1.0, 2500,
        ("three_objects", "five_objects", "seven_objects")),
    _bb("web_of_lies", ("input",), _TF, 1.0, 4700),
)}


def bigbench_spec(name: str, entry: Mapping[str, Any]) -> TaskSpec:
    """The :class:`TaskSpec` of a ``bigbench_tasks`` config entry (any BIG-bench JSON task)."""
    return TaskSpec(name=name, source="bigbench", splits=dict(_TRAIN_ONLY), input_fields=("instruction", "body"),
                    label_field="label", labels=None, template="prompts/bigbench/json_task.txt",
                    ceiling=entry.get("ceiling"), system=entry.get("system"),
                    bigbench={"task": entry["task"], "subtasks": (entry["subtask"],) if entry.get("subtask") else (),
                              "paper": False, "examples": entry.get("examples")})


def _bigbench_hook(name: str, config: Mapping[str, Any] | None) -> TaskSpec | None:
    """The BIG-bench spec of ``name`` under ``config``, or None when another source serves it."""
    config = config or {}
    entry = (config.get("bigbench_tasks") or {}).get(name)
    if entry is not None:
        return bigbench_spec(name, entry)
    if name in BIGBENCH_PAPER and (name not in _GENERATED
                                   or (config.get("data") or {}).get("bigbench_paper_tasks") == "sdist"):
        return BIGBENCH_PAPER[name]
    return None
# ---------------------------------------------------------------- end of the BIG-bench source


_GENERATED = {s.name for s in _SPECS if s.source == "generated"}
REGISTRY: dict[str, TaskSpec] = {s.name: s for s in _SPECS} | {
    n: s for n, s in BIGBENCH_PAPER.items() if n not in _GENERATED}


def known_task_names() -> list[str]:
    """Names of the registry tasks (user tasks come from the config), sorted."""
    return sorted(REGISTRY)


def user_spec(name: str, entry: Mapping[str, Any]) -> TaskSpec:
    """The :class:`TaskSpec` of a ``user_tasks`` config entry (schema defaults may be absent)."""
    labels = entry.get("labels")
    return TaskSpec(
        name=name, source="user", splits=dict(_TRAIN_ONLY),
        input_fields=(entry.get("prompt_field") or "prompt",),
        label_field=entry.get("label_field") or "label",
        labels=tuple(str(x) for x in labels) if labels else None,
        label_map={}, template=None, metric=entry.get("metric") or "accuracy",
        ceiling=entry.get("ceiling"), system=entry.get("system"), file=entry.get("file"))


def get_task(name: str, config: Mapping[str, Any] | None = None) -> TaskSpec:
    """The spec of task ``name``: a ``user_tasks`` entry of ``config`` first, else the registry."""
    user = (config or {}).get("user_tasks") or {}
    if name in user:
        return user_spec(name, user[name])
    bigbench = _bigbench_hook(name, config)
    if bigbench is not None:
        return bigbench
    try:
        return REGISTRY[name]
    except KeyError:
        raise DataeffError(f"unknown task '{name}'", field="tasks",
                           fix="see the known tasks with `dataeff prepare-task --list`, "
                               "or define it under user_tasks") from None


def ceilings(config: Mapping[str, Any]) -> dict[str, float | None]:
    """Human-level ceiling of every configured task.

    ``analysis.ceilings`` (a JSON file ``task -> {"score": x}`` or ``task -> x``) overrides
    the registry/user values for the tasks it names.
    """
    out = {t: get_task(t, config).ceiling for t in config["tasks"]}
    path = ((config.get("analysis") or {}).get("ceilings"))
    if path:
        from dataeff.io import read_json

        table = read_json(path)
        if not isinstance(table, dict):
            raise DataeffError("expected a JSON object task -> {\"score\": x}", file=str(path))
        for task in out:
            if task in table:
                value = table[task]
                value = value.get("score") if isinstance(value, dict) else value
                if value is not None and not isinstance(value, int | float):
                    raise DataeffError(f"ceiling of '{task}' is not a number", file=str(path),
                                       field=task, fix="write a number between 0 and 1")
                out[task] = None if value is None else float(value)
    return out
