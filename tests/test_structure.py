"""The package's shape: no import cycle anywhere in py2ptx (function-level imports
included), imports at the top except heavy optional ones that say why, and no module
far over 500 lines without a reason in its docstring."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "py2ptx"
#: Imported inside functions on purpose: heavy, optional, or only on a GPU machine.
HEAVY = {"cupy", "cupyx", "matplotlib", "numba", "ipywidgets", "IPython", "triton", "torch"}
LONG = 550  # "about 500 lines"


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("py2ptx", *path.relative_to(PACKAGE).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(name: str, path: Path):
    """(node, target module, inside a function?) for every py2ptx import of a module."""
    known = modules()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    inside = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
              for n in ast.walk(f) if n is not f}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([node.module] if node.module else []))
            for target in [base] + [f"{base}.{a.name}" for a in node.names]:
                if target in known and target != name:
                    yield node, target, id(node) in inside
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known and alias.name != name:
                    yield node, alias.name, id(node) in inside


def import_graph() -> dict[str, set[str]]:
    return {name: {target for _, target, _ in _imports(name, path)}
            for name, path in modules().items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_py2ptx():
    graph = import_graph()
    assert len(graph) > 20 and graph["py2ptx.doctor"], "the graph was not built"
    assert cycles(graph) == []


def test_machine_is_a_leaf():
    assert import_graph()["py2ptx.machine"] <= {"py2ptx.gpu_errors"}
    assert import_graph()["py2ptx.gpu_errors"] == set()
    assert import_graph()["py2ptx.layers"] == set()


@pytest.mark.parametrize("name", sorted(modules()))
def test_function_level_imports_say_why(name):
    """Imports sit at the top; one inside a function is heavy or optional, and says so."""
    path = modules()[name]
    lines = path.read_text().splitlines()
    for node, target, inside in _imports(name, path):
        if inside:
            text = " ".join(lines[node.lineno - 1: node.end_lineno])
            assert "#" in text, f"{path.name}:{node.lineno} imports {target} inside a " \
                                f"function without saying why"
    tree = ast.parse(path.read_text())
    for f in ast.walk(tree):
        if not isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(f):
            if isinstance(node, ast.Import | ast.ImportFrom) and not getattr(node, "level", 0):
                mods = [node.module] if isinstance(node, ast.ImportFrom) else \
                    [a.name for a in node.names]
                for mod in mods:
                    top = mod.split(".")[0]
                    text = " ".join(lines[node.lineno - 1: node.end_lineno])
                    assert top in HEAVY or "#" in text, \
                        f"{path.name}:{node.lineno} imports {mod} inside a function"


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_module_is_long_without_a_reason(name):
    path = modules()[name]
    text = path.read_text()
    if len(text.splitlines()) > LONG:
        doc = ast.get_docstring(ast.parse(text)) or ""
        assert "Why this module is long" in doc, \
            f"{path.name} has {len(text.splitlines())} lines: split it, or say why in its docstring"
