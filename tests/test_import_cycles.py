"""The package has no import cycle, counting imports inside functions too, its stages are
layered, and its coupling is visible at the top of each module.

A cycle hidden in function-level imports still couples two modules both ways; it is how the
CoS-Low, selection and baselines modules were once tangled. Layers: core numerics, selection,
baselines, then the stage that uses them all. A package module is imported inside a function only
when it pulls in a heavy library (torch, numpy, pandas, matplotlib, ...) that the command line
and ``snakemake -n`` must not pay for; every other package import sits at the module's top.
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "workflow" / "dataeff"


def _module_name(path: Path) -> str:
    parts = ["dataeff", *path.relative_to(PKG).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports anywhere in its body."""
    modules = {_module_name(p): p for p in PKG.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


#: Third-party libraries whose import a module may defer to the function that needs them.
HEAVY = {
    "torch", "transformers", "matplotlib", "pandas", "scipy", "numpy", "peft", "accelerate",
    "datasets", "statsmodels", "sklearn", "huggingface_hub", "gguf", "safetensors",
}  # fmt: skip


def _top_level_imports(path: Path) -> set[str]:
    """Modules and ``module.name`` targets imported at the top level of ``path`` (any depth of
    ``if``/``try`` blocks, not inside functions or classes)."""
    out: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                out.add(node.module)
                out.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
                visit(node.body + node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body + node.orelse + node.finalbody)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return out


def heavy_modules() -> set[str]:
    """Package modules that import a :data:`HEAVY` library when imported (directly, through
    another package module, or through a parent package)."""
    modules = {_module_name(p): p for p in PKG.rglob("*.py")}
    direct = {m: _top_level_imports(p) for m, p in modules.items()}
    heavy = {m for m, imps in direct.items() if any(i.split(".")[0] in HEAVY for i in imps)}
    while True:
        grown = {
            m
            for m, imps in direct.items()
            if m not in heavy
            and (
                any(i in heavy or i.rsplit(".", 1)[0] in heavy for i in imps if i.startswith("dataeff"))
                or any(".".join(m.split(".")[:k]) in heavy for k in range(1, m.count(".") + 1))
            )
        }
        if not grown:
            return heavy
        heavy |= grown


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_finder_sees_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_package_has_no_import_cycle():
    graph = import_graph()
    assert "dataeff.coslow.stage" in graph and "dataeff.coslow.selection" in graph["dataeff.coslow.stage"]
    assert cycles(graph) == []


def test_light_package_modules_are_imported_at_the_top():
    modules = {_module_name(p): p for p in PKG.rglob("*.py")}
    heavy = heavy_modules()
    assert {"dataeff.prediction.fit", "dataeff.plots.style", "dataeff.prediction.budget"} <= heavy
    assert not {"dataeff.core.errors", "dataeff.core.io", "dataeff.core.config", "dataeff.core.schema"} & heavy
    deferred = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("dataeff"):
                    target = node.module if node.module in modules else node.module.rsplit(".", 1)[0]
                    if target != name and target not in heavy:
                        deferred.append(f"{path.relative_to(PKG)}:{node.lineno} {node.module}")
    assert deferred == [], "import these at the top of the module (they are light):\n" + "\n".join(deferred)


#: The stage subpackages, lowest first: a module may import its own subpackage and those below
#: it, never one above (docs/ARCHITECTURE.md). ``cli`` and ``__main__`` sit on top.
LAYERS = (
    "core",
    "tasks",
    "pipeline",
    "modeling",
    "inference",
    "training",
    "coslow",
    "efficiency",
    "prediction",
    "cluster",
    "plots",
    "commands",
    "cli",
)


def _layer(module: str) -> str:
    part = module.split(".")[1]
    return "cli" if part in ("cli", "__main__") else part


def test_every_module_sits_in_a_stage_subpackage():
    top = sorted(m for m in import_graph() if m.count(".") == 1 and _layer(m) != "cli")
    assert [m for m in top if _layer(m) not in LAYERS] == []


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Imports whose target sits in a higher layer than the importing module."""
    return sorted(
        f"{src} imports {dst}"
        for src, targets in graph.items()
        if src != "dataeff"
        for dst in targets
        if dst != "dataeff" and LAYERS.index(_layer(dst)) > LAYERS.index(_layer(src))
    )


def test_no_import_runs_up_the_layers():
    assert upward_imports(import_graph()) == []


def test_the_layer_check_sees_an_upward_import():
    graph = {"dataeff.prediction.calibration": {"dataeff.plots.style", "dataeff.core.io"}, "dataeff.core.io": set()}
    assert upward_imports(graph) == ["dataeff.prediction.calibration imports dataeff.plots.style"]
