"""The import graph of the project: no circles, and stages import only earlier stages.

Built from the source with ``ast`` (nothing is imported), counting imports inside functions
too: a lazy import that breaks a circle at run time is still a circle in the design.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Top-level folders scanned, in stage order: a module may import its own folder and earlier
#: ones only (``benchmarks`` and ``workflow`` may import every stage). ``analysis`` and
#: ``report`` read the files the earlier stages write.
STAGES = ["pipeline", "simulation", "distill", "model", "lra", "train", "analysis", "report",
          "benchmarks", "workflow"]
#: Stages that must not import one another although one comes first in :data:`STAGES`:
#: ``analysis`` and ``report`` read what a run recorded, never the code that made it.
INDEPENDENT = {("lra", "model"),
               *((reader, stage) for reader in ("analysis", "report")
                 for stage in ("simulation", "distill", "train"))}
#: Circles being removed on another branch of issue 14 (``check_labels`` moves out of
#: ``model.drivers``); delete the entry once that branch is merged.
KNOWN_CIRCLES: list[list[str]] = []  # none left; add one here only with a reason


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for stage in STAGES for p in sorted((REPO / stage).rglob("*.py"))}


def _imported_names(path: Path, module: str) -> list[str]:
    """Every dotted name imported anywhere in ``path`` (relative imports made absolute)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # a name from a module, or a submodule of a package: the longest known prefix
            names += [f"{prefix}.{alias.name}" for alias in node.names]
    return names


def _resolve(name: str, modules: dict[str, Path], importer: str) -> str | None:
    """The project module a dotted name refers to (longest known prefix), or None."""
    candidates = [name]
    if importer.startswith("workflow.scripts."):  # scripts import their siblings by name
        candidates.append(f"workflow.scripts.{name}")
    for candidate in candidates:
        parts = candidate.split(".")
        for end in range(len(parts), 0, -1):
            if ".".join(parts[:end]) in modules:
                return ".".join(parts[:end])
    return None


def import_graph() -> dict[str, set[str]]:
    """``{module: project modules it imports}`` over :data:`STAGES`."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = {_resolve(name, modules, module) for name in _imported_names(path, module)}
        graph[module] = {t for t in targets if t is not None and t != module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_graph_sees_known_imports():
    graph = import_graph()
    assert "pipeline.config" in graph["simulation.__main__"]
    assert "pipeline.errors" in graph["pipeline.config"]
    assert "pipeline.sweeps" in graph["simulation.__main__"]  # an import inside a function
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circles():
    cycles = [c for c in _cycles(import_graph()) if c not in KNOWN_CIRCLES]
    assert not cycles, f"modules that import each other (directly or around a circle): {cycles}"


def test_stages_import_only_earlier_stages():
    wrong = []
    for module, targets in import_graph().items():
        stage = module.split(".")[0]
        for target in targets:
            other = target.split(".")[0]
            if STAGES.index(other) > STAGES.index(stage) or (stage, other) in INDEPENDENT:
                wrong.append(f"{module} -> {target}")
    assert not wrong, f"a stage imports a later (or independent) stage: {wrong}"


def test_pipeline_imports_no_stage_and_no_torch():
    modules = _modules()
    for module, path in modules.items():
        if module.split(".")[0] != "pipeline":
            continue
        tops = {name.split(".")[0] for name in _imported_names(path, module) if name}
        assert not tops & (set(STAGES) - {"pipeline"}), f"{module} imports a stage: {tops}"
        assert "torch" not in tops, f"{module} imports torch"


def test_planning_imports_no_torch():
    """The Snakefile parses the config and plans every run for each job: that must not pay
    for importing torch (presets, retention contract and task registry are torch-free)."""
    import subprocess
    import sys

    code = ("import sys, pipeline.config, pipeline.retention, model.presets, train.plan, "
            "lra.tasks, workflow.plan; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "False"


def test_analysis_and_report_import_no_torch():
    """The analysis stage and the report read files; importing them must not load torch (or
    the training code), so they run wherever the results are."""
    import subprocess
    import sys

    modules = sorted(m for m in _modules() if m.split(".")[0] in ("analysis", "report"))
    assert "analysis.aggregate" in modules and "report.page" in modules
    code = (f"import sys, importlib; [importlib.import_module(m) for m in {modules!r}]; "
            "print(sorted(m for m in ('torch', 'train') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "[]"
