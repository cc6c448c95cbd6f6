"""The package's layers read top-down (docs/architecture.md): no module imports one of a later
layer, no two modules import each other (directly or round a loop), and no two packages do."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "omnisim"
MECHANISMS = {"consumers", "channels", "supply", "marketing", "market"}
# What each part may import besides itself (a part is a subpackage or a top-level module).
ALLOWED: dict[str, set[str]] = {
    "_version": set(),
    "scenario": set(),
    "engine": {"scenario"},
    **{m: {"engine", "scenario"} | (MECHANISMS - {m}) for m in MECHANISMS},
    "metrics": set(),
    "simulation": {"engine", "scenario", "metrics"} | MECHANISMS,
    "experiments": {"simulation", "engine", "metrics", "scenario", "_version"},
    "report": {"experiments", "metrics", "scenario", "_version"},
}


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _part(module: str) -> str:
    return module.split(".")[1] if "." in module else "(package)"


def _imports() -> dict[str, set[str]]:
    """Each omnisim module's omnisim imports (module names), type-checking blocks excluded."""
    modules = {_name(p): p for p in ROOT.rglob("*.py")}
    out: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                node.body = []
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("omnisim"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    out[name].add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                out[name] |= {a.name for a in node.names if a.name.startswith("omnisim")}
    return out


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of ``graph`` (empty: none)."""
    state: dict[str, int] = {}

    def visit(u: str, path: list[str]) -> list[str]:
        state[u] = 1
        path.append(u)
        for v in sorted(graph.get(u, ())):
            if state.get(v) == 1:
                return [*path[path.index(v) :], v]
            if v not in state and (found := visit(v, path)):
                return found
        path.pop()
        state[u] = 2
        return []

    for u in sorted(graph):
        if u not in state and (found := visit(u, [])):
            return found
    return []


def test_no_module_imports_a_later_layer() -> None:
    wrong = [
        f"{m} imports {t}"
        for m, targets in _imports().items()
        for t in targets
        if _part(m) in ALLOWED and _part(t) not in ALLOWED[_part(m)] | {_part(m)}
    ]
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_cycles_between_modules_or_packages() -> None:
    imports = _imports()
    assert not _cycle(imports), " -> ".join(_cycle(imports))
    parts: dict[str, set[str]] = defaultdict(set)
    for m, targets in imports.items():
        parts[_part(m)] |= {_part(t) for t in targets if _part(t) != _part(m)}
    parts.pop("(package)", None)  # omnisim/__init__.py exports the public API
    assert not _cycle(parts), " -> ".join(_cycle(parts))


def test_the_checks_see_the_imports() -> None:
    """The parser finds known imports (else the tests above would pass on nothing)."""
    imports = _imports()
    assert "omnisim.consumers.stages.decide" in imports["omnisim.consumers.journey"]
    assert "omnisim.engine.streams" in imports["omnisim.consumers.stages.need"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
