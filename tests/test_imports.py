"""The import graph of the whole package: every module imports, and no module reaches itself.

The graph is read from the source (imports at module level and inside functions both count), over
every module that ``pkgutil`` finds, so a new module is checked without being listed here.
"""
import ast
import importlib
import pkgutil
from functools import lru_cache
from pathlib import Path
from typing import Dict, FrozenSet, List, Optional, Set

import pytest

import spacy_lm

ROOT = "spacy_lm"


@lru_cache(maxsize=None)
def _sources() -> Dict[str, Path]:
    """Every module and package of spacy_lm (without the root package) -> its source file.

    ``pkgutil.iter_modules`` per folder rather than ``walk_packages``, which imports each package
    to look inside it: a module that fails to import must fail its own test, not the collection.
    """
    found, todo = {}, [(Path(spacy_lm.__file__).parent, ROOT)]
    while todo:
        folder, package = todo.pop()
        for info in pkgutil.iter_modules([str(folder)], prefix=f"{package}."):
            short = info.name.rsplit(".", 1)[1]
            if info.ispkg:
                found[info.name] = folder / short / "__init__.py"
                todo.append((folder / short, info.name))
            else:
                found[info.name] = folder / f"{short}.py"
    return found


def _imports(module: str) -> Set[str]:
    """spacy_lm modules that ``module`` imports anywhere (top level or inside functions).

    ``from pkg import submodule`` counts as the submodule, and ``from .sub import x`` as ``sub``
    (the packages' ``__init__`` runs first either way, and the root package's is already running);
    ``from pkg import name`` counts as the package ``pkg`` itself.
    """
    sources = _sources()
    path = sources[module]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            submodules = [f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in sources]
            names = submodules + ([target] if len(submodules) < len(node.names) else [])
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in sources and name != module)
    return found


@lru_cache(maxsize=None)
def _graph() -> Dict[str, FrozenSet[str]]:
    return {module: frozenset(_imports(module)) for module in _sources()}


Graph = Dict[str, FrozenSet[str]]


def _reachable(start: str, graph: Optional[Graph] = None) -> Set[str]:
    graph, seen, todo = graph or _graph(), set(), [start]
    while todo:
        for name in graph[todo.pop()]:
            if name not in seen:
                seen.add(name)
                todo.append(name)
    return seen


def _cycle_through(start: str, graph: Optional[Graph] = None) -> Optional[List[str]]:
    """A shortest import path from ``start`` back to itself, or None."""
    graph = graph or _graph()
    parent: Dict[str, Optional[str]] = {start: None}
    todo = [start]
    while todo:
        current = todo.pop(0)
        for name in sorted(graph[current]):
            if name == start:
                path = [current]
                while parent[path[-1]] is not None:
                    path.append(parent[path[-1]])
                return path[::-1] + [start]
            if name not in parent:
                parent[name] = current
                todo.append(name)
    return None


def _cycles(graph: Optional[Graph] = None) -> List[List[str]]:
    """One cycle per group of modules that reach each other."""
    graph = graph or _graph()
    cycles: List[List[str]] = []
    covered: Set[str] = set()
    for module in sorted(graph):
        cycle = _cycle_through(module, graph) if module not in covered else None
        if cycle:
            covered.update(m for m in _reachable(module, graph) if module in _reachable(m, graph))
            cycles.append(cycle)
    return cycles


def test_the_sweep_finds_every_module():
    files = {p for p in Path(spacy_lm.__file__).parent.rglob("*.py")}
    assert files - {Path(spacy_lm.__file__)} == set(_sources().values())
    assert len(_sources()) > 50


def test_no_import_cycle():
    cycles = _cycles()
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(cycle) for cycle in cycles)


@pytest.mark.parametrize("module", sorted(_sources()))
def test_no_import_circle(module):
    assert module not in _reachable(module), " -> ".join(_cycle_through(module) or [])


@pytest.mark.parametrize("module", sorted(_sources()))
def test_every_module_imports(module):
    importlib.import_module(module)


def test_a_cycle_is_found():
    """The check itself: modules importing each other, directly or through others, are a cycle."""
    graph = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset({"a"}),
             "e": frozenset({"e2"}), "e2": frozenset({"e"})}
    assert _cycle_through("a", graph) == ["a", "b", "c", "a"]
    assert _cycle_through("d", graph) is None
    assert _cycles(graph) == [["a", "b", "c", "a"], ["e", "e2", "e"]]


def test_explain_does_not_import_the_component():
    assert "spacy_lm.pipeline.sentiment_scorer" not in _reachable("spacy_lm.analysis.explain")
    assert "spacy_lm.analysis.explain" in _imports("spacy_lm.pipeline.sentiment_scorer")
