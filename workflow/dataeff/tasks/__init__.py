"""Tasks: the registry of the paper's 30 tasks, procedural generators, user task files and the
preparation of ``data/tasks/{task}/{train,validation,test}.jsonl``.

Only :mod:`dataeff.tasks.registry` is cheap to import (no torch/datasets/sklearn); the
Snakefile relies on that.
"""
