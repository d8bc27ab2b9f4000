"""The package's import graph: no cycles, and imports that point down the layers.

Every import counts: at module level, under `if TYPE_CHECKING:` and inside functions (a lazy
import is still a dependency), so a cycle cannot hide behind any of them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "handlers", "schedules", "storage")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue  # run by Alembic, not imported
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _owner(name: str) -> str | None:
    """Return the module of ours that `name` (a module or a name in one) is, else None."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path) -> dict[str, set[str]]:
    """Return {imported module of ours: {external top-level packages}} and what else it uses."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    ours: set[str] = set()
    external: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _owner(alias.name)
                (ours.add(target) if target else external.add(alias.name.split(".")[0]))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            if source.split(".")[0] not in PACKAGES:
                external.add(source.split(".")[0])
                continue
            for alias in node.names:
                target = _owner(f"{source}.{alias.name}") or _owner(source)
                if target:
                    ours.add(target)
    ours.discard(module)
    return {"ours": ours, "external": external}


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Return the strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in GRAPH[node]["ours"]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return out


def _under(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_the_graph_sees_the_packages():
    # A walker that found nothing would pass every rule below.
    assert len(MODULES) > 60
    assert "bot.usecases.lifecycle" in GRAPH["handlers.actions"]["ours"]
    assert "storage.models" in GRAPH["bot.results"]["ours"]


def test_no_import_cycles():
    assert _cycles() == []


# (who, may not import): imports point down, handlers → use cases → storage.
RULES = [
    # Storage and the rotation engine import nothing above them.
    (("storage",), ("bot", "handlers", "schedules")),
    (("schedules.rotation",), ("bot", "handlers", "storage", "schedules.scheduler")),
    # Read models are a leaf the renderer and the use cases share.
    (("bot.results",), ("bot", "handlers", "schedules.scheduler", "storage.db")),
    # Block Kit is pure: data in, dicts out.
    (
        ("bot.blocks",),
        ("bot.usecases", "bot.delivery", "bot.pings", "bot.services", "bot.slack", "handlers"),
    ),
    # Use cases record and stage; they neither render Block Kit nor call Slack.
    (("bot.usecases",), ("bot.blocks", "bot.delivery", "bot.slack", "handlers", "bot.app")),
    (("bot.pings",), ("bot.blocks", "bot.delivery", "bot.slack", "handlers", "bot.usecases")),
    (("bot.parsing",), ("bot.usecases", "bot.delivery", "bot.pings", "bot.services", "handlers")),
    # Nothing below the listeners knows them, nor the composition root.
    (
        ("bot.usecases", "bot.delivery", "bot.pings", "bot.blocks", "storage", "schedules"),
        ("handlers", "bot.app", "bot.runtime", "bot.cli", "bot.web", "bot.sandbox"),
    ),
]


@pytest.mark.parametrize(("who", "forbidden"), RULES, ids=lambda v: ",".join(v))
def test_imports_point_down(who, forbidden):
    wrong = sorted(
        f"{module} imports {target}"
        for module, deps in GRAPH.items()
        if _under(module, *who)
        for target in deps["ours"]
        if _under(target, *forbidden) and not _under(target, *who)
    )
    assert wrong == []


def test_use_cases_and_blocks_use_no_slack_library():
    wrong = sorted(
        f"{module} imports {package}"
        for module, deps in GRAPH.items()
        if _under(module, "bot.usecases", "bot.blocks", "bot.results", "bot.pings")
        for package in deps["external"]
        if package in ("slack_sdk", "slack_bolt")
    )
    assert wrong == []


LONG = 500  # lines; a longer module says why in its docstring ("Over 500 lines: …")


def test_modules_are_short_or_say_why():
    long = sorted(
        f"{module} ({lines} lines)"
        for module, path in MODULES.items()
        if (lines := len(path.read_text().splitlines())) > LONG
        and "Over 500 lines:" not in (ast.get_docstring(ast.parse(path.read_text())) or "")
    )
    assert long == []
