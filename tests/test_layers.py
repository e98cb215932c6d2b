"""The layers go one way, and stay that way: a static read of every module's imports, those inside functions too.

- No import cycle between the project's modules.
- scheduler_app is the framework: only scheduler_app/jobs.py (where the jobs meet the domain) imports another app.
- The other apps use scheduler_app only through its public modules, and no app imports another app's models.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("scheduler_app", "scraping_app", "logs_app", "jobsite")
# What scraping_app and logs_app may import from the framework: job_run and its errors and trigger names
# (services), the refusal and status reads (selectors), the job context, the decorator, the KEY=VALUE parser and
# the job-id rule (registry); and the API toolkit every app's API shares: strict fields, the one pagination, the
# one route rule, the trigger answers and their schema; and the tracing helpers (no-ops unless traces are on), so
# the scrape's board fetches are spans of the run's trace.
SCHEDULER_PUBLIC = {"scheduler_app.services", "scheduler_app.selectors", "scheduler_app.context",
                    "scheduler_app.job_wrapper", "scheduler_app.params", "scheduler_app.registry",
                    "scheduler_app.api.fields", "scheduler_app.api.pagination", "scheduler_app.api.renderers",
                    "scheduler_app.api.routes",
                    "scheduler_app.api.responses", "scheduler_app.api.schema", "scheduler_app.api.throttles",
                    "scheduler_app.tracing"}


def _modules() -> dict[str, Path]:
    modules = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(name: str, path: Path) -> set[str]:
    """Every project module `name` imports, at any depth of the file (TYPE_CHECKING blocks excepted)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    skip = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If) and "TYPE_CHECKING" in
            ast.unparse(block.test) for node in ast.walk(block)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            targets = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            resolved = _resolve(target)
            if resolved and resolved != name:
                found.add(resolved)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _app(module: str) -> str:
    return module.split(".")[0]


def test_no_import_cycle_between_modules():
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in GRAPH.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in GRAPH:
        if module not in index:
            visit(module)
    assert not cycles, cycles


def test_the_framework_imports_no_other_app_except_in_jobs_py():
    offending = sorted((module, target) for module, targets in GRAPH.items() if _app(module) == "scheduler_app"
                       for target in targets if _app(target) not in ("scheduler_app", "jobsite")
                       and module != "scheduler_app.jobs")
    assert not offending, offending


def test_other_apps_use_only_the_frameworks_public_modules():
    offending = sorted((module, target) for module, targets in GRAPH.items()
                       if _app(module) in ("scraping_app", "logs_app")
                       for target in targets if _app(target) == "scheduler_app"
                       and target != "scheduler_app" and target not in SCHEDULER_PUBLIC)
    assert not offending, offending


def test_no_app_imports_another_apps_models():
    offending = sorted((module, target) for module, targets in GRAPH.items() for target in targets
                       if target.endswith(".models") and _app(target) != _app(module))
    assert not offending, offending


def test_the_graph_is_read():
    """The checks above mean something only if the reader sees the edges that exist."""
    assert "scraping_app.services" in GRAPH["scheduler_app.jobs"]
    assert "scheduler_app.context" in GRAPH["logs_app.log_context"]
    assert "logs_app.models" in GRAPH["logs_app.handler"]  # an import inside a function counts too
